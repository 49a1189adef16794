#!/usr/bin/env bash
# Install what the production front's test needs (tests/api/test_front.py): nginx (Debian's
# nginx-light), openssl and envsubst (gettext-base). Idempotent: does nothing when all are there.
# The nginx service is not started or enabled: the test runs its own nginx on loopback ports.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have nginx && have openssl && have envsubst; then
    echo "install-front: nginx, openssl and envsubst are installed"
    exit 0
fi

if ! have apt-get; then
    echo "install-front: no apt-get here; install nginx, openssl and gettext-base by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else
        echo "install-front: run as root (or with sudo) to install nginx" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Debian starts a package's service on install; the test needs none, so keep it from starting.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    made_policy=1
fi
trap '[ -n "$made_policy" ] && $SUDO rm -f "$policy"' EXIT
for attempt in 1 2 3; do
    if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx-light openssl gettext-base; then
        break
    fi
    if [ "$attempt" -eq 3 ]; then
        echo "install-front: apt-get failed three times" >&2
        exit 1
    fi
    sleep 5
done

nginx -v
