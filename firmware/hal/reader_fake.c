/*
 * reader_fake.c - a reader with one virtual card, for unit tests.
 *
 * The NTAG 424 DNA it plays answers GetVersion (AN12196 §3.14 frames),
 * ISOSelectFile of the NDEF application and of file E104, and
 * ISOReadBinary of an NDEF file holding a URL that changes at every read
 * (its "ctr=" is bumped, as the card's SDMReadCtr is).  pull_after makes
 * the card leave the field in the middle of a read.
 */
#include <stdio.h>
#include <string.h>

#include "hal/fakes.h"

size_t fake_ndef_file(const char *url, uint8_t *out, size_t cap)
{
	const char *rest = url;
	size_t n;

	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	n = strlen(rest);
	if (n + 7 > cap || n + 1 > 255)
		return 0;
	out[0] = 0;
	out[1] = (uint8_t)(n + 5);
	out[2] = 0xD1;
	out[3] = 0x01;
	out[4] = (uint8_t)(n + 1);
	out[5] = 'U';
	out[6] = rest == url ? 0x00 : 0x04;
	memcpy(out + 7, rest, n);
	return n + 7;
}

static int fr_open(void *ctx)
{
	struct fake_reader *f = ctx;

	f->opens++;
	if (f->open_fails || f->dead)
		return HAL_ERR_NODEV;
	f->opened = true;
	return 0;
}

static void fr_close(void *ctx)
{
	struct fake_reader *f = ctx;

	f->closes++;
	f->opened = false;
}

static int fr_poll(void *ctx, struct hal_card *c)
{
	struct fake_reader *f = ctx;

	f->polls++;
	if (!f->opened || f->dead)
		return HAL_ERR_IO;
	if (!f->card_in)
		return 0;
	memcpy(c->uid, f->uid, 7);
	c->uid_len = 7;
	c->iso_dep = f->kind != FAKE_NOT_ISODEP;
	c->sak = c->iso_dep ? 0x20 : 0x00;
	c->ats_len = 0;
	f->selected = 0;
	return 1;
}

static int fr_present(void *ctx)
{
	struct fake_reader *f = ctx;

	if (!f->opened || f->dead)
		return HAL_ERR_IO;
	return f->card_in ? 1 : 0;
}

static int put(uint8_t *r, size_t cap, const uint8_t *d, size_t n, int sw)
{
	if (n + 2 > cap)
		return HAL_ERR_ARG;
	if (n > 0)
		memcpy(r, d, n);
	r[n] = (uint8_t)(sw >> 8);
	r[n + 1] = (uint8_t)sw;
	return (int)(n + 2);
}

static int fr_xfer(void *ctx, const uint8_t *a, size_t n, uint8_t *r,
		   size_t cap, int timeout_ms)
{
	struct fake_reader *f = ctx;
	static const uint8_t v1[] = {0x04, 0x04, 0x02, 0x30, 0x00, 0x11, 0x05};
	static const uint8_t v2[] = {0x04, 0x04, 0x02, 0x01, 0x02, 0x11, 0x05};
	static const uint8_t app[] = {0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01};
	uint8_t file[300];
	char url[256];

	if (!f->opened || f->dead)
		return HAL_ERR_IO;
	if (!f->card_in)
		return HAL_ERR_TIMEOUT;
	if (f->pull_after >= 0 && f->pull_after-- == 0) {
		f->card_in = false;
		return HAL_ERR_TIMEOUT;
	}
	f->apdus++;
	if (n < 4)
		return put(r, cap, NULL, 0, 0x6700);
	if (f->kind == FAKE_OTHER_ISODEP)
		return put(r, cap, NULL, 0, 0x6D00);
	if (a[0] == 0x90 && a[1] == 0x60) {
		f->selected = 10;
		return put(r, cap, v1, sizeof(v1), 0x91AF);
	}
	if (a[0] == 0x90 && a[1] == 0xAF) {
		if (f->selected == 10) {
			f->selected = 11;
			return put(r, cap, v2, sizeof(v2), 0x91AF);
		}
		uint8_t v3[14] = {0};
		memcpy(v3, f->uid, 7);
		f->selected = 0;
		return put(r, cap, v3, sizeof(v3), 0x9100);
	}
	if (a[0] == 0x00 && a[1] == 0xA4 && a[2] == 0x04 && n >= 12 &&
	    memcmp(a + 5, app, 7) == 0) {
		f->selected = 1;
		return put(r, cap, NULL, 0, 0x9000);
	}
	if (a[0] == 0x00 && a[1] == 0xA4 && a[2] == 0x00 && n >= 7 &&
	    a[5] == 0xE1 && a[6] == 0x04 && f->selected >= 1) {
		f->selected = 2;
		return put(r, cap, NULL, 0, 0x9000);
	}
	if (a[0] == 0x00 && a[1] == 0xB0 && f->selected == 2 && n == 5) {
		size_t off = (size_t)a[2] << 8 | a[3], le = a[4] ? a[4] : 256;
		if (off == 0)
			f->sun_ctr++; /* a read from the start: new SUN */
		snprintf(url, sizeof(url), "%s&ctr=%06X", f->url_base,
			 f->sun_ctr);
		size_t fl = fake_ndef_file(url, file, sizeof(file));
		if (off > fl)
			return put(r, cap, NULL, 0, 0x6B00);
		if (le > fl - off)
			le = fl - off;
		return put(r, cap, file + off, le, 0x9000);
	}
	return put(r, cap, NULL, 0, 0x6A82);
}

static const char *fr_name(void *ctx)
{
	return "fake";
}

void fake_reader_init(struct hal_reader *r, struct fake_reader *f)
{
	memset(f, 0, sizeof(*f));
	f->pull_after = -1;
	f->kind = FAKE_NTAG424;
	snprintf(f->url_base, sizeof(f->url_base),
		 "https://tap.example/"
		 "c?p=00112233445566778899AABBCCDDEEFF&c=0011223344556677");
	r->ctx = f;
	r->open = fr_open;
	r->close = fr_close;
	r->poll = fr_poll;
	r->present = fr_present;
	r->transceive = fr_xfer;
	r->name = fr_name;
}

void fake_reader_tap(struct fake_reader *f, const uint8_t uid[7])
{
	memcpy(f->uid, uid, 7);
	f->card_in = true;
}

void fake_reader_remove(struct fake_reader *f)
{
	f->card_in = false;
}
