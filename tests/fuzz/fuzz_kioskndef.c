/*
 * fuzz_kiosk_ndef.c - what the kiosk does with bytes from a card: the NDEF
 * URI parser and the GetVersion check.  Any input: no crash, no read out
 * of bounds, and a URL that comes out is printable ASCII, NUL-terminated,
 * of the length returned.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kiosk_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char url[KIOSK_URL_MAX];
	int n = kiosk_ndef_uri(data, len, url, sizeof(url));

	if (n >= 0) {
		if ((size_t)n >= sizeof(url) || strlen(url) != (size_t)n)
			abort();
		for (int i = 0; i < n; i++)
			if (url[i] < 0x21 || url[i] > 0x7e)
				abort();
	}
	(void)kiosk_is_ntag424(data, len);
	return 0;
}
