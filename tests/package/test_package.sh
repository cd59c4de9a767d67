#!/bin/bash
# The Debian package: build it, lint it, verify its systemd unit, then install
# it with apt into a minimal Debian 12 root, start corrald there, upgrade to a
# higher version and purge.  The debootstrap root is cached under build/.
set -u
cd "${CORRAL_ROOT:-$(dirname "$0")/../..}" || exit 2

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

CACHE=build/pkgtest
BASE_TAR=$CACHE/bookworm-minbase.tar
ROOT=$CACHE/root
work=$(mktemp -d)
corrald_pid=""
cleanup() {
	[ -n "$corrald_pid" ] && kill "$corrald_pid" 2>/dev/null
	if [ -d "$ROOT/proc" ] && mountpoint -q "$ROOT/proc"; then umount -l "$ROOT/proc"; fi
	rm -rf "$work"
}
trap cleanup EXIT

# --- build ---
if ! make -s deb >"$work/deb.log" 2>&1; then
	tail -30 "$work/deb.log"
	not_ok "make deb builds the package"
	finish
fi
deb=$(ls build/deb/corral_*_amd64.deb | head -1)
ok "make deb builds $(basename "$deb")"

# --- lintian: no errors; every warning named in packaging/debian/README ---
lintian --no-tag-display-limit "$deb" >"$work/lintian" 2>/dev/null
cat "$work/lintian"
check "lintian reports no errors" bash -c "! grep -q '^E:' '$work/lintian'"
unjustified=""
for tag in $(awk '/^W:/ {print $3}' "$work/lintian" | sort -u); do
	grep -q -- "$tag" packaging/debian/README || unjustified="$unjustified $tag"
done
check "every lintian warning is justified in packaging/debian/README${unjustified:+ (missing:$unjustified)}" test -z "$unjustified"

# --- systemd unit ---
unit_root=$work/unit-root
mkdir -p "$unit_root"
dpkg-deb -x "$deb" "$unit_root"
cp -an /lib/systemd/system/. "$unit_root/lib/systemd/system/" 2>/dev/null
check "systemd-analyze verify corrald.service" \
	systemd-analyze verify --man=no --root="$unit_root" "$unit_root/lib/systemd/system/corrald.service"
check "unit keeps VMs on restart (KillMode=process)" grep -q '^KillMode=process' "$unit_root/lib/systemd/system/corrald.service"

# --- install into a minimal Debian 12 root ---
mkdir -p "$CACHE"
if [ ! -f "$BASE_TAR" ]; then
	rm -rf "$CACHE/base"
	if debootstrap --variant=minbase bookworm "$CACHE/base" >"$work/debootstrap.log" 2>&1; then
		tar -C "$CACHE/base" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
	else
		tail -20 "$work/debootstrap.log"
	fi
	rm -rf "$CACHE/base"
fi
if [ ! -f "$BASE_TAR" ]; then
	not_ok "debootstrap a minimal Debian 12 root"
	finish
fi
rm -rf "$ROOT" && mkdir -p "$ROOT" && tar -C "$ROOT" -xf "$BASE_TAR"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc"
cp "$deb" "$ROOT/tmp/corral.deb"
in_root() { chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
in_root apt-get update -qq >"$work/apt.log" 2>&1
check "apt installs the package with its dependencies" \
	bash -c "chroot '$ROOT' env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/corral.deb >>'$work/apt.log' 2>&1 || { tail -20 '$work/apt.log'; false; }"
check "postinst made the corral user" in_root getent passwd corral
check "postinst made /var/lib/corral owned by corral" \
	test "$(in_root stat -c %U:%a /var/lib/corral)" = "corral:750"
check "conffile /etc/corral/corral.conf installed" test -f "$ROOT/etc/corral/corral.conf"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_corrald() {
	chroot "$ROOT" env CORRAL_ADMIN_PASSWORD=pkgtest-secret-1 \
		/usr/sbin/corrald --config /etc/corral/corral.conf --listen "127.0.0.1:$port" \
		>>"$work/corrald.log" 2>&1 &
	corrald_pid=$!
	for _ in $(seq 1 100); do
		curl -ksf --tlsv1.3 "https://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	cat "$work/corrald.log"
	return 1
}
stop_corrald() { kill -TERM "$corrald_pid"; wait "$corrald_pid"; local rc=$?; corrald_pid=""; return $rc; }
login() {
	curl -ksf --tlsv1.3 -d "username=$1" --data-urlencode "password=$2" \
		"https://127.0.0.1:$port/api2/json/access/ticket" | grep -q '"ticket"'
}

check "installed corrald starts and serves the web UI over TLS 1.3" start_corrald
check "admin@pve logs in on the installed node" login admin@pve pkgtest-secret-1
ticket=$(curl -ksf -d username=admin@pve -d password=pkgtest-secret-1 \
	"https://127.0.0.1:$port/api2/json/access/ticket" |
	python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d["ticket"]+"\n"+d["CSRFPreventionToken"])')
cookie=$(echo "$ticket" | sed -n 1p)
csrf=$(echo "$ticket" | sed -n 2p)
check "GET /version with the ticket" bash -c "curl -ksf -b 'PVEAuthCookie=$cookie' 'https://127.0.0.1:$port/api2/json/version' | grep -q '\"version\"'"
check "a user created before the upgrade" curl -ksf -o /dev/null -b "PVEAuthCookie=$cookie" \
	-H "CSRFPreventionToken: $csrf" -d userid=keep@pve -d password=keep-me-please \
	"https://127.0.0.1:$port/api2/json/access/users"
check "corrald stops cleanly on SIGTERM" stop_corrald

# --- upgrade to a higher version: the same build repacked as 0.1.0+1 ---
sed -i 's/^# log-level: info/log-level: info/' "$ROOT/etc/corral/corral.conf"
dpkg-deb -R "$deb" "$work/up"
sed -i 's/^Version: .*/&+1/' "$work/up/DEBIAN/control"
dpkg-deb -b "$work/up" "$ROOT/tmp/corral-up.deb" >/dev/null
check "apt upgrades to the higher version" \
	bash -c "chroot '$ROOT' env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold /tmp/corral-up.deb >>'$work/apt.log' 2>&1"
check "the edited conffile survives the upgrade" grep -q '^log-level: info' "$ROOT/etc/corral/corral.conf"
check "corrald starts after the upgrade" start_corrald
check "users survive the upgrade" login keep@pve keep-me-please
stop_corrald

# --- purge ---
mkdir -p "$ROOT/var/lib/corral/images/100" && echo disk >"$ROOT/var/lib/corral/images/100/vm-100-disk-0.qcow2"
check "apt purges the package" \
	bash -c "chroot '$ROOT' env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq corral >>'$work/apt.log' 2>&1"
check "purge removes configuration, store and logs" \
	bash -c "! test -e '$ROOT/etc/corral' && ! test -e '$ROOT/var/lib/corral/db' && ! test -e '$ROOT/var/log/corral'"
check "purge keeps VM disks" test -f "$ROOT/var/lib/corral/images/100/vm-100-disk-0.qcow2"
finish
