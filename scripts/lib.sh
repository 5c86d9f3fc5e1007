# Shared by scripts/test and scripts/demo.

# What building and testing need, all from Debian 12.
TEST_PACKAGES=(
        meson ninja-build pkg-config gcc
        libcurl4-openssl-dev libssl-dev libjson-c-dev libexpat1-dev
        libudev-dev libmount-dev libblkid-dev libmnl-dev libsystemd-dev
        python3 python3-botocore python3-pytest
        udev e2fsprogs xfsprogs util-linux fdisk iproute2 openssl
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
