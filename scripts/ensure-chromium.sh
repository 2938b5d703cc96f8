#!/usr/bin/env bash
# Make sure headless Chromium exists for the browser tests (tests/harness/chromium.py); install Debian's package
# if not. The tests start and stop their own browser from it; no browser is downloaded at run time.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
exec "$(dirname "$0")/apt-install.sh" chromium
