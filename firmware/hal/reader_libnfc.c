/*
 * reader_libnfc.c - the NFC reader through libnfc, for any driver libnfc
 * knows: pn532_uart:/dev/ttyUSB0, pn53x_usb, acr122_usb, ...
 *
 * poll() makes one ISO 14443-A selection without waiting for a card
 * (NP_INFINITE_SELECT off), with libnfc's automatic ISO 14443-4
 * activation so that an NTAG 424 DNA comes back with its ATS and speaks
 * ISO-DEP.  present() is nfc_initiator_target_is_present() on the last
 * selected target.  transceive() is nfc_initiator_transceive_bytes() with
 * the caller's timeout.
 *
 * libnfc errors are sorted into what the core needs to tell apart: the
 * card went away (RF error, target released: not the reader's fault), a
 * timeout, or the reader itself failing (I/O, no such device), which the
 * core counts towards a reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nfc/nfc.h>

#include "hal/backends.h"

struct reader_nfc {
	nfc_context *nfc;
	nfc_device *dev;
	char conn[NFC_BUFSIZE_CONNSTRING];
	nfc_target tgt;
	int have_tgt;
};

static int map_err(int e)
{
	switch (e) {
	case NFC_ETGRELEASED:
	case NFC_ERFTRANS:
		return HAL_ERR_GONE;
	case NFC_ETIMEOUT:
		return HAL_ERR_TIMEOUT;
	case NFC_ENOTSUCHDEV:
		return HAL_ERR_NODEV;
	default:
		return HAL_ERR_IO;
	}
}

static void rn_close(void *ctx)
{
	struct reader_nfc *r = ctx;

	if (r->dev)
		nfc_close(r->dev);
	r->dev = NULL;
	r->have_tgt = 0;
}

static int rn_open(void *ctx)
{
	struct reader_nfc *r = ctx;

	rn_close(r);
	if (!r->nfc) {
		nfc_init(&r->nfc);
		if (!r->nfc)
			return HAL_ERR_IO;
	}
	r->dev = nfc_open(r->nfc, r->conn);
	if (!r->dev)
		return HAL_ERR_NODEV;
	if (nfc_initiator_init(r->dev) < 0 ||
	    nfc_device_set_property_bool(r->dev, NP_INFINITE_SELECT, false) <
		0 ||
	    nfc_device_set_property_bool(r->dev, NP_AUTO_ISO14443_4, true) <
		0) {
		rn_close(r);
		return HAL_ERR_IO;
	}
	return 0;
}

static int rn_poll(void *ctx, struct hal_card *c)
{
	struct reader_nfc *r = ctx;
	const nfc_modulation nm = {.nmt = NMT_ISO14443A, .nbr = NBR_106};
	int rc;

	if (!r->dev)
		return HAL_ERR_NODEV;
	r->have_tgt = 0;
	rc = nfc_initiator_select_passive_target(r->dev, nm, NULL, 0, &r->tgt);
	if (rc < 0) {
		int e = map_err(rc);
		/* No answer from the field is "no card", not a failure. */
		return e == HAL_ERR_GONE ? 0 : e;
	}
	if (rc == 0)
		return 0;
	const nfc_iso14443a_info *a = &r->tgt.nti.nai;
	size_t ul = a->szUidLen < HAL_UID_MAX ? a->szUidLen : HAL_UID_MAX;
	size_t al = a->szAtsLen < HAL_ATS_MAX ? a->szAtsLen : HAL_ATS_MAX;
	memcpy(c->uid, a->abtUid, ul);
	c->uid_len = ul;
	memcpy(c->ats, a->abtAts, al);
	c->ats_len = al;
	c->sak = a->btSak;
	c->iso_dep = (a->btSak & 0x20) != 0;
	r->have_tgt = 1;
	return 1;
}

static int rn_present(void *ctx)
{
	struct reader_nfc *r = ctx;
	int rc;

	if (!r->dev)
		return HAL_ERR_NODEV;
	if (!r->have_tgt)
		return 0;
	rc = nfc_initiator_target_is_present(r->dev, &r->tgt);
	if (rc == NFC_SUCCESS)
		return 1;
	rc = map_err(rc);
	if (rc == HAL_ERR_GONE || rc == HAL_ERR_TIMEOUT) {
		r->have_tgt = 0;
		return 0;
	}
	return rc;
}

static int rn_xfer(void *ctx, const uint8_t *apdu, size_t len, uint8_t *resp,
		   size_t cap, int timeout_ms)
{
	struct reader_nfc *r = ctx;
	int rc;

	if (!r->dev)
		return HAL_ERR_NODEV;
	rc = nfc_initiator_transceive_bytes(r->dev, apdu, len, resp, cap,
					    timeout_ms);
	return rc < 0 ? map_err(rc) : rc;
}

static const char *rn_name(void *ctx)
{
	struct reader_nfc *r = ctx;
	return r->conn;
}

int hal_reader_libnfc_new(struct hal_reader *h, const char *connstring)
{
	struct reader_nfc *r;

	if (strlen(connstring) >= NFC_BUFSIZE_CONNSTRING)
		return HAL_ERR_ARG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return HAL_ERR_FULL;
	snprintf(r->conn, sizeof(r->conn), "%s", connstring);
	h->ctx = r;
	h->open = rn_open;
	h->close = rn_close;
	h->poll = rn_poll;
	h->present = rn_present;
	h->transceive = rn_xfer;
	h->name = rn_name;
	return 0;
}

int hal_reader_libnfc_set_connstring(struct hal_reader *h, const char *conn)
{
	struct reader_nfc *r = h->ctx;

	if (strlen(conn) >= NFC_BUFSIZE_CONNSTRING)
		return HAL_ERR_ARG;
	snprintf(r->conn, sizeof(r->conn), "%s", conn);
	return 0;
}

void hal_reader_libnfc_free(struct hal_reader *h)
{
	struct reader_nfc *r = h->ctx;

	if (!r)
		return;
	rn_close(r);
	if (r->nfc)
		nfc_exit(r->nfc);
	free(r);
	h->ctx = NULL;
}
