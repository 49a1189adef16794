#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the dashboard's browser tests, when missing.
# Idempotent: does nothing when both are there. Never downloads a browser build of its own.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "install-browser: chromium and chromedriver are installed"
    exit 0
fi

apt_install chromium chromium-driver
chromium --version 2>/dev/null || true
chromedriver --version
