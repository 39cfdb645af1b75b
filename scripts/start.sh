#!/usr/bin/env bash
# Set up and start the app: a virtual environment in .venv/ with the app's own requirements (no torch), made
# on the first run only, then streamlit on http://localhost:${PORT:-8501}. Extra arguments go to streamlit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
install_once requirements.txt
exec "$VENV/bin/python" -m streamlit run app.py --server.port "${PORT:-8501}" "$@"
