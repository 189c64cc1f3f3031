#!/usr/bin/env bash
# demo.sh [DIR] - one union day on tapaid, on emulated readers.
#
#   staff desk                     service point "canteen-east"    service point "park-gate"
#   tapaidctl card issue           tapaid-kiosk K1 (meal)          tapaid-kiosk K2 (park)
#        | libnfc pn532_uart            | libnfc pn532_uart             | libnfc pn532_uart
#   tapaid-pn532emu "desk"         tapaid-pn532emu "k1"            tapaid-pn532emu "k2"
#        |                              |  signed session (TCP)         |
#        +------ admin.sock ------> tapaidd (SQLite, hash-chained log) <+
#
# Everything is real: the daemon, the kiosks and tapaidctl talk to each other
# exactly as in production, and the readers are Debian's unmodified libnfc
# driving the PN532 emulator on pseudo-terminals.  Only the cards are virtual
# (one file each, personalised through libnfc like a real NTAG 424 DNA).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=${TAPAID_BUILD:-$top/build}
case $B in /*) ;; *) B=$top/$B ;; esac
T=$B/bin/tapaidctl
D=$B/bin/tapaidd
K=$B/bin/tapaid-kiosk
E=$B/bin/tapaid-pn532emu
demo=${1:-$top/demo}
case $demo in /*) ;; *) demo=$PWD/$demo ;; esac
export LIBNFC_AUTO_SCAN=false LIBNFC_LOG_LEVEL=0
start=$(date +%s)

for p in "$T" "$D" "$K" "$E"; do
	[ -x "$p" ] || { echo "demo: $p is not built (run make)" >&2; exit 1; }
done
rm -rf "$demo"
mkdir -p "$demo"
data=$demo/data
export TAPAID_DIR=$data
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# A free TCP port on 127.0.0.1, found by trying to connect (nothing answers).
free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
	done
	die "no free port"
}

# ---- the PN532 emulators, each driven through two FIFOs ---------------------
declare -A EW ER
emu_start() { # emu_start NAME
	local n=$1 w r line
	mkfifo "$demo/$n.in" "$demo/$n.out"
	"$E" --keep <"$demo/$n.in" >"$demo/$n.out" 2>"$demo/$n.emu.log" &
	pids+=($!)
	exec {w}>"$demo/$n.in"
	exec {r}<"$demo/$n.out"
	EW[$n]=$w ER[$n]=$r
	read -r -t 10 -u "$r" line || die "emulator $n did not start"
	printf -v "PTY_$n" '%s' "$line"
}
emu() { # emu NAME COMMAND...
	local n=$1
	shift
	echo "$*" >&"${EW[$n]}"
	read -r -t 10 -u "${ER[$n]}" reply || die "emulator $n did not answer '$*'"
	case $reply in ok*) return 0 ;; *) return 1 ;; esac
}

# ---- the daemon ----------------------------------------------------------------
start_daemon() {
	"$D" -c "$data/tapaidd.conf" -d >>"$demo/tapaidd.log" 2>&1 &
	dpid=$!
	pids+=($dpid)
	for _ in $(seq 100); do
		[ -S "$data/admin.sock" ] && "$T" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "tapaidd did not start; see $demo/tapaidd.log"
}

# ---- the kiosks ----------------------------------------------------------------
declare -A KPID KEV
kiosk_start() { # kiosk_start NAME BENEFIT
	local n=$1 b=$2 pty
	pty=PTY_$n
	"$T" kiosk config "$n" --reader "pn532_uart:${!pty}" --key "$demo/$n/kiosk.key" \
		--benefit "$b" --lang zh >"$demo/$n/kiosk.conf" || die "kiosk config $n"
	: >"$demo/$n/screen.log"
	: >"$demo/$n/kiosk.log"
	"$K" -c "$demo/$n/kiosk.conf" --events "$demo/$n/events" \
		>>"$demo/$n/screen.log" 2>>"$demo/$n/kiosk.log" &
	KPID[$n]=$!
	pids+=(${KPID[$n]})
	for _ in $(seq 100); do
		grep -q 'host connected' "$demo/$n/kiosk.log" "$demo/$n/screen.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
kiosk_stop() {
	kill "${KPID[$1]}" 2>/dev/null
	wait "${KPID[$1]}" 2>/dev/null
}
events() { wc -l <"$demo/$1/events" 2>/dev/null || echo 0; }

# tap KIOSK CARD WHO: puts the card on the kiosk's reader, waits for the tap's
# event line, shows the kiosk screen as the member sees it, takes the card off.
tap() {
	local n=$1 card=$2 who=$3 before ev lines
	before=$(events "$n")
	lines=$(wc -l <"$demo/$n/screen.log")
	emu "$n" tap "$card" || die "tap: $reply"
	for _ in $(seq 100); do
		[ "$(events "$n")" -gt "$before" ] && break
		sleep 0.05
	done
	ev=$(sed -n "$((before + 1))p" "$demo/$n/events")
	sleep 0.2
	printf '   %-30s ' "$who"
	tail -n +"$((lines + 1))" "$demo/$n/screen.log" |
		grep -E '^\[(GRANTED|DENIED|FAULT)\]' | tail -n 1
	[ -n "$ev" ] || echo "(no answer)"
	printf '   %-30s %s\n' "" "$ev"
	emu "$n" remove >/dev/null
	for _ in $(seq 40); do
		tail -n 1 "$demo/$n/screen.log" | grep -q '^\[READY\]' && break
		sleep 0.05
	done
}

# =================================================================================
say "1. A fresh data directory: database, host key pair, card master keys"
port=$(free_port)
"$T" init --dir "$data" --listen "127.0.0.1:$port" || die "init"
ls -l "$data" | sed 's/^/   /'
start_daemon
note "tapaidd is running (pid $dpid), kiosks connect to 127.0.0.1:$port"

say "2. Staff import the members (generated, Chinese names)"
"$top/tools/gen-members.sh" 300 7 >"$demo/members.csv"
head -n 4 "$demo/members.csv" | sed 's/^/   /'
"$T" member import "$demo/members.csv" | sed 's/^/   /' || die "import"
# Demo members with known categories, added one by one as staff do at a desk.
"$T" member add --no H0001 --name 王秀英 --union 卫生工会 --category healthcare >/dev/null
"$T" member add --no C0001 --name 李建国 --union 建筑工会 --category construction >/dev/null
"$T" member add --no C0002 --name 张伟 --union 交通工会 --category transport >/dev/null
"$T" member add --no C0003 --name 陈静 --union 商业工会 --category retail >/dev/null
"$T" member show H0001 | sed 's/^/   /'

say "3. Administrators define the benefits"
"$T" benefit add --code exam --name 年度体检 --quota 1 --per year \
	--categories healthcare --points hospital-1 >/dev/null || die "benefit exam"
"$T" benefit add --code meal --name 食堂午餐补贴15元 --quota 2 --per day \
	--points canteen-east,canteen-west >/dev/null || die "benefit meal"
"$T" benefit add --code park --name 公园入园 --quota 1 --per day \
	--points park-gate --offline 1 >/dev/null || die "benefit park"
"$T" benefit list | sed 's/^/   /'

say "4. Two kiosks enrol their keys; administrators register them"
emu_start desk
emu_start k1
emu_start k2
for k in k1 k2; do
	mkdir -p "$demo/$k"
	"$K" --enroll --dir "$demo/$k" | sed 's/^/   /' || die "enroll $k"
done
"$T" kiosk add --id k1 --point canteen-east --pubkey "$demo/k1/kiosk.pub" >/dev/null || die "kiosk add k1"
"$T" kiosk add --id k2 --point park-gate --pubkey "$demo/k2/kiosk.pub" >/dev/null || die "kiosk add k2"
"$T" kiosk list | sed 's/^/   /'

say "5. Staff issue cards at the desk reader (blank NTAG 424 DNA, through libnfc)"
declare -A CARD
for m in H0001 C0001 C0002 C0003; do
	f=$demo/cards/$m.card
	mkdir -p "$demo/cards"
	emu desk blank "$f" || die "blank: $reply"
	emu desk tap "$f" || die "tap: $reply"
	out=$("$T" card issue --member "$m" --reader "pn532_uart:$PTY_desk" 2>&1) || die "card issue $m: $out"
	CARD[$m]=$(printf '%s\n' "$out" | sed -n 's/^issued card \([0-9]*\) .*/\1/p')
	note "$out"
	emu desk remove >/dev/null
done

say "6. Kiosks start: canteen-east offers the meal subsidy, park-gate park entry"
kiosk_start k1 meal || die "k1 did not connect: $(tail -n 3 "$demo/k1/kiosk.log")"
kiosk_start k2 park || die "k2 did not connect: $(tail -n 3 "$demo/k2/kiosk.log")"
note "both kiosks hold a signed session with tapaidd"

say "7. Lunch time at canteen-east (¥15 subsidy, twice a day)"
tap k1 "$demo/cards/C0001.card" "李建国, first meal"
cp "$demo/cards/C0001.card" "$demo/cards/C0001.recorded"   # an attacker records the card as it is now
tap k1 "$demo/cards/C0001.card" "李建国, second meal"
tap k1 "$demo/cards/C0001.card" "李建国, third time"
tap k1 "$demo/cards/C0001.recorded" "replayed copy of 李建国's card"
sed -E 's/^(key2 = )[0-9A-Fa-f]{32}/\1DEADBEEFDEADBEEFDEADBEEFDEADBEEF/' \
	"$demo/cards/C0002.card" >"$demo/cards/C0002.clone"
tap k1 "$demo/cards/C0002.clone" "clone of 张伟's card, wrong key"
tap k1 "$demo/cards/C0002.card" "张伟 (the real card)"

say "8. 陈静 reports her card lost; staff revoke it"
"$T" card revoke "${CARD[C0003]}" --reason lost | sed 's/^/   /'
tap k1 "$demo/cards/C0003.card" "陈静's lost card"

say "9. The park gate"
tap k2 "$demo/cards/H0001.card" "王秀英"
tap k2 "$demo/cards/H0001.card" "王秀英 again today"

say "10. The host goes down; the park gate keeps serving offline-allowed entry"
kill -TERM "$dpid"
wait "$dpid" 2>/dev/null
note "tapaidd stopped"
tap k2 "$demo/cards/C0002.card" "张伟 (host down)"
tap k2 "$demo/cards/C0002.card" "张伟 again (offline limit)"
note "restarting tapaidd"
start_daemon
for _ in $(seq 100); do
	"$T" log --kiosk k2 --json 2>/dev/null | grep -q '"offline": *true' && break
	sleep 0.1
done
"$T" log --kiosk k2 --json | grep -q '"offline": *true' &&
	note "the park gate uploaded its signed offline record" ||
	note "the offline record has not arrived yet"

say "11. The park kiosk is moved to offer the annual physical exam"
kiosk_stop k2
kiosk_start k2 exam || die "k2 did not reconnect"
tap k2 "$demo/cards/H0001.card" "王秀英 (healthcare) at the park"
tap k2 "$demo/cards/C0001.card" "李建国 (construction)"

say "12. The administrator's view"
"$T" log | sed 's/^/   /'
echo
verified=$("$T" log verify)
printf '%s\n' "$verified" | sed 's/^/   /'
"$T" report --html "$demo/report.html" | sed 's/^/   /'
# The auditor keeps the last checkpoint elsewhere and checks against it
# later: that catches a tail cut off together with its checkpoints.
kept=$(printf '%s\n' "$verified" | sed -n 's/^last checkpoint \([0-9]*:[0-9a-f]*\) .*/\1/p')
if [ -n "$kept" ]; then
	note "later, against the kept checkpoint: tapaidctl log verify --checkpoint ${kept%%:*}:…"
	"$T" log verify --checkpoint "$kept" | head -n 1 | sed 's/^/   /'
fi

say "Where everything is"
note "data dir (database, keys, tapaidd.conf): $data"
note "daemon log:      $demo/tapaidd.log"
note "kiosk screens:   $demo/k1/screen.log $demo/k2/screen.log"
note "kiosk events:    $demo/k1/events $demo/k2/events"
note "virtual cards:   $demo/cards/"
note "HTML report:     $demo/report.html"
note "finished in $(($(date +%s) - start)) s"
