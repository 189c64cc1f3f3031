/*
 * vcard.c - the virtual NTAG 424 DNA (see vcard.h).
 *
 * What the card does, from the NT4H2421Gx data sheet and AN12196:
 *  - after activation the PICC level is selected; native commands other
 *    than GetVersion need the NDEF application selected first (by ISO
 *    SELECT of DF name D2760000850101 or FID E110), else 91 1C;
 *  - AuthenticateEV2First/NonFirst open an EV2 session (card-side
 *    primitives from tapaid/ntag.h); a wrong key answers 91 AE and counts
 *    a failed authentication; any error ends the session;
 *  - files 1..3 (E103, E104, E105) with access rights per nibble: E free,
 *    F never, 0..4 a key; a key-protected access uses the file's CommMode
 *    (plain, MAC, full), a free one plain (a free WriteData inside a
 *    session may also come wrapped, as in AN12196 Table 18);
 *  - SUN: the first read of an SDM file after activation increments
 *    SDMReadCtr and mirrors encrypted PICCData and the SDMMAC into the
 *    data read; later reads in the same activation see the same message
 *    (a reader that reads in chunks gets one consistent message);
 *  - every change (file data, settings, keys, counters) is saved to the
 *    card's file before the answer goes out.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"
#include "vcard.h"

#define FORMAT_TAG "tapaid-ntag424-1"

/* Native status codes (data sheet Table 22), second byte after 91. */
#define ST_OK		  0x00
#define ST_MORE		  0xAF
#define ST_ILLEGAL_CMD	  0x1C
#define ST_INTEGRITY	  0x1E
#define ST_NO_SUCH_KEY	  0x40
#define ST_LENGTH	  0x7E
#define ST_PERMISSION	  0x9D
#define ST_PARAMETER	  0x9E
#define ST_AUTH		  0xAE
#define ST_BOUNDARY	  0xBE
#define ST_ABORTED	  0xCA
#define ST_MEMORY	  0xEE
#define ST_FILE_NOT_FOUND 0xF0

enum { LVL_PICC = 0, LVL_APP };
enum { PEND_NONE = 0, PEND_AUTH, PEND_VERSION };

static const uint8_t ndef_df_name[7] = {0xD2, 0x76, 0x00, 0x00,
					0x85, 0x01, 0x01};
#define FID_MF	0x3F00
#define FID_APP 0xE110

/* Factory CC file (NFC Forum T4T CC: NDEF file E104, 256 bytes, free
 * read and write; proprietary file E105, 128 bytes, keys 2 and 3). */
static const uint8_t factory_cc[23] = {
    0x00, 0x17, 0x20, 0x01, 0x00, 0x00, 0xFF, 0x04, 0x06, 0xE1, 0x04, 0x01,
    0x00, 0x00, 0x00, 0x05, 0x06, 0xE1, 0x05, 0x00, 0x80, 0x82, 0x83,
};

/* GetVersion: hardware and software parts, as AN12196 shows them. */
static const uint8_t version_hw[7] = {0x04, 0x04, 0x02, 0x30, 0x00, 0x11, 0x05};
static const uint8_t version_sw[7] = {0x04, 0x04, 0x02, 0x01, 0x01, 0x11, 0x05};

struct vfile {
	uint8_t no;
	uint16_t fid;
	uint32_t size;
	struct tp_sdm_settings set;
	uint32_t sdm_ctr;
	uint8_t data[256];
	/* this activation's SUN view of the file */
	bool mirrored;
	uint8_t mirror[256];
};

struct vcard {
	char *path; /* NULL: memory only */
	uint8_t uid[VCARD_UID_LEN];
	uint8_t keys[VCARD_NKEYS][16];
	uint8_t kver[VCARD_NKEYS];
	struct vfile f[VCARD_NFILES];
	uint32_t failed_auth;

	/* volatile: lost at power-off, deselect and re-activation */
	int level;
	int ef; /* selected EF index, -1 none */
	struct tp_ev2 s;
	int pend;
	uint8_t ver[64]; /* GetVersion answer still to send */
	size_t verlen, veroff;
};

/* ---- state ---------------------------------------------------------- */

static void factory(struct vcard *c)
{
	static const struct {
		uint16_t fid;
		uint32_t size;
		uint8_t opt, r, w, rw, ch;
	} fs[VCARD_NFILES] = {
	    {TP_NTAG_FID_CC, 32, TP_COMM_PLAIN, 0xE, 0x0, 0x0, 0x0},
	    {TP_NTAG_FID_NDEF, 256, TP_COMM_PLAIN, 0xE, 0xE, 0xE, 0x0},
	    {TP_NTAG_FID_PROP, 128, TP_COMM_FULL, 0x2, 0x3, 0x3, 0x0},
	};

	memset(c->keys, 0, sizeof(c->keys));
	memset(c->kver, 0, sizeof(c->kver));
	for (int i = 0; i < VCARD_NFILES; i++) {
		struct vfile *f = &c->f[i];

		memset(f, 0, sizeof(*f));
		f->no = (uint8_t)(i + 1);
		f->fid = fs[i].fid;
		f->size = fs[i].size;
		f->set.file_type = 0x00;
		f->set.file_size = fs[i].size;
		f->set.file_option = fs[i].opt;
		f->set.ar_read = fs[i].r;
		f->set.ar_write = fs[i].w;
		f->set.ar_rw = fs[i].rw;
		f->set.ar_change = fs[i].ch;
	}
	memcpy(c->f[0].data, factory_cc, sizeof(factory_cc));
	c->failed_auth = 0;
}

void vcard_reset(struct vcard *c)
{
	tp_ev2_clear(&c->s);
	c->level = LVL_PICC;
	c->ef = -1;
	c->pend = PEND_NONE;
	c->verlen = c->veroff = 0;
	for (int i = 0; i < VCARD_NFILES; i++)
		c->f[i].mirrored = false;
}

struct vcard *vcard_new_mem(const uint8_t *uid)
{
	struct vcard *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (uid) {
		memcpy(c->uid, uid, VCARD_UID_LEN);
	} else if (tp_random(c->uid, VCARD_UID_LEN) != TP_OK) {
		free(c);
		return NULL;
	}
	c->uid[0] = 0x04; /* NXP */
	factory(c);
	vcard_reset(c);
	return c;
}

void vcard_free(struct vcard *c)
{
	if (!c)
		return;
	free(c->path);
	tp_wipe(c, sizeof(*c));
	free(c);
}

const uint8_t *vcard_uid(const struct vcard *c)
{
	return c->uid;
}

const char *vcard_path(const struct vcard *c)
{
	return c->path;
}

/* ---- the card file -------------------------------------------------- */

static void put_hex(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02X", b[i]);
}

/* Writes the card to fd in the text format of tapaid-pn532emu(1). */
static int write_card(const struct vcard *c, FILE *f)
{
	fprintf(f,
		"# tapaid-pn532emu virtual NTAG 424 DNA card.\n"
		"# Holds the card's keys: keep it private.\n"
		"format = %s\nuid = ",
		FORMAT_TAG);
	put_hex(f, c->uid, VCARD_UID_LEN);
	fputc('\n', f);
	for (int k = 0; k < VCARD_NKEYS; k++) {
		fprintf(f, "key%d = ", k);
		put_hex(f, c->keys[k], 16);
		fprintf(f, " %02X\n", c->kver[k]);
	}
	for (int i = 0; i < VCARD_NFILES; i++) {
		const struct vfile *v = &c->f[i];
		uint8_t set[64];
		size_t sl;

		if (tp_sdm_settings_encode(&v->set, set, sizeof(set), &sl) !=
		    TP_OK)
			return -1;
		fprintf(f, "file%d.settings = ", v->no);
		put_hex(f, set, sl);
		fprintf(f, "\nfile%d.sdm_read_ctr = %u\nfile%d.data = ", v->no,
			v->sdm_ctr, v->no);
		put_hex(f, v->data, v->size);
		fputc('\n', f);
	}
	fprintf(f, "failed_auth = %u\n", c->failed_auth);
	return ferror(f) ? -1 : 0;
}

static int fsync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, r;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/*
 * Saves the card atomically: a 0600 temporary file beside it, fsync,
 * rename (or link, when the file must not exist yet), fsync the
 * directory.
 */
static int save_as(const struct vcard *c, const char *path, bool create,
		   char *why, size_t wl)
{
	char tmp[4096];
	FILE *f;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp)) {
		snprintf(why, wl, "path too long");
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(why, wl, "cannot write beside %s: %s", path,
			 strerror(errno));
		return -1;
	}
	fchmod(fd, 0600);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		snprintf(why, wl, "fdopen: %s", strerror(errno));
		return -1;
	}
	r = write_card(c, f);
	if (fflush(f) != 0 || fsync(fd) != 0)
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	if (r < 0) {
		unlink(tmp);
		snprintf(why, wl, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (create) {
		r = link(tmp, path);
		unlink(tmp);
	} else {
		r = rename(tmp, path);
		if (r < 0)
			unlink(tmp);
	}
	if (r < 0) {
		snprintf(why, wl, "%s: %s", path,
			 errno == EEXIST ? "exists already" : strerror(errno));
		return -1;
	}
	fsync_dir(path);
	return 0;
}

static int save(const struct vcard *c)
{
	char why[256];

	if (!c->path)
		return 0;
	if (save_as(c, c->path, false, why, sizeof(why)) < 0) {
		fprintf(stderr, "pn532emu: cannot save card: %s\n", why);
		return -1;
	}
	return 0;
}

int vcard_blank(const char *path, char uidhex[15], char *why, size_t wl)
{
	struct vcard *c = vcard_new_mem(NULL);
	int r;

	if (!c) {
		snprintf(why, wl, "out of memory or randomness");
		return -1;
	}
	for (int i = 0; i < VCARD_UID_LEN; i++)
		snprintf(uidhex + 2 * i, 3, "%02X", c->uid[i]);
	r = save_as(c, path, true, why, wl);
	vcard_free(c);
	return r;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int hex_field(const char *v, uint8_t *out, size_t n)
{
	return tp_hex_decode(v, strlen(v), out, n) == TP_OK ? 0 : -1;
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* Applies one "name = value" line; returns a bit for the required-field
 * mask, 0 for optional ones, or -1 on a bad line. */
static long apply_line(struct vcard *c, const char *name, char *val)
{
	int n;
	char rest[32];

	if (strcmp(name, "format") == 0)
		return strcmp(val, FORMAT_TAG) == 0 ? 1L : -1;
	if (strcmp(name, "uid") == 0)
		return hex_field(val, c->uid, VCARD_UID_LEN) ? -1 : 2L;
	if (strcmp(name, "failed_auth") == 0)
		return parse_u32(val, 0xFFFFFFFFu, &c->failed_auth) ? -1 : 0;
	if (sscanf(name, "key%d%31s", &n, rest) == 1 && n >= 0 &&
	    n < VCARD_NKEYS && strlen(name) == 4) {
		char *sp = strpbrk(val, " \t");

		if (!sp)
			return -1;
		*sp++ = '\0';
		if (hex_field(val, c->keys[n], 16) ||
		    hex_field(trim(sp), &c->kver[n], 1))
			return -1;
		return 4L << n;
	}
	if (sscanf(name, "file%d.%31s", &n, rest) == 2 && n >= 1 &&
	    n <= VCARD_NFILES && name[5] == '.') {
		struct vfile *f = &c->f[n - 1];
		long bit = 1L << (8 + 3 * (n - 1));

		if (strcmp(rest, "settings") == 0) {
			uint8_t set[64];
			size_t sl = strlen(val) / 2;
			struct tp_sdm_settings s;

			if (sl == 0 || sl > sizeof(set) ||
			    hex_field(val, set, sl) ||
			    tp_sdm_settings_decode_change(set, sl, &s) != TP_OK)
				return -1;
			s.file_type = 0x00;
			s.file_size = f->size;
			f->set = s;
			return bit;
		}
		if (strcmp(rest, "data") == 0)
			return hex_field(val, f->data, f->size) ? -1 : bit << 1;
		if (strcmp(rest, "sdm_read_ctr") == 0)
			return parse_u32(val, TP_NTAG_CTR_MAX, &f->sdm_ctr)
				   ? -1
				   : bit << 2;
	}
	return -1;
}

struct vcard *vcard_load(const char *path, char *why, size_t wl)
{
	struct vcard *c = vcard_new_mem(NULL);
	char line[1024];
	long have = 0;
	/* format, uid, key0..4 (bits 2..6), file1..3 x 3 (bits 8..16) */
	const long need = ((1L << 17) - 1) & ~(1L << 7);
	int lineno = 0;
	FILE *f;

	if (!c) {
		snprintf(why, wl, "out of memory");
		return NULL;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(why, wl, "cannot open %s: %s", path, strerror(errno));
		vcard_free(c);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *l, *eq;
		long bit;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(why, wl, "%s:%d: line too long", path, lineno);
			goto bad;
		}
		l = trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		eq = strchr(l, '=');
		if (!eq) {
			snprintf(why, wl, "%s:%d: expected name = value", path,
				 lineno);
			goto bad;
		}
		*eq = '\0';
		bit = apply_line(c, trim(l), trim(eq + 1));
		if (bit < 0) {
			snprintf(why, wl, "%s:%d: bad value for '%s'", path,
				 lineno, trim(l));
			goto bad;
		}
		if (bit & have) {
			snprintf(why, wl, "%s:%d: '%s' given twice", path,
				 lineno, trim(l));
			goto bad;
		}
		have |= bit;
	}
	fclose(f);
	if ((have & need) != need) {
		snprintf(why, wl, "%s: not a complete card file (format %s)",
			 path, FORMAT_TAG);
		vcard_free(c);
		return NULL;
	}
	c->path = strdup(path);
	if (!c->path) {
		snprintf(why, wl, "out of memory");
		vcard_free(c);
		return NULL;
	}
	vcard_reset(c);
	return c;
bad:
	fclose(f);
	vcard_free(c);
	return NULL;
}

/* ---- answers -------------------------------------------------------- */

static size_t sw(uint8_t *r, size_t n, uint8_t sw1, uint8_t sw2)
{
	r[n++] = sw1;
	r[n++] = sw2;
	return n;
}

/* A native error: ends any session and any multi-frame command. */
static size_t native_err(struct vcard *c, uint8_t *r, uint8_t st)
{
	tp_ev2_clear(&c->s);
	c->pend = PEND_NONE;
	return sw(r, 0, 0x91, st);
}

/*
 * A good native answer in the given mode; in a session CmdCtr advances
 * in every mode.  Plain answers are built here because they need no
 * crypto and may be longer (a 256-byte NDEF file) than
 * tp_ev2_card_wrap_resp() takes; MAC and FULL answers go through it.
 */
static size_t native_ok(struct vcard *c, int mode, const uint8_t *data,
			size_t dlen, uint8_t *r, size_t cap)
{
	size_t len;

	if (mode == TP_COMM_PLAIN || !c->s.authed) {
		if (dlen + 2 > cap)
			return native_err(c, r, ST_BOUNDARY);
		if (c->s.authed) {
			if (c->s.cmdctr == 0xFFFF)
				return native_err(c, r, ST_BOUNDARY);
			c->s.cmdctr++;
		}
		if (dlen)
			memmove(r, data, dlen);
		return sw(r, dlen, 0x91, ST_OK);
	}
	if (tp_ev2_card_wrap_resp(&c->s, mode, data, dlen, r, cap, &len) !=
	    TP_OK)
		return native_err(c, r, ST_BOUNDARY);
	return len;
}

static struct vfile *file_by_no(struct vcard *c, uint8_t no)
{
	return (no >= 1 && no <= VCARD_NFILES) ? &c->f[no - 1] : NULL;
}

enum { ACC_READ, ACC_WRITE, ACC_CHANGE };

/*
 * Checks an access right: returns the CommMode to use (>= 0), or a
 * negative native status: -ST_PERMISSION (never), -ST_AUTH (needs a key
 * the session was not opened with).
 */
static int access_mode(const struct vcard *c, const struct vfile *f, int acc)
{
	uint8_t a, b;

	switch (acc) {
	case ACC_READ:
		a = f->set.ar_read;
		b = f->set.ar_rw;
		break;
	case ACC_WRITE:
		a = f->set.ar_write;
		b = f->set.ar_rw;
		break;
	default:
		a = b = f->set.ar_change;
		break;
	}
	if (a == TP_AR_FREE || b == TP_AR_FREE)
		return TP_COMM_PLAIN;
	if (c->s.authed && (c->s.keyno == a || c->s.keyno == b))
		return acc == ACC_CHANGE ? TP_COMM_FULL
					 : (f->set.file_option & 3);
	if (a == TP_AR_NEVER && b == TP_AR_NEVER)
		return -ST_PERMISSION;
	return -ST_AUTH;
}

/*
 * The file a native file command names in its first data byte, after
 * checking the command carries at least minlc bytes: returns the CommMode
 * access right acc asks for (>= 0, *f set), or a negative native status.
 */
static int file_access(struct vcard *c, const struct tp_apdu *a, size_t minlc,
		       int acc, struct vfile **f)
{
	if (a->lc < minlc)
		return -ST_LENGTH;
	*f = file_by_no(c, a->data[0]);
	if (!*f)
		return -ST_FILE_NOT_FOUND;
	return access_mode(c, *f, acc);
}

static bool free_read(const struct vfile *f)
{
	return f->set.ar_read == TP_AR_FREE || f->set.ar_rw == TP_AR_FREE;
}

/*
 * The data a read sees: with SDM on and free read access, the SUN view of
 * this activation, made (and the counter incremented and saved) on the
 * first read.  Returns NULL and sets *st on failure.
 */
static const uint8_t *read_view(struct vcard *c, struct vfile *f, uint8_t *st)
{
	const struct tp_sdm_settings *s = &f->set;
	const uint8_t *meta = NULL, *fkey = NULL;
	static const uint8_t zero[16];
	uint32_t ctr;

	if (!(s->file_option & TP_FILE_OPT_SDM) || !free_read(f))
		return f->data;
	if (f->mirrored)
		return f->mirror;
	if ((s->sdm_options & TP_SDM_OPT_CTR_LIMIT) &&
	    f->sdm_ctr >= s->ctr_limit) {
		*st = ST_BOUNDARY;
		return NULL;
	}
	if (f->sdm_ctr >= TP_NTAG_CTR_MAX) {
		*st = ST_BOUNDARY;
		return NULL;
	}
	ctr = f->sdm_ctr + 1;
	if (s->sdm_meta_read < VCARD_NKEYS)
		meta = c->keys[s->sdm_meta_read];
	fkey =
	    s->sdm_file_read < VCARD_NKEYS ? c->keys[s->sdm_file_read] : zero;
	if (tp_sun_card_mirror(meta, fkey, c->uid, ctr, s, f->data, f->size,
			       f->mirror, sizeof(f->mirror)) != TP_OK) {
		*st = ST_PARAMETER;
		return NULL;
	}
	f->sdm_ctr = ctr;
	if (save(c) < 0) {
		f->sdm_ctr = ctr - 1;
		*st = ST_MEMORY;
		return NULL;
	}
	f->mirrored = true;
	return f->mirror;
}

/* ---- ISO 7816-4 commands ---------------------------------------------- */

static size_t iso_select(struct vcard *c, const struct tp_apdu *a, uint8_t *r)
{
	if (a->p1 == 0x04) { /* by DF name */
		if (a->lc != sizeof(ndef_df_name) ||
		    memcmp(a->data, ndef_df_name, a->lc) != 0)
			return sw(r, 0, 0x6A, 0x82);
		tp_ev2_clear(&c->s);
		c->level = LVL_APP;
		c->ef = -1;
		return sw(r, 0, 0x90, 0x00);
	}
	if (a->p1 == 0x00 || a->p1 == 0x02) { /* by file identifier */
		uint16_t fid;

		if (a->lc != 2)
			return sw(r, 0, 0x67, 0x00);
		fid = (uint16_t)(a->data[0] << 8 | a->data[1]);
		if (fid == FID_MF) {
			tp_ev2_clear(&c->s);
			c->level = LVL_PICC;
			c->ef = -1;
			return sw(r, 0, 0x90, 0x00);
		}
		if (fid == FID_APP) {
			tp_ev2_clear(&c->s);
			c->level = LVL_APP;
			c->ef = -1;
			return sw(r, 0, 0x90, 0x00);
		}
		if (c->level != LVL_APP)
			return sw(r, 0, 0x6A, 0x82);
		for (int i = 0; i < VCARD_NFILES; i++) {
			if (c->f[i].fid == fid) {
				c->ef = i;
				return sw(r, 0, 0x90, 0x00);
			}
		}
		return sw(r, 0, 0x6A, 0x82);
	}
	return sw(r, 0, 0x6A, 0x86);
}

/* Short file identifier in P1 (bit 7 set): selects that EF first. */
static int iso_sfi(struct vcard *c, const struct tp_apdu *a, uint32_t *off)
{
	if (a->p1 & 0x80) {
		uint8_t sfi = a->p1 & 0x1F;

		if (c->level != LVL_APP || sfi < 1 || sfi > VCARD_NFILES)
			return -1;
		c->ef = sfi - 1;
		*off = a->p2;
	} else {
		*off = (uint32_t)(a->p1 << 8 | a->p2);
	}
	return c->ef < 0 ? -1 : 0;
}

static size_t iso_read(struct vcard *c, const struct tp_apdu *a, uint8_t *r)
{
	struct vfile *f;
	const uint8_t *view;
	uint32_t off, n;
	uint8_t st = 0;
	int m;

	if (a->lc != 0 || !a->has_le)
		return sw(r, 0, 0x67, 0x00);
	if (iso_sfi(c, a, &off) < 0)
		return sw(r, 0, 0x69, 0x86); /* no current EF */
	f = &c->f[c->ef];
	m = access_mode(c, f, ACC_READ);
	if (m < 0 || m != TP_COMM_PLAIN)
		return sw(r, 0, 0x69, 0x82);
	if (off >= f->size)
		return sw(r, 0, 0x6B, 0x00);
	n = (uint32_t)a->le;
	if (n > f->size - off)
		n = f->size - off;
	view = read_view(c, f, &st);
	if (!view)
		return sw(r, 0, st == ST_MEMORY ? 0x65 : 0x69,
			  st == ST_MEMORY ? 0x81 : 0x82);
	memcpy(r, view + off, n);
	return sw(r, n, 0x90, 0x00);
}

static size_t iso_update(struct vcard *c, const struct tp_apdu *a, uint8_t *r)
{
	struct vfile *f;
	uint8_t old[256];
	uint32_t off;
	int m;

	if (a->lc == 0)
		return sw(r, 0, 0x67, 0x00);
	if (iso_sfi(c, a, &off) < 0)
		return sw(r, 0, 0x69, 0x86);
	f = &c->f[c->ef];
	m = access_mode(c, f, ACC_WRITE);
	if (m < 0 || m != TP_COMM_PLAIN)
		return sw(r, 0, 0x69, 0x82);
	if (off + a->lc > f->size)
		return sw(r, 0, 0x6B, 0x00);
	memcpy(old, f->data, f->size);
	memcpy(f->data + off, a->data, a->lc);
	f->mirrored = false;
	if (save(c) < 0) {
		memcpy(f->data, old, f->size);
		return sw(r, 0, 0x65, 0x81);
	}
	return sw(r, 0, 0x90, 0x00);
}

/* ---- native commands ---------------------------------------------------- */

static size_t cmd_get_version(struct vcard *c, const struct tp_apdu *a,
			      uint8_t *r, size_t cap)
{
	uint8_t all[28];
	size_t len;

	if (a->lc != 0)
		return native_err(c, r, ST_LENGTH);
	memcpy(all, version_hw, 7);
	memcpy(all + 7, version_sw, 7);
	memcpy(all + 14, c->uid, 7);
	/* batch number and fab key, calendar week 21 of 2018, as in
	 * AN12196 */
	memcpy(all + 21, "\xCD\x65\x93\x5D\x40\x21\x18", 7);
	/* In a session the whole answer carries one MAC at its end. */
	if (tp_ev2_card_wrap_resp(c->s.authed ? &c->s : NULL,
				  c->s.authed ? TP_COMM_MAC : TP_COMM_PLAIN,
				  all, sizeof(all), c->ver, sizeof(c->ver),
				  &len) != TP_OK)
		return native_err(c, r, ST_BOUNDARY);
	c->verlen = len - 2; /* without 91 00 */
	c->veroff = 7;
	c->pend = PEND_VERSION;
	memcpy(r, c->ver, 7);
	return sw(r, 7, 0x91, ST_MORE);
}

static size_t more_version(struct vcard *c, uint8_t *r)
{
	size_t left = c->verlen - c->veroff;

	if (c->veroff == 7) {
		memcpy(r, c->ver + 7, 7);
		c->veroff = 14;
		return sw(r, 7, 0x91, ST_MORE);
	}
	memcpy(r, c->ver + c->veroff, left);
	c->pend = PEND_NONE;
	c->verlen = c->veroff = 0;
	return sw(r, left, 0x91, ST_OK);
}

static size_t cmd_auth(struct vcard *c, const struct tp_apdu *a, bool first,
		       uint8_t *r, size_t cap)
{
	uint8_t keyno;
	size_t len;

	if (first ? (a->lc < 2 || a->lc != 2u + a->data[1]) : a->lc != 1)
		return native_err(c, r, ST_LENGTH);
	keyno = a->data[0];
	if (keyno >= VCARD_NKEYS)
		return native_err(c, r, ST_NO_SUCH_KEY);
	if (!first && !c->s.authed)
		return native_err(c, r, ST_PERMISSION);
	if (first)
		tp_ev2_clear(&c->s);
	if (tp_ev2_card_auth1(&c->s, first, keyno, c->keys[keyno], r, cap,
			      &len) != TP_OK)
		return native_err(c, r, ST_AUTH);
	c->pend = PEND_AUTH;
	return sw(r, len, 0x91, ST_MORE);
}

static size_t more_auth(struct vcard *c, const struct tp_apdu *a, uint8_t *r,
			size_t cap)
{
	size_t len;
	int e;

	c->pend = PEND_NONE;
	if (a->lc != 32)
		return native_err(c, r, ST_LENGTH);
	e = tp_ev2_card_auth2(&c->s, a->data, a->lc, r, cap, &len);
	if (e != TP_OK) {
		c->failed_auth++;
		save(c);
		return native_err(c, r, ST_AUTH);
	}
	if (c->failed_auth) {
		c->failed_auth = 0;
		save(c);
	}
	return sw(r, len, 0x91, ST_OK);
}

/*
 * Unwraps the command data of a command with an hlen-byte header in mode;
 * out gets header || plain data.  Returns 0 or a native status.
 */
static uint8_t unwrap(struct vcard *c, uint8_t ins, size_t hlen, int mode,
		      const struct tp_apdu *a, uint8_t *out, size_t cap,
		      size_t *len)
{
	int e;

	if (!c->s.authed)
		mode = TP_COMM_PLAIN;
	if (a->lc < hlen)
		return ST_LENGTH;
	e = tp_ev2_card_unwrap_cmd(c->s.authed ? &c->s : NULL, ins, hlen, mode,
				   a->data, a->lc, out, cap, len);
	if (e == TP_ERR_MAC)
		return ST_INTEGRITY;
	if (e != TP_OK)
		return ST_LENGTH;
	return 0;
}

static uint32_t le24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static size_t cmd_read_data(struct vcard *c, const struct tp_apdu *a,
			    uint8_t *r, size_t cap)
{
	uint8_t cmd[300];
	size_t cl;
	struct vfile *f;
	const uint8_t *view;
	uint32_t off, n;
	uint8_t st;
	int m;

	m = file_access(c, a, 7, ACC_READ, &f);
	if (m < 0)
		return native_err(c, r, (uint8_t)-m);
	/* The command itself is MACed (never encrypted) when the
	 * access is protected in MAC or FULL mode. */
	st =
	    unwrap(c, 0xAD, 7, m == TP_COMM_PLAIN ? TP_COMM_PLAIN : TP_COMM_MAC,
		   a, cmd, sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	if (cl != 7)
		return native_err(c, r, ST_LENGTH);
	off = le24(cmd + 1);
	n = le24(cmd + 4);
	if (off >= f->size || n > f->size - off)
		return native_err(c, r, ST_BOUNDARY);
	if (n == 0)
		n = f->size - off;
	view = m == TP_COMM_PLAIN ? read_view(c, f, &st) : f->data;
	if (!view)
		return native_err(c, r, st);
	return native_ok(c, m, view + off, n, r, cap);
}

static size_t cmd_write_data(struct vcard *c, const struct tp_apdu *a,
			     uint8_t *r, size_t cap)
{
	uint8_t cmd[300], old[256];
	size_t cl;
	struct vfile *f;
	uint32_t off, n;
	uint8_t st;
	int m;

	m = file_access(c, a, 7, ACC_WRITE, &f);
	if (m < 0)
		return native_err(c, r, (uint8_t)-m);
	/*
	 * A free write inside a session may also come MACed or encrypted:
	 * AN12196 Table 18 writes the factory NDEF file (plain, write
	 * free) in CommMode.FULL right after AuthenticateEV2First and the
	 * card answers with a MAC.  The header is clear in every mode, so
	 * the length it announces tells a plain command from a wrapped one;
	 * a wrapped one must carry a good MAC.
	 */
	if (m == TP_COMM_PLAIN && c->s.authed &&
	    a->lc != 7 + (size_t)le24(a->data + 4)) {
		uint32_t hn = le24(a->data + 4);

		m = TP_COMM_FULL;
		st = unwrap(c, 0x8D, 7, m, a, cmd, sizeof(cmd), &cl);
		if (st != 0 || cl - 7 != hn) {
			/* the MAC covers the same bytes in both modes, so a
			 * bad MAC fails both; otherwise try MAC mode */
			uint8_t st2 = unwrap(c, 0x8D, 7, TP_COMM_MAC, a, cmd,
					     sizeof(cmd), &cl);

			if (st2 == 0 && cl - 7 == hn) {
				st = 0;
				m = TP_COMM_MAC;
			} else if (st == 0) {
				st = ST_LENGTH;
			}
		}
	} else {
		st = unwrap(c, 0x8D, 7, m, a, cmd, sizeof(cmd), &cl);
	}
	if (st)
		return native_err(c, r, st);
	off = le24(cmd + 1);
	n = le24(cmd + 4);
	if (n == 0 || cl - 7 != n)
		return native_err(c, r, ST_LENGTH);
	if (off >= f->size || n > f->size - off)
		return native_err(c, r, ST_BOUNDARY);
	memcpy(old, f->data, f->size);
	memcpy(f->data + off, cmd + 7, n);
	f->mirrored = false;
	if (save(c) < 0) {
		memcpy(f->data, old, f->size);
		return native_err(c, r, ST_MEMORY);
	}
	return native_ok(c, m == TP_COMM_PLAIN ? TP_COMM_PLAIN : TP_COMM_MAC,
			 NULL, 0, r, cap);
}

static void settings_body(const struct vfile *f, uint8_t *out, size_t *len)
{
	uint8_t set[64];
	size_t sl = 0, n = 0;

	tp_sdm_settings_encode(&f->set, set, sizeof(set), &sl);
	/* GetFileSettings: FileType || FileOption AR(2) || FileSize(3) ||
	 * the SDM part of the ChangeFileSettings body. */
	out[n++] = 0x00;
	memcpy(out + n, set, 3);
	n += 3;
	out[n++] = (uint8_t)f->size;
	out[n++] = (uint8_t)(f->size >> 8);
	out[n++] = (uint8_t)(f->size >> 16);
	if (sl > 3) {
		memcpy(out + n, set + 3, sl - 3);
		n += sl - 3;
	}
	*len = n;
}

static size_t cmd_get_file_settings(struct vcard *c, const struct tp_apdu *a,
				    uint8_t *r, size_t cap)
{
	uint8_t cmd[64], body[64];
	size_t cl, bl;
	struct vfile *f;
	uint8_t st;

	st = unwrap(c, 0xF5, 1, TP_COMM_MAC, a, cmd, sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	if (cl != 1)
		return native_err(c, r, ST_LENGTH);
	f = file_by_no(c, cmd[0]);
	if (!f)
		return native_err(c, r, ST_FILE_NOT_FOUND);
	settings_body(f, body, &bl);
	return native_ok(c, TP_COMM_MAC, body, bl, r, cap);
}

static size_t cmd_get_file_counters(struct vcard *c, const struct tp_apdu *a,
				    uint8_t *r, size_t cap)
{
	uint8_t cmd[64], out[5] = {0};
	size_t cl;
	struct vfile *f;
	uint8_t st, ret;
	int mode;

	if (a->lc < 1)
		return native_err(c, r, ST_LENGTH);
	f = file_by_no(c, a->data[0]);
	if (!f)
		return native_err(c, r, ST_FILE_NOT_FOUND);
	if (!(f->set.file_option & TP_FILE_OPT_SDM))
		return native_err(c, r, ST_PERMISSION);
	ret = f->set.sdm_ctr_ret;
	if (ret == TP_AR_FREE)
		mode = TP_COMM_PLAIN;
	else if (ret == TP_AR_NEVER)
		return native_err(c, r, ST_PERMISSION);
	else if (c->s.authed && c->s.keyno == ret)
		mode = TP_COMM_FULL;
	else
		return native_err(c, r, ST_AUTH);
	st = unwrap(c, 0xF6, 1,
		    mode == TP_COMM_PLAIN ? TP_COMM_PLAIN : TP_COMM_MAC, a, cmd,
		    sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	if (cl != 1)
		return native_err(c, r, ST_LENGTH);
	out[0] = (uint8_t)f->sdm_ctr;
	out[1] = (uint8_t)(f->sdm_ctr >> 8);
	out[2] = (uint8_t)(f->sdm_ctr >> 16);
	return native_ok(c, mode, out, sizeof(out), r, cap);
}

static size_t cmd_change_file_settings(struct vcard *c, const struct tp_apdu *a,
				       uint8_t *r, size_t cap)
{
	uint8_t cmd[300];
	size_t cl;
	struct vfile *f;
	struct tp_sdm_settings s, old;
	uint32_t oldctr;
	uint8_t st;
	int m;

	m = file_access(c, a, 1, ACC_CHANGE, &f);
	if (m < 0)
		return native_err(c, r, (uint8_t)-m);
	st = unwrap(c, 0x5F, 1, m, a, cmd, sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	if (cl < 4 ||
	    tp_sdm_settings_decode_change(cmd + 1, cl - 1, &s) != TP_OK)
		return native_err(c, r, ST_PARAMETER);
	/* Only the NDEF file supports SDM; offsets must fit the file. */
	if ((s.file_option & TP_FILE_OPT_SDM) && f->no != TP_NTAG_FILE_NDEF)
		return native_err(c, r, ST_PARAMETER);
	/* Settings the card could not mirror (offsets outside the file,
	 * options not emulated) are refused now rather than at a read:
	 * a trial mirror with dummy keys checks them all. */
	if (s.file_option & TP_FILE_OPT_SDM) {
		static const uint8_t dummy[16];
		uint8_t scratch[256];

		if (tp_sun_card_mirror(dummy, dummy, c->uid, 1, &s, f->data,
				       f->size, scratch,
				       sizeof(scratch)) != TP_OK)
			return native_err(c, r, ST_PARAMETER);
	}
	s.file_type = 0x00;
	s.file_size = f->size;
	old = f->set;
	oldctr = f->sdm_ctr;
	/* Enabling SDM resets SDMReadCtr. */
	if ((s.file_option & TP_FILE_OPT_SDM) &&
	    !(old.file_option & TP_FILE_OPT_SDM))
		f->sdm_ctr = 0;
	f->set = s;
	f->mirrored = false;
	if (save(c) < 0) {
		f->set = old;
		f->sdm_ctr = oldctr;
		return native_err(c, r, ST_MEMORY);
	}
	return native_ok(c, m == TP_COMM_PLAIN ? TP_COMM_PLAIN : TP_COMM_MAC,
			 NULL, 0, r, cap);
}

static size_t cmd_change_key(struct vcard *c, const struct tp_apdu *a,
			     uint8_t *r, size_t cap)
{
	uint8_t cmd[64], nk[16], ver, oldk[16], oldv;
	size_t cl;
	uint8_t keyno, st;
	int same;

	if (a->lc < 1)
		return native_err(c, r, ST_LENGTH);
	if (!c->s.authed || c->s.keyno != TP_KEY_APP_MASTER)
		return native_err(c, r, ST_AUTH);
	keyno = a->data[0];
	if (keyno >= VCARD_NKEYS)
		return native_err(c, r, ST_NO_SUCH_KEY);
	st = unwrap(c, 0xC4, 1, TP_COMM_FULL, a, cmd, sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	same = keyno == c->s.keyno;
	if (cl != 1 + (same ? 17u : 21u))
		return native_err(c, r, ST_LENGTH);
	if (tp_ntag_change_key_apply(same, cmd + 1, cl - 1, c->keys[keyno], nk,
				     &ver) != TP_OK) {
		tp_wipe(nk, sizeof(nk));
		return native_err(c, r, ST_INTEGRITY);
	}
	memcpy(oldk, c->keys[keyno], 16);
	oldv = c->kver[keyno];
	memcpy(c->keys[keyno], nk, 16);
	c->kver[keyno] = ver;
	tp_wipe(nk, sizeof(nk));
	if (save(c) < 0) {
		memcpy(c->keys[keyno], oldk, 16);
		c->kver[keyno] = oldv;
		tp_wipe(oldk, sizeof(oldk));
		return native_err(c, r, ST_MEMORY);
	}
	tp_wipe(oldk, sizeof(oldk));
	if (same) {
		/* The key of the session changed: 91 00 without MAC, and
		 * the session is over. */
		tp_ev2_clear(&c->s);
		return sw(r, 0, 0x91, ST_OK);
	}
	return native_ok(c, TP_COMM_MAC, NULL, 0, r, cap);
}

static size_t cmd_get_key_version(struct vcard *c, const struct tp_apdu *a,
				  uint8_t *r, size_t cap)
{
	uint8_t cmd[64];
	size_t cl;
	uint8_t st;

	st = unwrap(c, 0x64, 1, TP_COMM_MAC, a, cmd, sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	if (cl != 1)
		return native_err(c, r, ST_LENGTH);
	if (cmd[0] >= VCARD_NKEYS)
		return native_err(c, r, ST_NO_SUCH_KEY);
	return native_ok(c, TP_COMM_MAC, &c->kver[cmd[0]], 1, r, cap);
}

static size_t cmd_get_card_uid(struct vcard *c, const struct tp_apdu *a,
			       uint8_t *r, size_t cap)
{
	uint8_t cmd[64];
	size_t cl;
	uint8_t st;

	if (!c->s.authed)
		return native_err(c, r, ST_AUTH);
	st = unwrap(c, 0x51, 0, TP_COMM_MAC, a, cmd, sizeof(cmd), &cl);
	if (st)
		return native_err(c, r, st);
	if (cl != 0)
		return native_err(c, r, ST_LENGTH);
	return native_ok(c, TP_COMM_FULL, c->uid, VCARD_UID_LEN, r, cap);
}

static size_t native(struct vcard *c, const struct tp_apdu *a, uint8_t *r,
		     size_t cap)
{
	int pend = c->pend;

	if (a->p1 != 0 || a->p2 != 0)
		return native_err(c, r, ST_PARAMETER);
	if (a->ins == 0xAF) {
		if (pend == PEND_AUTH)
			return more_auth(c, a, r, cap);
		if (pend == PEND_VERSION) {
			if (a->lc != 0)
				return native_err(c, r, ST_LENGTH);
			return more_version(c, r);
		}
		return native_err(c, r, ST_ILLEGAL_CMD);
	}
	/* Any other command aborts a multi-frame one. */
	if (pend == PEND_AUTH) {
		c->pend = PEND_NONE;
		tp_ev2_clear(&c->s);
	}
	c->pend = PEND_NONE;
	if (a->ins == 0x60)
		return cmd_get_version(c, a, r, cap);
	if (c->level != LVL_APP)
		return native_err(c, r, ST_ILLEGAL_CMD);
	switch (a->ins) {
	case 0x71:
		return cmd_auth(c, a, true, r, cap);
	case 0x77:
		return cmd_auth(c, a, false, r, cap);
	case 0xAD:
		return cmd_read_data(c, a, r, cap);
	case 0x8D:
		return cmd_write_data(c, a, r, cap);
	case 0xF5:
		return cmd_get_file_settings(c, a, r, cap);
	case 0xF6:
		return cmd_get_file_counters(c, a, r, cap);
	case 0x5F:
		return cmd_change_file_settings(c, a, r, cap);
	case 0xC4:
		return cmd_change_key(c, a, r, cap);
	case 0x64:
		return cmd_get_key_version(c, a, r, cap);
	case 0x51:
		return cmd_get_card_uid(c, a, r, cap);
	default:
		/* SetConfiguration, Read_Sig (no NXP key here), LRP... */
		return native_err(c, r, ST_ILLEGAL_CMD);
	}
}

size_t vcard_apdu(struct vcard *c, const uint8_t *apdu, size_t len,
		  uint8_t *resp, size_t cap)
{
	struct tp_apdu a;

	if (cap < 300)
		return 0;
	if (tp_apdu_parse(apdu, len, &a) != TP_OK)
		return sw(resp, 0, 0x67, 0x00);
	if (a.cla == 0x90)
		return native(c, &a, resp, cap);
	if (a.cla != 0x00)
		return sw(resp, 0, 0x6E, 0x00);
	/* An ISO command aborts a multi-frame native one. */
	if (c->pend == PEND_AUTH)
		tp_ev2_clear(&c->s);
	c->pend = PEND_NONE;
	switch (a.ins) {
	case 0xA4:
		return iso_select(c, &a, resp);
	case 0xB0:
		return iso_read(c, &a, resp);
	case 0xD6:
		return iso_update(c, &a, resp);
	default:
		return sw(resp, 0, 0x6D, 0x00);
	}
}
