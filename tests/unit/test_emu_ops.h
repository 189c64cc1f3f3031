/*
 * test_emu_ops.h - what a reader does to a virtual NTAG 424 DNA, for the
 * emulator's tests: the PCD side from tapaid/ntag.h over any transport
 * (the card object directly in test_emu.c, libnfc and the emulated PN532
 * in test_emu_libnfc.c).  Header-only so that each test includes it.
 *
 * Each op returns 0, a positive status word the card answered instead of
 * success (e.g. 0x91AE), or a negative enum tp_err.
 */
#ifndef TAPAID_TEST_EMU_OPS_H
#define TAPAID_TEST_EMU_OPS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

/* Sends one APDU, gets the response (data and SW); returns 0 or < 0. */
typedef int (*emu_xfer_fn)(void *ctx, const uint8_t *apdu, size_t alen,
			   uint8_t *resp, size_t cap, size_t *rlen);

struct emu_ops {
	emu_xfer_fn xfer;
	void *ctx;
	struct tp_ev2 ev2;
	uint8_t resp[512];
	size_t rlen;
	int last_sw;
};

static inline int ops_x(struct emu_ops *o, const uint8_t *apdu, size_t alen)
{
	int rc =
	    o->xfer(o->ctx, apdu, alen, o->resp, sizeof(o->resp), &o->rlen);

	if (rc < 0)
		return rc;
	o->last_sw = tp_ntag_sw(o->resp, o->rlen);
	return o->last_sw < 0 ? TP_ERR_LENGTH : 0;
}

/* Turns a failed unwrap into the card's status word when it sent one. */
static inline int ops_status(struct emu_ops *o, int rc)
{
	if (rc == TP_ERR_CARD_STATUS)
		return o->last_sw;
	return rc;
}

static inline int ops_select_app(struct emu_ops *o)
{
	uint8_t a[32];
	size_t al, dl;
	int rc;

	tp_ev2_clear(&o->ev2);
	if ((rc = tp_iso_select_ndef_app(a, sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	return tp_iso_check(o->resp, o->rlen, &dl) ? o->last_sw : 0;
}

static inline int ops_auth(struct emu_ops *o, int first, uint8_t keyno,
			   const uint8_t key[16])
{
	uint8_t a[64], rnda[16];
	size_t al;
	int rc;

	if ((rc =
		 tp_ev2_auth_begin(&o->ev2, first, keyno, a, sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	if (o->last_sw != 0x91AF)
		return o->last_sw;
	if ((rc = tp_random(rnda, 16)) ||
	    (rc = tp_ev2_auth_step2(&o->ev2, key, rnda, o->resp, o->rlen, a,
				    sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return ops_status(o, rc);
	rc = tp_ev2_auth_finish(&o->ev2, o->resp, o->rlen);
	return ops_status(o, rc);
}

static inline int ops_change_key(struct emu_ops *o, uint8_t keyno,
				 const uint8_t newk[16], const uint8_t oldk[16],
				 uint8_t ver)
{
	uint8_t a[128];
	size_t al;
	int rc;

	if ((rc = tp_ntag_change_key_cmd(&o->ev2, keyno, newk, oldk, ver, a,
					 sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	return ops_status(
	    o, tp_ntag_change_key_resp(&o->ev2, keyno, o->resp, o->rlen));
}

/* Writes data to a file in mode, in chunks the wrapper takes. */
static inline int ops_write(struct emu_ops *o, uint8_t fileno, uint32_t off,
			    const uint8_t *data, size_t len, int mode)
{
	uint8_t a[300];
	size_t al, dl;
	int rc;

	while (len) {
		size_t k = len > 128 ? 128 : len;

		if ((rc = tp_ntag_write_data_cmd(&o->ev2, fileno, off, data, k,
						 mode, a, sizeof(a), &al)) ||
		    (rc = ops_x(o, a, al)))
			return rc;
		rc =
		    tp_ev2_unwrap(&o->ev2, o->ev2.authed ? mode : TP_COMM_PLAIN,
				  o->resp, o->rlen, NULL, 0, &dl);
		if (rc)
			return ops_status(o, rc);
		off += (uint32_t)k;
		data += k;
		len -= k;
	}
	return 0;
}

static inline int ops_read(struct emu_ops *o, uint8_t fileno, uint32_t off,
			   uint32_t len, int mode, uint8_t *out, size_t cap,
			   size_t *olen)
{
	uint8_t a[64];
	size_t al;
	int rc;

	if ((rc = tp_ntag_read_data_cmd(&o->ev2, fileno, off, len, mode, a,
					sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	return ops_status(o, tp_ev2_unwrap(&o->ev2,
					   o->ev2.authed ? mode : TP_COMM_PLAIN,
					   o->resp, o->rlen, out, cap, olen));
}

/*
 * Personalises a factory-fresh card for SUN as the staff tool does: keys
 * 1 (meta) and 2 (file) set, the NDEF file holding the SUN template for
 * url, SDM switched on.  Leaves the session open.
 */
static inline int ops_personalise(struct emu_ops *o, const char *url,
				  const uint8_t meta[16],
				  const uint8_t file[16])
{
	static const uint8_t zero[16];
	uint8_t ndef[256], a[128];
	struct tp_sdm_settings sdm;
	size_t nl, al, dl;
	int rc;

	if ((rc = ops_select_app(o)) || (rc = ops_auth(o, 1, 0, zero)) ||
	    (rc = ops_change_key(o, 1, meta, zero, 1)) ||
	    (rc = ops_change_key(o, 2, file, zero, 1)) ||
	    (rc = tp_ndef_sun_template(url, ndef, sizeof(ndef), &nl, &sdm)) ||
	    (rc =
		 ops_write(o, TP_NTAG_FILE_NDEF, 0, ndef, nl, TP_COMM_PLAIN)) ||
	    (rc = tp_ntag_change_file_settings_cmd(&o->ev2, TP_NTAG_FILE_NDEF,
						   &sdm, a, sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	return ops_status(o, tp_ev2_unwrap(&o->ev2, TP_COMM_MAC, o->resp,
					   o->rlen, NULL, 0, &dl));
}

/* Reads the whole NDEF file as a phone does: ISO SELECT app and E104,
 * ReadBinary of NLEN, then of the message. */
static inline int ops_read_ndef(struct emu_ops *o, uint8_t *file, size_t *flen)
{
	uint8_t a[32];
	size_t al, dl;
	unsigned nlen;
	int rc;

	if ((rc = ops_select_app(o)) ||
	    (rc = tp_iso_select_file(TP_NTAG_FID_NDEF, a, sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	if (tp_iso_check(o->resp, o->rlen, &dl))
		return o->last_sw;
	if ((rc = tp_iso_read_binary(0, 2, a, sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	if (tp_iso_check(o->resp, o->rlen, &dl) || dl != 2)
		return o->last_sw;
	nlen = (unsigned)(o->resp[0] << 8 | o->resp[1]);
	if (nlen == 0 || nlen > 254)
		return TP_ERR_PARSE;
	file[0] = o->resp[0];
	file[1] = o->resp[1];
	if ((rc = tp_iso_read_binary(2, (uint8_t)nlen, a, sizeof(a), &al)) ||
	    (rc = ops_x(o, a, al)))
		return rc;
	if (tp_iso_check(o->resp, o->rlen, &dl) || dl != nlen)
		return o->last_sw;
	memcpy(file + 2, o->resp, nlen);
	*flen = nlen + 2;
	return 0;
}

/* Reads the NDEF file and verifies its SUN message with the keys. */
static inline int ops_read_sun(struct emu_ops *o, const uint8_t meta[16],
			       const uint8_t filek[16], char *url, size_t cap,
			       struct tp_sun_result *res)
{
	uint8_t file[256];
	size_t fl, ul;
	struct tp_sun_msg msg;
	int rc;

	if ((rc = ops_read_ndef(o, file, &fl)) ||
	    (rc = tp_ndef_uri(file, fl, url, cap, &ul)) ||
	    (rc = tp_sun_parse(url, ul, &msg)))
		return rc;
	return tp_sun_verify(meta, filek, &msg, res);
}

#endif
