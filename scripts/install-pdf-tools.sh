#!/usr/bin/env bash
# Install poppler-utils (pdftotext, pdftoppm) for the PDF layout checks (tests/reports/), which
# fail rather than skip under CI=true. Idempotent: does nothing when both are there.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

have() { command -v "$1" >/dev/null 2>&1; }

if have pdftotext && have pdftoppm; then
    echo "install-pdf-tools: pdftotext and pdftoppm are installed"
    exit 0
fi

apt_install poppler-utils
pdftotext -v 2>&1 | head -n 1
