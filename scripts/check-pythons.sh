#!/usr/bin/env bash
# Does the hosted app install and start on other Pythons? Streamlit Community Cloud lets a deployer pick the
# version. For each Python given: a throwaway virtual environment with requirements.txt only (what Community
# Cloud installs), the main page run once through AppTest (every model loads, no exception, predictions
# drawn), and `streamlit run` answering its health check. Prints one line per Python; exits 1 if any failed.
#
#   bash scripts/check-pythons.sh python3.12 python3.13
#   bash scripts/check-pythons.sh "$(pyenv root)/versions/3.12.1/bin/python" "$(pyenv root)/versions/3.13.0/bin/python"
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
for python in "$@"; do
  env_dir=$(mktemp -d)
  log="$env_dir/log"
  version=$("$python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null) || version="?"
  if ! { "$python" -m venv "$env_dir/venv" && "$env_dir/venv/bin/python" -m pip install -q -r requirements.txt; } >"$log" 2>&1; then
    echo "Python $version ($python): requirements.txt did NOT install: $(tail -n 3 "$log" | tr '\n' ' ')"
    failed=1
    continue
  fi
  if ! "$env_dir/venv/bin/python" - >"$log" 2>&1 <<'PY'
import json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("unrolled.py", default_timeout=120).run()
assert not at.exception, at.exception
(live,) = [c for c in at.get("bidi_component") if c.proto.id.endswith("-live")]
assert len(json.loads(live.proto.json)["views"]) == 3, "not every model drew its predictions"
PY
  then
    echo "Python $version ($python): the app did NOT run: $(tail -n 3 "$log" | tr '\n' ' ')"
    failed=1
    continue
  fi
  port=$((20000 + RANDOM % 20000))
  "$env_dir/venv/bin/python" -m streamlit run app.py --server.headless true --server.port "$port" \
    --server.address 127.0.0.1 >"$log" 2>&1 &
  server=$!
  healthy=no
  if "$env_dir/venv/bin/python" -c "from bench.common import wait_healthy; wait_healthy('http://127.0.0.1:$port', 30)" \
    2>/dev/null; then
    healthy=yes
  fi
  kill "$server" 2>/dev/null
  wait "$server" 2>/dev/null
  if [ "$healthy" = yes ]; then
    echo "Python $version ($python): requirements.txt installs, the app runs (AppTest) and streamlit serves it"
  else
    echo "Python $version ($python): streamlit did NOT answer its health check"
    failed=1
  fi
  rm -rf "$env_dir"
done
exit $failed
