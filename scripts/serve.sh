#!/usr/bin/env bash
# Serve a class larger than one process holds: N `streamlit run` processes (default: one per core) behind
# nginx on http://localhost:${PORT:-8501}. Streamlit keeps each session's state in the process that opened
# it, so nginx keeps each browser on one process: it hashes the browser's _streamlit_xsrf cookie, which
# Streamlit sets on the first page load and the browser sends with the websocket and every later request
# (a class behind one school NAT shares an IP address, so ip_hash would put everyone on one process).
# Stop with Ctrl-C. Extra arguments go to every streamlit process.
#
#   bash scripts/serve.sh [N] [streamlit options]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
install_once requirements.txt
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || apt_or_say "nginx is needed to share the load between processes" nginx-light
N=${1:-$(nproc)}
[ $# -gt 0 ] && shift
PORT=${PORT:-8501}
RUN=$(mktemp -d)
# One cookie secret for every process, so a cookie one of them set is valid on all of them (Streamlit takes
# it from the environment, not from a flag).
STREAMLIT_SERVER_COOKIE_SECRET=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')
export STREAMLIT_SERVER_COOKIE_SECRET
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
upstreams=""
for i in $(seq "$N"); do
  port=$((PORT + i))
  "$VENV/bin/python" -m streamlit run app.py --server.headless true --server.address 127.0.0.1 \
    --server.port "$port" "$@" >"$RUN/streamlit-$i.log" 2>&1 &
  pids+=($!)
  upstreams+="    server 127.0.0.1:$port;"$'\n'
done
# nginx starts once every process answers its health check: until then nginx would find one down, send its share
# of browsers to another for 10 s (its fail_timeout), and a socket a page opens later (the guessing game's) would
# then reach the process that does not hold the page's session
for i in $(seq "$N"); do
  for _ in $(seq 600); do
    "$VENV/bin/python" -c "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:$((PORT + i))/_stcore/health', timeout=2).read() != b'ok')" 2>/dev/null && break
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "streamlit process $i stopped; its log:" >&2; tail -n 20 "$RUN/streamlit-$i.log" >&2; exit 1; }
    sleep 0.2
  done
done
mkdir -p "$RUN/tmp"
cat >"$RUN/nginx.conf" <<CONF
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $RUN/tmp/body;
  proxy_temp_path $RUN/tmp/proxy;
  fastcgi_temp_path $RUN/tmp/fastcgi;
  uwsgi_temp_path $RUN/tmp/uwsgi;
  scgi_temp_path $RUN/tmp/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream streamlit {
    hash \$cookie__streamlit_xsrf consistent;
$upstreams  }
  server {
    listen ${SERVE_ADDRESS:-0.0.0.0}:$PORT;
    location / {
      proxy_pass http://streamlit;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$http_host;
      proxy_read_timeout 1d;
      proxy_buffering off;
      add_header X-Unrolled-Backend \$upstream_addr always;
    }
  }
}
CONF
"$NGINX" -p "$RUN" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf" -g 'daemon off;' &
pids+=($!)
echo "Serving on http://localhost:$PORT with $N streamlit processes behind nginx (logs in $RUN)" >&2
wait -n "${pids[@]}" || true
echo "A server process stopped by itself; the end of each log:" >&2
tail -n 5 "$RUN"/*.log >&2
exit 1
