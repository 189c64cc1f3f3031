#!/usr/bin/env bash
# reader_unplug.sh - the kiosk's reader is unplugged and plugged back in,
# once while idle and once in the middle of reading a card.
#
# tapaid-pn532emu's unplug closes the pty (libnfc's reads and writes
# fail), plug brings the reader back on a new pty behind the same
# --link path.  Checks: the kiosk notices and says so, reopens the
# reader by itself, taps work again; a card read cut by the unplug is not
# a tap (or, if it had finished, is one tap); every grant the kiosk
# showed is in the log once, and the log verifies.
. "$(dirname "$0")/lib.sh"

setup_host --quota 10 --per day --offline 1 || bail "host setup"
start_emu r1 || bail "emulator"
for i in 1 2 3; do issue_card r1 "$tmp/c$i" "M$i" || bail "card issue"; done
enrol_kiosk K1 P1 r1 || bail "kiosk enrolment"
start_kiosk K1
wait_for 10000 kiosk_connected K1 1 && wait_for 5000 kiosk_ready K1 1 || bail "kiosk start"
tap K1 r1 "$tmp/c1" && ev_has '"granted"' && ok "granted before the unplug" || nok "first tap: $EV"

reader_lines() { count "$tmp/K1/kiosk.log" "tapaid-kiosk: reader"; }
rl=$(reader_lines)
emu r1 unplug && ok "reader unplugged ($REPLY_EMU)" || nok "unplug"
wait_for 10000 count_ge "$tmp/K1/kiosk.log" "tapaid-kiosk: reader" $((rl + 1)) &&
	ok "the kiosk notices: $(grep -F 'tapaid-kiosk: reader' "$tmp/K1/kiosk.log" | tail -n1)" ||
	nok "the kiosk did not notice the unplug"
alive "$KIOSK_PID_K1" && ok "the kiosk keeps running without its reader" || nok "kiosk died"
ready=$(count "$tmp/K1/kiosk.log" "[READY]")
emu r1 plug && ok "reader plugged back ($REPLY_EMU)" || nok "plug"
wait_for 15000 kiosk_ready K1 $((ready + 1)) && ok "the kiosk reopens the reader by itself" ||
	{ nok "no reopen"; tail -n 5 "$tmp/K1/kiosk.log" | diag; }
tap K1 r1 "$tmp/c2" && ev_has '"granted"' && ok "a tap after the replug is granted: $EV" || nok "after replug: $EV"

# Unplugged in the middle of a read.
ev_before=$(events K1)
rl=$(reader_lines)
emu r1 tap "$tmp/c3" && emu r1 unplug || nok "tap then unplug"
wait_for 10000 count_ge "$tmp/K1/kiosk.log" "tapaid-kiosk: reader" $((rl + 1)) &&
	ok "unplugged in the middle of a read: noticed" || nok "mid-read unplug not noticed"
emu r1 remove >/dev/null
ready=$(count "$tmp/K1/kiosk.log" "[READY]")
emu r1 plug || nok "plug again"
wait_for 15000 kiosk_ready K1 $((ready + 1)) && ok "reopened again" || nok "no second reopen"
ev_after=$(events K1)
[ "$ev_after" -le $((ev_before + 1)) ] && ok "the cut read made at most one event ($((ev_after - ev_before)))" ||
	nok "the cut read made $((ev_after - ev_before)) events"
tap K1 r1 "$tmp/c3" && ev_has '"granted"' && ok "the same card taps fine afterwards: $EV" || nok "c3 after: $EV"
g=$(db_grants K1) e=$(ev_grants K1)
[ "$g" = "$e" ] && ok "every grant the kiosk showed is logged, once ($g)" || nok "log has $g grants, the kiosk showed $e"
no_doubles && ok "no request logged twice" || nok "a request logged twice"
log_verifies && ok "tapaidctl log verify: the chains hold" || nok "log verify"
done_testing
