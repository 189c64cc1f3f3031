/*
 * fuzz_ntag_resp.c - libFuzzer target over the response unwrapper (PCD
 * side: PLAIN/MAC/FULL, auth steps, GetVersion) and the card's command
 * unwrapper.  The first input byte picks the path; the rest is the APDU.
 * The session is AN12196 Rev 1.8 Table 29's, so its R-APDU (a seed)
 * passes the MAC and reaches decryption and unpadding.
 */
#include <stdint.h>
#include <string.h>

#include "tapaid/ntag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t kenc[16] = {0x2B, 0x4D, 0x96, 0x3C, 0x01, 0x4D,
				 0xC3, 0x6F, 0x24, 0xF6, 0x9A, 0x50,
				 0xA3, 0x94, 0xF8, 0x75};
static const uint8_t kmac[16] = {0x37, 0x9D, 0x32, 0x13, 0x0C, 0xE6,
				 0x17, 0x05, 0xDD, 0x5F, 0xD8, 0xC3,
				 0x6B, 0x95, 0xD7, 0x64};
static const uint8_t ti[4] = {0xDF, 0x05, 0x55, 0x22};

static void session(struct tp_ev2 *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->kenc, kenc, 16);
	memcpy(s->kmac, kmac, 16);
	memcpy(s->ti, ti, 4);
	s->authed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[16];
	uint8_t out[512], apdu[TP_NTAG_APDU_MAX], k[16], ver;
	struct tp_ev2 s;
	struct tp_ntag_version v;
	size_t n = 0, alen;
	uint8_t sel;
	int rc;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	session(&s);
	switch (sel % 8) {
	case 0:
	case 1:
	case 2: {
		static const int modes[] = {TP_COMM_PLAIN, TP_COMM_MAC,
					    TP_COMM_FULL};

		rc = tp_ev2_unwrap(&s, modes[sel % 8], data, size, out,
				   sizeof(out), &n);
		if (rc == 0 && (n > sizeof(out) || s.cmdctr != 1))
			__builtin_trap();
		break;
	}
	case 3: /* auth steps with whatever the "card" said */
		memset(&s, 0, sizeof(s));
		if (tp_ev2_auth_begin(&s, sel & 0x80, 0, apdu, sizeof(apdu),
				      &alen) != 0)
			break;
		if (tp_ev2_auth_step2(&s, zero, zero, data,
				      size < 18 ? size : 18, apdu, sizeof(apdu),
				      &alen) == 0 &&
		    size > 18)
			(void)tp_ev2_auth_finish(&s, data + 18, size - 18);
		break;
	case 4: /* the card side opening a command */
		rc = tp_ev2_card_unwrap_cmd(&s, 0x8D, (sel >> 4) & 7,
					    (sel & 0x80) ? TP_COMM_FULL
							 : TP_COMM_MAC,
					    data, size, out, sizeof(out), &n);
		if (rc == 0 && n > sizeof(out))
			__builtin_trap();
		break;
	case 5:
		(void)tp_ntag_change_key_apply(sel & 0x80, data, size, zero, k,
					       &ver);
		(void)tp_ntag_change_key_resp(&s, (sel >> 4) & 7, data, size);
		break;
	case 6:
		(void)tp_ntag_parse_version(data, size, &v);
		(void)tp_iso_check(data, size, &n);
		break;
	default:
		(void)tp_ev2_unwrap(NULL, TP_COMM_PLAIN, data, size, out,
				    sizeof(out), &n);
		break;
	}
	tp_ev2_clear(&s);
	return 0;
}
