#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the dashboard's browser tests, when missing.
# Idempotent: does nothing when both are there. Never downloads a browser build of its own.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "install-browser: chromium and chromedriver are installed"
    exit 0
fi

if ! have apt-get; then
    echo "install-browser: no apt-get here; install chromium and chromium-driver by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else
        echo "install-browser: run as root (or with sudo) to install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
    if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver; then
        break
    fi
    if [ "$attempt" -eq 3 ]; then
        echo "install-browser: apt-get failed three times" >&2
        exit 1
    fi
    sleep 5
done

chromium --version 2>/dev/null || true
chromedriver --version
