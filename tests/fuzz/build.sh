#!/bin/bash
# Builds the libFuzzer targets with clang, ASan and UBSan in their own tree
# (default build-fuzz at the top of the repository):
#   tests/fuzz/build.sh [BUILD_DIR]
# Needs clang and libclang-rt-14-dev (Debian 12), plus the agent's own
# build dependencies. The targets land in BUILD_DIR/tests/fuzz/. Warnings
# are not errors here: clang warns about things gcc (the real build) does not.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$top/build-fuzz}

if [ ! -f "$dir/build.ninja" ]; then
        CC=clang meson setup "$dir" "$top" -Dfuzz=true -Dbuildtype=debugoptimized -Dwerror=false >/dev/null
fi
meson compile -C "$dir" >/dev/null || meson compile -C "$dir"
