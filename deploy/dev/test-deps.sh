#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond Rust, Postgres and Redis: Python's
# `icalendar` (an independent RFC 5545 parser for the calendar export test), `aiosmtpd` (a
# real SMTP server for the email tests) and a headless
# browser (Debian's `chromium`) for the EventSource test. Does nothing when present.
set -euo pipefail

for module in icalendar aiosmtpd; do
  if ! python3 -c "import $module" 2>/dev/null; then
    echo "test-deps: installing Python's $module for the end-to-end tests" >&2
    python3 -m pip install --quiet --user "$module" 2>/dev/null \
      || python3 -m pip install --quiet --user --break-system-packages "$module"
  fi
done

if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "test-deps: install Chromium (the browser test needs it)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "test-deps: run as root or install Debian's chromium package (the browser test needs it)" >&2
    exit 0
  fi
fi
echo "test-deps: installing chromium (Debian package) for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
  || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y --no-install-recommends chromium >/dev/null; }
