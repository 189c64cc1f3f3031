#!/usr/bin/env bash
# bench-import.sh [N] - time `tapaidctl member import` of N members
# (default 400,000; tools/gen-members.sh) into a fresh tapaidd, beside the
# floor measured in the same run: the sqlite3 shell importing the same CSV
# into a bare members table (same columns, unique member_no, WAL,
# synchronous=FULL, one transaction) - what storing the rows costs with no
# CSV checks, no admin socket, no JSON and no staff-action log.
#
# Prints its result as one machine-readable table line (see
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
f1=$(floor)
t0=$(now)
"$B/bin/tapaidctl" --dir "$tmp/data" member import "$tmp/members.csv" >"$tmp/import.out"
t1=$(now)
fig=$(sec "$t0" "$t1")
f2=$(floor)
fl=$(echo "$f1 $f2" | awk '{ printf "%.2f", ($1 < $2 ? $1 : $2) }')
echo "bench-import: $(cat "$tmp/import.out"); tapaidctl member import ${fig} s; sqlite3 .import floor ${f1} s, ${f2} s (goal < 10 s)"
echo "TABLE|import $n members (s, goal < 10)|$fig|$fl|$(echo "$fig $fl" | awk '{ printf "%.1fx", $1 / $2 }')"
