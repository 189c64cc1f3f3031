#!/usr/bin/env bash
# partition.sh - the network between a kiosk and the host breaks and heals.
#
#   tapaid-kiosk --TCP--> tcpproxy --TCP--> tapaidd
#
# 1. Half partition: the tap reaches the host, which grants and commits it,
#    but the answer is lost; the kiosk times out and grants offline with a
#    signed record carrying the same request id.  2. Full partition: the
#    kiosk grants offline up to its allowance, then refuses with
#    offline_limit.  3. Heal: the proxy resets the dead connections, the
#    kiosk reconnects and uploads its queue.  The tap of step 1 must be in
#    the log once (its record is a duplicate of the online row), the tap
#    of step 2 once, and the kiosk's grants and the log must agree.
. "$(dirname "$0")/lib.sh"

setup_host --quota 10 --per day --offline 1 || bail "host setup"
start_emu r1 || bail "emulator"
for i in 1 2 3; do issue_card r1 "$tmp/c$i" "M$i" || bail "card issue"; done
start_proxy || bail "tcpproxy"
KIOSK_OFFLINE=1 enrol_kiosk K1 P1 r1 "127.0.0.1:$PROXY_PORT" || bail "kiosk enrolment"
start_kiosk K1
wait_for 10000 kiosk_connected K1 1 && wait_for 5000 kiosk_ready K1 1 || bail "kiosk start"
ok "kiosk connected to tapaidd through the relay"
tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ev_has '"offline":false' &&
	ok "online grant through the relay" || nok "online tap: $EV"

# 1. The answers are lost.
proxy drop-down && ok "half partition: host answers are dropped ($REPLY_PROXY)" || nok "proxy drop-down"
rows=$(sq "SELECT count(*) FROM redemptions")
tap K1 r1 "$tmp/c2"
ev_has '"granted"' && ev_has '"offline":true' &&
	ok "no answer: the kiosk grants offline: $EV" || nok "tap with lost answer: $EV"
[ "$(sq "SELECT count(*) FROM redemptions")" -eq $((rows + 1)) ] &&
	ok "the host had decided and logged that tap online" || nok "the host did not log the tap whose answer was lost"

# 2. Nothing goes through.
proxy drop && ok "full partition ($REPLY_PROXY)" || nok "proxy drop"
tap K1 r1 "$tmp/c3"
ev_has '"granted"' && ev_has '"offline":true' && ok "partitioned: offline grant: $EV" || nok "offline tap: $EV"
tap K1 r1 "$tmp/c3"
ev_has '"offline_limit"' && ok "partitioned: the day's offline allowance holds: $EV" || nok "second offline tap: $EV"
tap K1 r1 "$tmp/c1"
ev_has '"denied"' || ev_has '"offline":true' && ok "partitioned: a third card is decided offline: $EV" || nok "third card: $EV"

# 3. Heal.
hc=$(count "$tmp/K1/kiosk.log" "host connected")
proxy heal && ok "partition healed, dead connections reset ($REPLY_PROXY)" || nok "proxy heal"
wait_for 15000 kiosk_connected K1 $((hc + 1)) && ok "the kiosk reconnects" || nok "no reconnect"
off_shown=$(grep -F '"result":"granted"' "$tmp/K1/events" | grep -cF '"offline":true')
# Records go up in order, one at a time, and the first (c2's) duplicates
# an online row: once the last one is a row, all were answered.
uploaded() { [ "$(sq "SELECT count(*) FROM redemptions WHERE offline = 1")" -ge "$1" ]; }
wait_for 20000 uploaded $((off_shown - 1)) &&
	ok "the offline queue is uploaded ($off_shown offline grants shown, $((off_shown - 1)) new rows)" ||
	{ nok "upload: $(sq "SELECT count(*) FROM redemptions WHERE offline = 1") offline rows"; tail -n 5 "$tmp/K1/kiosk.log" | diag; }
# Restart the kiosk: a record whose ack it had not yet written down is
# sent again and must not double.
stop_kiosk K1
from=$(log_lines K1)
start_kiosk K1
wait_for 10000 kiosk_up_since K1 "$from" && ok "kiosk restarted and reconnected" || nok "kiosk restart"
tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ev_has '"offline":false' && ok "online again: $EV" || nok "after heal: $EV"
c2=$(sq "SELECT count(*) FROM redemptions r JOIN cards c ON c.id = r.card_id JOIN members m ON m.id = c.member_id WHERE m.no = 'M2' AND r.result != 0")
[ "$c2" = 1 ] && ok "the tap whose answer was lost is logged once, not twice" || nok "card 2 has $c2 grant rows"
g=$(db_grants K1) e=$(ev_grants K1)
[ "$g" = "$e" ] && ok "every grant the kiosk showed is logged, once ($g)" || nok "log has $g grants, the kiosk showed $e"
no_doubles && ok "no request logged twice" || nok "a request logged twice"
log_verifies && ok "tapaidctl log verify: the chains hold" || nok "log verify"
done_testing
