#!/usr/bin/env bash
# Set up and run every test on a fresh machine: training and test tools, Debian's chromium for the browser
# tests (Playwright cannot download its own browser here), then pytest. Browser tests are not optional.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements-dev.txt
if ! command -v chromium >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m ruff check .
python3 -m pytest -q -rs "$@"
