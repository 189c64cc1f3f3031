#!/usr/bin/env bash
# kill9.sh - kill -9 of tapaidd under load, then a restart.
#
# 16 kiosk sessions (4 enrolled kiosks) pipeline taps (tests/fault/loadgen,
# the kiosk side of the real protocol); tapaidd is killed with SIGKILL in
# the middle of the stream and started again on the same data directory;
# the sessions reconnect and send every unanswered tap again with the same
# request id.  Then: every tap got exactly one answer, every grant a
# session saw is in the log exactly once, nothing is in the log that no
# session asked for, the database is intact and `tapaidctl log verify`
# walks the chains.
. "$(dirname "$0")/lib.sh"

TAPS=${FAULT_KILL9_TAPS:-6000}
init_host "max_sessions_per_kiosk = 8" || bail "tapaidctl init"
start_daemon || bail "tapaidd does not start"
"$CTL" benefit add --code MEAL --name 食堂午餐 --quota 100000 --per day >/dev/null &&
	"$CTL" member import <(echo "member_no,name,union,category"; for i in $(seq 20); do echo "M$i,王小明$i,市总工会,worker"; done) >/dev/null ||
	bail "benefit and members"
kargs=()
for k in K1 K2 K3 K4; do
	"$KIOSK" --enroll --dir "$tmp/$k" >/dev/null &&
		"$CTL" kiosk add --id "$k" --point P1 --pubkey "$tmp/$k/kiosk.pub" >/dev/null ||
		bail "enrol $k"
	kargs+=(--kiosk "$k=$tmp/$k/kiosk.key")
done
"$LOADGEN" register --dir "$D" --first 1 --count 64 || bail "cards"
ok "tapaidd set up by tapaidctl: a benefit, 20 members, 4 kiosks, 64 cards"

"$LOADGEN" run --dir "$D" --port "$PORT" "${kargs[@]}" --sessions 16 \
	--taps "$TAPS" --first 1 --count 64 --window 16 --timeout-s 90 \
	--out "$tmp/answers.csv" 2>"$tmp/loadgen.log" &
lg=$!
track $lg
answered() { [ -f "$tmp/answers.csv" ] && [ "$(wc -l <"$tmp/answers.csv")" -ge "$1" ]; }
if wait_for 30000 answered $((TAPS / 4)); then
	before=$(wc -l <"$tmp/answers.csv")
	stop_daemon KILL
	ok "tapaidd killed with SIGKILL after $before answers"
else
	nok "the load did not start"; diag "$tmp/loadgen.log"
fi
db_intact && ok "the database is intact after the kill" || nok "integrity_check after the kill"
start_daemon && ok "tapaidd restarts on the same data directory" || nok "tapaidd restart"
wait "$lg"
rc=$?
[ "$rc" -eq 0 ] && ok "every tap was answered ($(tail -n1 "$tmp/loadgen.log"))" ||
	{ nok "loadgen exit $rc"; tail -n 5 "$tmp/loadgen.log" | diag; }
inflight=$(tail -n1 "$tmp/loadgen.log" | sed -nE 's/.* ([0-9]+) taps were in flight.*/\1/p')
[ "${inflight:-0}" -gt 0 ] && ok "the kill caught $inflight taps in flight; they were sent again" ||
	nok "no tap was in flight at the kill"

# Compare what the sessions saw with the log.
sqlite3 "$tmp/seen.db" "CREATE TABLE seen(rid TEXT, result INT, reason TEXT);" \
	".import --csv $tmp/answers.csv seen" || bail "import answers"
sqlite3 -cmd '.timeout 5000' "$tmp/seen.db" "ATTACH '$D/tapaid.db' AS h;" \
	"CREATE TABLE logged AS SELECT hex(request_id) AS rid, kiosk, result FROM h.redemptions;" \
	"CREATE INDEX seen_rid ON seen(rid); CREATE INDEX logged_rid ON logged(rid);" || bail "copy the log"
q() { sqlite3 "$tmp/seen.db" "$@"; }
got=$(q "SELECT count(*), count(DISTINCT rid) FROM seen")
[ "$got" = "$TAPS|$TAPS" ] && ok "one answer per tap ($got)" || nok "answers, distinct: $got (want $TAPS)"
lost=$(q "SELECT count(*) FROM seen s WHERE s.result = 1 AND NOT EXISTS (SELECT 1 FROM logged r WHERE r.rid = s.rid AND r.result != 0)")
[ "$lost" = 0 ] && ok "no acknowledged grant is missing from the log" || nok "$lost acknowledged grants missing"
dbl=$(q "SELECT count(*) FROM (SELECT rid FROM logged GROUP BY kiosk, rid HAVING count(*) > 1)")
[ "$dbl" = 0 ] && ok "no request is in the log twice" || nok "$dbl requests logged twice"
extra=$(q "SELECT count(*) FROM logged r WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.rid = r.rid)")
[ "$extra" = 0 ] && ok "nothing in the log that no session asked for" || nok "$extra unexplained rows"
agree=$(q "SELECT count(*) FROM seen s JOIN logged r ON r.rid = s.rid WHERE (r.result != 0) != (s.result = 1)")
[ "$agree" = 0 ] && ok "every answer agrees with its row (a retry got the first answer)" || nok "$agree answers disagree with the log"
g=$(q "SELECT count(*) FROM seen WHERE result = 1")
[ "$g" = "$TAPS" ] && ok "all $TAPS taps granted (fresh counters, quota not reached)" ||
	{ nok "granted $g of $TAPS"; q "SELECT reason, count(*) FROM seen GROUP BY 1" | diag; }
log_verifies && ok "tapaidctl log verify: the chains hold" || nok "log verify"
db_intact && ok "PRAGMA integrity_check: ok" || nok "integrity_check"
done_testing
