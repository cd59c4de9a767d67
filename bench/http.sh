#!/bin/bash
# HTTP benchmark: corrald answering an authenticated GET /api2/json/version
# beside nginx serving a static JSON file of the same size, both over TLS 1.3
# on loopback with the node's own key, wrk -t2 -c50 -d15s.  Also corrald's
# idle RSS after start and after the run.  Writes build/bench/http.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

DURATION=${BENCH_DURATION:-15s}
CONNECTIONS=50
THREADS=2
OUT=build/bench/http.md

tmp=$(mktemp -d /tmp/corral-bench-http.XXXXXX)
trap bench_cleanup EXIT

rss_kb() {
	awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}

start_nginx() {
	nginx_port=$(free_port)
	mkdir -p "$tmp/www" "$tmp/nginx"
	curl -sk --max-time 5 -b "PVEAuthCookie=$ticket" \
		"https://127.0.0.1:$corrald_port/api2/json/version" >"$tmp/www/version.json"
	chmod -R a+rX "$tmp"
	{
		nginx_head auto 4096
		cat <<CONF
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$nginx_port ssl;
		ssl_protocols TLSv1.3;
		ssl_certificate $tmp/corrald/certs/node.pem;
		ssl_certificate_key $tmp/corrald/certs/node.key;
		root $tmp/www;
		default_type application/json;
	}
}
CONF
	} >"$tmp/nginx.conf"
	nginx -c "$tmp/nginx.conf" -p "$tmp" -e "$tmp/nginx-error.log"
	for _ in $(seq 100); do
		curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$nginx_port/version.json" && return 0
		sleep 0.1
	done
	echo "bench: nginx did not start" >&2
	return 1
}

tls_version() { # tls_version PORT: protocol a default client negotiates
	openssl s_client -connect "127.0.0.1:$1" -brief </dev/null 2>&1 |
		awk -F': ' '/Protocol version/ {print $2; exit}'
}

run_wrk() { # run_wrk URL OUTFILE
	wrk -t$THREADS -c$CONNECTIONS -d"$DURATION" --latency -s "$tmp/auth.lua" "$1" >"$2"
	cat "$2"
}

# wrk numbers: "Requests/sec: 1234.5", latency lines "50%  1.23ms".
req_per_s() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
		printf "%.2f", n }'
}
pct() { to_ms "$(awk -v p="$2%" '$1 == p {print $2; exit}' "$1")"; }
errors() { awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); e = e $0 "; "} END {print (e == "" ? "none" : e)}' "$1"; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
start_corrald
rss_start=$(rss_kb "$corrald_pid")
start_nginx
size=$(stat -c %s "$tmp/www/version.json")
cat >"$tmp/auth.lua" <<LUA
wrk.headers["Cookie"] = "PVEAuthCookie=$ticket"
LUA
proto_corrald=$(tls_version "$corrald_port")
proto_nginx=$(tls_version "$nginx_port")

echo "bench: corrald ($proto_corrald) on :$corrald_port, nginx ($proto_nginx) on :$nginx_port, $size-byte answer"
run_wrk "https://127.0.0.1:$corrald_port/api2/json/version" "$tmp/wrk-corrald.txt"
sleep 1
rss_after=$(rss_kb "$corrald_pid")
run_wrk "https://127.0.0.1:$nginx_port/version.json" "$tmp/wrk-nginx.txt"

c_rps=$(req_per_s "$tmp/wrk-corrald.txt")
n_rps=$(req_per_s "$tmp/wrk-nginx.txt")
ratio=$(awk -v a="$c_rps" -v b="$n_rps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
c_p50=$(pct "$tmp/wrk-corrald.txt" 50)
c_p99=$(pct "$tmp/wrk-corrald.txt" 99)
n_p50=$(pct "$tmp/wrk-nginx.txt" 50)
n_p99=$(pct "$tmp/wrk-nginx.txt" 99)

mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<MD
## HTTP: corrald beside nginx

\`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` on loopback, keep-alive, both
servers with the node's own EC P-256 key and certificate. corrald answers an
authenticated \`GET /api2/json/version\` (ticket cookie, set by a wrk Lua script);
nginx (Debian nginx-light, \`worker_processes auto\`) serves a static JSON file
of the same size ($size bytes). Negotiated: corrald $proto_corrald, nginx $proto_nginx.
Load average before the run: $load.

| server | req/s | p50 | p99 | errors |
|---|---:|---:|---:|---|
| corrald | $c_rps | $c_p50 ms | $c_p99 ms | $(errors "$tmp/wrk-corrald.txt") |
| nginx | $n_rps | $n_p50 ms | $n_p99 ms | $(errors "$tmp/wrk-nginx.txt") |

| measure | value | goal | |
|---|---:|---:|---|
| rate, corrald / nginx | ${ratio}× | ≥ 0.8× | $(verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.8)}')") |
| corrald p99 | $c_p99 ms | < 5 ms | $(verdict "$(awk -v p="$c_p99" 'BEGIN {print (p < 5)}')") |
| corrald idle RSS after start | $((rss_start / 1024)) MiB ($rss_start kB) | < 15 MB | $(verdict "$((rss_start < 15000))") |
| corrald idle RSS after the run | $((rss_after / 1024)) MiB ($rss_after kB) | < 15 MB | $(verdict "$((rss_after < 15000))") |
MD
cat "$OUT"
