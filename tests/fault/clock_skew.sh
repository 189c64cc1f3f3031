#!/usr/bin/env bash
# clock_skew.sh - kiosks whose clocks are a month off.
#
# Each kiosk runs with libskewclock.so preloaded (time(), gettimeofday()
# and CLOCK_REALTIME moved by TAPAID_SKEW_S; nothing else on the machine
# changes): K1 is 30 days ahead, K2 30 days behind.  The benefit is valid
# only from yesterday to tomorrow (host dates) with a quota of 2 a day.
# Checks: online taps are decided by the host's clock (granted inside the
# validity window, the day's quota shared across both kiosks although
# their own days are 60 days apart), each row's time is the host's with
# the kiosk's own time kept beside it; then an offline grant made on the
# skewed clock is uploaded, logged once, and the chain verifies.
. "$(dirname "$0")/lib.sh"

SKEW=$((30 * 86400))
# An ASan build refuses any preload that comes before its runtime.
if ldd "$KIOSK" 2>/dev/null | grep -q libasan; then
	echo "1..0 # SKIP the clock shim cannot be preloaded into an ASan build"
	exit 0
fi
[ -f "$SKEWLIB" ] || bail "libskewclock.so not built"
[ "$(LD_PRELOAD=$SKEWLIB TAPAID_SKEW_S=$SKEW date -u +%F)" = "$(date -u -d @$(($(date +%s) + SKEW)) +%F)" ] &&
	ok "the shim moves one process's clock by +30 days" || nok "the clock shim does not work"
yesterday=$(date -u -d yesterday +%F) tomorrow=$(date -u -d tomorrow +%F)
setup_host --quota 2 --per day --offline 1 --valid-from "$yesterday" --valid-until "$tomorrow" ||
	bail "host setup"
start_emu r1 && start_emu r2 || bail "emulators"
for i in 1 2 3; do issue_card r1 "$tmp/c$i" "M$i" || bail "card issue"; done
enrol_kiosk K1 P1 r1 && enrol_kiosk K2 P1 r2 || bail "kiosk enrolment"
start_kiosk K1 LD_PRELOAD="$SKEWLIB" TAPAID_SKEW_S=$SKEW
start_kiosk K2 LD_PRELOAD="$SKEWLIB" TAPAID_SKEW_S=-$SKEW
wait_for 10000 kiosk_connected K1 1 && wait_for 10000 kiosk_connected K2 1 &&
	wait_for 5000 kiosk_ready K1 1 && wait_for 5000 kiosk_ready K2 1 || bail "kiosks start"
ok "two kiosks, clocks +30 and -30 days, connected (the handshake does not depend on the clock)"

tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ev_has '"left":1' &&
	ok "kiosk +30 d: granted inside the host's validity window: $EV" || nok "K1: $EV"
tap K2 r2 "$tmp/c1" && ev_has '"granted"' && ev_has '"left":0' &&
	ok "kiosk -30 d: granted, the same host day's quota: $EV" || nok "K2: $EV"
tap K1 r1 "$tmp/c1" && ev_has '"quota_used_up"' &&
	ok "then the day's quota is used up on either kiosk: $EV" || nok "K1 third: $EV"
now=$(date +%s)
bad=$(sq "SELECT count(*) FROM redemptions WHERE offline = 0 AND abs(ts - $now) > 300")
[ "$bad" = 0 ] && ok "every online row carries the host's time" || nok "$bad online rows dated by a kiosk clock"
kt=$(sq "SELECT group_concat(kiosk || ':' || CAST(round((kiosk_time - ts) / 86400.0) AS INT), ' ') FROM (SELECT kiosk, kiosk_time, ts FROM redemptions WHERE offline = 0 AND result != 0 ORDER BY id)")
[ "$kt" = "K1:30 K2:-30" ] && ok "the kiosk's own time is kept beside it (days off: $kt)" || nok "kiosk_time offsets: $kt"

# Offline on the skewed clock, then upload.
stop_daemon
wait_for 10000 count_ge "$tmp/K1/kiosk.log" "host disconnected" 1 || nok "K1 does not notice the host is down"
tap K1 r1 "$tmp/c2"
ev_has '"granted"' && ev_has '"offline":true' && ok "host down: offline grant on the skewed kiosk: $EV" || nok "offline: $EV"
hc=$(count "$tmp/K1/kiosk.log" "host connected")
start_daemon || bail "tapaidd restart"
wait_for 15000 kiosk_connected K1 $((hc + 1)) || nok "K1 reconnects"
uploaded() { [ "$(sq "SELECT count(*) FROM redemptions WHERE offline = 1")" -ge 1 ]; }
wait_for 15000 uploaded && ok "the offline record is uploaded" || nok "no offline row"
row=$(sq "SELECT result, reason, CAST(round((ts - $now) / 86400.0) AS INT), CAST(round((kiosk_time - $now) / 86400.0) AS INT) FROM redemptions WHERE offline = 1")
echo "# offline row: result|reason|ts days from now|kiosk_time days from now = $row"
case $row in
[12]"|"*) ok "the offline grant is in the log, granted or kept as a conflict ($row)" ;;
*) nok "the offline grant is not in the log as a grant ($row)" ;;
esac
# The offline record is dated on the host's clock: the kiosk files it with
# its clock corrected by the offset it learned from the host's STATUS_ACK,
# and the engine never dates a record later than its upload, so a kiosk a
# month ahead neither files grants in the future nor spends a future day's
# quota.
case $row in
*"|0|0") ok "the offline row is dated by the host's clock ($row)" ;;
*) nok "the offline row is dated by the kiosk's skewed clock ($row)" ;;
esac
g=$(($(db_grants K1) + $(db_grants K2))) e=$(($(ev_grants K1) + $(ev_grants K2)))
[ "$g" = "$e" ] && ok "every grant the kiosks showed is logged, once ($g)" || nok "log has $g grants, the kiosks showed $e"
no_doubles && ok "no request logged twice" || nok "a request logged twice"
log_verifies && ok "tapaidctl log verify: the chains hold" || nok "log verify"
done_testing
