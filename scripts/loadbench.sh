#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Load benchmark: loopback, 1.5 KB chat body, 32 connections. Compares, in
# one run on one machine: a fixed-reply upstream directly, a plain tuned
# httputil.ReverseProxy, Bulwark (identity + audit on; and one row per
# capability route), and nginx as a reference if it is installed.
#
#   scripts/loadbench.sh            # DURATION=10s CONNS=32 THREADS=2 RATES="500 2000" by default
#
# Two tables: throughput at saturation (wrk, closed loop), then latency at
# fixed offered rates below saturation (bench/loadgen, open loop), which is
# where "latency added per request" means something.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
RATES=${RATES:-500 2000}
export BENCH_BODY=$PWD/bench/chat-1500.json
export BENCH_KEY=bench-key-0123456789

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$tmp/bulwark" ./cmd/bulwark
go build -o "$tmp/upstream" ./bench/upstream
go build -o "$tmp/plainproxy" ./bench/plainproxy
go build -o "$tmp/loadgen" ./bench/loadgen

"$tmp/upstream" -listen 127.0.0.1:18000 & pids+=($!)
"$tmp/plainproxy" -listen 127.0.0.1:18001 -upstream http://127.0.0.1:18000 & pids+=($!)

keyhash=$(printf %s "$BENCH_KEY" | sha256sum | cut -d' ' -f1)
sed -e "s/\${KEY_SHA256}/$keyhash/" -e "s#\${TMP}#$tmp#" bench/bulwark.yaml > "$tmp/bulwark.yaml"
"$tmp/bulwark" check -c "$tmp/bulwark.yaml" >/dev/null
"$tmp/bulwark" serve -c "$tmp/bulwark.yaml" 2>"$tmp/bulwark.log" & pids+=($!)

have_nginx=0
if command -v nginx >/dev/null; then
  mkdir -p "$tmp/nginx"
  cat > "$tmp/nginx.conf" <<NGINX
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
  upstream llm { server 127.0.0.1:18000; keepalive 256; }
  server {
    listen 127.0.0.1:18003;
    location / {
      proxy_pass http://llm; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
  nginx -c "$tmp/nginx.conf" && have_nginx=1
fi

wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 not up" >&2; exit 1; }
wait_up http://127.0.0.1:18000/
wait_up http://127.0.0.1:18001/
wait_up http://127.0.0.1:18092/readyz

# One request per target first: a misconfigured row must fail loudly, not
# measure error pages.
check() {
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $BENCH_KEY" \
    -H 'Content-Type: application/json' --data-binary @"$BENCH_BODY" "$1")
  [ "$code" = 200 ] || { echo "$1 answered $code" >&2; cat "$tmp/bulwark.log" >&2; exit 1; }
}

run() { # name url
  check "$2"
  wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s bench/post.lua "$2" >/dev/null
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua "$2")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '| %-34s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $CONNS connections, $DURATION per row, body $(wc -c <"$BENCH_BODY") bytes"
printf '| %-34s | %10s | %8s | %8s | %s |\n' target req/s p50 p99 non-2xx
printf '|%s|%s|%s|%s|%s|\n' ------------------------------------ ------------ ---------- ---------- ---------
run "upstream direct" http://127.0.0.1:18000/v1/chat/completions
run "plain httputil.ReverseProxy" http://127.0.0.1:18001/v1/chat/completions
[ $have_nginx = 1 ] && run "nginx (proxy_pass, keepalive)" http://127.0.0.1:18003/v1/chat/completions
awk '/- name:/ {n=$3} /pathPrefix:/ {print n, $2}' "$tmp/bulwark.yaml" | while read -r label route; do
  run "bulwark ($label)" "http://127.0.0.1:18002${route}chat/completions"
done

lat() { # name url rate
  out=$("$tmp/loadgen" -url "$2" -rate "$3" -c "$CONNS" -d "$DURATION")
  printf '| %-34s | %6s | %s |\n' "$1" "$3" "$out"
}
echo
echo "# latency at a fixed offered rate (open loop, $CONNS connections, $DURATION per row)"
printf '| %-34s | %6s | %s |\n' target rate/s result
printf '|%s|%s|%s|\n' ------------------------------------ -------- --------
for rate in $RATES; do
  lat "plain httputil.ReverseProxy" http://127.0.0.1:18001/v1/chat/completions "$rate"
  [ $have_nginx = 1 ] && lat "nginx (proxy_pass, keepalive)" http://127.0.0.1:18003/v1/chat/completions "$rate"
  awk '/- name:/ {n=$3} /pathPrefix:/ {print n, $2}' "$tmp/bulwark.yaml" | while read -r label route; do
    lat "bulwark ($label)" "http://127.0.0.1:18002${route}chat/completions" "$rate"
  done
done
