#!/usr/bin/env bash
# kiosk_revoke.sh - a kiosk's key is revoked while it is in session.
#
# A. A real kiosk (K1) taps, then `tapaidctl kiosk revoke K1`: its session
#    is closed, the next tap is refused (kiosk_not_enrolled: a kiosk the
#    host refuses grants nothing offline either), and it cannot open a
#    new session.
# B. Two sessions of K2 (tests/fault/loadgen) pipeline taps when K2 is
#    revoked: nothing is granted after the revoke returns, every grant a
#    session saw is in the log once, and K2 cannot connect again.
. "$(dirname "$0")/lib.sh"

setup_host --quota 100000 --per day --offline 1 || bail "host setup"
start_emu r1 || bail "emulator"
for i in 1 2 3; do issue_card r1 "$tmp/c$i" "M$i" || bail "card issue"; done
enrol_kiosk K1 P1 r1 || bail "kiosk enrolment"
start_kiosk K1
wait_for 10000 kiosk_connected K1 1 && wait_for 5000 kiosk_ready K1 1 || bail "kiosk start"
tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ok "K1 grants before the revoke" || nok "first tap: $EV"

# A. The real kiosk.
"$CTL" kiosk revoke K1 >"$tmp/revoke.out" 2>&1 && ok "tapaidctl kiosk revoke K1: $(cat "$tmp/revoke.out")" ||
	{ nok "kiosk revoke"; diag "$tmp/revoke.out"; }
g_rev=$(db_grants K1)
wait_for 5000 count_ge "$tmp/K1/kiosk.log" "host disconnected" 1 && ok "the live session is closed" ||
	nok "K1's session stays open after the revoke"
tap K1 r1 "$tmp/c2"
if ev_has '"denied"'; then
	ok "the next tap is denied: $EV"
else
	# tapaidd tells the kiosk it is revoked (a sealed ERROR) before
	# closing, so the kiosk must not take it for a network failure and
	# grant offline: a grant shown that no log would ever hold.
	nok "the tap right after the revoke is granted offline: $EV"
fi
tap K1 r1 "$tmp/c3"
ev_has '"kiosk_not_enrolled"' && ok "once refused, the kiosk grants nothing and says why: $EV" || nok "later tap: $EV"
refused() { [ "$(sq "SELECT count(*) FROM security_events WHERE kiosk = 'K1'")" -ge 1 ]; }
wait_for 5000 refused && ok "its attempts to reconnect are refused and recorded ($(sq "SELECT kind FROM security_events WHERE kiosk = 'K1' LIMIT 1"))" ||
	nok "no security event for the revoked kiosk"
[ "$(db_grants K1)" = "$g_rev" ] && [ "$g_rev" = 1 ] && ok "nothing from K1 logged as granted after the revoke" ||
	nok "K1 log grants after revoke: $(db_grants K1) (at revoke $g_rev)"
kg=$(grep -F '"result":"granted"' "$tmp/K1/events" | wc -l)
[ "$kg" = 1 ] && ok "nothing shown as granted by K1 after the revoke" ||
	nok "K1 showed $((kg - 1)) grant(s) after the revoke that the log does not hold"

# B. Sessions pipelining taps.
"$KIOSK" --enroll --dir "$tmp/K2" >/dev/null &&
	"$CTL" kiosk add --id K2 --point P1 --pubkey "$tmp/K2/kiosk.pub" >/dev/null &&
	"$LOADGEN" register --dir "$D" --first 100 --count 8 || bail "K2 and its cards"
"$LOADGEN" run --dir "$D" --port "$PORT" --kiosk "K2=$tmp/K2/kiosk.key" --sessions 2 \
	--taps 40000 --first 100 --count 8 --window 16 --timeout-s 60 --no-reconnect \
	--out "$tmp/answers.csv" 2>"$tmp/loadgen.log" &
lg=$!
track $lg
answered() { [ -f "$tmp/answers.csv" ] && [ "$(wc -l <"$tmp/answers.csv")" -ge "$1" ]; }
wait_for 20000 answered 500 || nok "K2's load did not start"
"$CTL" kiosk revoke K2 >/dev/null && ok "K2 revoked in the middle of $(wc -l <"$tmp/answers.csv")+ answered taps" ||
	nok "revoke K2"
g_rev=$(db_grants K2)
wait "$lg"
[ "$(db_grants K2)" = "$g_rev" ] && ok "nothing granted to K2 after the revoke returned ($g_rev before)" ||
	nok "K2 grants grew after the revoke: $g_rev -> $(db_grants K2)"
grep -q "given up" "$tmp/loadgen.log" && ! grep -q " 0 given up" "$tmp/loadgen.log" &&
	ok "the sessions were closed with taps open ($(tail -n1 "$tmp/loadgen.log"))" ||
	{ nok "K2's sessions were not closed"; tail -n 3 "$tmp/loadgen.log" | diag; }
sqlite3 "$tmp/seen.db" "CREATE TABLE seen(rid TEXT, result INT, reason TEXT);" \
	".import --csv $tmp/answers.csv seen" "ATTACH '$D/tapaid.db' AS h;" \
	"CREATE TABLE logged AS SELECT hex(request_id) AS rid, result FROM h.redemptions WHERE kiosk = 'K2';" \
	"CREATE INDEX l ON logged(rid);" || bail "answers"
lost=$(sqlite3 "$tmp/seen.db" "SELECT count(*) FROM seen s WHERE s.result = 1 AND NOT EXISTS (SELECT 1 FROM logged r WHERE r.rid = s.rid AND r.result != 0)")
[ "$lost" = 0 ] && ok "every grant K2's sessions saw is in the log" || nok "$lost acknowledged grants missing"
"$LOADGEN" run --dir "$D" --port "$PORT" --kiosk "K2=$tmp/K2/kiosk.key" --sessions 1 \
	--taps 1 --first 100 --count 1 --no-reconnect --out "$tmp/again.csv" 2>"$tmp/again.log"
grep -q ": 0 answered" "$tmp/again.log" && ok "K2 cannot open a new session" || { nok "K2 reconnects"; diag "$tmp/again.log"; }
no_doubles && ok "no request logged twice" || nok "a request logged twice"
log_verifies && ok "tapaidctl log verify: the chains hold" || nok "log verify"
done_testing
