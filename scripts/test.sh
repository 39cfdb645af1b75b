#!/usr/bin/env bash
# Set up and run every test: a virtual environment in .venv/ with training and test tools (made or updated
# only when the requirements change), Debian's chromium for the browser tests (Playwright cannot download
# its own browser here), then ruff and pytest. Browser tests are not optional. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
install_once requirements-dev.txt
if ! command -v chromium >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
"$VENV/bin/python" -m ruff check .
"$VENV/bin/python" -m pytest -q -rs "$@"
