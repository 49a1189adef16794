#!/usr/bin/env bash
# apt_install PACKAGE...: install Debian packages for the suite's tools, as root or with sudo, three
# tries; with NO_SERVICE_START=1 a package's service is kept from starting on install. Sourced by
# install-browser.sh and install-front.sh.

apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$(basename "$0"): no apt-get here; install $* by hand" >&2
        return 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "$(basename "$0"): run as root (or with sudo) to install $*" >&2
            return 1
        fi
    fi
    local policy=/usr/sbin/policy-rc.d made_policy="" status=1 attempt
    if [ "${NO_SERVICE_START:-}" = 1 ] && [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        made_policy=1
    fi
    for attempt in 1 2 3; do
        if DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; then
            status=0
            break
        fi
        [ "$attempt" -lt 3 ] && sleep 5
    done
    [ -n "$made_policy" ] && $sudo rm -f "$policy"
    [ "$status" -eq 0 ] || echo "$(basename "$0"): apt-get failed three times" >&2
    return "$status"
}
