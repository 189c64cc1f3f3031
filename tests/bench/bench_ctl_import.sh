#!/usr/bin/env bash
# bench_ctl_import.sh [N] - tapaidctl member import of N (400000) members
# with Chinese names into a running tapaidd, end to end (check, send,
# one-transaction insert), beside a floor measured in the same run: the
# sqlite3 shell's .import of the same file into a table of the same shape
# (parsing and inserting, nothing else).  DESIGN.md target: under 10 s.
set -eu
n=${1:-400000}
B=${TAPAID_BUILD:-build}
tmp=$(mktemp -d /tmp/bench-ctl.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
tools/gen-members.sh "$n" 7 >"$tmp/m.csv"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$B/bin/tapaidctl" init --dir "$tmp/d" --listen "127.0.0.1:$port" >/dev/null
"$B/bin/tapaidd" -c "$tmp/d/tapaidd.conf" -d >"$tmp/d.log" 2>&1 &
pid=$!
for _ in $(seq 100); do "$B/bin/tapaidctl" --dir "$tmp/d" ping >/dev/null 2>&1 && break; sleep 0.1; done
now() { date +%s.%N; }
t0=$(now)
"$B/bin/tapaidctl" --dir "$tmp/d" member import "$tmp/m.csv" >/dev/null
t1=$(now)
sqlite3 "$tmp/floor.db" "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
 CREATE TABLE members(id INTEGER PRIMARY KEY, no TEXT NOT NULL UNIQUE,
 name TEXT NOT NULL, union_name TEXT NOT NULL, category TEXT NOT NULL,
 status TEXT);" >/dev/null
t2=$(now)
sqlite3 "$tmp/floor.db" ".mode csv" \
	".import --skip 1 $tmp/m.csv members_in" \
	"INSERT INTO members(no,name,union_name,category,status) SELECT * FROM members_in;" >/dev/null
t3=$(now)
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
	imp = b - a; fl = d - c;
	printf "member import %d rows: %.2f s (target < 10 s)\n", n, imp;
	printf "floor, sqlite3 .import of the same file: %.2f s\n", fl;
	printf "ratio import/floor: %.1fx\n", imp / fl;
}'
