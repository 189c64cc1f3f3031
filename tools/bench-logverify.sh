#!/usr/bin/env bash
# bench-logverify.sh [ROWS] - time `tapaidctl log verify` over ROWS
# redemptions (default 10,000,000) on a running tapaidd, beside the floor
# measured in the same run: one sqlite3 scan reading every hashed column
# of every row (the I/O and decoding any verification must do, without
# the SHA-256 chain and the checkpoint signatures).
#
# The data directory is generated once and kept in $B/bench-logverify
# (about 2 GB at 10M rows): `tapaidctl init` for the host key and config,
# then hostcore's tools/gen-bench-db (400,000 members, 150,000 cards,
# ROWS redemptions appended through the store, hash-chained exactly as
# tapaidd chains them).  The generation time is printed and kept in
# gen-time.txt.  Not part of `make test`.
#
# Prints machine-readable table lines (see tools/bench-table.sh):
#   TABLE|log verify N rows (s, goal < 30)|FIGURE|FLOOR|RATIO
#   TABLE|tapaidd RSS, 400k members + N rows (MB, goal < 128)|FIGURE|-|-
set -eu
rows=${1:-10000000}
B=${TAPAID_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
top=$B/bench-logverify
d=$top/data
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; return 0; }
trap cleanup EXIT
now() { date +%s.%N; }
sec() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

if [ ! -f "$d/tapaid.db" ] || [ "$(cat "$top/rows" 2>/dev/null)" != "$rows" ]; then
	rm -rf "$top"
	mkdir -p "$top"
	port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	"$B/bin/tapaidctl" init --dir "$d" --listen "127.0.0.1:$port" >/dev/null
	t0=$(now)
	"$B/bin/gen-bench-db" "$top/gen" 400000 150000 "$rows" >"$top/gen.log" 2>&1 ||
		{ cat "$top/gen.log" >&2; exit 1; }
	t1=$(now)
	for f in tapaid.db tapaid.db-wal tapaid.db-shm card-master.key sdm-meta.key lookup-salt.key; do
		[ -e "$top/gen/$f" ] && mv "$top/gen/$f" "$d/$f"
	done
	rm -rf "$top/gen"
	sec "$t0" "$t1" >"$top/gen-time.txt"
	echo "$rows" >"$top/rows"
fi
echo "bench-logverify: data generated once in $(cat "$top/gen-time.txt") s (400,000 members, 150,000 cards, $rows chained redemptions; gen-bench-db)"

"$B/bin/tapaidd" -c "$d/tapaidd.conf" -F >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do
	"$B/bin/tapaidctl" --dir "$d" ping >/dev/null 2>&1 && break
	sleep 0.05
done

floor() {
	local t0 t1
	t0=$(now)
	sqlite3 "$d/tapaid.db" "SELECT count(*), sum(length(kiosk) + length(point) + length(request_id) + length(benefit) + length(masked) + length(sun) + ifnull(length(kiosk_sig), 0) + length(prev_hash) + length(hash) + ts + card_id + member_id + result + reason + left_ + amount + offline + offline_seq + kiosk_time + ctr) FROM redemptions" >/dev/null
	t1=$(now)
	sec "$t0" "$t1"
}
f1=$(floor)
t0=$(now)
"$B/bin/tapaidctl" --dir "$d" log verify >"$top/verify.out" 2>&1 || { cat "$top/verify.out" >&2; exit 1; }
t1=$(now)
fig=$(sec "$t0" "$t1")
f2=$(floor)
fl=$(echo "$f1 $f2" | awk '{ printf "%.2f", ($1 < $2 ? $1 : $2) }')
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
echo "bench-logverify: $(head -n 1 "$top/verify.out"); log verify ${fig} s; scan floor ${f1} s, ${f2} s; tapaidd peak RSS ${rss} MB"
echo "TABLE|log verify $rows rows (s, goal < 30)|$fig|$fl|$(echo "$fig $fl" | awk '{ printf "%.1fx", $1 / $2 }')"
echo "TABLE|tapaidd peak RSS, 400k members + $rows rows (MB, goal < 128)|$rss|-|-"
