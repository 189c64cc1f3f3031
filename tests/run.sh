#!/usr/bin/env bash
# run.sh BUILD [unit binaries...] -- [integration scripts...]
#
# Runs every test, each with its output in BUILD/test-logs/, counts TAP
# lines ("ok" / "not ok"; cmocka speaks TAP through CMOCKA_MESSAGE_OUTPUT),
# and ends with the one summary line: "N passed, N failed".  A test that
# exits non-zero without a "not ok" line (a crash, a timeout) counts as one
# failure.
set -u
b=$1; shift
logs=$b/test-logs
mkdir -p "$logs"
export CMOCKA_MESSAGE_OUTPUT=TAP
export TAPAID_BUILD=$b
pass=0 fail=0 failed=()
run_one() {
	local t=$1 name log rc p f
	name=$(basename "$t")
	log=$logs/$name.log
	timeout -k 10 "${TEST_TIMEOUT:-300}" "$t" >"$log" 2>&1 </dev/null
	rc=$?
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		failed+=("$name")
		printf 'FAIL %-32s %3d passed, %d failed (log: %s)\n' "$name" "$p" "$f" "$log"
		grep -E '^not ok ' "$log" | head -n 20 | sed 's/^/     /'
		tail -n 15 "$log" | sed 's/^/     | /'
	else
		printf 'ok   %-32s %3d passed\n' "$name" "$p"
	fi
}
for t in "$@"; do
	[ "$t" = "--" ] && continue
	run_one "$t"
done
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
