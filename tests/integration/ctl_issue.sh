#!/usr/bin/env bash
# ctl_issue.sh - card issue through the emulator and real libnfc, then a tap
# at a kiosk.
#
#   tapaidctl card issue --reader pn532_uart:PTY_S      tapaid-kiosk -c k1.conf
#        |  libnfc pn532_uart                                |  libnfc
#        v                                                   v
#   tapaid-pn532emu "staff" (blank/tap card files)     tapaid-pn532emu "kiosk"
#        |                                                   |  signed session
#        +------ admin.sock ----> tapaidd <----- TCP --------+
#
# Checks: a blank virtual card is personalised and registered; issuing it
# again is refused; a card keyed by another installation is "not
# factory-fresh"; a card cut off after every single APDU (removed, or torn
# mid-answer) is reported with its state and finished by running the same
# command again; the card taps granted at the kiosk, then quota_used_up;
# card replace revokes it and moves the usage; the log shows it (CSV, JSON,
# names), a redemption is voided, log verify names a tampered redemption;
# the HTML report renders in headless Chromium without console errors.
. "$(dirname "$0")/ctl_lib.inc"

for p in "$EMU" "$KIOSK" "$TAPAIDD" "$T"; do
	[ -x "$p" ] || { nok "$p is built"; done_testing; exit 1; }
done
dir=$tmp/data
if ! start_daemon "$dir"; then nok "tapaidd starts"; done_testing; exit 1; fi
export TAPAID_DIR=$dir
db=$dir/tapaid.db
sq() { sqlite3 -cmd '.timeout 5000' "$db" "$@"; }
{
	echo "member_no,name,union,category"
	echo "M001,王小明,市总工会,worker"
	for i in $(seq 1 60); do echo "R$i,测试$i,市总工会,worker"; done
} >"$tmp/members.csv"
"$T" member import "$tmp/members.csv" >/dev/null &&
	"$T" benefit add --code meal --name 食堂午餐 --quota 1 --per day --categories worker >/dev/null &&
	ok "members and a benefit" || nok "setup members and benefit"

emu_start staff && ok "staff reader emulator on $EMU_PTY_staff" || { nok "emulator starts"; done_testing; exit 1; }
R=pn532_uart:$EMU_PTY_staff
chmod 666 "$EMU_PTY_staff" # the staff user runs card issue (like group dialout)

# ---- issue a blank card ------------------------------------------------------------
emu staff blank "$tmp/c1.card" && emu staff tap "$tmp/c1.card" && ok "blank card c1 in the field" || nok "blank card: $reply"
expect 1 "issue to an unknown member is refused before the card is touched" as $STAFF "$T" card issue --member NOPE --reader "$R"
grep -q '^key0 = 00000000000000000000000000000000' "$tmp/c1.card" && ok "the card is still factory-fresh" || nok "card changed by a refused issue"
expect 1 "an auditor cannot issue cards" as $AUDITOR "$T" card issue --member M001 --reader "$R"
like "needs the staff role" "issue refusal names the staff role"
expect 0 "staff issues the blank card" as $STAFF "$T" card issue --member M001 --reader "$R"
like "issued card" "issue reports the card"
card1=$(printf '%s' "$out" | sed -n 's/^issued card \([0-9]*\) .*/\1/p')
expect 0 "card show" "$T" card show "$card1"
like "status: active" "the card is active"
expect 0 "card list --member" "$T" card list --member M001
like "$card1" "the member's cards list it"
expect 1 "issuing the same card again is refused" as $STAFF "$T" card issue --member M001 --reader "$R"
like "already issued" "says the card is already issued"
emu staff status && ok "emulator status: $reply" || nok "emulator status"

# ---- card read + sun verify: the card's SUN checks with the issued keys ---------
expect 0 "card read prints the card's URL" as $STAFF "$T" card read --reader "$R"
url=$out
case $url in https://*'p='*'&c='*) ok "the URL carries p= and c=" ;; *) nok "card read: '$url'" ;; esac
uid1=$(sed -n 's/^uid = //p' "$tmp/c1.card")
# The virtual card file holds its keys (as the chip would); key 2 is the
# per-card SUN file key the daemon derived, key 1 the shared meta key.
sed -n 's/^key2 = \([0-9A-Fa-f]\{32\}\) .*/\1/p' "$tmp/c1.card" >"$tmp/file.key"
expect 0 "sun verify accepts the card's message" "$T" sun verify --meta-key "$dir/sdm-meta.key" --file-key "$tmp/file.key" "$url"
like "uid=$uid1" "sun verify names the card's UID"
bad=${url%?}; case ${url: -1} in 0) bad=${bad}1 ;; *) bad=${bad}0 ;; esac
expect 1 "sun verify refuses a changed CMAC" "$T" sun verify --meta-key "$dir/sdm-meta.key" --file-key "$tmp/file.key" "$bad"

# ---- a card keyed by another installation --------------------------------------------
other=$tmp/other
saved_pid=$daemon_pid
if start_daemon "$other"; then
	other_pid=$daemon_pid
	"$T" --dir "$other" member add --no X1 --name 外人 --union U --category worker >/dev/null
	expect 1 "another installation refuses the keyed card" "$T" --dir "$other" card issue --member X1 --reader "$R"
	like "not factory-fresh" "says the card is not factory-fresh"
	kill "$other_pid"; wait "$other_pid" 2>/dev/null
else
	nok "second tapaidd starts"
fi
daemon_pid=$saved_pid

# ---- cut off after every APDU, then resumed ------------------------------------------
apdus=22 # a fresh issue takes 18 APDUs; cuts past the end issue at once
resumed=0 bad=0 i=0
for mode in remove-after tear-after; do
	for cut in $(seq 1 "$apdus"); do
		i=$((i + 1))
		card=$tmp/cut$i.card
		emu staff remove
		emu staff blank "$card" && emu staff tap "$card" || { bad=$((bad + 1)); continue; }
		emu staff "$mode" "$cut"
		run "$T" card issue --member "R$i" --reader "$R" --wait 0
		first=$rc ferr=$err
		if [ "$first" -ne 0 ]; then
			case $ferr in
			*"run the same command again"* | *"no card on reader"* | *"not an NTAG"* | *"no NDEF"* | *"card version"*) ;;
			*) bad=$((bad + 1)); echo "# $mode $cut: unexpected first failure: $ferr" ;;
			esac
		fi
		emu staff remove-after 0 >/dev/null 2>&1 || true
		emu staff remove
		emu staff tap "$card"
		run "$T" card issue --member "R$i" --reader "$R" --wait 0
		if [ "$first" -ne 0 ] && [ "$rc" -eq 0 ]; then
			resumed=$((resumed + 1))
		elif [ "$first" -eq 0 ] && [ "$rc" -eq 1 ]; then
			: # the cut came after the last APDU: issued at once
		else
			bad=$((bad + 1))
			echo "# $mode $cut: first exit $first ($ferr), second exit $rc ($err)"
		fi
	done
done
[ "$bad" -eq 0 ] && ok "cut after each of $apdus APDUs (removed and torn): $resumed resumed and registered" ||
	nok "$bad of $i cut-off issues did not resume"
run sq "SELECT count(*) FROM cards"
[ "$out" -ge $((i + 1)) ] && ok "every cut-off card ended up registered once ($out cards)" || nok "cards registered: $out"

# ---- the kiosk: tap granted ------------------------------------------------------------
emu staff remove
emu_start kiosk && ok "kiosk reader emulator" || nok "kiosk emulator"
mkdir -p "$tmp/k1"
"$KIOSK" --enroll --dir "$tmp/k1" >/dev/null && ok "kiosk enrolled its key" || nok "kiosk --enroll"
expect 0 "admin adds the kiosk" "$T" kiosk add --id k1 --point canteen-1 --pubkey "$tmp/k1/kiosk.pub"
"$T" kiosk config k1 --reader "pn532_uart:$EMU_PTY_kiosk" --key "$tmp/k1/kiosk.key" --benefit meal >"$tmp/k1/kiosk.conf" &&
	ok "kiosk config from tapaidctl" || nok "kiosk config"
"$KIOSK" -c "$tmp/k1/kiosk.conf" --events "$tmp/events" >"$tmp/kiosk.log" 2>&1 &
kiosk_pid=$!
for _ in $(seq 100); do grep -q 'host connected' "$tmp/kiosk.log" && break; sleep 0.1; done
grep -q 'host connected' "$tmp/kiosk.log" && ok "the kiosk connected to tapaidd" || nok "kiosk did not connect: $(tail -n 3 "$tmp/kiosk.log")"
# wait_event N: waits for the N-th event line; prints it.
wait_event() {
	for _ in $(seq 150); do
		[ "$(wc -l <"$tmp/events" 2>/dev/null || echo 0)" -ge "$1" ] && { sed -n "${1}p" "$tmp/events"; return 0; }
		sleep 0.1
	done
	return 1
}
tap() { # tap FILE: put the card on the kiosk, wait for its event, take it off
	emu kiosk tap "$1"
	ev=$(wait_event "$2")
	emu kiosk remove
	sleep 0.3
}
tap "$tmp/c1.card" 1
case $ev in *'"result":"granted"'*) ok "the issued card taps granted: $ev" ;; *) nok "first tap: '$ev' $(tail -n 5 "$tmp/kiosk.log")" ;; esac
tap "$tmp/c1.card" 2
case $ev in *'"reason":"quota_used_up"'*) ok "second tap: quota_used_up" ;; *) nok "second tap: '$ev'" ;; esac

# ---- card replace: revoke and move usage ---------------------------------------------------
emu staff blank "$tmp/c2.card" && emu staff tap "$tmp/c2.card"
expect 0 "staff replaces the card" as $STAFF "$T" card replace "$card1" --reader "$R"
like "usage moved" "replace says usage moved"
card2=$(printf '%s' "$out" | sed -n 's/.* replaced by card \([0-9]*\) .*/\1/p')
expect 0 "old card show" "$T" card show "$card1"
like "status: revoked" "the old card is revoked"
tap "$tmp/c1.card" 3
case $ev in *'"reason":"revoked_card"'*) ok "the old card is denied: revoked_card" ;; *) nok "old card tap: '$ev'" ;; esac
tap "$tmp/c2.card" 4
case $ev in *'"reason":"quota_used_up"'*) ok "the new card carries the used quota" ;; *) nok "new card tap: '$ev'" ;; esac
expect 0 "staff revokes the new card" as $STAFF "$T" card revoke "$card2" --reason lost
expect 0 "card show of the new card" "$T" card show "$card2"
like "reason: lost" "the revoke reason is kept"

# ---- the log ------------------------------------------------------------------------------------
expect 0 "log as a table" "$T" log
like "granted" "the log shows the grant"
like "王*明" "names are masked in the log"
unlike "王小明" "no full name without --show-names"
expect 0 "log --csv --show-names (admin)" "$T" log --csv --show-names
like "王小明" "--show-names shows the name"
[ "$(printf '%s\n' "$out" | grep -c $'\r$')" -ge 3 ] && ok "CSV rows end in CRLF" || nok "CSV line ends"
expect 0 "log --json --result granted" "$T" log --json --result granted
printf '%s\n' "$out" | python3 -c 'import sys,json; rows=[json.loads(l) for l in sys.stdin if l.strip()]; assert rows and all(r["result"]=="granted" for r in rows)' &&
	ok "--json: one object per line, filter applied" || nok "--json output: $out"
gid=$(printf '%s\n' "$out" | head -n1 | python3 -c 'import sys,json; print(json.loads(sys.stdin.readline())["id"])')
expect 1 "staff cannot void" as $STAFF "$T" redemption void "$gid" --reason mistake
expect 0 "admin voids the redemption" "$T" redemption void "$gid" --reason "扫错卡"
expect 0 "log --json shows it voided" "$T" log --json --result granted
case $out in *'"voided":true'*) ok "voided is shown" ;; *) nok "voided flag: $out" ;; esac

# ---- report in headless Chromium ------------------------------------------------------------
expect 0 "report --html" "$T" report --html "$tmp/report.html" --since 2020-01-01
grep -q '<svg' "$tmp/report.html" && ok "report has inline SVG charts" || nok "report has no chart"
chromium_check "$tmp/report.html" "$tmp/report.png"
case $? in
0) ok "report renders in headless Chromium at phone width, no console errors ($(stat -c %s "$tmp/report.png") byte screenshot)" ;;
77) skip "Chromium cannot start here: $(tail -n 2 "$chromium_log" | tr '\n' ' ')" ;;
*) nok "Chromium: $(cat "$tmp/console.err" 2>/dev/null) $(tail -n 3 "$chromium_log")" ;;
esac
[ -n "${CTL_KEEP_REPORT:-}" ] && cp "$tmp/report.html" "$tmp/report.png" "$CTL_KEEP_REPORT/" 2>/dev/null

# ---- log verify: a tampered redemption ----------------------------------------------------------
expect 0 "log verify: intact" "$T" log verify
kill "$kiosk_pid"; wait "$kiosk_pid" 2>/dev/null; kiosk_pid=
stop_daemon
victim=$(sq "SELECT min(id) FROM redemptions WHERE result = 0")
sq "DROP TRIGGER red_no_update; UPDATE redemptions SET left_ = left_ + 5 WHERE id = $victim;"
"$TAPAIDD" -c "$dir/tapaidd.conf" -d >>"$dir/tapaidd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do "$T" ping >/dev/null 2>&1 && break; sleep 0.1; done
expect 1 "log verify: a tampered redemption fails" as $AUDITOR "$T" log verify
like "row $victim" "log verify names redemption $victim"

emu_stop_all
done_testing
