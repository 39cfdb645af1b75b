#!/usr/bin/env bash
# Set up and start the app on a fresh machine: the app's own requirements only (no torch), then streamlit.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt
exec python3 -m streamlit run app.py --server.port "${PORT:-8501}" "$@"
