#!/usr/bin/env bash
# bench-import.sh [N] - time `tapaidctl member import` of N members
# (default 400,000; tools/gen-members.sh) into a fresh tapaidd, beside the
# floor measured in the same run: the sqlite3 shell importing the same CSV
# into a bare members table (same columns, unique member_no, WAL,
# synchronous=FULL, one transaction) - what storing the rows costs with no
# CSV checks, no admin socket, no JSON and no staff-action log.
#
# Then imports the same members again with 1% of the names changed (a
# roster sync), and during both imports asks the daemon for a ping every
# 10 ms: the longest answer is how long kiosks' taps were held back too,
# and reads tapaidd's peak RSS (VmHWM) after both.
#
# Prints its results as machine-readable table lines (see
# tools/bench-table.sh):
#   TABLE|import N members (s)|FIGURE|FLOOR|RATIO
set -eu
n=${1:-400000}
B=${TAPAID_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
tmp=$(mktemp -d /tmp/tapaid-bench-import.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
now() { date +%s.%N; }
sec() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

tools/gen-members.sh "$n" >"$tmp/members.csv"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$B/bin/tapaidctl" init --dir "$tmp/data" --listen "127.0.0.1:$port" >/dev/null
"$B/bin/tapaidd" -c "$tmp/data/tapaidd.conf" -F >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
	"$B/bin/tapaidctl" --dir "$tmp/data" ping >/dev/null 2>&1 && break
	sleep 0.05
done

# Floor first, then the figure, then the floor again: the faster of the
# two floors sits beside the figure (the machine is shared and noisy).
floor() {
	rm -f "$tmp/floor.db"*
	local t0 t1
	t0=$(now)
	sqlite3 "$tmp/floor.db" "PRAGMA journal_mode=WAL;" "PRAGMA synchronous=FULL;" \
		"CREATE TABLE members(id INTEGER PRIMARY KEY, no TEXT NOT NULL UNIQUE, name TEXT NOT NULL, union_name TEXT NOT NULL, category TEXT NOT NULL, status TEXT);" \
		"BEGIN;" ".import --csv --skip 1 $tmp/members.csv m" \
		"INSERT INTO members(no, name, union_name, category, status) SELECT * FROM m;" \
		"COMMIT;" >/dev/null
	t1=$(now)
	sec "$t0" "$t1"
}
# A ping every 10 ms until $tmp/stop appears; prints the longest and the
# median answer time in ms.
probe() {
	rm -f "$tmp/stop"
	python3 - "$B/bin/tapaidctl" "$tmp/data" "$tmp/stop" <<'PY' &
import os, subprocess, sys, time
ctl, data, stop = sys.argv[1:4]
d = []
while not os.path.exists(stop):
    t = time.monotonic()
    subprocess.run([ctl, "--dir", data, "ping"], capture_output=True)
    d.append((time.monotonic() - t) * 1000)
    time.sleep(0.01)
d.sort()
print("%.0f %.1f" % (d[-1], d[len(d) // 2]) if d else "- -")
PY
}
# timed_import CSV NAME: tapaidctl member import CSV with the probe
# running; output in $tmp/NAME.out and $tmp/NAME.probe; prints the seconds.
timed_import() {
	local t0 t1
	probe >"$tmp/$2.probe" && sleep 0.3
	t0=$(now)
	"$B/bin/tapaidctl" --dir "$tmp/data" member import "$1" >"$tmp/$2.out"
	t1=$(now)
	sleep 0.3 && touch "$tmp/stop" && wait $!
	sec "$t0" "$t1"
}
f1=$(floor)
fig=$(timed_import "$tmp/members.csv" import)
f2=$(floor)
fl=$(echo "$f1 $f2" | awk '{ printf "%.2f", ($1 < $2 ? $1 : $2) }')
awk -F, 'BEGIN { OFS = "," } NR > 1 && NR % 100 == 0 { $2 = $2 "x" } { print }' \
	"$tmp/members.csv" >"$tmp/again.csv"
again=$(timed_import "$tmp/again.csv" again)
hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
read -r w1 m1 <"$tmp/import.probe"
read -r w2 m2 <"$tmp/again.probe"
echo "bench-import: $(cat "$tmp/import.out"); tapaidctl member import ${fig} s; sqlite3 .import floor ${f1} s, ${f2} s (goal < 10 s)"
echo "bench-import: again with 1% of the names changed: $(cat "$tmp/again.out"); ${again} s"
echo "bench-import: admin ping every 10 ms, longest answer: ${w1} ms during the first import, ${w2} ms during the second (median ${m1} and ${m2} ms)"
echo "bench-import: tapaidd peak RSS ${hwm} MB over both imports (goal < 128 MB)"
echo "TABLE|import $n members (s, goal < 10)|$fig|$fl|$(echo "$fig $fl" | awk '{ printf "%.1fx", $1 / $2 }')"
echo "TABLE|the same again, 1% changed (s)|$again|$fl|$(echo "$again $fl" | awk '{ printf "%.1fx", $1 / $2 }')"
echo "TABLE|longest admin answer during the import / again (ms)|$w1 / $w2|$m1 / $m2 (median)|-"
echo "TABLE|tapaidd peak RSS over both imports (MB, goal < 128)|$hwm|-|-"
