#!/bin/sh
# kiosk_core_portable.sh - the kiosk core stays portable: no libnfc or
# libusb header in firmware/core, and no libnfc or libusb symbol in the
# core's objects.  Speaks TAP.  Run from the repository root.
b=${TAPAID_BUILD:-build}
n=0 fail=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
}
hits=$(grep -nE '#[[:space:]]*include[[:space:]]*[<"](nfc/|libusb)' \
	firmware/core/*.c firmware/core/*.h)
[ -z "$hits" ]; check $? "firmware/core includes no libnfc or libusb header${hits:+: $hits}"
syms=$(for o in "$b"/firmware/core/*.o; do nm -u "$o"; done 2>/dev/null |
	grep -E ' (nfc_|libusb_)' | sort -u | tr '\n' ' ')
ls "$b"/firmware/core/*.o >/dev/null 2>&1; built=$?
[ $built = 0 ] && [ -z "$syms" ]; check $? "the core's objects call no libnfc or libusb function${syms:+: $syms}"
echo "1..$n"
exit $fail
