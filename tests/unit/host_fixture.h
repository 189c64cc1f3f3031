/*
 * host_fixture.h - a temporary SQLite store with keys, a kiosk, benefits,
 * members and cards, and real SUN messages made with the card side of
 * tapaid/ntag.h, for the host core's unit tests.
 */
#ifndef TAPAID_HOST_FIXTURE_H
#define TAPAID_HOST_FIXTURE_H

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "test_util.h"
#include "tapaid/ntag.h"
#include "tapaid/proto.h"

#include "../../host/chain.h"
#include "../../host/engine.h"
#include "../../host/store.h"

#define FX_PEM "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"

struct fx {
	char dir[128];
	char path[160];
	struct store *s;
	struct engine *e;
	struct engine_keys keys;
	uint64_t reqctr;
};

static inline void fx_sql(struct fx *f, const char *q)
{
	char *msg = NULL;
	int rc = sqlite3_exec(store_sqlite_handle(f->s), q, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fail_msg("%s: %s", q, msg ? msg : "?");
}

static inline int64_t fx_int(struct fx *f, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(
	    sqlite3_prepare_v2(store_sqlite_handle(f->s), q, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A card's last counter as the store sees it (memory is ahead of the
 * cards table until the next flush). */
static inline int64_t fx_ctr(struct fx *f, int64_t card_id)
{
	struct store_card c;

	assert_int_equal(STORE_CALL(f->s, card_get, card_id, &c), 0);
	return c.last_ctr;
}

static inline void fx_open(struct fx *f)
{
	int rc;

	rc = store_sqlite_open(f->path, &f->s);
	if (rc)
		fail_msg("open: %s", store_sqlite_open_error());
	assert_int_equal(engine_new(f->s, &f->keys, "Asia/Shanghai", &f->e), 0);
}

static inline void fx_close(struct fx *f)
{
	engine_free(f->e);
	store_close(f->s);
	f->e = NULL;
	f->s = NULL;
}

/*
 * A crash image of f: its database and WAL as they are on disk now (no
 * flush, no clean close) copied to f->dir/crash and opened there as g,
 * whose tap requests count from reqctr.
 */
static inline void fx_crash_copy(struct fx *f, struct fx *g, int reqctr)
{
	char cmd[800];

	memset(g, 0, sizeof(*g));
	g->keys = f->keys;
	g->reqctr = reqctr;
	snprintf(g->dir, sizeof(g->dir), "%.100s/crash", f->dir);
	snprintf(g->path, sizeof(g->path), "%.140s/tapaid.db", g->dir);
	snprintf(cmd, sizeof(cmd), "mkdir '%s' && cp '%s' '%s-wal' '%s/'",
		 g->dir, f->path, f->path, g->dir);
	assert_int_equal(system(cmd), 0);
	fx_open(g);
}

/* A fresh store with kiosks K1 (point P1, Shanghai), K2 (P2, Shanghai),
 * KU (P1, UTC), member 1001 王小明 (union U1, category worker). */
static inline struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_kiosk k;
	struct store_member m;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tphost-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/tapaid.db", f->dir);
	for (int i = 0; i < 16; i++) {
		f->keys.master[i] = (uint8_t)(0x10 + i);
		f->keys.meta[i] = (uint8_t)(0x20 + i);
		f->keys.salt[i] = (uint8_t)(0x30 + i);
	}
	fx_open(f);
	const struct {
		const char *id, *point, *tz;
	} ks[] = {{"K1", "P1", "Asia/Shanghai"},
		  {"K2", "P2", "Asia/Shanghai"},
		  {"KU", "P1", "UTC"}};
	for (size_t i = 0; i < 3; i++) {
		memset(&k, 0, sizeof(k));
		snprintf(k.id, sizeof(k.id), "%s", ks[i].id);
		snprintf(k.point, sizeof(k.point), "%s", ks[i].point);
		snprintf(k.tz, sizeof(k.tz), "%s", ks[i].tz);
		snprintf(k.pubkey_pem, sizeof(k.pubkey_pem), FX_PEM);
		assert_int_equal(STORE_CALL(f->s, kiosk_add, &k), 0);
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.no, sizeof(m.no), "1001");
	snprintf(m.name, sizeof(m.name), "王小明");
	snprintf(m.union_, sizeof(m.union_), "U1");
	snprintf(m.category, sizeof(m.category), "worker");
	assert_int_equal(STORE_CALL(f->s, member_add, &m), 0);
	return f;
}

static inline void fx_free(struct fx *f)
{
	char cmd[160];

	fx_close(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

static inline void fx_member(struct fx *f, const char *no, const char *name,
			     const char *un, const char *cat)
{
	struct store_member m;

	memset(&m, 0, sizeof(m));
	snprintf(m.no, sizeof(m.no), "%s", no);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.union_, sizeof(m.union_), "%s", un);
	snprintf(m.category, sizeof(m.category), "%s", cat);
	assert_int_equal(STORE_CALL(f->s, member_add, &m), 0);
}

/* A quota benefit, open to all. */
static inline void fx_quota(struct fx *f, const char *code, int64_t quota,
			    int per)
{
	struct store_benefit b;

	memset(&b, 0, sizeof(b));
	snprintf(b.code, sizeof(b.code), "%s", code);
	snprintf(b.name, sizeof(b.name), "benefit %s", code);
	b.kind = STORE_QUOTA;
	b.quota = quota;
	b.per = per;
	b.hours_from = b.hours_to = -1;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), 0);
}

static inline void fx_uid(int n, uint8_t uid[7])
{
	uid[0] = 0x04;
	uid[1] = 0xA0;
	uid[2] = (uint8_t)(n >> 16);
	uid[3] = (uint8_t)(n >> 8);
	uid[4] = (uint8_t)n;
	uid[5] = 0x5E;
	uid[6] = 0x80;
}

/* Registers card number n (UID from fx_uid) for member_no; card id. */
static inline int64_t fx_card(struct fx *f, int n, const char *member_no,
			      uint32_t ctr)
{
	uint8_t uid[7], lookup[16];
	int64_t id = 0;

	fx_uid(n, uid);
	assert_int_equal(tp_card_lookup_id(f->keys.salt, uid, lookup), 0);
	assert_int_equal(STORE_CALL(f->s, card_register, lookup, member_no, 1,
				    ctr, 1700000000, &id),
			 0);
	return id;
}

/*
 * The SUN URL card n would produce at counter ctr (key version kv), as
 * the card writes it: encrypted PICCData and the CMAC over an empty input.
 */
static inline void fx_sun(struct fx *f, int n, uint32_t ctr, int kv, char *out,
			  size_t cap)
{
	uint8_t uid[7], pt[16], ct[16], fk[16], mac[8];
	char hp[33], hm[17];

	fx_uid(n, uid);
	memset(pt, 0, sizeof(pt));
	pt[0] = 0xC7;
	memcpy(pt + 1, uid, 7);
	pt[8] = (uint8_t)ctr;
	pt[9] = (uint8_t)(ctr >> 8);
	pt[10] = (uint8_t)(ctr >> 16);
	pt[11] = 0x5A; /* "random" padding */
	assert_int_equal(tp_aes_ecb(f->keys.meta, 1, pt, ct), 0);
	assert_int_equal(
	    tp_card_key(f->keys.master, uid, TP_KEY_SDM_FILE, (uint8_t)kv, fk),
	    0);
	assert_int_equal(tp_sun_mac(fk, uid, ctr, "", 0, mac), 0);
	tp_hex_encode(ct, 16, hp, 1);
	tp_hex_encode(mac, 8, hm, 1);
	hp[32] = hm[16] = '\0';
	snprintf(out, cap, "https://card.example/t?p=%s&c=%s", hp, hm);
}

/* A tap of card n at counter ctr on kiosk for benefit. */
static inline struct engine_tap fx_tap(struct fx *f, const char *kiosk, int n,
				       uint32_t ctr, const char *benefit)
{
	struct engine_tap t;

	memset(&t, 0, sizeof(t));
	snprintf(t.kiosk, sizeof(t.kiosk), "%s", kiosk);
	f->reqctr++;
	memcpy(t.request_id, &f->reqctr, sizeof(f->reqctr));
	snprintf(t.benefit, sizeof(t.benefit), "%s", benefit);
	fx_sun(f, n, ctr, 1, t.sun, sizeof(t.sun));
	return t;
}

/* Decides one tap at time now; returns the decision. */
static inline struct engine_decision
fx_one(struct fx *f, const struct engine_tap *t, int64_t now)
{
	struct engine_decision d;

	assert_int_equal(engine_decide_batch(f->e, t, 1, &d, now), 0);
	return d;
}

#endif
