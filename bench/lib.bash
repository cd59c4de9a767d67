# Sourced by bench/*.sh (named .bash so that bench/run does not run it): a
# corrald in the run's temporary directory $tmp on a free loopback port,
# logged in as admin@pve, and the cleanup of what the run started.

PASSWORD=bench-admin-pw
CORRALD=${CORRAL_BINDIR:-bin}/corrald
corrald_pid=
bench_pids= # further background processes bench_cleanup ends

# The EXIT trap: a killed process's status must not stop the cleanup
# half-way under set -e (that left nginx and the data behind).
bench_cleanup() {
	local p
	set +e
	for p in $corrald_pid $bench_pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for p in "$tmp"/corrald/run/*.pid; do # QEMUs left by a failed run
		[ -e "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null
	sleep 0.2
	rm -rf "$tmp"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

json_field() { # json_field FIELD < answer: data.FIELD of an API answer
	python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "$1"
}

# Starts corrald (node "bench") and logs in: sets corrald_pid, corrald_port,
# ticket and csrf.
start_corrald() {
	local answer
	corrald_port=$(free_port)
	CORRAL_ADMIN_PASSWORD=$PASSWORD "$CORRALD" --data-dir "$tmp/corrald" \
		--listen "127.0.0.1:$corrald_port" --node bench --log-level error \
		>"$tmp/corrald.log" 2>&1 &
	corrald_pid=$!
	for _ in $(seq 300); do
		if answer=$(curl -sk --max-time 5 -d username=admin@pve -d "password=$PASSWORD" \
			"https://127.0.0.1:$corrald_port/api2/json/access/ticket") &&
			ticket=$(printf '%s' "$answer" | json_field ticket 2>/dev/null) &&
			csrf=$(printf '%s' "$answer" | json_field CSRFPreventionToken); then
			return 0
		fi
		kill -0 "$corrald_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: corrald did not start:" >&2
	cat "$tmp/corrald.log" >&2
	return 1
}

# The opening of an nginx.conf for an nginx kept in $tmp, up to inside its
# http block: nginx_head WORKERS CONNECTIONS.
nginx_head() {
	cat <<CONF
worker_processes $1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" || true )
events { worker_connections $2; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
CONF
}

verdict() { awk -v ok="$1" 'BEGIN {print (ok ? "met" : "**not met**")}'; }

# Runs CMD... (the measuring program: markdown on stdout), writes its output
# and the load average from before the run to OUT and shows it:
# bench_report OUT CMD...
bench_report() {
	local out=$1 load
	shift
	mkdir -p "$(dirname "$out")"
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	"$@" >"$tmp/report.md"
	{ cat "$tmp/report.md"; echo; echo "Load average before the run: $load."; } >"$out"
	cat "$out"
}
