#!/usr/bin/env bash
# emu_nfc_list.sh - Debian's nfc-list (libnfc-bin, unmodified pn532_uart
# driver) lists a virtual NTAG 424 DNA through tapaid-pn532emu:
#
#   nfc-list --libnfc--> /dev/pts/N ==pty== tapaid-pn532emu --> card file
#   this script --stdin/stdout (coproc)--^
#
# Speaks TAP.  Run from the repository root; TAPAID_BUILD names the build
# directory (default: build).
set -u
b=${TAPAID_BUILD:-build}
emu=$b/bin/tapaid-pn532emu
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION PATTERN TEXT
	if grep -qF -- "$2" <<<"$3"; then ok "$1"; else
		notok "$1 (no '$2')"
		sed 's/^/# /' <<<"$3"
	fi
}

if ! command -v nfc-list >/dev/null; then
	echo "ok 1 # SKIP nfc-list not installed (libnfc-bin)"
	exit 0
fi
tmp=$(mktemp -d)
coproc EMU { exec "$emu"; }
emu_pid=$EMU_PID
cleanup() {
	{ echo quit >&"${EMU[1]}"; } 2>/dev/null
	wait "$emu_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cmd() { # cmd LINE: one command, its one reply line in $reply
	echo "$*" >&"${EMU[1]}" && read -t 10 -r reply <&"${EMU[0]}"
}

if read -t 10 -r pty <&"${EMU[0]}" && [ -c "$pty" ]; then
	ok "emulator prints its pty ($pty)"
else
	notok "emulator prints its pty"
	exit 1
fi
cmd "blank $tmp/card"
uid=${reply#ok blank }
if [[ $uid =~ ^04[0-9A-F]{12}$ ]]; then ok "blank card $uid"; else
	notok "blank card: $reply"
fi
cmd "tap $tmp/card"
[ "$reply" = "ok tapped $uid" ] && ok "card tapped" || notok "tap: $reply"

export LIBNFC_DEVICE=pn532_uart:$pty LIBNFC_AUTO_SCAN=false
out=$(timeout 20 nfc-list 2>&1)
rc=$?
[ $rc -eq 0 ] && ok "nfc-list exits 0" || notok "nfc-list exits $rc"
# nfc-list prints bytes in lower case, two spaces apart
spaced=$(sed -E 's/(..)/\1  /g' <<<"${uid,,}")
check "one ISO14443A target" "1 ISO14443A passive target(s) found" "$out"
check "UID" "UID (NFCID1): ${spaced% }" "$out"
check "ATQA 0344" "ATQA (SENS_RES): 03  44" "$out"
check "SAK 20" "SAK (SEL_RES): 20" "$out"
check "ATS" "ATS: 77  77  71  02  80" "$out"

out=$(timeout 20 nfc-list -v -t 1 2>&1)
check "verbose: ISO/IEC 14443-4" "* Compliant with ISO/IEC 14443-4" "$out"

cmd remove
out=$(timeout 20 nfc-list -v -t 1 2>&1)
check "empty field" "0 ISO14443A passive target(s) found" "$out"

echo "1..$n"
[ $fails -eq 0 ]
