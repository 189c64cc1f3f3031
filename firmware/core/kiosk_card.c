/*
 * kiosk_card.c - reading a service card: recognise an NTAG 424 DNA by its
 * GetVersion answer, then read the NDEF file (ISO 7816-4 over ISO-DEP) and
 * take the SUN URL out of its URI record.
 *
 * The kiosk holds no card keys: it reads the file in plain, exactly as a
 * phone would, and the card's SUN mirror gives a fresh encrypted PICC data
 * and CMAC on every read.  The host verifies them.
 */
#include <string.h>

#include "kiosk_int.h"

/* AN12196 §3.14 / NT4H2421Gx data sheet. */
static const uint8_t apdu_getversion[] = {0x90, 0x60, 0x00, 0x00, 0x00};
static const uint8_t apdu_more[] = {0x90, 0xAF, 0x00, 0x00, 0x00};
static const uint8_t apdu_select_app[] = {0x00, 0xA4, 0x04, 0x0C, 0x07,
					  0xD2, 0x76, 0x00, 0x00, 0x85,
					  0x01, 0x01, 0x00};
static const uint8_t apdu_select_ndef[] = {0x00, 0xA4, 0x00, 0x0C,
					   0x02, 0xE1, 0x04, 0x00};

enum xfer { X_OK, X_GONE, X_READER };

/*
 * Sends one APDU.  When it fails, asks the reader whether the card is
 * still there, so that a card pulled away is not counted against the reader.
 */
static enum xfer xfer(struct kiosk *k, const uint8_t *apdu, size_t len,
		      size_t *rlen)
{
	struct hal_reader *r = &k->hal.reader;
	int n = r->transceive(r->ctx, apdu, len, k->apdu, KIOSK_APDU_MAX,
			      (int)k->cfg.apdu_timeout_ms);

	if (n >= 2) {
		*rlen = (size_t)n;
		return X_OK;
	}
	if (n == HAL_ERR_GONE)
		return X_GONE;
	if (n >= 0) /* an answer without a status word */
		return X_READER;
	int p = r->present(r->ctx);
	if (p == 0)
		return X_GONE;
	return X_READER;
}

static uint16_t sw(const struct kiosk *k, size_t rlen)
{
	return (uint16_t)(k->apdu[rlen - 2] << 8 | k->apdu[rlen - 1]);
}

int kiosk_is_ntag424(const uint8_t *v, size_t len)
{
	/* VendorID 04 (NXP), HWType 04 (NTAG), HWMajorVer 30 (424 DNA). */
	return len >= 7 && v[0] == 0x04 && v[1] == 0x04 && v[3] == 0x30;
}

/* URI identifier codes (NFC Forum URI RTD, table 3), the common ones. */
static const char *uri_prefix(uint8_t code)
{
	static const char *const p[] = {"", "http://www.", "https://www.",
					"http://", "https://"};
	return code < sizeof(p) / sizeof(p[0]) ? p[code] : NULL;
}

int kiosk_ndef_uri(const uint8_t *m, size_t len, char *url, size_t cap)
{
	size_t pos = 0, plen, tlen, idlen = 0;
	uint8_t hdr;

	if (len < 3)
		return -1;
	hdr = m[pos++];
	/* TNF 1 (well known), MB set; chunked records are not used here. */
	if ((hdr & 0x07) != 0x01 || !(hdr & 0x80) || (hdr & 0x20))
		return -1;
	tlen = m[pos++];
	if (hdr & 0x10) { /* SR: one-byte payload length */
		plen = m[pos++];
	} else {
		if (pos + 4 > len)
			return -1;
		plen = (size_t)m[pos] << 24 | (size_t)m[pos + 1] << 16 |
		       (size_t)m[pos + 2] << 8 | m[pos + 3];
		pos += 4;
	}
	if (hdr & 0x08) { /* IL */
		if (pos >= len)
			return -1;
		idlen = m[pos++];
	}
	if (tlen != 1 || pos + 1 + idlen > len || m[pos] != 'U')
		return -1;
	pos += 1 + idlen;
	if (plen < 1 || plen > len - pos)
		return -1;
	const char *pre = uri_prefix(m[pos]);
	if (!pre)
		return -1;
	size_t prel = strlen(pre), rest = plen - 1;
	if (prel + rest + 1 > cap)
		return -1;
	memcpy(url, pre, prel);
	for (size_t i = 0; i < rest; i++) {
		uint8_t c = m[pos + 1 + i];
		if (c < 0x21 || c > 0x7e) /* a URL is printable ASCII */
			return -1;
		url[prel + i] = (char)c;
	}
	url[prel + rest] = '\0';
	return (int)(prel + rest);
}

static enum kiosk_read to_read(enum xfer x)
{
	return x == X_GONE ? KIOSK_READ_GONE : KIOSK_READ_READER_ERROR;
}

enum kiosk_read kiosk_card_read(struct kiosk *k)
{
	uint8_t cmd[5];
	size_t rlen, nlen;
	enum xfer x;

	if (!k->card.iso_dep)
		return KIOSK_READ_NOT_SERVICE_CARD;

	/* GetVersion: three frames, the first names the hardware. */
	if ((x = xfer(k, apdu_getversion, sizeof(apdu_getversion), &rlen)) !=
	    X_OK)
		return to_read(x);
	if (sw(k, rlen) != 0x91AF || !kiosk_is_ntag424(k->apdu, rlen - 2))
		return KIOSK_READ_NOT_SERVICE_CARD;
	for (int i = 0; i < 2; i++) {
		if ((x = xfer(k, apdu_more, sizeof(apdu_more), &rlen)) != X_OK)
			return to_read(x);
		if (sw(k, rlen) != 0x91AF && sw(k, rlen) != 0x9100)
			return KIOSK_READ_NOT_SERVICE_CARD;
		if (sw(k, rlen) == 0x9100)
			break;
	}

	if ((x = xfer(k, apdu_select_app, sizeof(apdu_select_app), &rlen)) !=
	    X_OK)
		return to_read(x);
	if (sw(k, rlen) != 0x9000)
		return KIOSK_READ_NOT_SERVICE_CARD;
	if ((x = xfer(k, apdu_select_ndef, sizeof(apdu_select_ndef), &rlen)) !=
	    X_OK)
		return to_read(x);
	if (sw(k, rlen) != 0x9000)
		return KIOSK_READ_NOT_SERVICE_CARD;

	/* ISOReadBinary: NLEN first, then the message in chunks. */
	const uint8_t rd_len[] = {0x00, 0xB0, 0x00, 0x00, 0x02};
	if ((x = xfer(k, rd_len, sizeof(rd_len), &rlen)) != X_OK)
		return to_read(x);
	if (sw(k, rlen) != 0x9000 || rlen != 4)
		return KIOSK_READ_NOT_SERVICE_CARD;
	nlen = (size_t)k->apdu[0] << 8 | k->apdu[1];
	if (nlen < 3 || nlen > KIOSK_URL_MAX + 16)
		return KIOSK_READ_NOT_SERVICE_CARD;
	for (size_t got = 0; got < nlen;) {
		size_t want = nlen - got, off = 2 + got;
		if (want > 128)
			want = 128;
		cmd[0] = 0x00;
		cmd[1] = 0xB0;
		cmd[2] = (uint8_t)(off >> 8);
		cmd[3] = (uint8_t)off;
		cmd[4] = (uint8_t)want;
		if ((x = xfer(k, cmd, sizeof(cmd), &rlen)) != X_OK)
			return to_read(x);
		if (sw(k, rlen) != 0x9000 || rlen - 2 != want)
			return KIOSK_READ_NOT_SERVICE_CARD;
		memcpy(k->ndef + got, k->apdu, want);
		got += want;
	}
	int n = kiosk_ndef_uri(k->ndef, nlen, k->tap.url, sizeof(k->tap.url));
	if (n < 0)
		return KIOSK_READ_NOT_SERVICE_CARD;
	k->tap.url_len = (size_t)n;
	return KIOSK_READ_OK;
}
