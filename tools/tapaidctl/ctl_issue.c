/*
 * ctl_issue.c - tapaidctl card issue / card replace: personalising a blank
 * NTAG 424 DNA on the staff reader (libnfc) and registering it.
 *
 * The steps, in an order chosen so that a card interrupted at any point
 * can be finished by running the same command again:
 *
 *   1. select the card, the NDEF application, GetVersion (refuse anything
 *      but an NTAG 424 DNA), take the 7-byte UID;
 *   2. card.prepare {member, uid}: the daemon refuses a registered UID and
 *      answers the keys for this card (k0..k4 hex, key 1 the shared SDM
 *      meta-read key) and the URL template;
 *   3. AuthenticateEV2First key 0 with the factory key (all zero).  If that
 *      fails, try the new key 0: it is changed last, so if it works the card
 *      was fully keyed by an earlier run and only steps 9-10 remain;
 *      otherwise the card is not factory-fresh and is refused;
 *   4. GetFileSettings of the NDEF file: if SDM is already on, an earlier
 *      run got past step 6, so find out which of keys 1-4 it changed by
 *      authenticating with each (default, then new);
 *   5. WriteData the NDEF SUN template;
 *   6. ChangeFileSettings: SDM on, p= and c= offsets;
 *   7. ChangeKey keys 1..4 (case 1: XOR with the old key, JAMCRC);
 *   8. ChangeKey key 0 last (case 2; the session ends);
 *   9. AuthenticateEV2First with the new key 0, then ISO select + ReadBinary
 *      of the NDEF file and verify that one SUN message with the keys;
 *  10. card.register (or card.replace) with the counter just read.
 *
 * On failure the message says what state the card was left in.  Keys are
 * held in memory only for the run and wiped.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfc/nfc.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

#include "ctl_int.h"

#define RX_MAX	       300
#define NFC_TIMEOUT_MS 3000

/* How far personalisation got: what a failure leaves on the card. */
enum stage {
	ST_FRESH,    /* nothing written yet */
	ST_NDEF,     /* template written, SDM off, keys default */
	ST_SDM,	     /* SDM on, some of keys 1-4 may be changed */
	ST_KEYED,    /* every key changed; not yet verified/registered */
	ST_VERIFIED, /* read back and verified; registration pending */
};

struct issue {
	nfc_context *ctx;
	nfc_device *pnd;
	struct tp_ev2 ev2;
	uint8_t uid[7];
	char uidhex[15];
	uint8_t key[5][16]; /* new keys 0..4 */
	uint8_t old[5][16]; /* what each key holds now (known) */
	int changed[5];	    /* key n already holds key[n] */
	int keyver;
	char url[200];
	enum stage stage;
	int verbose; /* step lines on a terminal */
	uint32_t ctr;
	const char *what;  /* the step being run, for messages */
	int key_in_flight; /* ChangeKey sent for this key, -1 none */
};

static void step(struct issue *is, const char *what)
{
	is->what = what;
	if (is->verbose)
		fprintf(stderr, "  %s\n", what);
}

/* Sends one APDU and reads the answer. */
static int xfer(struct issue *is, const uint8_t *c, size_t clen, uint8_t *r,
		size_t *rlen)
{
	int n = nfc_initiator_transceive_bytes(is->pnd, c, clen, r, RX_MAX,
					       NFC_TIMEOUT_MS);

	if (n < 0) {
		*rlen = 0;
		return TP_ERR_IO;
	}
	*rlen = (size_t)n;
	return TP_OK;
}

/* A wrapped native command in an open session (or PLAIN outside one). */
static int native(struct issue *is, uint8_t ins, const uint8_t *hdr,
		  size_t hlen, const uint8_t *data, size_t dlen, int mode,
		  int rmode, uint8_t *out, size_t cap, size_t *olen)
{
	uint8_t a[TP_NTAG_APDU_MAX], r[RX_MAX];
	size_t al, rl, dummy;
	int e;

	e = tp_ev2_wrap(&is->ev2, ins, hdr, hlen, data, dlen, mode, a,
			sizeof(a), &al);
	if (e == TP_OK)
		e = xfer(is, a, al, r, &rl);
	if (e == TP_OK)
		e = tp_ev2_unwrap(&is->ev2, rmode, r, rl, out, cap,
				  olen ? olen : &dummy);
	tp_wipe(a, sizeof(a));
	tp_wipe(r, sizeof(r));
	return e;
}

/*
 * AuthenticateEV2First with keyno/key.  TP_ERR_AUTH means the card
 * refused the key (91 AE); other codes are transport or protocol errors.
 */
static int auth(struct issue *is, uint8_t keyno, const uint8_t key[16])
{
	uint8_t a[64], r[RX_MAX], rnda[16];
	size_t al, rl;
	int e;

	tp_ev2_clear(&is->ev2);
	e = tp_ev2_auth_begin(&is->ev2, 1, keyno, a, sizeof(a), &al);
	if (e == TP_OK)
		e = xfer(is, a, al, r, &rl);
	if (e == TP_OK && tp_ntag_sw(r, rl) != TP_SW_MORE)
		e = tp_ntag_sw(r, rl) == TP_SW_AUTH_ERR ? TP_ERR_AUTH
							: TP_ERR_CARD_STATUS;
	if (e == TP_OK)
		e = tp_random(rnda, sizeof(rnda));
	if (e == TP_OK)
		e = tp_ev2_auth_step2(&is->ev2, key, rnda, r, rl, a, sizeof(a),
				      &al);
	if (e == TP_OK)
		e = xfer(is, a, al, r, &rl);
	if (e == TP_OK) {
		if (tp_ntag_sw(r, rl) == TP_SW_AUTH_ERR)
			e = TP_ERR_AUTH;
		else
			e = tp_ev2_auth_finish(&is->ev2, r, rl);
	}
	tp_wipe(rnda, sizeof(rnda));
	tp_wipe(a, sizeof(a));
	if (e != TP_OK)
		tp_ev2_clear(&is->ev2);
	return e;
}

static int iso(struct issue *is, const uint8_t *a, size_t al, uint8_t *out,
	       size_t cap, size_t *olen)
{
	uint8_t r[RX_MAX];
	size_t rl, dl;
	int e = xfer(is, a, al, r, &rl);

	if (e == TP_OK)
		e = tp_iso_check(r, rl, &dl);
	if (e == TP_OK && out != NULL) {
		if (dl > cap)
			return TP_ERR_TOO_BIG;
		memcpy(out, r, dl);
		*olen = dl;
	}
	return e;
}

static int select_app(struct issue *is)
{
	uint8_t a[32];
	size_t al;
	int e = tp_iso_select_ndef_app(a, sizeof(a), &al);

	return e == TP_OK ? iso(is, a, al, NULL, 0, NULL) : e;
}

static int get_version(struct issue *is, struct tp_ntag_version *v)
{
	uint8_t a[16], r[RX_MAX], data[40];
	size_t al, rl, n = 0;
	int e;

	for (int part = 0; part < 3; part++) {
		int want = part < 2 ? TP_SW_MORE : TP_SW_OK;

		e = tp_ntag_get_version_cmd(part, a, sizeof(a), &al);
		if (e == TP_OK)
			e = xfer(is, a, al, r, &rl);
		if (e != TP_OK)
			return e;
		if (tp_ntag_sw(r, rl) != want || n + rl - 2 > sizeof(data))
			return TP_ERR_CARD_STATUS;
		memcpy(data + n, r, rl - 2);
		n += rl - 2;
	}
	return tp_ntag_parse_version(data, n, v);
}

static const char *state_text(const struct issue *is, char *buf, size_t cap)
{
	switch (is->stage) {
	case ST_FRESH:
		return "the card is unchanged (still factory-fresh)";
	case ST_NDEF:
		return "the card holds the NDEF template, keys unchanged";
	case ST_SDM: {
		size_t n = (size_t)snprintf(buf, cap,
					    "SUN is enabled and key 0 is still "
					    "the factory key; keys changed:");
		int any = 0;

		for (int k = 1; k <= 4 && n < cap; k++)
			if (is->changed[k]) {
				n += (size_t)snprintf(buf + n, cap - n, " %d",
						      k);
				any = 1;
			}
		if (!any && n < cap)
			n += (size_t)snprintf(buf + n, cap - n, " none");
		if (is->key_in_flight >= 0 && n < cap)
			snprintf(buf + n, cap - n,
				 "; key %d may or may not be set (its answer "
				 "was lost)",
				 is->key_in_flight);
		return buf;
	}
	case ST_KEYED:
		return "all keys are set (this daemon's keys) but the card was "
		       "not verified or registered";
	case ST_VERIFIED:
		return "the card is fully personalised and verified but not "
		       "registered";
	}
	return "unknown";
}

static int fail(struct issue *is, int e, const char *extra)
{
	char buf[160];

	ctl_err("card issue failed while %s: %s%s%s; %s. Leave the card on the "
		"reader and run the same command again to resume",
		is->what, tp_strerror(e),
		e == TP_ERR_IO ? " (was the card moved off the reader?)" : "",
		extra ? extra : "", state_text(is, buf, sizeof(buf)));
	return CTL_FAIL;
}

/* Step 4: which of keys 1-4 an earlier run already changed. */
static int probe_keys(struct issue *is)
{
	static const uint8_t zero[16];
	char msg[96];
	int e;

	for (int k = 1; k <= 4; k++) {
		snprintf(msg, sizeof(msg),
			 "checking key %d from an earlier run", k);
		step(is, msg);
		e = auth(is, (uint8_t)k, zero);
		if (e == TP_OK) {
			is->changed[k] = 0;
			memset(is->old[k], 0, 16);
			continue;
		}
		if (e != TP_ERR_AUTH)
			return e;
		e = auth(is, (uint8_t)k, is->key[k]);
		if (e == TP_OK) {
			is->changed[k] = 1;
			memcpy(is->old[k], is->key[k], 16);
			continue;
		}
		if (e == TP_ERR_AUTH) {
			ctl_err(
			    "card issue refused: key %d on this card is "
			    "neither the factory key nor this daemon's key; "
			    "it was personalised elsewhere. Use another card",
			    k);
			return 1; /* reported */
		}
		return e;
	}
	step(is, "authenticating with the factory key 0 again");
	return auth(is, 0, zero);
}

static int write_ndef(struct issue *is, const uint8_t *file, size_t len,
		      int mode)
{
	uint8_t a[TP_NTAG_APDU_MAX], r[RX_MAX];
	size_t al, rl, n, off = 0;
	int e = TP_OK;

	while (off < len && e == TP_OK) {
		n = len - off > 128 ? 128 : len - off;
		e = tp_ntag_write_data_cmd(&is->ev2, TP_NTAG_FILE_NDEF,
					   (uint32_t)off, file + off, n, mode,
					   a, sizeof(a), &al);
		if (e == TP_OK)
			e = xfer(is, a, al, r, &rl);
		if (e == TP_OK)
			e = tp_ev2_unwrap(
			    &is->ev2, mode == TP_COMM_FULL ? TP_COMM_MAC : mode,
			    r, rl, NULL, 0, &n);
		off += 128;
	}
	return e;
}

static int change_key(struct issue *is, int k)
{
	uint8_t a[TP_NTAG_APDU_MAX], r[RX_MAX];
	size_t al, rl;
	int e;

	is->key_in_flight = k;
	e = tp_ntag_change_key_cmd(&is->ev2, (uint8_t)k, is->key[k], is->old[k],
				   (uint8_t)is->keyver, a, sizeof(a), &al);
	if (e == TP_OK)
		e = xfer(is, a, al, r, &rl);
	if (e == TP_OK)
		e = tp_ntag_change_key_resp(&is->ev2, (uint8_t)k, r, rl);
	if (e == TP_OK)
		is->key_in_flight = -1;
	tp_wipe(a, sizeof(a));
	return e;
}

/*
 * Reads the NDEF file as a phone would (ISO select + ReadBinary; the card
 * mirrors a fresh SUN into it) and extracts its URL.  len is the file's
 * length, or 0 to read its NLEN first.
 */
static int read_url(struct issue *is, size_t len, char *url, size_t cap,
		    size_t *ul)
{
	uint8_t a[32], file[260];
	size_t al, fl;
	int e;

	e = tp_iso_select_file(TP_NTAG_FID_NDEF, a, sizeof(a), &al);
	if (e == TP_OK)
		e = iso(is, a, al, NULL, 0, NULL);
	if (e == TP_OK && len == 0) {
		e = tp_iso_read_binary(0, 2, a, sizeof(a), &al);
		if (e == TP_OK)
			e = iso(is, a, al, file, sizeof(file), &fl);
		if (e == TP_OK && fl != 2)
			e = TP_ERR_PARSE;
		if (e == TP_OK)
			len = 2 + ((size_t)file[0] << 8 | file[1]);
		if (e == TP_OK && (len <= 2 || len > 256))
			e = TP_ERR_PARSE; /* an empty or oversized NDEF file */
	}
	if (e == TP_OK)
		e = tp_iso_read_binary(0, (uint8_t)(len >= 256 ? 0 : len), a,
				       sizeof(a), &al);
	if (e == TP_OK)
		e = iso(is, a, al, file, sizeof(file), &fl);
	if (e == TP_OK)
		e = tp_ndef_uri(file, fl, url, cap, ul);
	return e;
}

/* Step 9: read the card back and check its SUN with the new keys. */
static int read_back(struct issue *is, size_t len)
{
	char url[300];
	struct tp_sun_msg msg;
	struct tp_sun_result res;
	size_t ul;
	int e;

	step(is, "reading the card back");
	e = read_url(is, len, url, sizeof(url), &ul);
	if (e == TP_OK)
		e = tp_sun_parse(url, ul, &msg);
	if (e != TP_OK)
		return e;
	step(is, "verifying one SUN message");
	e = tp_sun_verify(is->key[1], is->key[2], &msg, &res);
	if (e != TP_OK)
		return e;
	if (!tp_memeq(res.uid, is->uid, 7))
		return TP_ERR_MAC;
	is->ctr = res.ctr;
	return TP_OK;
}

/*
 * The daemon's url_template may be the whole template URL
 * ("https://h/t?p=<32 zeros>&c=<16 zeros>"); tp_ndef_sun_template wants
 * the base it appends "?p=..&c=.." to.  Cuts a trailing p=/c= pair.
 */
static void strip_sun_query(char *url)
{
	static const char tail[] = "p=00000000000000000000000000000000"
				   "&c=0000000000000000";
	size_t n = strlen(url), t = sizeof(tail) - 1;

	if (n > t + 1 && strcmp(url + n - t, tail) == 0 &&
	    (url[n - t - 1] == '?' || url[n - t - 1] == '&'))
		url[n - t - 1] = '\0';
}

/* Takes the keys and template from a card.prepare answer. */
static int take_prepare(struct issue *is, cJSON *data)
{
	const cJSON *kv = cJSON_GetObjectItemCaseSensitive(data, "key_version");
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(data, "keys");
	const cJSON *url =
	    cJSON_GetObjectItemCaseSensitive(data, "url_template");
	int rc = CTL_OK;

	if (!cJSON_IsNumber(kv) || kv->valuedouble < 0 ||
	    kv->valuedouble > 255 || !cJSON_IsString(url) ||
	    strlen(url->valuestring) >= sizeof(is->url)) {
		ctl_err("tapaidd's card.prepare answer lacks key_version or "
			"url_template; is the daemon the same version?");
		return CTL_FAIL;
	}
	is->keyver = (int)kv->valuedouble;
	strcpy(is->url, url->valuestring);
	strip_sun_query(is->url);
	for (int k = 0; k < 5; k++) {
		char name[3] = {'k', (char)('0' + k), '\0'};
		cJSON *h;

		h = cJSON_GetObjectItemCaseSensitive(keys, name);
		if (!cJSON_IsString(h) ||
		    tp_hex_decode(h->valuestring, strlen(h->valuestring),
				  is->key[k], 16) != TP_OK) {
			ctl_err(
			    "tapaidd's card.prepare answer has no valid key "
			    "%s",
			    name);
			rc = CTL_FAIL;
		}
		if (cJSON_IsString(h))
			tp_wipe(h->valuestring, strlen(h->valuestring));
	}
	return rc;
}

/* Opens the reader and waits up to wait_s for a card. */
static int open_reader(struct issue *is, const char *conn, int wait_s)
{
	const nfc_modulation nm = {.nmt = NMT_ISO14443A, .nbr = NBR_106};
	nfc_target nt;
	uint64_t until = ctl_now_ms() + (uint64_t)wait_s * 1000;
	int r;

	nfc_init(&is->ctx);
	if (is->ctx == NULL) {
		ctl_err("libnfc could not start (see LIBNFC_LOG_LEVEL)");
		return CTL_FAIL;
	}
	is->pnd = nfc_open(is->ctx, conn);
	if (is->pnd == NULL) {
		ctl_err("cannot open reader '%s'; check the connection string "
			"(e.g. pn532_uart:/dev/ttyUSB0) and that no other "
			"program holds it",
			conn);
		return CTL_FAIL;
	}
	if (nfc_initiator_init(is->pnd) < 0) {
		ctl_err("reader '%s' did not start: %s", conn,
			nfc_strerror(is->pnd));
		return CTL_FAIL;
	}
	for (;;) {
		r = nfc_initiator_select_passive_target(is->pnd, nm, NULL, 0,
							&nt);
		if (r > 0 || ctl_now_ms() >= until)
			break;
		usleep(200000);
	}
	if (r <= 0) {
		ctl_err("no card on reader '%s'; place a blank card on it and "
			"run the command again",
			conn);
		return CTL_FAIL;
	}
	if (nt.nti.nai.szUidLen != 7 || !(nt.nti.nai.btSak & 0x20)) {
		ctl_err("the card on the reader is not an NTAG 424 DNA (UID "
			"length %zu, SAK %02X); use a blank NTAG 424 DNA",
			nt.nti.nai.szUidLen, nt.nti.nai.btSak);
		return CTL_FAIL;
	}
	memcpy(is->uid, nt.nti.nai.abtUid, 7);
	tp_hex_encode(is->uid, 7, is->uidhex, 1);
	return CTL_OK;
}

static void issue_free(struct issue *is)
{
	tp_ev2_clear(&is->ev2);
	tp_wipe(is->key, sizeof(is->key));
	tp_wipe(is->old, sizeof(is->old));
	if (is->pnd != NULL)
		nfc_close(is->pnd);
	if (is->ctx != NULL)
		nfc_exit(is->ctx);
}

/*
 * Personalises the card and registers it: with replace NULL through
 * card.register, else through card.replace {card: replace}.
 */
static int issue(const char *member, const char *replace, const char *conn,
		 int wait_s)
{
	static const uint8_t zero[16];
	struct issue is = {0};
	struct tp_ntag_version v;
	struct tp_sdm_settings cur, sdm;
	struct ctl_conn *c = NULL;
	uint8_t file[256], buf[64];
	size_t flen, n;
	cJSON *args, *data = NULL;
	const char *code;
	char msg[256];
	int e, rc = CTL_FAIL, mode;

	is.verbose = isatty(STDERR_FILENO);
	is.key_in_flight = -1;
	is.what = "opening the reader";
	if (ctl_open(&c) != CTL_OK)
		goto out;
	if (open_reader(&is, conn, wait_s) != CTL_OK)
		goto out;
	step(&is, "selecting the NDEF application");
	if ((e = select_app(&is)) != TP_OK) {
		ctl_err("the card has no NDEF application (%s); it is not an "
			"NTAG 424 DNA",
			tp_strerror(e));
		goto out;
	}
	step(&is, "reading the card version");
	if ((e = get_version(&is, &v)) != TP_OK || v.hw[0] != 0x04 ||
	    v.hw[1] != 0x04) {
		ctl_err("the card is not an NTAG 424 DNA (GetVersion: %s)",
			e ? tp_strerror(e) : "not an NXP NTAG");
		goto out;
	}
	step(&is, "asking tapaidd for this card's keys (card.prepare)");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "member", member);
	cJSON_AddStringToObject(args, "uid", is.uidhex);
	if (ctl_call_ex(c, "card.prepare", args, &data, &code, msg,
			sizeof(msg)) != CTL_OK) {
		if (strcmp(code, "exists") == 0)
			ctl_err("card %s is already issued (%s); a card is "
				"issued once: use a blank card",
				is.uidhex, msg);
		else if (strcmp(code, "forbidden") != 0)
			ctl_err("card.prepare: %s", msg);
		goto out;
	}
	if (take_prepare(&is, data) != CTL_OK)
		goto out;
	e = tp_ndef_sun_template(is.url, file, sizeof(file), &flen, &sdm);
	if (e != TP_OK) {
		ctl_err("tapaidd's URL template '%s' cannot be written to a "
			"card (%s); fix the daemon's configuration",
			is.url, tp_strerror(e));
		goto out;
	}
	step(&is, "authenticating with the factory key 0");
	e = auth(&is, 0, zero);
	if (e == TP_ERR_AUTH) {
		step(&is, "authenticating with this card's new key 0");
		e = auth(&is, 0, is.key[0]);
		if (e == TP_ERR_AUTH) {
			ctl_err("card %s is not factory-fresh: already issued "
				"or keys changed; use a blank card",
				is.uidhex);
			goto out;
		}
		if (e != TP_OK) {
			fail(&is, e, NULL);
			goto out;
		}
		is.stage = ST_KEYED; /* an earlier run got past step 8 */
		if (is.verbose)
			fputs("  (resuming: the card was keyed by an earlier "
			      "run)\n",
			      stderr);
		goto verify;
	}
	if (e != TP_OK) {
		fail(&is, e, NULL);
		goto out;
	}
	step(&is, "reading the NDEF file settings");
	e = native(&is, 0xF5, (const uint8_t[]){TP_NTAG_FILE_NDEF}, 1, NULL, 0,
		   TP_COMM_MAC, TP_COMM_MAC, buf, sizeof(buf), &n);
	if (e == TP_OK)
		e = tp_sdm_settings_decode(buf, n, &cur);
	if (e != TP_OK) {
		fail(&is, e, NULL);
		goto out;
	}
	if (cur.file_option & TP_FILE_OPT_SDM) {
		is.stage = ST_SDM;
		if (is.verbose)
			fputs(
			    "  (resuming: SUN was enabled by an earlier run)\n",
			    stderr);
		e = probe_keys(&is);
		if (e == 1)
			goto out;
		if (e != TP_OK) {
			fail(&is, e, NULL);
			goto out;
		}
	}
	if (is.stage == ST_FRESH) {
		step(&is, "writing the NDEF SUN template");
		mode = cur.file_option & 3;
		e = write_ndef(&is, file, flen, mode);
		if (e != TP_OK) {
			fail(&is, e, NULL);
			goto out;
		}
		is.stage = ST_NDEF;
		step(&is, "enabling SUN (ChangeFileSettings)");
		{
			uint8_t a[TP_NTAG_APDU_MAX], r[RX_MAX];
			size_t al, rl;

			e = tp_ntag_change_file_settings_cmd(
			    &is.ev2, TP_NTAG_FILE_NDEF, &sdm, a, sizeof(a),
			    &al);
			if (e == TP_OK)
				e = xfer(&is, a, al, r, &rl);
			if (e == TP_OK)
				e = tp_ev2_unwrap(&is.ev2, TP_COMM_MAC, r, rl,
						  NULL, 0, &n);
		}
		if (e != TP_OK) {
			fail(&is, e, NULL);
			goto out;
		}
		is.stage = ST_SDM;
	}
	for (int k = 1; k <= 4; k++) {
		char what[48];

		if (is.changed[k])
			continue;
		snprintf(what, sizeof(what), "setting key %d", k);
		step(&is, what);
		if ((e = change_key(&is, k)) != TP_OK) {
			fail(&is, e, NULL);
			goto out;
		}
		is.changed[k] = 1;
	}
	step(&is, "setting key 0 (last)");
	if ((e = change_key(&is, 0)) != TP_OK) {
		fail(&is, e, NULL);
		goto out;
	}
	is.stage = ST_KEYED;
	step(&is, "authenticating with the new key 0");
	if ((e = auth(&is, 0, is.key[0])) != TP_OK) {
		fail(&is, e, NULL);
		goto out;
	}
verify:
	if ((e = read_back(&is, flen)) != TP_OK) {
		fail(&is, e,
		     e == TP_ERR_MAC ? ": the card's SUN does not verify "
				       "with the keys just written"
				     : NULL);
		goto out;
	}
	is.stage = ST_VERIFIED;
	cJSON_Delete(data);
	data = NULL;
	args = cJSON_CreateObject();
	if (replace != NULL)
		cJSON_AddStringToObject(args, "card", replace);
	else
		cJSON_AddStringToObject(args, "member", member);
	cJSON_AddStringToObject(args, "uid", is.uidhex);
	cJSON_AddNumberToObject(args, "key_version", is.keyver);
	cJSON_AddNumberToObject(args, "ctr", is.ctr);
	step(&is, replace ? "replacing the card (card.replace)"
			  : "registering the card (card.register)");
	if (ctl_call(c, replace ? "card.replace" : "card.register", args, &data,
		     NULL) != CTL_OK) {
		char sbuf[160];

		ctl_err("%s; run the same command again to register it",
			state_text(&is, sbuf, sizeof(sbuf)));
		goto out;
	}
	if (replace != NULL) {
		char b1[64], b2[64];

		printf(
		    "card %s replaced by card %s (uid %s); usage moved\n",
		    ctl_json_text(cJSON_GetObjectItemCaseSensitive(data, "old"),
				  b1, sizeof(b1)),
		    ctl_json_text(cJSON_GetObjectItemCaseSensitive(data, "new"),
				  b2, sizeof(b2)),
		    is.uidhex);
	} else {
		char b[64];

		printf("issued card %s to member %s (uid %s, key version %d, "
		       "counter %u)\n",
		       ctl_json_text(
			   cJSON_GetObjectItemCaseSensitive(data, "card"), b,
			   sizeof(b)),
		       member, is.uidhex, is.keyver, is.ctr);
	}
	rc = CTL_OK;
out:
	cJSON_Delete(data);
	ctl_close(c);
	issue_free(&is);
	return rc;
}

static const char issue_usage[] =
    "tapaidctl card issue --member N --reader CONNSTRING [--wait SECONDS]\n"
    "  personalises a blank NTAG 424 DNA on the staff reader and registers\n"
    "  it; a card left half-way is finished by running it again";

static int parse_card_opts(int argc, char **argv, const char *usage,
			   const char **member, const char **reader,
			   int *wait_s)
{
	static const struct option lo[] = {
	    {"member", required_argument, NULL, 'm'},
	    {"reader", required_argument, NULL, 'r'},
	    {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	uint64_t w;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (member == NULL)
				return ctl_usage(usage);
			*member = optarg;
			break;
		case 'r':
			*reader = optarg;
			break;
		case 'w':
			if (!ctl_parse_u64(optarg, 0, 3600, &w)) {
				ctl_err("--wait takes seconds (0-3600)");
				return CTL_USAGE;
			}
			*wait_s = (int)w;
			break;
		case 'h':
			puts(usage);
			return -1;
		default:
			return ctl_usage(usage);
		}
	}
	return CTL_OK;
}

int ctl_card_issue(int argc, char **argv)
{
	const char *member = NULL, *reader = NULL;
	int wait_s = 5, rc;

	rc =
	    parse_card_opts(argc, argv, issue_usage, &member, &reader, &wait_s);
	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	if (optind != argc || member == NULL || reader == NULL)
		return ctl_usage(issue_usage);
	return issue(member, NULL, reader, wait_s);
}

static const char replace_usage[] =
    "tapaidctl card replace CARD --reader CONNSTRING [--wait SECONDS]\n"
    "  issues the blank card on the reader to CARD's member, revokes CARD\n"
    "  and moves the member's usage to the new card in one recorded step";

int ctl_card_replace(int argc, char **argv)
{
	const char *reader = NULL, *card;
	char member[128], num[32];
	cJSON *args, *data = NULL;
	const cJSON *m;
	int wait_s = 5, rc;

	rc = parse_card_opts(argc, argv, replace_usage, NULL, &reader, &wait_s);
	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	if (optind + 1 != argc || reader == NULL)
		return ctl_usage(replace_usage);
	card = argv[optind];
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "card", card);
	if (ctl_rpc("card.show", args, &data) != CTL_OK)
		return CTL_FAIL;
	m = cJSON_GetObjectItemCaseSensitive(data, "member");
	snprintf(member, sizeof(member), "%s",
		 ctl_json_text(m, num, sizeof(num)));
	cJSON_Delete(data);
	if (member[0] == '\0') {
		ctl_err("tapaidd did not say whose card %s is", card);
		return CTL_FAIL;
	}
	return issue(member, card, reader, wait_s);
}

static const char read_usage[] =
    "tapaidctl card read --reader CONNSTRING [--wait SECONDS]\n"
    "  prints the URL the card on the reader gives a phone (its SUN message,\n"
    "  for tapaidctl sun verify); needs no daemon and no keys";

/* card read: what does this card say?  A diagnostic for the staff desk. */
int ctl_card_read(int argc, char **argv)
{
	struct issue is = {0};
	const char *reader = NULL;
	char url[300];
	size_t ul;
	int wait_s = 5, rc, e;

	rc = parse_card_opts(argc, argv, read_usage, NULL, &reader, &wait_s);
	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	if (optind != argc || reader == NULL)
		return ctl_usage(read_usage);
	rc = CTL_FAIL;
	is.key_in_flight = -1;
	if (open_reader(&is, reader, wait_s) != CTL_OK)
		goto out;
	if ((e = select_app(&is)) != TP_OK) {
		ctl_err("the card has no NDEF application (%s); it is not an "
			"NTAG 424 DNA",
			tp_strerror(e));
		goto out;
	}
	if ((e = read_url(&is, 0, url, sizeof(url), &ul)) != TP_OK) {
		ctl_err("card %s holds no URL (%s); is it blank?", is.uidhex,
			tp_strerror(e));
		goto out;
	}
	printf("%s\n", url);
	rc = CTL_OK;
out:
	issue_free(&is);
	return rc;
}
