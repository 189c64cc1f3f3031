#!/usr/bin/env bash
# disk_full.sh - the host's disk fills up under a running kiosk, then
# space comes back.
#
# The data directory is on a small tmpfs mounted in a private mount
# namespace (unshare -m as root, unshare -rm otherwise), so nothing else
# on the machine sees it and it vanishes with the test.  tapaidd and
# SQLite run unchanged; a filler file takes the free space.  Checks: a tap
# is denied with a clear reason (host_unavailable on the kiosk, "not
# committed ... full" in tapaidd's log), a staff command fails with one
# clear line, nothing is half-written (integrity_check, log verify), and
# once the filler is removed the same daemon grants again without a
# restart.  Every grant the kiosk showed is in the log exactly once.
if [ -z "${TAPAID_FAULT_NS:-}" ]; then
	export TAPAID_FAULT_NS=1
	if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
		exec unshare -m --propagation private "$0" "$@"
	elif unshare -rm true 2>/dev/null; then
		exec unshare -rm --propagation private "$0" "$@"
	fi
	echo "1..0 # SKIP no private mount namespace (unshare -m) here"
	exit 0
fi
. "$(dirname "$0")/lib.sh"

MNT=$tmp/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=8m,mode=0755 tapaid-fault "$MNT" || bail "mount tmpfs"
D=$MNT/data
export TAPAID_DIR=$D
setup_host --quota 1000 --per day --offline 1 || bail "host setup"
start_emu r1 || bail "emulator"
issue_card r1 "$tmp/c1" M1 && issue_card r1 "$tmp/c2" M2 || bail "card issue"
enrol_kiosk K1 P1 r1 || bail "kiosk enrolment"
start_kiosk K1
wait_for 10000 kiosk_connected K1 1 && wait_for 5000 kiosk_ready K1 1 || bail "kiosk start"
ok "host data dir on an 8 MB tmpfs; kiosk, reader and two cards up"
tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ok "a tap is granted while there is space" || nok "first tap: $EV"

# Fill the disk.
dd if=/dev/zero of="$MNT/filler" bs=64k >/dev/null 2>&1
avail=$(df --output=avail -k "$MNT" | tail -n 1 | tr -d ' ')
[ "$avail" -le 64 ] && ok "disk full (${avail} KiB left)" || nok "disk not full: ${avail} KiB"
# SQLite reuses WAL space already allocated, so some commits may still
# fit; tap until the first one that does not (every grant counts below).
denied=0
for i in $(seq 40); do
	tap K1 r1 "$tmp/c$((i % 2 + 1))" || break
	if ev_has '"denied"'; then denied=1; break; fi
done
[ "$denied" = 1 ] && ev_has '"host_unavailable"' &&
	ok "a tap on the full disk is denied with a clear reason: $EV" ||
	nok "no clear denial on a full disk: $EV"
count_ge "$tmp/tapaidd.log" "not committed" 1 && grep -q "full" "$tmp/tapaidd.log" &&
	ok "tapaidd says why: $(grep -m1 'not committed' "$tmp/tapaidd.log" | cut -c1-120)" ||
	{ nok "tapaidd's log names the full disk"; tail -n 5 "$tmp/tapaidd.log" | diag; }
if "$CTL" member add --no M99 --name 赵六 --union U --category worker >"$tmp/add.out" 2>&1; then
	nok "a staff command on the full disk succeeded"
else
	[ "$(wc -l <"$tmp/add.out")" -eq 1 ] && ok "a staff command fails with one clear line: $(cat "$tmp/add.out")" ||
		{ nok "staff command failure is not one line"; diag "$tmp/add.out"; }
fi
alive "$daemon_pid" && ok "tapaidd keeps running on the full disk" || nok "tapaidd died on the full disk"
db_intact && ok "the database is intact while the disk is full" || nok "integrity_check on the full disk"

# Space comes back.
rm -f "$MNT/filler"
tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ok "space back: the same tapaidd grants again, no restart" ||
	nok "no recovery: $EV"
"$CTL" member add --no M99 --name 赵六 --union U --category worker >/dev/null 2>&1 &&
	ok "staff commands work again" || nok "staff command after recovery"
g=$(db_grants K1) e=$(ev_grants K1)
[ "$g" = "$e" ] && ok "every grant the kiosk showed is logged, once ($g)" || nok "log has $g grants, the kiosk showed $e"
no_doubles && ok "no request logged twice" || nok "a request logged twice"
log_verifies && ok "tapaidctl log verify: the chains hold" || nok "log verify"
stop_daemon
start_daemon && log_verifies && db_intact && ok "after a restart: the log verifies and the database is intact" ||
	nok "restart after the full disk"
done_testing
