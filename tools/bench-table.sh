#!/usr/bin/env bash
# bench-table.sh BUILD BENCH... - runs every benchmark program, keeps each
# one's full output in BUILD/bench-logs/NAME.log, and prints ONE table:
#
#   what | figure | floor | ratio
#
# The floor of each row is measured in the same run as its figure (by the
# bench itself).  ratio = cost of the figure / cost of the floor, so 1.0x
# means "at the floor" and more is slower, whether the row is a rate or a
# time (for a rate the floor's rate is divided by the figure's).
#
# Rows come from two sources:
#  - machine-readable lines any bench may print, passed through as they
#    are:  TABLE|what|figure|floor|ratio   (tools/bench-import.sh and
#    tools/bench-logverify.sh print these);
#  - the human-readable lines of the existing benches (bench_host,
#    bench_proto, bench_sun, bench_kiosk, bench_engine), parsed below.  A
#    line that is not found shows "n/a" and names the log to read.
#
# Also runs tools/bench-import.sh (400,000 members) and
# tools/bench-logverify.sh (10,000,000 rows; the data is generated once,
# minutes, then kept).  BENCH_IMPORT_N and BENCH_LOG_ROWS change the
# sizes; BENCH_SKIP="import logverify" leaves those out.
set -u
B=${1:?usage: bench-table.sh BUILD BENCH...}
shift
# Absolute paths: some benches find their data beside their own argv[0]
# and tapaidd wants an absolute data_dir.
case $B in /*) ;; *) B=$PWD/$B ;; esac
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
logs=$B/bench-logs
mkdir -p "$logs"
rm -f "$logs"/*.log
export TAPAID_BUILD=$B
rc=0
rows=()

run() { # run NAME CMD...: output to the log; non-zero exit noted.
	local name=$1
	shift
	echo "bench: running $name ..." >&2
	if ! "$@" >"$logs/$name.log" 2>&1; then
		echo "bench: $name exited non-zero (see $logs/$name.log)" >&2
		rc=1
	fi
}
row() { rows+=("$1|$2|$3|$4"); }
na() { row "$1" "n/a" "n/a" "see $logs/$2.log"; }
# ratio COST_FIGURE COST_FLOOR
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
# first LOG REGEX: the first line of LOG matching REGEX.
first() { grep -m1 -E "$2" "$logs/$1.log" 2>/dev/null; }
# num TEXT REGEX: the number right after REGEX (a sed ERE) in TEXT.
num() { printf '%s\n' "$1" | sed -nE "s#.*$2[[:space:]]*([0-9.]+).*#\\1#p" | head -n1; }
# stolen LINE: ", N% CPU stolen" for an open-load line of bench_host (the
# hypervisor's share of the CPU during it; p99 follows it), else nothing.
stolen() {
	local v
	v=$(num "$1" 'hypervisor took')
	[ -z "$v" ] || printf ', %s%% CPU stolen' "$v"
}
# quiet LOG K WHAT: a row for the K-th open-load phase of LOG: the share
# of taps over 20 ms sent in quiet 100 ms slots (no vCPU lost over 10 ms
# to the hypervisor in the slot or the two before) and in the others.
# p99 < 20 ms means under 1% of the taps over 20 ms.
quiet() {
	local l q o
	l=$(grep -E 'per 100 ms, the hypervisor' "$logs/$1.log" 2>/dev/null | sed -n "$2p")
	[ -n "$l" ] || return 0
	q=$(printf '%s\n' "$l" | sed -nE 's/.*over 20 ms: ([0-9.]+)% of ([0-9]+) taps in the ([0-9]+) quiet.*/\1% of \2 (\3 slots)/p')
	o=$(printf '%s\n' "$l" | sed -nE 's/.*, ([0-9.]+)% of ([0-9]+) in the ([0-9]+) others.*/\1% of \2 (\3 slots)/p')
	row "$3, share over 20 ms: quiet slots / slots with steal (p99 < 20: under 1%)" "$q / $o" "-" "-"
}

# Every bench run appends redemptions to bench-db: start from the data as
# generated (2,000,000 redemptions), not from what earlier runs left.
if [ -d "$B/bench-db.orig" ]; then
	rm -rf "$B/bench-db"
	cp -a "$B/bench-db.orig" "$B/bench-db"
fi
for b in "$@"; do run "$(basename "$b")" "$(abs "$b")"; done
# bench_host again with the cards tapped at random rather than in turn
# (in turn, consecutive taps share rows and pages).
for b in "$@"; do case $b in */bench_host)
	run bench_host_random env BENCH_RANDOM_CARDS=1 "$(abs "$b")" ;;
esac; done
case " ${BENCH_SKIP:-} " in *" import "*) ;; *)
	run bench-import tools/bench-import.sh "${BENCH_IMPORT_N:-400000}" ;;
esac
case " ${BENCH_SKIP:-} " in *" logverify "*) ;; *)
	run bench-logverify tools/bench-logverify.sh "${BENCH_LOG_ROWS:-10000000}" ;;
esac

# ---- bench_host: tapaidd over loopback with 1000 kiosk sessions ------------
l=$(first bench_host 'saturation')
f=$(first bench_host 'floor in this run')
if [ -n "$l" ] && [ -n "$f" ]; then
	n=$(num "$l" 'saturation \(each of')
	tps=$(num "$l" ':')
	fl=$(num "$f" 'batches of [0-9]+ =')
	row "host: granted durable taps/s, $n sessions (goal >= 10000)" "$tps" "$fl (engine in-process, 1 core)" "$(ratio "$fl" "$tps")"
else na "host: granted durable taps/s, 1000 sessions" bench_host; fi
# Two open-load runs: the first starts right after the saturation run (and
# inherits its write-back backlog), the second after that one.
k=0
while IFS= read -r l; do
	[ -n "$f" ] || break
	k=$((k + 1))
	p50=$(num "$l" 'p50') p99=$(num "$l" 'p99')
	cm=$(num "$f" 'commit of 1 tap')
	off=$(num "$l" 'open load of')
	run_n=$([ "$k" = 1 ] && echo "run 1, after saturation" || echo "run $k")
	run_n=$run_n$(stolen "$l")
	row "host: answer p50 / p99 ms at $off taps/s, $run_n (goal p99 < 20)" "$p50 / $p99" "$cm (one durable commit)" "$(ratio "$p50" "$cm") / $(ratio "$p99" "$cm")"
	quiet bench_host "$k" "host: run $k"
done < <(grep -E 'open load' "$logs/bench_host.log" 2>/dev/null)
[ "$k" -gt 0 ] || na "host: answer p50 / p99 ms" bench_host
l=$(first bench_host 'sessions up in')
p=$(first bench_proto 'handshakes/s, host side')
if [ -n "$l" ]; then
	n=$(num "$l" 'bench_host:') s=$(num "$l" 'sessions up in')
	hs=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
	fl=$(num "$p" 'floor \(sign\+verify\+x25519\)')
	row "host: handshakes/s setting up $n sessions through tapaidd" "$hs" "${fl:-n/a} (sign+verify+X25519, bench_proto)" "$(ratio "${fl:-0}" "$hs")"
else na "host: handshakes/s" bench_host; fi
l=$(first bench_host 'peak RSS')
[ -n "$l" ] && row "host: tapaidd peak RSS MB under that load (goal < 128)" "$(num "$l" 'peak RSS')" "-" "-"
# The same with cards at random: no shared pages between consecutive taps.
l=$(first bench_host_random 'saturation')
f=$(first bench_host_random 'floor in this run')
if [ -n "$l" ] && [ -n "$f" ]; then
	tps=$(num "$l" ':') fl=$(num "$f" 'batches of [0-9]+ =') cm=$(num "$f" 'commit of 1 tap')
	row "host, cards at random: granted durable taps/s" "$tps" "$fl (engine in-process, 1 core)" "$(ratio "$fl" "$tps")"
	k=0
	while IFS= read -r l; do
		k=$((k + 1))
		p50=$(num "$l" 'p50') p99=$(num "$l" 'p99') off=$(num "$l" 'open load of')
		row "host, cards at random: p50 / p99 ms at $off taps/s, run $k$(stolen "$l") (goal p99 < 20)" "$p50 / $p99" "$cm (one durable commit)" "$(ratio "$p50" "$cm") / $(ratio "$p99" "$cm")"
		quiet bench_host_random "$k" "host, cards at random: run $k"
	done < <(grep -E 'open load' "$logs/bench_host_random.log" 2>/dev/null)
	l=$(first bench_host_random 'peak RSS')
	[ -n "$l" ] && row "host, cards at random: tapaidd peak RSS MB (goal < 128)" "$(num "$l" 'peak RSS')" "-" "-"
elif [ -e "$logs/bench_host_random.log" ]; then na "host, cards at random" bench_host_random; fi

# ---- bench_proto: the session layer ----------------------------------------
l=$(first bench_proto 'handshakes/s, host side')
if [ -n "$l" ]; then
	hs=$(num "$l" 'host side') fl=$(num "$l" 'floor \(sign\+verify\+x25519\)')
	row "proto: handshakes/s, host side" "$hs" "$fl (sign+verify+X25519)" "$(ratio "$fl" "$hs")"
else na "proto: handshakes/s" bench_proto; fi
l=$(first bench_proto 'frames sealed')
if [ -n "$l" ]; then
	fr=$(num "$l" 'opened/s') fl=$(num "$l" 'seal\+open')
	row "proto: TAP_REQUEST frames sealed+opened/s" "$fr" "$fl (raw ChaCha20-Poly1305)" "$(ratio "$fl" "$fr")"
fi
l=$(first bench_proto 'records verified')
if [ -n "$l" ]; then
	r=$(num "$l" 'verified/s') fl=$(num "$l" 'ECDSA verify')
	row "proto: offline records verified/s" "$r" "$fl (raw ECDSA verify)" "$(ratio "$fl" "$r")"
fi

# ---- bench_sun: SUN checks ----------------------------------------------------
l=$(first bench_sun 'host path')
f=$(first bench_sun 'floor: AES-CMAC')
if [ -n "$l" ] && [ -n "$f" ]; then
	c=$(printf '%s\n' "$l" | sed -nE 's/.*\(([0-9]+) checks\/s\).*/\1/p')
	fl=$(printf '%s\n' "$f" | sed -nE 's/.*\(([0-9]+) \/s\).*/\1/p')
	row "SUN checks/s (decrypt, AN10922 key, CMAC)" "$c" "$fl (one AES-CMAC)" "$(ratio "$fl" "$c")"
else na "SUN checks/s" bench_sun; fi

# ---- bench_engine: the decision engine on the 2M-row bench database ----------
l=$(first bench_engine '^engine:')
f=$(first bench_engine 'floor per tap')
if [ -n "$l" ] && [ -n "$f" ]; then
	tps=$(num "$l" '=') fl=$(num "$f" '= ')
	row "engine: durable taps/s in-process (400k members, 2M rows)" "$tps" "$fl (SUN+lookup+quota+commit share)" "$(ratio "$fl" "$tps")"
else na "engine: durable taps/s" bench_engine; fi

# ---- bench_kiosk: tapaid-kiosk -------------------------------------------------
l=$(first bench_kiosk 'per online tap')
if [ -n "$l" ]; then
	us=$(num "$l" 'online tap: median') fl=$(num "$l" 'DECISION\) median')
	row "kiosk: own work per online tap, median us (goal < 2000)" "$us" "$fl (seal request + open answer)" "$(ratio "$us" "$fl")"
else na "kiosk: per tap" bench_kiosk; fi
l=$(first bench_kiosk 'per offline tap')
[ -n "$l" ] && row "kiosk: own work per offline tap, median us (goal < 2000)" "$(num "$l" 'offline tap \(ECDSA-signed record\): median')" "-" "-"
l=$(first bench_kiosk 'peak RSS')
if [ -n "$l" ]; then
	mb=$(num "$l" 'emulator:') fl=$(num "$l" 'key\)')
	row "kiosk: tapaid-kiosk peak RSS MB (goal < 8)" "$mb" "$fl (same binary, -n)" "$(ratio "$mb" "$fl")"
else na "kiosk: RSS" bench_kiosk; fi

# ---- machine-readable rows (staff tools) ------------------------------------------
for f in "$logs"/*.log; do
	while IFS= read -r line; do
		rows+=("${line#TABLE|}")
	done < <(grep -E '^TABLE\|' "$f")
done

# ---- the table -------------------------------------------------------------------
{
	echo "what|figure|floor (same run)|ratio"
	echo "----|------|----------------|-----"
	printf '%s\n' "${rows[@]}"
} | awk -F'|' '
	{ for (i = 1; i <= 4; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
	END {
		for (r = 1; r <= NR; r++) {
			line = ""
			for (i = 1; i <= 4; i++)
				line = line (i < 4 ? sprintf("%-*s | ", w[i], c[r, i]) : c[r, i])
			print line
		}
	}'
echo "(ratio = cost of the figure / cost of the floor; full outputs in $logs/)"
case " ${BENCH_SKIP:-} " in *" logverify "*) ;; *)
	g=$(grep -m1 'generated once in' "$logs/bench-logverify.log" 2>/dev/null | sed -nE 's/.*generated once in ([0-9.]+) s.*/\1/p')
	[ -n "$g" ] && echo "(log verify data generated once by gen-bench-db in $g s; kept in $B/bench-logverify)"
esac
exit $rc
