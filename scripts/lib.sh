# Shared by scripts/test and scripts/demo.

# What building and testing need, all from Debian 12.
TEST_PACKAGES=(
        meson ninja-build pkg-config gcc
        libcurl4-openssl-dev libssl-dev libjson-c-dev libexpat1-dev
        libudev-dev libmount-dev libblkid-dev libmnl-dev libsystemd-dev
        python3 python3-botocore python3-pytest
        udev e2fsprogs xfsprogs mdadm util-linux fdisk iproute2 openssl
)

require_root() {
        if [ "$(id -u)" -ne 0 ]; then
                echo "$0: run as root (sudo $0): it installs packages and uses loop devices and namespaces" >&2
                exit 1
        fi
}

# Installs the packages that are missing, quietly; nothing when all are there.
install_packages() {
        local missing=() p
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                        missing+=("$p")
        done
        [ ${#missing[@]} -gt 0 ] || return 0
        echo "Installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" >/dev/null
}

# Configures (once) and builds a tree; extra arguments are meson options.
build_tree() {
        local dir=$1; shift
        if [ ! -f "$dir/build.ninja" ]; then
                meson setup "$dir" "$@" >/dev/null
        fi
        meson compile -C "$dir" >/dev/null || meson compile -C "$dir"
}

# A standalone systemd-udevd for tests that wait for block devices, unless
# one already runs (on a booted system, or left by an earlier run). Sets
# UDEVD_PID when it started one; stop_udevd stops only that pid.
UDEVD_PID=
UDEVD_MADE_RUN_UDEV=
TEST_UDEV_RULES=/run/udev/rules.d/99-nodeagent-test.rules
start_udevd() {
        if [ -S /run/udev/control ] && udevadm control --ping 2>/dev/null; then
                return 0
        fi
        [ -d /run/udev ] || UDEVD_MADE_RUN_UDEV=1
        setsid /lib/systemd/systemd-udevd >/dev/null 2>&1 &
        UDEVD_PID=$!
        local i
        for i in $(seq 1 50); do
                udevadm control --ping 2>/dev/null && return 0
                sleep 0.1
        done
        echo "systemd-udevd did not start" >&2
        return 1
}

stop_udevd() {
        if [ -n "$UDEVD_PID" ]; then
                kill "$UDEVD_PID" 2>/dev/null || true
                wait "$UDEVD_PID" 2>/dev/null || true
                UDEVD_PID=
        fi
        if [ -n "$UDEVD_MADE_RUN_UDEV" ]; then
                rm -rf /run/udev
                UDEVD_MADE_RUN_UDEV=
        fi
}

# The cross-build's libraries as :arm64 packages beside the amd64 ones
# (multiarch), for the platforms suite. dpkg installs a library for two
# architectures only at one version, so each is asked for at amd64's: the
# installed version when the mirror still has it for arm64, else the
# candidate when both architectures have the same one (the amd64 package,
# and whatever shares a version with it, is then upgraded: an ordinary
# Debian 12 upgrade). When the candidates differ, the mirror is mid-update
# (a new version is there for one architecture and not yet for the other):
# nothing is installed, ARM64_UNAVAILABLE says which package has which
# versions, and the function returns 1; the platforms suite then fails its
# arm64 tests with that text and runs the rest. apt's plan is simulated
# first and refused if it would remove anything, so the amd64 -dev packages
# always stay.
ARM64_PACKAGES=(
        libc6-dev pkg-config
        libcurl4-openssl-dev libssl-dev libjson-c-dev libexpat1-dev
        libudev-dev libmount-dev libblkid-dev libmnl-dev libsystemd-dev
)
ARM64_UNAVAILABLE=

installed_version() {   # $1: package:arch; prints nothing when not installed
        dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null |
                sed -n 's/^install ok installed //p'
}

candidate_version() {   # $1: package:arch
        apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -vx '(none)' || true
}

install_arm64_packages() {
        local p amd cand_amd cand_arm plan removed upgraded
        local missing=() args=() skew=()
        ARM64_UNAVAILABLE=
        for p in "${ARM64_PACKAGES[@]}"; do
                amd=$(installed_version "$p:amd64")
                [ -n "$amd" ] && [ "$amd" = "$(installed_version "$p:arm64")" ] || missing+=("$p")
        done
        [ ${#missing[@]} -gt 0 ] || return 0
        if ! dpkg --print-foreign-architectures | grep -qx arm64; then
                echo "Adding the arm64 architecture (dpkg --add-architecture arm64) for the cross-build's libraries"
                dpkg --add-architecture arm64
        fi
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        for p in "${missing[@]}"; do
                amd=$(installed_version "$p:amd64")
                cand_amd=$(candidate_version "$p:amd64")
                cand_arm=$(candidate_version "$p:arm64")
                if [ -n "$amd" ] && apt-cache madison "$p:arm64" | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
                                grep -qxF -- "$amd"; then
                        args+=("$p:amd64=$amd" "$p:arm64=$amd")
                elif [ -n "$cand_amd" ] && [ "$cand_amd" = "$cand_arm" ]; then
                        args+=("$p:amd64=$cand_amd" "$p:arm64=$cand_arm")
                else
                        skew+=("$p (amd64 installed ${amd:-none}, candidate ${cand_amd:-none}; arm64 candidate ${cand_arm:-none})")
                fi
        done
        if [ ${#skew[@]} -gt 0 ]; then
                ARM64_UNAVAILABLE="the mirror is mid-update, no arm64 build at amd64's version: ${skew[*]}"
        elif ! plan=$(apt-get -s install --no-install-recommends "${args[@]}" 2>&1); then
                ARM64_UNAVAILABLE="apt cannot install the arm64 libraries at amd64's versions (a dependency is mid-update on the mirror?): $(grep -E '^ |^E:' <<< "$plan" | head -20 | tr -s ' \n' ' ')"
        elif removed=$(awk '/^Remv/ {print $2}' <<< "$plan") && [ -n "$removed" ]; then
                ARM64_UNAVAILABLE="installing the arm64 libraries would remove: $(tr '\n' ' ' <<< "$removed")"
        fi
        if [ -n "$ARM64_UNAVAILABLE" ]; then
                echo "platforms: NOT installing the :arm64 libraries: $ARM64_UNAVAILABLE" >&2
                echo "platforms: nothing was installed or removed; the arm64 tests fail with this reason, the others run;" \
                        "run the suite again once the mirror carries one version for both architectures (usually within hours)" >&2
                return 1
        fi
        upgraded=$(awk '/^Inst/ && $3 ~ /^\[/ && $2 !~ /:arm64$/ {print $2}' <<< "$plan" | tr '\n' ' ')
        echo "Installing for arm64: ${missing[*]}"
        [ -z "$upgraded" ] || echo "Upgrading for amd64 to the same versions: $upgraded"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
                "${args[@]}" >/dev/null
}
