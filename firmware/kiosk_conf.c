/*
 * kiosk_conf.c - reads tapaid-kiosk's INI file (inih) into struct
 * kiosk_conf, checking every value, naming the line of the first bad one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "kiosk_conf.h"
#include "tapaid/crypto.h"
#include "tapaid/proto.h"

struct pctx {
	struct kiosk_conf *c;
	const char *name;
	char why[256]; /* the first bad line's problem */
};

static int set_uint(unsigned *out, const char *v, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi || v[0] == '-')
		return -1;
	*out = (unsigned)x;
	return 0;
}

static int copy(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* Printable ASCII without spaces, 1..max bytes (as the protocol wants). */
static int word(char *dst, size_t max, const char *v, const char *extra)
{
	size_t n = strlen(v);

	if (n == 0 || n > max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (extra ? !(isalnum(ch) || strchr(extra, ch))
			  : (ch < 0x21 || ch > 0x7e))
			return -1;
	}
	memcpy(dst, v, n + 1);
	return 0;
}

static int handler(void *user, const char *sec, const char *key, const char *v)
{
	struct pctx *p = user;
	struct kiosk_conf *c = p->c;

	if (p->why[0])
		return 0; /* report only the first problem */
	struct kiosk_config *k = &c->core;
	int bad = 0;

#define IS(s, n) (strcmp(sec, s) == 0 && strcmp(key, n) == 0)
	if (IS("host", "address")) {
		bad = copy(c->host_addr, sizeof(c->host_addr), v) ||
		      !strchr(v, ':');
	} else if (IS("host", "key") || IS("host", "pubkey")) {
		bad = tp_hex_decode(v, strlen(v), k->host_pub, 65) != 0 ||
		      k->host_pub[0] != 0x04;
		c->has_host_key = !bad;
	} else if (IS("host", "key_file")) {
		bad = copy(c->host_key_file, sizeof(c->host_key_file), v);
	} else if (IS("kiosk", "id")) {
		bad = word(k->kiosk_id, TP_KIOSK_ID_MAX, v, NULL);
	} else if (IS("kiosk", "key")) {
		bad = copy(c->key_path, sizeof(c->key_path), v);
	} else if (IS("kiosk", "point")) {
		bad =
		    copy(k->service_point, sizeof(k->service_point), v) || !*v;
	} else if (IS("kiosk", "benefit")) {
		bad = word(k->benefit, TP_BENEFIT_MAX, v, "_.-");
	} else if (IS("kiosk", "lang")) {
		if (strcmp(v, "zh") == 0)
			k->lang = KIOSK_LANG_ZH;
		else if (strcmp(v, "en") == 0)
			k->lang = KIOSK_LANG_EN;
		else
			bad = 1;
	} else if (IS("kiosk", "state_dir")) {
		bad = copy(c->state_dir, sizeof(c->state_dir), v) || !*v;
	} else if (IS("kiosk", "firmware")) {
		static char fw[TP_FW_MAX + 1];
		bad = word(fw, TP_FW_MAX, v, NULL);
		if (!bad)
			k->fw_version = fw;
	} else if (IS("reader", "connstring") || IS("kiosk", "reader")) {
		bad = copy(c->connstring, sizeof(c->connstring), v) || !*v;
	} else if (IS("reader", "max_errors")) {
		bad = set_uint(&k->reader_max_errors, v, 1, 100);
	} else if (IS("reader", "usb")) {
		if (strcmp(v, "auto") == 0)
			c->usb_auto = 1;
		else if (strcmp(v, "off") == 0)
			c->usb_auto = 0;
		else
			bad = 1;
	} else if (IS("offline", "per_card_per_day")) {
		bad = set_uint(&k->offline_per_day, v, 0, 1000);
	} else if (IS("offline", "queue_max")) {
		bad = set_uint(&k->offline_queue_max, v, 0, 10000000);
	} else if (IS("timing", "decision_timeout_ms")) {
		bad = set_uint(&k->decision_timeout_ms, v, 50, 60000);
	} else if (IS("timing", "heartbeat_ms")) {
		bad = set_uint(&k->heartbeat_ms, v, 100, 600000);
	} else if (IS("timing", "backoff_min_ms")) {
		bad = set_uint(&k->backoff_min_ms, v, 10, 600000);
	} else if (IS("timing", "backoff_max_ms")) {
		bad = set_uint(&k->backoff_max_ms, v, 10, 3600000);
	} else if (IS("timing", "result_hold_ms")) {
		bad = set_uint(&k->result_hold_ms, v, 0, 60000);
	} else if (IS("timing", "apdu_timeout_ms")) {
		bad = set_uint(&k->apdu_timeout_ms, v, 10, 10000);
	} else {
		snprintf(p->why, sizeof(p->why), "unknown key [%.40s] %.40s",
			 sec, key);
		return 0;
	}
#undef IS
	if (bad && !p->why[0])
		snprintf(p->why, sizeof(p->why),
			 "bad value for [%.40s] %.40s: \"%.100s\"", sec, key,
			 v);
	return !bad;
}

static void defaults(struct kiosk_conf *c)
{
	memset(c, 0, sizeof(*c));
	kiosk_config_defaults(&c->core);
	c->core.fw_version = "tapaid-kiosk-1.0";
	c->usb_auto = 1;
}

/* Checks what must be there and fills what follows from other keys. */
static int finish(struct kiosk_conf *c, const char *name)
{
	const char *missing = NULL;

	if (c->err[0])
		return -1;
	if (!c->host_addr[0])
		missing = "[host] address";
	else if (!c->has_host_key && !c->host_key_file[0])
		missing = "[host] key (or key_file)";
	else if (!c->core.kiosk_id[0])
		missing = "[kiosk] id";
	else if (!c->key_path[0])
		missing = "[kiosk] key";
	else if (!c->core.benefit[0])
		missing = "[kiosk] benefit";
	else if (!c->connstring[0])
		missing = "[reader] connstring";
	if (missing) {
		snprintf(c->err, sizeof(c->err), "%.200s: %s is missing", name,
			 missing);
		return -1;
	}
	if (c->core.backoff_max_ms < c->core.backoff_min_ms)
		c->core.backoff_max_ms = c->core.backoff_min_ms;
	if (!c->has_host_key) {
		struct tp_key *hk = NULL;
		if (tp_key_load_public(c->host_key_file, &hk) != 0 ||
		    tp_key_public_raw(hk, c->core.host_pub) != 0) {
			tp_key_free(hk);
			snprintf(
			    c->err, sizeof(c->err),
			    "%.200s: cannot read the host public key %.250s",
			    name, c->host_key_file);
			return -1;
		}
		tp_key_free(hk);
		c->has_host_key = 1;
	}
	/* The pinned key must be a point on the curve, not just 65 bytes. */
	struct tp_key *pk = NULL;
	if (tp_key_from_public_raw(c->core.host_pub, &pk) != 0) {
		snprintf(c->err, sizeof(c->err),
			 "%.200s: the host key is not a valid P-256 public key",
			 name);
		return -1;
	}
	tp_key_free(pk);
	if (!c->state_dir[0]) {
		/* Beside the kiosk key. */
		const char *slash = strrchr(c->key_path, '/');
		if (!slash)
			snprintf(c->state_dir, sizeof(c->state_dir), "queue");
		else
			snprintf(c->state_dir, sizeof(c->state_dir),
				 "%.*s/queue", (int)(slash - c->key_path),
				 c->key_path);
	}
	return 0;
}

int kiosk_conf_parse(struct kiosk_conf *c, const char *text, const char *name)
{
	struct pctx p = {c, name, ""};
	int rc;

	defaults(c);
	rc = ini_parse_string(text, handler, &p);
	if (rc != 0)
		snprintf(c->err, sizeof(c->err), "%.200s:%d: %s", name, rc,
			 p.why[0] ? p.why : "syntax error");
	return finish(c, name);
}

int kiosk_conf_load(struct kiosk_conf *c, const char *path)
{
	struct pctx p = {c, path, ""};
	int rc;

	defaults(c);
	rc = ini_parse(path, handler, &p);
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "%.200s: cannot read: %s",
			 path, strerror(errno));
		return -1;
	}
	if (rc > 0)
		snprintf(c->err, sizeof(c->err), "%.200s:%d: %s", path, rc,
			 p.why[0] ? p.why : "syntax error");
	return finish(c, path);
}
