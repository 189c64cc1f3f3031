#!/usr/bin/env bash
# ctl_cmds.sh - every tapaidctl command against a running tapaidd.
#
#   tapaidctl (root = admin, uid 1001 = staff, uid 1002 = auditor, 1003 none)
#        |  JSON lines, SO_PEERCRED
#        v
#   DIR/admin.sock -- tapaidd -d -- DIR/tapaid.db (SQLite, hash-chained log)
#
# Checks: init, member import (good, bad rows with line numbers, all or
# nothing, UTF-8 names), add/show/suspend/resume, masked names and
# --show-names (recorded), benefit, kiosk (add/list/config/revoke), log
# table/--csv/--json, log verify (intact, a tampered row named, a removed
# tail caught by the signed checkpoints, a tail cut with its checkpoints
# caught by --checkpoint), report --html, and a refusal for
# each role, each naming the role it needs and each recorded.
. "$(dirname "$0")/ctl_lib.inc"

dir=$tmp/data
db=$dir/tapaid.db
if ! start_daemon "$dir"; then nok "tapaidd starts"; done_testing; exit 1; fi
ok "tapaidd starts on a directory made by tapaidctl init"
export TAPAID_DIR=$dir
sq() { sqlite3 -cmd '.timeout 5000' "$db" "$@"; }

# ---- init -----------------------------------------------------------------
run stat -c '%a' "$dir/host.key" "$dir/card-master.key" "$dir/sdm-meta.key" "$dir/lookup-salt.key"
[ "$out" = $'600\n600\n600\n600' ] && ok "init: key files are 0600" || nok "init: key modes $out"
run grep -c '^[0-9a-f]\{32\}$' "$dir/card-master.key"
[ "$out" = 1 ] && ok "init: card master key is 32 hex digits" || nok "init: card key format"
expect 1 "init refuses a non-empty directory" "$T" init --dir "$dir"
like "not empty" "init says why"
expect 2 "init without --dir is bad usage" env -u TAPAID_DIR "$T" init

# ---- ping and roles ---------------------------------------------------------
expect 0 "admin ping" "$T" ping
like "role: admin" "root is admin"
expect 0 "staff ping" as $STAFF "$T" ping
like "role: staff" "uid $STAFF is staff"
expect 1 "a uid with no role is refused" as $NOBODY "$T" ping
expect 1 "no daemon: clear failure" env TAPAID_DIR=$tmp/none "$T" ping
like "tapaidd is not running" "no daemon: says what to do"

# ---- member import ----------------------------------------------------------
printf '\xef\xbb\xbfmember_no,name,union,category,status\r\n' >"$tmp/good.csv"
printf 'M001,王小明,市总工会,worker,\r\nM002,"李,华",建筑工会,retired,active\r\nM003,欧阳娜娜,教育工会,worker,suspended\r\n' >>"$tmp/good.csv"
expect 0 "staff imports a UTF-8 CSV" as $STAFF "$T" member import "$tmp/good.csv"
like "imported 3 members" "import counts rows"
expect 0 "the same file again is imported" as $STAFF "$T" member import "$tmp/good.csv"
like "(0 new or changed)" "the same file again changes no member"
printf 'member_no,name,union,category\nM101,赵一,U,worker\nM102,,U,worker\nM103,钱三,U\nM101,孙四,U,worker\nM105,周五,U,worker\n' >"$tmp/bad.csv"
expect 1 "a file with bad rows is refused" as $STAFF "$T" member import "$tmp/bad.csv"
like "bad.csv:3: name is empty" "bad row named by line (empty name)"
like "bad.csv:4: expected 4 fields, found 3" "bad row named by line (fields)"
like "bad.csv:5: member_no M101 repeats line 2" "duplicate named by line"
like "nothing was imported" "says nothing was imported"
expect 1 "all or nothing: good rows of a bad file are not imported" "$T" member show M101
printf 'member_no,name,union,category\nM201,吴六,U,worker\nM001,王小明,新工会,worker\n' >"$tmp/upd.csv"
expect 0 "a re-import updates existing members (roster sync)" as $STAFF "$T" member import "$tmp/upd.csv"
expect 0 "the updated member shows the new union" "$T" member show M001
like "union: 新工会" "re-import changed the union"
expect 0 "the update again" as $STAFF "$T" member import "$tmp/upd.csv"
like "(0 new or changed)" "a member already updated is not written again"
expect 2 "import without a file is bad usage" "$T" member import
# A long import draws a progress bar on a terminal, and none into a pipe.
"$(dirname "$0")/../../tools/gen-members.sh" 150000 3 >"$tmp/big.csv"
run script -qec "$T member import $tmp/big.csv" /dev/null
if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -qaE $'(checking|importing) .*\r|\r(checking|importing)'; then
	ok "a long import shows progress on a terminal"
else
	nok "no progress bar on a terminal (exit $rc): $(printf '%s' "$out" | tr '\r' '|' | head -c 300)"
fi
expect 0 "the same import into a pipe" "$T" member import "$tmp/big.csv"
case $err in *$'\r'* | *$'\033'*) nok "progress drawn into a pipe" ;; *) ok "no progress bar when stderr is not a terminal" ;; esac

# ---- member add/show/suspend/resume, masked names --------------------------
expect 0 "staff adds a member" as $STAFF "$T" member add --no M010 --name 张三丰 --union 武当工会 --category worker
expect 0 "auditor shows a member" as $AUDITOR "$T" member show M010
like "name: 张*丰" "names are masked by default"
unlike "张三丰" "the full name is not shown by default"
expect 0 "staff may see names with --show-names" as $STAFF "$T" member show M010 --show-names
like "name: 张三丰" "--show-names shows the name"
run sq "SELECT count(*) FROM staff_actions WHERE uid=$STAFF AND cmd='member.show' AND args LIKE '%show_names%true%'"
[ "$out" -ge 1 ] && ok "--show-names is recorded" || nok "--show-names not recorded ($out)"
expect 1 "auditor may not see names" as $AUDITOR "$T" member show M010 --show-names
like "needs the staff role" "the refusal names the role"
unlike "张*丰" "no masked output passed off as shown names"
expect 0 "staff suspends" as $STAFF "$T" member suspend M010
like "is suspended" "suspend reports the status"
expect 0 "staff resumes" as $STAFF "$T" member resume M010
like "is active" "resume reports the status"
expect 1 "auditor cannot add members" as $AUDITOR "$T" member add --no M011 --name X --union U --category worker
like "needs the staff role" "auditor refusal names the staff role"
expect 1 "auditor cannot suspend" as $AUDITOR "$T" member suspend M010
expect 1 "unknown member: refused" "$T" member show NOPE
expect 2 "member add without --name is bad usage" "$T" member add --no X

# ---- benefits ---------------------------------------------------------------
expect 0 "admin adds a quota benefit" "$T" benefit add --code meal --name 食堂午餐 --quota 1 --per day --categories worker,retired --offline 2
expect 0 "admin adds a balance benefit" "$T" benefit add --code gym --name 健身 --balance 10000 --amount 500
expect 1 "staff cannot add benefits" as $STAFF "$T" benefit add --code x --name x --quota 1 --per day
like "needs the admin role" "staff refusal names the admin role"
expect 2 "quota without --per is bad usage" "$T" benefit add --code y --name y --quota 1
expect 2 "balance without --amount is bad usage" "$T" benefit add --code z --name z --balance 100
expect 0 "auditor lists benefits" as $AUDITOR "$T" benefit list
like "食堂午餐" "benefit list shows the benefit"

# ---- kiosks -------------------------------------------------------------------
"$T" init --dir "$tmp/kdir" >/dev/null # a P-256 public key to enrol
cp "$tmp/kdir/host.pub" "$tmp/kiosk.pub" && chmod 644 "$tmp/kiosk.pub"
expect 0 "admin enrols a kiosk" "$T" kiosk add --id k1 --point canteen-1 --pubkey "$tmp/kiosk.pub"
expect 1 "a private key is refused as --pubkey" "$T" kiosk add --id k2 --point p --pubkey "$tmp/kdir/host.key"
expect 1 "staff cannot enrol kiosks" as $STAFF "$T" kiosk add --id k3 --point p --pubkey "$tmp/kiosk.pub"
like "needs the admin role" "kiosk refusal names the admin role"
expect 0 "auditor lists kiosks" as $AUDITOR "$T" kiosk list
like "canteen-1" "kiosk list shows the kiosk"
expect 0 "admin prints a kiosk config" "$T" kiosk config k1 --reader pn532_uart:/dev/null --key "$tmp/kdir/host.key" --benefit meal
like "[host]" "kiosk config is INI text"
expect 1 "staff cannot revoke kiosks" as $STAFF "$T" kiosk revoke k1
expect 0 "admin revokes a kiosk" "$T" kiosk revoke k1

# ---- cards and redemptions without a reader ----------------------------------
expect 1 "auditor cannot revoke cards" as $AUDITOR "$T" card revoke 1 --reason lost
like "needs the staff role" "card refusal names the staff role"
expect 2 "card revoke with a bad reason is bad usage" "$T" card revoke 1 --reason bored
expect 1 "staff cannot void redemptions" as $STAFF "$T" redemption void 1 --reason mistake
like "needs the admin role" "void refusal names the admin role"
expect 1 "auditor cannot void redemptions" as $AUDITOR "$T" redemption void 1 --reason mistake
expect 1 "card issue on a missing reader fails clearly" as $STAFF "$T" card issue --member M001 --reader pn532_uart:$tmp/no-such-tty --wait 0
like "cannot open reader" "says the reader cannot be opened"

# ---- refusals are recorded ------------------------------------------------------
run sq "SELECT count(*) FROM staff_actions WHERE ok=0 AND ((uid=$STAFF AND cmd IN ('benefit.add','kiosk.add','kiosk.revoke','redemption.void')) OR (uid=$AUDITOR AND cmd IN ('member.add','member.suspend','card.revoke','redemption.void')) OR uid=$NOBODY)"
[ "$out" -ge 9 ] || sq "SELECT uid, role, cmd, ok FROM staff_actions WHERE ok=0" | sed 's/^/# /'
[ "$out" -ge 9 ] && ok "every refusal is recorded ($out rows)" || nok "refusals recorded: $out"

# ---- log ----------------------------------------------------------------------
expect 0 "auditor reads the log" as $AUDITOR "$T" log
expect 0 "log --csv" "$T" log --csv
[ "$(printf '%s' "$out" | head -n1)" = $'id,ts,kiosk,point,member,name,benefit,result,reason,left,offline,voided\r' ] &&
	ok "CSV header, CRLF line end" || nok "CSV header: $(printf '%s' "$out" | head -n1 | od -c | head -2)"
expect 0 "log --json with filters" "$T" log --json --member M001 --since 2020-01-01 --until 2099-12-31 --result granted
expect 1 "auditor: log --show-names is refused" as $AUDITOR "$T" log --show-names
like "needs the staff role" "log --show-names refusal names the role"
expect 2 "log --csv --json is bad usage" "$T" log --csv --json
expect 2 "log with a bad date is bad usage" "$T" log --since 2026-02-30
expect 2 "log with a bad result is bad usage" "$T" log --result maybe

# ---- report -----------------------------------------------------------------------
mkdir -m 777 "$tmp/out"
expect 0 "auditor writes an HTML report" as $AUDITOR "$T" report --html "$tmp/out/report.html"
# (No taps here, so no charts yet; ctl_issue.sh reports on real taps.)
[ -s "$tmp/out/report.html" ] && grep -q "default-src 'none'" "$tmp/out/report.html" &&
	grep -q '</html>' "$tmp/out/report.html" && ! grep -q '<script' "$tmp/out/report.html" &&
	ok "report is one HTML file, no script, network forbidden" || nok "report content"

# ---- log verify: intact, tampered, tail removed -------------------------------------
expect 0 "log verify: intact" as $AUDITOR "$T" log verify
like "log intact" "log verify says intact"
stop_daemon
victim=$(sq "SELECT min(id) FROM staff_actions WHERE cmd='member.add'")
sq "DROP TRIGGER staff_no_update; UPDATE staff_actions SET args=replace(args,'M010','M099') WHERE id=$victim;"
"$TAPAIDD" -c "$dir/tapaidd.conf" -d >>"$dir/tapaidd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do "$T" ping >/dev/null 2>&1 && break; sleep 0.1; done
expect 1 "log verify: a tampered row fails" as $AUDITOR "$T" log verify
like "row $victim" "log verify names the first bad row ($victim)"
like "LOG BROKEN" "log verify says the log is broken"

# Tail removal on a second, clean installation.
stop_daemon
dir2=$tmp/data2
if start_daemon "$dir2"; then
	export TAPAID_DIR=$dir2
	db=$dir2/tapaid.db
	for i in 1 2 3 4 5; do "$T" member add --no T$i --name 测试$i --union U --category c >/dev/null; done
	expect 0 "second install: log verify intact (makes a signed checkpoint)" "$T" log verify
	kept=$(printf '%s\n' "$out" | sed -n 's/^last checkpoint \([0-9]*:[0-9a-f]\{64\}\) .*/\1/p')
	[ -n "$kept" ] && ok "log verify prints the last checkpoint as ID:DIGEST" || nok "no last checkpoint in: $out"
	grep -q "checkpoint $kept signed" "$dir2/tapaidd.log" &&
		ok "tapaidd logs the checkpoint it signs" || nok "checkpoint $kept not in tapaidd.log"
	expect 0 "log verify --checkpoint: the kept checkpoint is there" "$T" log verify --checkpoint "$kept"
	like "log intact" "log verify --checkpoint says intact"
	expect 2 "log verify --checkpoint without a digest is bad usage" "$T" log verify --checkpoint 1
	like "ID:DIGEST" "says what --checkpoint wants"
	stop_daemon
	sq "DROP TRIGGER staff_no_delete; DELETE FROM staff_actions WHERE id > (SELECT max(id) - 4 FROM staff_actions);"
	"$TAPAIDD" -c "$dir2/tapaidd.conf" -d >>"$dir2/tapaidd.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 100); do "$T" ping >/dev/null 2>&1 && break; sleep 0.1; done
	expect 1 "log verify: a removed tail is caught by the checkpoints" "$T" log verify
	like "LOG BROKEN" "log verify reports the removed tail"
	# The same cut, with every checkpoint after it removed too: the log
	# verifies on its own, but not against the checkpoint kept above.
	stop_daemon
	sq "DELETE FROM checkpoints WHERE id >= (SELECT min(id) FROM checkpoints WHERE
		s_head_id > (SELECT coalesce(max(id), 0) FROM staff_actions) OR
		r_head_id > (SELECT coalesce(max(id), 0) FROM redemptions));"
	"$TAPAIDD" -c "$dir2/tapaidd.conf" -d >>"$dir2/tapaidd.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 100); do "$T" ping >/dev/null 2>&1 && break; sleep 0.1; done
	expect 0 "log verify: a tail cut with its checkpoints verifies on its own" "$T" log verify
	expect 1 "log verify --checkpoint: the same cut fails" "$T" log verify --checkpoint "$kept"
	like "cut back" "log verify says the log was cut back"
else
	nok "second tapaidd starts"
fi

# ---- help -----------------------------------------------------------------------------
for c in "init" "member import" "member add" "member show" "member suspend" \
	"benefit add" "benefit list" "kiosk add" "kiosk list" "kiosk config" \
	"card issue" "card replace" "card revoke" "card show" "card list" "card read" \
	"log" "log verify" "redemption void" "report" "sun verify" "ping"; do
	# shellcheck disable=SC2086
	run "$T" $c --help
	[ "$rc" -eq 0 ] && [ -n "$out" ] || nok "$c --help"
done
ok "every command has --help"
expect 2 "an unknown command is bad usage" "$T" frobnicate
expect 2 "sun verify without keys is bad usage" "$T" sun verify "p=00&c=00"
if command -v man >/dev/null; then
	run man --warnings -l "$(dirname "$0")/../../tools/tapaidctl.1"
	[ "$rc" -eq 0 ] && [ -z "$err" ] && ok "man page renders without warnings" || nok "man page"
else
	skip "man is not installed"
fi
done_testing
