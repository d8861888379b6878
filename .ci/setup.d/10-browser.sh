#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/report/test_browser.py), driven by
# Playwright's python package with executable_path=/usr/bin/chromium: Debian's browser, never
# Playwright's own downloads. Idempotent. If it fails the browser test skips and says why.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v chromium >/dev/null; then
  # another setup script may hold the dpkg lock: wait for it rather than fail
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] \
    || apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
fi
echo "browser: $(chromium --version 2>/dev/null || echo 'chromium installed but not runnable')"
