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
  [ -f "$tmp/nginx-modsec.pid" ] && kill "$(cat "$tmp/nginx-modsec.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$tmp/bulwark" ./cmd/bulwark
go build -o "$tmp/upstream" ./bench/upstream
go build -o "$tmp/plainproxy" ./bench/plainproxy
go build -o "$tmp/loadgen" ./bench/loadgen

"$tmp/upstream" -listen 127.0.0.1:18000 & pids+=($!); upstream_pid=$!
"$tmp/plainproxy" -listen 127.0.0.1:18001 -upstream http://127.0.0.1:18000 & pids+=($!); plain_pid=$!

keyhash=$(printf %s "$BENCH_KEY" | sha256sum | cut -d' ' -f1)
sed -e "s/\${KEY_SHA256}/$keyhash/" -e "s#\${TMP}#$tmp#" bench/bulwark.yaml > "$tmp/bulwark.yaml"
"$tmp/bulwark" check -c "$tmp/bulwark.yaml" >/dev/null
"$tmp/bulwark" serve -c "$tmp/bulwark.yaml" 2>"$tmp/bulwark.log" & pids+=($!); bulwark_pid=$!

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

# nginx + ModSecurity v3 + CRS 4 (the rules of the Go module, as Bulwark
# embeds them), PL1, full inspection: the WAF most teams run today. Debian's
# libmodsecurity 3.0.9 cannot parse a chained rule without actions, which
# CRS 4 has twice; those get "t:none".
have_modsec=0
modsec_mod=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
if [ $have_nginx = 1 ] && [ -f "$modsec_mod" ]; then
  crs=$(go list -m -f '{{.Dir}}' github.com/corazawaf/coraza-coreruleset/v4)/rules
  mkdir -p "$tmp/modsec/rules"
  cp "$crs/@crs-setup.conf.example" "$tmp/modsec/crs-setup.conf"
  cp "$crs"/@owasp_crs/*.conf "$crs"/@owasp_crs/*.data "$tmp/modsec/rules/"
  chmod -R u+w "$tmp/modsec"
  sed -i -E 's/^([[:space:]]+SecRule[[:space:]]+[^[:space:]]+[[:space:]]+"[^"]*")[[:space:]]*$/\1 "t:none"/' "$tmp"/modsec/rules/*.conf
  cat > "$tmp/modsec/main.conf" <<MODSEC
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 1048576
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecResponseBodyAccess Off
SecAuditEngine Off
SecTmpDir $tmp/modsec
SecDataDir $tmp/modsec
Include $tmp/modsec/crs-setup.conf
Include $tmp/modsec/rules/*.conf
MODSEC
  cat > "$tmp/nginx-modsec.conf" <<NGINX
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module $modsec_mod;
worker_processes auto;
pid $tmp/nginx-modsec.pid;
error_log $tmp/modsec/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/modsec; proxy_temp_path $tmp/modsec; fastcgi_temp_path $tmp/modsec;
  uwsgi_temp_path $tmp/modsec; scgi_temp_path $tmp/modsec;
  upstream llm { server 127.0.0.1:18000; keepalive 256; }
  server {
    listen 127.0.0.1:18004;
    modsecurity on;
    modsecurity_rules_file $tmp/modsec/main.conf;
    location / { proxy_pass http://llm; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
  nginx -c "$tmp/nginx-modsec.conf" 2>/dev/null && have_modsec=1
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
  [ "$code" = "$2" ] || { echo "$1 answered $code, want $2" >&2; cat "$tmp/bulwark.log" >&2; exit 1; }
}

ticks() { # total CPU ticks (user+system) of the given pids and their children
  local t=0
  for p in "$@"; do
    for q in $p $(pgrep -P "$p" 2>/dev/null); do
      [ -r "/proc/$q/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$q/stat")))
    done
  done
  echo $t
}

run() { # name url expected-status pid...
  local name=$1 url=$2 want=$3; shift 3
  check "$url" "$want"
  wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "${SCRIPT:-bench/post.lua}" "$url" >/dev/null
  local before; before=$(ticks "$@")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "${SCRIPT:-bench/post.lua}" "$url")
  local after; after=$(ticks "$@")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  cpu=$(awk -v t=$((after - before)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t * 1e6 / hz / n}')
  printf '| %-38s | %10s | %8s | %8s | %9s | %s |\n' "$name" "$rps" "$p50" "$p99" "$cpu" "${non2xx:-0}"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores (CPU µs/req: the proxy's own processes, upstream excluded), $CONNS connections, $DURATION per row, body $(wc -c <"$BENCH_BODY") bytes"
printf '| %-38s | %10s | %8s | %8s | %9s | %s |\n' target req/s p50 p99 "CPU µs/req" non-2xx
printf '|%s|%s|%s|%s|%s|%s|\n' ---------------------------------------- ------------ ---------- ---------- ----------- ---------
run "upstream direct" http://127.0.0.1:18000/v1/chat/completions 200 "$upstream_pid"
run "plain httputil.ReverseProxy" http://127.0.0.1:18001/v1/chat/completions 200 "$plain_pid"
[ $have_nginx = 1 ] && run "nginx (proxy_pass, keepalive)" http://127.0.0.1:18003/v1/chat/completions 200 "$(cat "$tmp/nginx.pid")"
# ModSecurity+CRS blocks this honest 1.5 KB prompt (anomaly score 13): the
# row measures full inspection ending in 403, which is what it costs.
[ $have_modsec = 1 ] && run "nginx+ModSecurity 3.0.9+CRS 4.25 PL1" http://127.0.0.1:18004/v1/chat/completions 403 "$(cat "$tmp/nginx-modsec.pid")"
awk '/- name:/ {n=$3} /pathPrefix:/ {print n, $2}' "$tmp/bulwark.yaml" | while read -r label route; do
  run "bulwark ($label)" "http://127.0.0.1:18002${route}chat/completions" 200 "$bulwark_pid"
done
# The WAF route again with a different last message and trace id on every
# request: what the verdict cache sees from one application's traffic.
SCRIPT=bench/post-varied.lua run "bulwark (waf-pl1, varied prompts)" http://127.0.0.1:18002/waf/v1/chat/completions 200 "$bulwark_pid"

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
