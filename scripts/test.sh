#!/usr/bin/env bash
# Set up and run every test: a virtual environment in .venv/ with training and test tools (made or updated
# only when the requirements change), Debian's chromium for the browser tests (Playwright cannot download
# its own browser here), nginx for scripts/serve.sh's test, a Chinese font and axe-core for the accessibility
# tests, PostgreSQL for the store's tests, then the linters (ruff for Python, Biome for JS and CSS; one line
# length, 120, in pyproject.toml and biome.json) and pytest, inside a throw-away PostgreSQL cluster
# (pg_virtualenv, which works as root too). Browser and PostgreSQL tests are not optional. Extra arguments go to
# pytest.
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
command -v pg_virtualenv >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# axe-core for the accessibility tests and Biome for the components' JS and CSS (npm's registry;
# package-lock.json pins both): npm ci again whenever the lock file changes.
lock_digest=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.installed-lock 2>/dev/null)" != "$lock_digest" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_digest" >node_modules/.installed-lock
fi
"$VENV/bin/python" -m ruff check .
"$VENV/bin/python" -m ruff format --check .
npx --no-install biome ci ui/web  # lint and format check, biome.json; `npx biome check --write ui/web` fixes
# pg_virtualenv makes a PostgreSQL cluster for this run, sets PGHOST, PGPORT, PGUSER and PGPASSWORD for
# tests/test_store.py, and drops it afterwards
pg_virtualenv "$VENV/bin/python" -m pytest -q -rs "$@"
