/*
 * fuzz_sun.c - libFuzzer target over the SUN URL parser and the NDEF URI
 * extractor (the text a card hands an untrusted kiosk), plus the file
 * settings decoder and the card's APDU parser.
 */
#include <stdint.h>
#include <string.h>

#include "tapaid/ntag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[16];
	struct tp_sun_msg m;
	struct tp_sun_result r;
	struct tp_sdm_settings s;
	struct tp_apdu a;
	char url[512];
	size_t n;

	/* As a URL or query. */
	if (tp_sun_parse((const char *)data, size, &m) == 0) {
		if (m.mac_in_len > sizeof(m.mac_in))
			__builtin_trap();
		(void)tp_sun_verify(zero, zero, &m, &r);
	}
	/* As an NDEF file, then its URL. */
	if (tp_ndef_uri(data, size, url, sizeof(url), &n) == 0) {
		if (n >= sizeof(url) || strlen(url) != n)
			__builtin_trap();
		if (tp_sun_parse(url, n, &m) == 0)
			(void)tp_sun_verify(zero, zero, &m, &r);
	}
	/* As file settings (both layouts); whatever re-encodes decodes back
	 * to the same settings. */
	if (tp_sdm_settings_decode_change(data, size, &s) == 0) {
		struct tp_sdm_settings s2;
		uint8_t b[64];

		if (tp_sdm_settings_encode(&s, b, sizeof(b), &n) == 0 &&
		    (tp_sdm_settings_decode_change(b, n, &s2) != 0 ||
		     memcmp(&s, &s2, sizeof(s)) != 0))
			__builtin_trap();
	}
	(void)tp_sdm_settings_decode(data, size, &s);
	if (tp_apdu_parse(data, size, &a) == 0 && a.lc &&
	    a.data + a.lc > data + size)
		__builtin_trap();
	return 0;
}
