#!/usr/bin/env bash
# Install what the production front's test needs (tests/api/test_front.py): nginx (Debian's
# nginx-light), openssl and envsubst (gettext-base). Idempotent: does nothing when all are there.
# The nginx service is not started or enabled: the test runs its own nginx on loopback ports.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

have() { command -v "$1" >/dev/null 2>&1; }

if have nginx && have openssl && have envsubst; then
    echo "install-front: nginx, openssl and envsubst are installed"
    exit 0
fi

NO_SERVICE_START=1 apt_install nginx-light openssl gettext-base
nginx -v
