# tests/fault/lib.sh - shared harness of the whole-system fault tests
# (sourced by tests/fault/*.sh, bash).
#
# Everything runs through the real programs: `tapaidctl init` makes the
# data directory, `tapaidd -c DIR/tapaidd.conf -d` serves it, kiosks are
# `tapaid-kiosk` processes enrolled with `tapaid-kiosk --enroll` and
# `tapaidctl kiosk add/config`, readers are `tapaid-pn532emu` driven
# through two fifos, cards are personalised by `tapaidctl card issue`
# through libnfc.  Every wait polls a condition with a deadline; nothing
# waits a fixed time.  An EXIT trap ends every process the test started
# (by pid) and removes the temp dir (kept with TAPAID_KEEP=1).
#
# Prints TAP: ok N - ... / not ok N - ..., then 1..N.
set -u
B=${TAPAID_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
CTL=$B/bin/tapaidctl
TAPAIDD=$B/bin/tapaidd
EMU=$B/bin/tapaid-pn532emu
KIOSK=$B/bin/tapaid-kiosk
LOADGEN=$B/tests/fault/loadgen
TCPPROXY=$B/tests/fault/tcpproxy
SKEWLIB=$B/tests/fault/libskewclock.so

tmp=$(mktemp -d /tmp/tapaid-fault.XXXXXX)
chmod 755 "$tmp"
D=$tmp/data # the host's data directory
export TAPAID_DIR=$D
n=0 fails=0
PIDS=()
daemon_pid=
PORT=

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
# check DESC CMD...: ok when CMD succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}
diag() { sed 's/^/# /' "$@"; }
bail() {
	echo "Bail out! $*"
	exit 1
}
done_testing() {
	echo "1..$n"
	[ "$fails" -eq 0 ]
}

ms() { date +%s%3N; }
# wait_for MS CMD...: polls CMD every 20 ms until it succeeds; 1 on timeout.
wait_for() {
	local end=$(($(ms) + $1))
	shift
	until "$@"; do
		[ "$(ms)" -ge "$end" ] && return 1
		sleep 0.02
	done
	return 0
}
# count FILE TEXT: lines of FILE holding TEXT (0 when FILE is missing).
count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }
count_ge() { [ "$(count "$1" "$2")" -ge "$3" ]; }

sq() { sqlite3 -cmd '.timeout 5000' "$D/tapaid.db" "$@"; }

free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# ---- processes ---------------------------------------------------------------
track() { PIDS+=("$1"); }
# stop_pid PID [SIG]: signal one process we started and reap it.
stop_pid() {
	local p=$1 sig=${2:-TERM}
	[ -n "$p" ] || return 0
	kill -"$sig" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}
alive() { kill -0 "$1" 2>/dev/null; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		# A process that ignores TERM gets KILL after 3 s.
		for _ in $(seq 150); do alive "$p" || break; sleep 0.02; done
		alive "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# A test-owned mount (disk_full.sh) goes before the temp dir.
	[ -n "${MNT:-}" ] && umount -l "$MNT" 2>/dev/null
	if [ -n "${TAPAID_KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the host -----------------------------------------------------------------
# init_host [EXTRA_CONF_LINE...]: tapaidctl init, then extra [host] lines.
init_host() {
	PORT=$(free_port)
	"$CTL" init --dir "$D" --listen "127.0.0.1:$PORT" >"$tmp/init.out" 2>&1 ||
		{ diag "$tmp/init.out"; return 1; }
	local l
	for l in "$@"; do sed -i "/^\[host\]/a $l" "$D/tapaidd.conf"; done
	"$TAPAIDD" -c "$D/tapaidd.conf" -n >"$tmp/check.out" 2>&1 ||
		{ diag "$tmp/check.out"; return 1; }
}
daemon_up() { "$CTL" ping >/dev/null 2>&1; }
# start_daemon: tapaidd -d in the background, then waits for the admin socket.
start_daemon() {
	"$TAPAIDD" -c "$D/tapaidd.conf" -d >>"$tmp/tapaidd.log" 2>&1 &
	daemon_pid=$!
	track "$daemon_pid"
	if ! wait_for 10000 daemon_up; then
		echo "# tapaidd did not start:"
		tail -n 20 "$tmp/tapaidd.log" | diag
		return 1
	fi
}
stop_daemon() {
	stop_pid "$daemon_pid" "${1:-TERM}"
	daemon_pid=
}

# setup_host BENEFIT_ARGS...: init, start, a benefit MEAL with the given
# rules, members M1..M20 (category worker).
setup_host() {
	init_host || return 1
	start_daemon || return 1
	"$CTL" benefit add --code MEAL --name 食堂午餐 "$@" >/dev/null || return 1
	{
		echo "member_no,name,union,category"
		for i in $(seq 20); do echo "M$i,王小明$i,市总工会,worker"; done
	} >"$tmp/members.csv"
	"$CTL" member import "$tmp/members.csv" >/dev/null
}

# Log verification and database integrity, as an auditor would check them.
log_verifies() { "$CTL" log verify >"$tmp/verify.out" 2>&1 || { diag "$tmp/verify.out"; return 1; }; }
db_intact() { [ "$(sq 'PRAGMA integrity_check')" = ok ]; }

# ---- readers (tapaid-pn532emu through fifos) -----------------------------------
# start_emu NAME: an emulator whose pty is linked at $tmp/NAME.tty; its
# command channel is fds EMU_IN_NAME / EMU_OUT_NAME.
start_emu() {
	local name=$1 in=$tmp/$1.emu.in out=$tmp/$1.emu.out fdi fdo pty
	mkfifo "$in" "$out"
	"$EMU" --link "$tmp/$name.tty" <"$in" >"$out" 2>>"$tmp/$name.emu.log" &
	track $!
	eval "EMU_PID_$name=$!"
	exec {fdi}>"$in"
	exec {fdo}<"$out"
	eval "EMU_IN_$name=$fdi EMU_OUT_$name=$fdo"
	read -r -t 10 -u "$fdo" pty || return 1
	[ -e "$tmp/$name.tty" ] || wait_for 2000 test -e "$tmp/$name.tty"
}
# emu NAME COMMAND...: one command, one answer line in $REPLY_EMU.
emu() {
	local name=$1 fi fo
	shift
	eval "fi=\$EMU_IN_$name fo=\$EMU_OUT_$name"
	echo "$*" >&"$fi"
	REPLY_EMU=
	read -r -t 10 -u "$fo" REPLY_EMU || { echo "# emulator $name: no answer to '$*'"; return 1; }
	case $REPLY_EMU in ok*) return 0 ;; *) echo "# emulator $name: $* -> $REPLY_EMU"; return 1 ;; esac
}

# issue_card EMU FILE MEMBER: a blank card personalised by tapaidctl card
# issue through libnfc on that emulator, then left out of the field.
issue_card() {
	local name=$1 file=$2 member=$3
	emu "$name" blank "$file" && emu "$name" tap "$file" || return 1
	"$CTL" card issue --member "$member" --reader "pn532_uart:$tmp/$name.tty" \
		--wait 5 >"$tmp/issue.out" 2>&1 || { diag "$tmp/issue.out"; return 1; }
	emu "$name" remove
}

# ---- kiosks --------------------------------------------------------------------------
# enrol_kiosk ID POINT READER_EMU [HOST:PORT]: key pair, kiosk add, config
# at $tmp/ID/kiosk.conf with short timings for tests; the host address
# may be overridden (a proxy).
enrol_kiosk() {
	local id=$1 point=$2 emu_name=$3 addr=${4:-}
	local kd=$tmp/$id
	"$KIOSK" --enroll --dir "$kd" >/dev/null || return 1
	"$CTL" kiosk add --id "$id" --point "$point" --pubkey "$kd/kiosk.pub" >/dev/null || return 1
	"$CTL" kiosk config "$id" --reader "pn532_uart:$tmp/$emu_name.tty" \
		--key "$kd/kiosk.key" --benefit MEAL --lang en >"$kd/kiosk.conf" || return 1
	[ -n "$addr" ] && sed -i "s/^address *=.*/address = $addr/" "$kd/kiosk.conf"
	kiosk_conf "$id" offline per_card_per_day "${KIOSK_OFFLINE:-1}"
	kiosk_conf "$id" timing result_hold_ms 50
	kiosk_conf "$id" timing heartbeat_ms 500
	kiosk_conf "$id" timing backoff_min_ms 100
	kiosk_conf "$id" timing backoff_max_ms 500
	kiosk_conf "$id" timing decision_timeout_ms 1000
}
# kiosk_conf ID SECTION KEY VALUE: set (or add) one key of a kiosk config.
kiosk_conf() {
	local f=$tmp/$1/kiosk.conf s=$2 k=$3 v=$4
	grep -q "^\[$s\]" "$f" || printf '[%s]\n' "$s" >>"$f"
	if sed -n "/^\[$s\]/,/^\[/p" "$f" | grep -q "^$k *="; then
		sed -i "/^\[$s\]/,/^\[/s|^$k *=.*|$k = $v|" "$f"
	else
		sed -i "/^\[$s\]/a $k = $v" "$f"
	fi
}
# start_kiosk ID [ENV=VALUE...]: runs it with --events $tmp/ID/events.
start_kiosk() {
	local id=$1
	shift
	env "$@" "$KIOSK" -c "$tmp/$id/kiosk.conf" --events "$tmp/$id/events" \
		>>"$tmp/$id/kiosk.log" 2>&1 &
	track $!
	eval "KIOSK_PID_$id=$!"
}
stop_kiosk() {
	local p
	eval "p=\${KIOSK_PID_$1:-}"
	stop_pid "$p" "${2:-TERM}"
}
kiosk_ready() { count_ge "$tmp/$1/kiosk.log" "[READY]" "$2"; }
kiosk_connected() { count_ge "$tmp/$1/kiosk.log" "host connected" "$2"; }
events() { count "$tmp/$1/events" '"result"'; }

# tap KIOSK EMU CARD_FILE: puts the card in the field, waits for the
# kiosk's event line, takes the card away and waits for the kiosk to be
# ready again.  The event line is in $EV ("(none)" on timeout).
tap() {
	local id=$1 emu_name=$2 card=$3
	local before ready
	before=$(events "$id")
	ready=$(count "$tmp/$id/kiosk.log" "[READY]")
	emu "$emu_name" tap "$card" || return 1
	if wait_for 8000 count_ge "$tmp/$id/events" '"result"' $((before + 1)); then
		EV=$(grep -F '"result"' "$tmp/$id/events" | sed -n "$((before + 1))p")
	else
		EV="(none)"
	fi
	emu "$emu_name" remove
	wait_for 5000 kiosk_ready "$id" $((ready + 1))
	[ "$EV" != "(none)" ]
}
ev_has() { case $EV in *"$1"*) return 0 ;; *) return 1 ;; esac; }

# Granted redemptions in the log (online and offline; a conflict row is a
# grant the kiosk already gave), optionally for one kiosk.
db_grants() {
	if [ -n "${1:-}" ]; then
		sq "SELECT count(*) FROM redemptions WHERE result != 0 AND kiosk = '$1'"
	else
		sq "SELECT count(*) FROM redemptions WHERE result != 0"
	fi
}
# The grants one kiosk showed (its event lines).
ev_grants() { count "$tmp/$1/events" '"result":"granted"'; }
# No request was written twice (the unique index would refuse it; this
# also catches an offline record and its online twin both granted).
no_doubles() {
	[ "$(sq "SELECT count(*) FROM (SELECT kiosk, request_id FROM redemptions GROUP BY 1, 2 HAVING count(*) > 1)")" = 0 ]
}

# ---- network (tests/fault/tcpproxy between kiosks and the host) ---------------
# start_proxy: a relay to the host's kiosk port; its port in $PROXY_PORT,
# commands through proxy CMD (answer in $REPLY_PROXY).
start_proxy() {
	mkfifo "$tmp/proxy.in" "$tmp/proxy.out"
	"$TCPPROXY" "$PORT" <"$tmp/proxy.in" >"$tmp/proxy.out" 2>>"$tmp/proxy.log" &
	track $!
	exec {PROXY_IN}>"$tmp/proxy.in"
	exec {PROXY_OUT}<"$tmp/proxy.out"
	read -r -t 10 -u "$PROXY_OUT" PROXY_PORT
}
proxy() {
	echo "$*" >&"$PROXY_IN"
	REPLY_PROXY=
	read -r -t 10 -u "$PROXY_OUT" REPLY_PROXY
	case $REPLY_PROXY in ok*) return 0 ;; *) return 1 ;; esac
}

# kiosk_up_since ID LINE: the kiosk's last host-link line after line LINE
# of its log says connected.
kiosk_up_since() {
	local l
	l=$(tail -n +"$(($2 + 1))" "$tmp/$1/kiosk.log" | grep -F "tapaid-kiosk: host" | tail -n 1)
	case $l in "tapaid-kiosk: host connected"*) return 0 ;; *) return 1 ;; esac
}
log_lines() { wc -l <"$tmp/$1/kiosk.log"; }
