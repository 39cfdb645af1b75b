#!/usr/bin/env bash
# Set up and run every test: a virtual environment in .venv/ with training and test tools (made or updated
# only when the requirements change), Debian's chromium for the browser tests (Playwright cannot download
# its own browser here), nginx for scripts/serve.sh's test, a Chinese font and axe-core for the accessibility
# tests, then ruff and pytest. Browser tests are not optional. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
install_once requirements-dev.txt
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)  # scripts/serve.sh's proxy
command -v npm >/dev/null || missing+=(npm)  # axe-core, the accessibility engine
fc-list 2>/dev/null | grep -qi "wenquanyi" || missing+=(fonts-wqy-microhei)  # Chinese in the browser tests' screenshots
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# axe-core for the accessibility tests (npm's registry; package-lock.json pins it)
[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund --loglevel=error
"$VENV/bin/python" -m ruff check .
"$VENV/bin/python" -m pytest -q -rs "$@"
