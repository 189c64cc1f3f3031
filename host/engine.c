/*
 * engine.c - the decision for a tap, in one transaction per batch.
 *
 * engine_decide_batch() opens one write transaction, decides each tap in
 * its own savepoint in the order of engine.h (kiosk, SUN, counter, card,
 * member, benefit, point, time window, quota), writes the redemption row
 * (hash-chained by the store) and the security events, and commits once:
 * the answers are final only when that commit, with synchronous=FULL, has
 * returned.
 *
 * Benefits and kiosks are cached and dropped when the store's generation
 * changes (every kiosk or benefit change bumps it).  A kiosk's last_seen is
 * written once per kiosk and second, not once per tap.  Period boundaries
 * are cached per time zone and day.
 * Not thread-safe: one engine per loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"
#include "tapaid/proto.h"

#include "engine.h"

/* How far from an offline record's tap time the log is searched for the
 * same request id tried online (clock offset and decision timeout). */
#define ENGINE_OFFLINE_DEDUP_S (15 * 60)

#define BENEFIT_CACHE 32
#define TZ_CACHE      16

struct tz_entry {
	char tz[STORE_TZ_LEN];
	struct engine_localtime lt;
	int valid;
	uint64_t used;
};

/* A kiosk as the decision needs it (the store row minus its key). */
struct kiosk_entry {
	char id[STORE_ID_LEN];
	char point[STORE_ID_LEN];
	char tz[STORE_TZ_LEN];
	int status;
	int64_t touched; /* last_seen written in touch_epoch */
	uint64_t touch_epoch;
};

struct engine {
	struct store *s;
	struct engine_keys keys;
	char default_tz[STORE_TZ_LEN];
	uint64_t gen;
	int nbenefits;
	struct store_benefit benefits[BENEFIT_CACHE];
	int benefit_next;
	struct tz_entry tzc[TZ_CACHE];
	uint64_t tz_clock;
	struct kiosk_entry *kc; /* open addressing, kc_cap a power of 2 */
	size_t kc_cap, kc_n;
	uint64_t touch_epoch; /* bumped when a batch is rolled back */
};

/* ---- keys --------------------------------------------------------------- */

static int read_key_file(const char *dir, const char *name, uint8_t out[16])
{
	char path[4096], buf[80];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return TP_ERR_ARG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return TP_ERR_KEYFILE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return TP_ERR_KEYFILE;
	}
	if (st.st_mode & 077) {
		close(fd);
		return TP_ERR_KEYPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		tp_wipe(buf, sizeof(buf));
		return TP_ERR_IO;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' '))
		len--;
	rc = len == 32 ? tp_hex_decode(buf, 32, out, 16) : TP_ERR_KEYFILE;
	tp_wipe(buf, sizeof(buf));
	return rc ? TP_ERR_KEYFILE : 0;
}

int engine_load_keys(const char *data_dir, struct engine_keys *keys)
{
	int rc;

	if ((rc = read_key_file(data_dir, ENGINE_MASTER_KEY_FILE,
				keys->master)) ||
	    (rc = read_key_file(data_dir, ENGINE_META_KEY_FILE, keys->meta)) ||
	    (rc = read_key_file(data_dir, ENGINE_SALT_FILE, keys->salt)))
		tp_wipe(keys, sizeof(*keys));
	return rc;
}

int engine_new(struct store *s, const struct engine_keys *keys,
	       const char *default_tz, struct engine **out)
{
	struct engine *e;

	*out = NULL;
	if (!s || !keys)
		return TP_ERR_ARG;
	e = calloc(1, sizeof(*e));
	if (!e)
		return TP_ERR_NOMEM;
	e->s = s;
	e->keys = *keys;
	snprintf(e->default_tz, sizeof(e->default_tz), "%s",
		 default_tz && *default_tz ? default_tz : "UTC");
	e->gen = s->ops->generation(s);
	*out = e;
	return 0;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	tp_wipe(&e->keys, sizeof(e->keys));
	free(e->kc);
	free(e);
}

/* ---- card data ----------------------------------------------------------- */

/* The SUN's CMAC under the card key of version kv: TP_OK if it verifies. */
static int sun_mac(const uint8_t master[16], const struct tp_sun_msg *msg,
		   const uint8_t uid[7], uint32_t ctr, int kv)
{
	uint8_t fkey[16];
	int rc;

	rc = tp_card_key(master, uid, TP_KEY_SDM_FILE, (uint8_t)kv, fkey);
	if (rc == TP_OK)
		rc = tp_sun_check_mac(fkey, uid, ctr, msg->mac_in,
				      msg->mac_in_len, msg->mac);
	tp_wipe(fkey, sizeof(fkey));
	return rc;
}

static void card_data(const struct engine_keys *keys,
		      const struct engine_tap *t, struct engine_card_data *cd)
{
	struct tp_sun_msg msg;

	memset(cd, 0, sizeof(*cd));
	cd->prepared = 1;
	if (tp_sun_parse(t->sun, strnlen(t->sun, sizeof(t->sun)), &msg) != 0 ||
	    msg.kind != TP_SUN_ENC ||
	    tp_sun_decrypt_picc(keys->meta, msg.picc_enc, cd->uid, &cd->ctr) !=
		0) {
		tp_wipe(cd->uid, sizeof(cd->uid));
		cd->ctr = 0;
		return;
	}
	cd->picc_ok = 1;
	if (tp_card_lookup_id(keys->salt, cd->uid, cd->lookup) != 0)
		cd->lookup_err = 1;
	/* Most cards are at this version: the decision then only looks at
	 * the card's version, and the store thread does no AES for it. */
	cd->mac_checked = 1;
	cd->mac_ok = sun_mac(keys->master, &msg, cd->uid, cd->ctr,
			     ENGINE_CARD_KEY_VERSION) == TP_OK;
	tp_wipe(&msg, sizeof(msg));
}

void engine_tap_prepare(const struct engine_keys *keys, struct engine_tap *t)
{
	card_data(keys, t, &t->card);
}

void engine_tap_wipe(struct engine_tap *t)
{
	tp_wipe(&t->card, sizeof(t->card));
}

/* ---- local time ---------------------------------------------------------- */

/* A zone name we can hand to TZ: an existing file under zoneinfo. */
static int tz_known(const char *tz)
{
	char path[256];

	if (!tz[0] || strstr(tz, "..") || tz[0] == '/' || tz[0] == ':')
		return 0;
	if (strcmp(tz, "UTC") == 0)
		return 1;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return access(path, R_OK) == 0;
}

static int64_t mk(struct tm tm)
{
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* The UTC offset at t in the zone TZ names now. */
static int64_t gmtoff_at(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	return tm.tm_gmtoff;
}

/* Minutes after local midnight at t, as the wall clock shows them. */
static int wall_minute(const struct engine_localtime *lt, int64_t t)
{
	int64_t s = (t + (t < lt->shift_at ? lt->off0 : lt->off1)) % 86400;

	return (int)((s < 0 ? s + 86400 : s) / 60);
}

/*
 * Computes the boundaries with TZ set to tz, then puts TZ back.  One thread
 * at a time uses an engine (tapaidd: under its store lock, which every
 * caller of mktime and localtime in the daemon also holds), so switching
 * TZ here is safe; the cache makes it happen about once per zone and day.
 * tapaidd sets TZ before it starts a thread, so that the switch only
 * replaces the value (see main).  A syslog line written by another thread
 * in that moment may carry the service point's local time.
 */
static void compute_lt(const char *tz, int64_t t, struct engine_localtime *lt)
{
	char *old = getenv("TZ");
	char saved[256];
	int had = old != NULL;
	time_t tt = (time_t)t;
	struct tm tm, b;

	if (had)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&tt, &tm);
	b = tm;
	b.tm_hour = b.tm_min = b.tm_sec = 0;
	lt->day_start = mk(b);
	b.tm_mday++;
	lt->day_end = mk(b);
	b = tm;
	b.tm_hour = b.tm_min = b.tm_sec = 0;
	b.tm_mday = 1;
	lt->month_start = mk(b);
	b.tm_mon++;
	lt->month_end = mk(b);
	b = tm;
	b.tm_hour = b.tm_min = b.tm_sec = 0;
	b.tm_mday = 1;
	b.tm_mon = 0;
	lt->year_start = mk(b);
	b.tm_year++;
	lt->year_end = mk(b);
	lt->yyyymmdd =
	    (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	/* A DST change within the day: the first second of the new offset,
	 * by bisection (offsets only change at whole seconds). */
	lt->off0 = gmtoff_at(lt->day_start);
	lt->off1 = gmtoff_at(lt->day_end - 1);
	lt->shift_at = lt->day_end;
	if (lt->off0 != lt->off1) {
		int64_t lo = lt->day_start, hi = lt->day_end - 1;

		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;

			if (gmtoff_at(mid) == lt->off0)
				lo = mid;
			else
				hi = mid;
		}
		lt->shift_at = hi;
	}
	if (had)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
}

int engine_localtime(struct engine *e, const char *tz, int64_t t,
		     struct engine_localtime *lt)
{
	struct tz_entry *victim = NULL;
	int rc = 0;

	if (!tz || !*tz)
		tz = "UTC";
	for (int i = 0; i < TZ_CACHE; i++) {
		struct tz_entry *c = &e->tzc[i];

		if (c->valid && strcmp(c->tz, tz) == 0 &&
		    t >= c->lt.day_start && t < c->lt.day_end) {
			*lt = c->lt;
			lt->minute = wall_minute(lt, t);
			c->used = ++e->tz_clock;
			return c->valid == 2 ? TP_ERR_VALUE : 0;
		}
		if (!victim || !c->valid ||
		    (victim->valid && c->used < victim->used))
			victim = c;
	}
	if (strlen(tz) >= STORE_TZ_LEN || !tz_known(tz)) {
		rc = TP_ERR_VALUE;
		compute_lt("UTC", t, lt);
	} else {
		compute_lt(tz, t, lt);
	}
	snprintf(victim->tz, sizeof(victim->tz), "%s", tz);
	victim->lt = *lt;
	victim->valid = rc ? 2 : 1;
	victim->used = ++e->tz_clock;
	lt->minute = wall_minute(lt, t);
	return rc;
}

/* ---- benefits ------------------------------------------------------------ */

/* 1 if value is one of the comma-separated items of list; "" = all. */
static int list_has(const char *list, const char *value)
{
	size_t vlen = strlen(value);
	const char *p = list;

	while (*p == ' ')
		p++;
	if (!*p)
		return 1;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len;

		if (!end)
			end = p + strlen(p);
		while (*p == ' ' && p < end)
			p++;
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == vlen && memcmp(p, value, len) == 0)
			return 1;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* Drops both caches when kiosks or benefits changed in the store. */
static void check_gen(struct engine *e)
{
	uint64_t gen = e->s->ops->generation(e->s);

	if (gen != e->gen) {
		e->gen = gen;
		e->nbenefits = 0;
		e->benefit_next = 0;
		e->kc_n = 0;
		if (e->kc)
			memset(e->kc, 0, e->kc_cap * sizeof(*e->kc));
	}
}

static size_t kc_slot(const struct engine *e, const char *id)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)h & (e->kc_cap - 1);
}

/* The slot holding id, or the free slot where it would go. */
static size_t kc_probe(const struct engine *e, const char *id)
{
	size_t i = kc_slot(e, id);

	while (e->kc[i].id[0] && strcmp(e->kc[i].id, id) != 0)
		i = (i + 1) & (e->kc_cap - 1);
	return i;
}

static struct kiosk_entry *kc_find(struct engine *e, const char *id)
{
	size_t i;

	if (!e->kc)
		return NULL;
	i = kc_probe(e, id);
	return e->kc[i].id[0] ? &e->kc[i] : NULL;
}

/* Room for one more entry (at most half full); 0 or -1 (no memory). */
static int kc_grow(struct engine *e)
{
	struct kiosk_entry *old = e->kc, *nw;
	size_t ocap = e->kc_cap, cap = ocap ? 2 * ocap : 256;

	if ((e->kc_n + 1) * 2 <= ocap)
		return 0;
	nw = calloc(cap, sizeof(*nw));
	if (!nw)
		return -1;
	e->kc = nw;
	e->kc_cap = cap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].id[0])
			nw[kc_probe(e, old[i].id)] = old[i];
	free(old);
	return 0;
}

/*
 * The kiosk, from the cache or the store.  NULL + *err (STORE_ENOTFOUND
 * when not enrolled).  Without memory for the cache, *tmp holds it.
 */
static const struct kiosk_entry *kiosk(struct engine *e, const char *id,
				       struct kiosk_entry *tmp, int *err)
{
	struct store_kiosk k;
	struct kiosk_entry *x;

	check_gen(e);
	if ((x = kc_find(e, id)) != NULL)
		return x;
	*err = e->s->ops->kiosk_get(e->s, id, &k);
	if (*err)
		return NULL;
	if (kc_grow(e) == 0) {
		x = &e->kc[kc_probe(e, k.id)];
		e->kc_n++;
	} else {
		x = tmp;
	}
	memset(x, 0, sizeof(*x));
	memcpy(x->id, k.id, sizeof(x->id));
	memcpy(x->point, k.point, sizeof(x->point));
	memcpy(x->tz, k.tz, sizeof(x->tz));
	x->status = k.status;
	return x;
}

/* The benefit, from the cache or the store.  NULL + *err when absent. */
static const struct store_benefit *benefit(struct engine *e, const char *code,
					   int *err)
{
	struct store *s = e->s;
	struct store_benefit *slot;

	check_gen(e);
	for (int i = 0; i < e->nbenefits; i++)
		if (strcmp(e->benefits[i].code, code) == 0)
			return &e->benefits[i];
	if (e->nbenefits < BENEFIT_CACHE)
		slot = &e->benefits[e->nbenefits];
	else
		slot = &e->benefits[e->benefit_next++ % BENEFIT_CACHE];
	*err = s->ops->benefit_get(s, code, slot);
	if (*err)
		return NULL;
	if (e->nbenefits < BENEFIT_CACHE)
		e->nbenefits++;
	return slot;
}

static void period_of(const struct engine_localtime *lt, int per,
		      int64_t *since, int64_t *until, const char **name)
{
	switch (per) {
	case STORE_DAY:
		*since = lt->day_start;
		*until = lt->day_end;
		*name = "day";
		break;
	case STORE_MONTH:
		*since = lt->month_start;
		*until = lt->month_end;
		*name = "month";
		break;
	case STORE_YEAR:
		*since = lt->year_start;
		*until = lt->year_end;
		*name = "year";
		break;
	default:
		*since = 0; /* the usage key of the one lifetime period */
		*until = INT64_MAX;
		*name = "lifetime";
	}
}

static int in_hours(const struct store_benefit *b, int minute)
{
	if (b->hours_from < 0)
		return 1;
	if (b->hours_from <= b->hours_to)
		return minute >= b->hours_from && minute < b->hours_to;
	return minute >= b->hours_from || minute < b->hours_to; /* overnight */
}

/* ---- one tap ------------------------------------------------------------- */

/* A storage failure ends the whole batch; anything else only the tap. */
static int fatal_err(int err)
{
	return err == STORE_EFULL || err == STORE_EIO || err == STORE_ENOMEM ||
	       err == STORE_EBUSY || err == STORE_ESCHEMA;
}

static void answer_from_row(const struct store_redemption *r,
			    struct engine_decision *d)
{
	d->result = r->result;
	d->reason = r->reason;
	d->duplicate = 1;
	snprintf(d->masked, sizeof(d->masked), "%s", r->masked);
	snprintf(d->benefit, sizeof(d->benefit), "%s", r->benefit);
	d->left = r->left;
	d->redemption_id = r->id;
}

static int security(struct engine *e, int64_t ts, const char *kind,
		    const char *kiosk, int64_t card_id, const char *detail)
{
	struct store_security_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts = ts;
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.kiosk, sizeof(ev.kiosk), "%s", kiosk);
	ev.card_id = card_id;
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	return e->s->ops->security_add(e->s, &ev);
}

/*
 * Decides one tap inside the open savepoint.  Fills d and returns 0, or a
 * store error (then the caller undoes the savepoint).
 */
static int decide(struct engine *e, const struct engine_tap *t,
		  struct engine_decision *d, int64_t now)
{
	struct store *s = e->s;
	struct store_redemption r;
	struct kiosk_entry k, ktmp;
	const struct kiosk_entry *kx;
	struct store_card c;
	struct store_member m;
	const struct store_benefit *b = NULL;
	struct engine_localtime lt;
	struct tp_sun_msg msg;
	struct engine_card_data cd;
	uint8_t uid[7], lookup[16];
	uint32_t ctr = 0;
	int64_t ts, since, until, used = 0, used_amount = 0;
	const char *pname;
	char detail[STORE_DETAIL_LEN];
	int reason = TP_REASON_GRANTED, err, have_kiosk = 0, rc, lookup_err;
	int mac_checked, mac_ok;

	/* 0: a retry gets the first answer. */
	if (t->offline && t->offline_seq > 0) {
		err =
		    s->ops->redemption_by_seq(s, t->kiosk, t->offline_seq, &r);
		if (err == 0) {
			answer_from_row(&r, d);
			return 0;
		}
		if (err != STORE_ENOTFOUND)
			return err;
	}
	err = s->ops->redemption_by_request(s, t->kiosk, t->request_id, &r);
	if (err == STORE_ENOTFOUND && t->offline) {
		/*
		 * The kiosk reuses the request id of a tap it first tried
		 * online; the in-memory index may have forgotten it by the
		 * time the record arrives, so look in the log around the tap.
		 */
		err = s->ops->redemption_by_request_near(
		    s, t->kiosk, t->request_id,
		    t->kiosk_time - ENGINE_OFFLINE_DEDUP_S,
		    t->kiosk_time + ENGINE_OFFLINE_DEDUP_S, &r);
	}
	if (err == 0) {
		answer_from_row(&r, d);
		return 0;
	}
	if (err != STORE_ENOTFOUND)
		return err;

	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	/*
	 * An offline record is judged at the time it was tapped, but never
	 * later than now: a kiosk whose clock runs ahead must not file grants
	 * in the future (nor spend a future day's quota).
	 */
	ts = t->offline && t->kiosk_time < now ? t->kiosk_time : now;
	r.ts = ts;
	r.kiosk_time = t->kiosk_time;
	snprintf(r.kiosk, sizeof(r.kiosk), "%s", t->kiosk);
	memcpy(r.request_id, t->request_id, STORE_REQID_LEN);
	snprintf(r.benefit, sizeof(r.benefit), "%s", t->benefit);
	snprintf(r.sun, sizeof(r.sun), "%s", t->sun);
	r.offline = t->offline ? 1 : 0;
	r.offline_seq = t->offline ? t->offline_seq : 0;
	r.has_sig = t->has_sig ? 1 : 0;
	if (t->has_sig)
		memcpy(r.kiosk_sig, t->kiosk_sig, STORE_SIG_LEN);
	r.left = -1;

	/* 1: kiosk enrolled and active. */
	kx = kiosk(e, t->kiosk, &ktmp, &err);
	if (!kx && err != STORE_ENOTFOUND)
		return err;
	if (kx) {
		/* Copied: a later lookup may move the cache entry. */
		memcpy(&k, kx, sizeof(k));
		err = 0;
	}
	if (err || k.status != STORE_ACTIVE) {
		reason = TP_REASON_KIOSK_NOT_ENROLLED;
		if ((err =
			 security(e, now, STORE_SEC_UNKNOWN_KIOSK, t->kiosk, 0,
				  err ? "tap from a kiosk not enrolled"
				      : "tap from a revoked kiosk")))
			return err;
		goto store;
	}
	have_kiosk = 1;
	snprintf(r.point, sizeof(r.point), "%s", k.point);

	/* 2: a SUN message that decrypts under the system meta key (worked
	 * out by engine_tap_prepare() on the loop thread, as a rule). */
	if (t->card.prepared)
		cd = t->card;
	else
		card_data(&e->keys, t, &cd);
	if (!cd.picc_ok) {
		reason = TP_REASON_NOT_A_SERVICE_CARD;
		tp_wipe(&cd, sizeof(cd));
		goto store;
	}
	memcpy(uid, cd.uid, sizeof(uid));
	ctr = cd.ctr;
	memcpy(lookup, cd.lookup, sizeof(lookup));
	lookup_err = cd.lookup_err;
	mac_checked = cd.mac_checked;
	mac_ok = cd.mac_ok;
	tp_wipe(&cd, sizeof(cd));
	r.ctr = ctr;

	/* 3: a card we issued. */
	if (lookup_err)
		return STORE_EIO;
	err = s->ops->card_find(s, lookup, &c, &m);
	if (err && err != STORE_ENOTFOUND)
		return err;
	if (err) {
		reason = TP_REASON_UNKNOWN_CARD;
		if ((err = security(e, now, STORE_SEC_UNKNOWN_CARD, t->kiosk, 0,
				    "card not registered")))
			return err;
		goto store;
	}
	r.card_id = c.id;

	/* 4: genuine: the CMAC under the card's own key, checked already
	 * with the card data for the usual key version. */
	if (mac_checked && c.key_version == ENGINE_CARD_KEY_VERSION)
		rc = mac_ok ? TP_OK : TP_ERR_MAC;
	else if ((rc = tp_sun_parse(t->sun, strnlen(t->sun, sizeof(t->sun)),
				    &msg)) == TP_OK) {
		rc = sun_mac(e->keys.master, &msg, uid, ctr, c.key_version);
		tp_wipe(&msg, sizeof(msg));
	}
	tp_wipe(uid, sizeof(uid));
	if (rc != 0) {
		reason = TP_REASON_BAD_SIGNATURE;
		if ((err = security(e, now, STORE_SEC_BAD_SIGNATURE, t->kiosk,
				    c.id, "SUN CMAC does not verify")))
			return err;
		goto store;
	}

	/* 5: a fresh counter, stored in this same transaction. */
	if (ctr <= c.last_ctr) {
		reason = TP_REASON_REPLAYED_TAP;
		snprintf(detail, sizeof(detail), "counter %u, last seen %u%s",
			 ctr, c.last_ctr,
			 t->offline ? " (offline record)" : "");
		if ((err = security(e, now, STORE_SEC_REPLAYED, t->kiosk, c.id,
				    detail)))
			return err;
		goto member;
	}
	if ((err = s->ops->card_set_ctr(s, c.id, ctr)))
		return err;
	r.ctr_set = 1;

	/* 6: card active. */
	if (c.status != STORE_ACTIVE) {
		reason = TP_REASON_REVOKED_CARD;
		snprintf(detail, sizeof(detail), "revoked card (%s)", c.reason);
		if ((err = security(e, now, STORE_SEC_REVOKED_CARD, t->kiosk,
				    c.id, detail)))
			return err;
		goto member;
	}

	/* 7: member active. */
	if (m.id == 0) {
		reason = TP_REASON_UNKNOWN_CARD;
		goto store;
	}
	if (m.status != STORE_ACTIVE) {
		reason = TP_REASON_MEMBER_SUSPENDED;
		goto member;
	}

	/* 8: benefit for this member's category and union. */
	b = benefit(e, t->benefit, &err);
	if (!b) {
		if (err != STORE_ENOTFOUND)
			return err;
		reason = TP_REASON_NOT_ELIGIBLE;
		goto member;
	}
	if (!list_has(b->categories, m.category) ||
	    !list_has(b->unions, m.union_)) {
		reason = TP_REASON_NOT_ELIGIBLE;
		goto member;
	}

	/* 9: at a service point it may be redeemed. */
	if (!list_has(b->points, k.point)) {
		reason = TP_REASON_WRONG_SERVICE_POINT;
		goto member;
	}

	/* 10: validity dates and hours, in the point's local time. */
	engine_localtime(e, k.tz[0] ? k.tz : e->default_tz, ts, &lt);
	if ((b->valid_from && lt.yyyymmdd < b->valid_from) ||
	    (b->valid_until && lt.yyyymmdd > b->valid_until) ||
	    !in_hours(b, lt.minute)) {
		reason = TP_REASON_OUTSIDE_HOURS;
		goto member;
	}

	/* 11: quota or balance for the period. */
	period_of(&lt, b->per, &since, &until, &pname);
	err = s->ops->usage(s, m.id, b->code, since, &used, &used_amount);
	if (err)
		return err;
	r.period_start = since;
	(void)until;
	if (b->kind == STORE_QUOTA) {
		if (used >= b->quota) {
			reason = TP_REASON_QUOTA_USED_UP;
			r.left = 0;
		} else {
			r.left = b->quota - used - 1;
		}
	} else {
		int64_t left = b->balance - used_amount;

		if (left < b->amount) {
			reason = TP_REASON_QUOTA_USED_UP;
			r.left = left < 0 ? 0 : left;
		} else {
			r.left = left - b->amount;
			r.amount = b->amount;
		}
	}

member:
	r.member_id = m.id;
	if (m.id)
		mask_name(m.name, r.masked, TP_NAME_MAX + 1); /* fits a frame */
store:
	if (t->offline && t->offline_reason != TP_REASON_GRANTED) {
		/* The kiosk denied it offline: a record of that denial. */
		r.result = STORE_DENIED;
		if (reason == TP_REASON_GRANTED) {
			reason = t->offline_reason;
			r.left = -1;
		}
	} else if (reason == TP_REASON_GRANTED) {
		r.result = STORE_GRANTED;
	} else if (t->offline) {
		r.result = STORE_CONFLICT; /* granted offline, denied now */
	} else {
		r.result = STORE_DENIED;
	}
	r.reason = (uint8_t)reason;
	if (r.result != STORE_GRANTED)
		r.amount = 0;
	if (r.result == STORE_CONFLICT && reason == TP_REASON_QUOTA_USED_UP)
		r.left = 0;
	err = s->ops->redemption_append(s, &r);
	if (err)
		return err;
	if (have_kiosk) {
		/* last_seen has a second's resolution: once per second will
		 * do, unless a batch that wrote it was rolled back since. */
		struct kiosk_entry *x = kc_find(e, t->kiosk);

		if (t->offline || !x || x->touch_epoch != e->touch_epoch ||
		    x->touched != now) {
			err = s->ops->kiosk_touch(
			    s, t->kiosk, now, t->offline ? t->offline_seq : -1);
			if (err)
				return err;
			if (x) {
				x->touched = now;
				x->touch_epoch = e->touch_epoch;
			}
		}
	}
	d->result = r.result;
	d->reason = r.reason;
	d->duplicate = 0;
	snprintf(d->masked, sizeof(d->masked), "%s", r.masked);
	d->left = r.left;
	d->redemption_id = r.id;
	return 0;
}

static void unavailable(const struct engine_tap *t, struct engine_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->result = STORE_DENIED;
	d->reason = TP_REASON_HOST_UNAVAILABLE;
	d->left = -1;
	snprintf(d->benefit, sizeof(d->benefit), "%s", t->benefit);
}

int engine_decide_batch(struct engine *e, const struct engine_tap *taps,
			size_t n, struct engine_decision *out, int64_t now)
{
	struct store *s = e->s;
	int err;

	for (size_t i = 0; i < n; i++)
		unavailable(&taps[i], &out[i]);
	if (n == 0)
		return 0;
	err = s->ops->begin(s);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		err = s->ops->savepoint(s);
		if (err)
			goto abort;
		err = decide(e, &taps[i], &out[i], now);
		if (err) {
			int err2;

			unavailable(&taps[i], &out[i]);
			if (fatal_err(err))
				goto abort;
			err2 = s->ops->rollback_to(s);
			if (err2) {
				err = err2;
				goto abort;
			}
			continue;
		}
		err = s->ops->release(s);
		if (err)
			goto abort;
	}
	err = s->ops->commit(s);
	if (err)
		goto failed;
	return 0;
abort:
	s->ops->rollback(s);
failed:
	e->touch_epoch++; /* the last_seen written in this batch is gone */
	for (size_t i = 0; i < n; i++)
		unavailable(&taps[i], &out[i]);
	return err;
}

/* ---- member usage -------------------------------------------------------- */

struct usage_walk {
	struct engine *e;
	struct store_member m;
	int64_t now;
	engine_usage_fn fn;
	void *ctx;
	int err;
};

static int usage_one(void *ctx, const struct store_benefit *b)
{
	struct usage_walk *w = ctx;
	struct engine_localtime lt;
	struct engine_usage u;
	int64_t since, until, count, amount;

	if (!list_has(b->categories, w->m.category) ||
	    !list_has(b->unions, w->m.union_))
		return 0;
	engine_localtime(w->e, w->e->default_tz, w->now, &lt);
	memset(&u, 0, sizeof(u));
	period_of(&lt, b->per, &since, &until, &u.period);
	(void)until;
	w->err = w->e->s->ops->usage(w->e->s, w->m.id, b->code, since, &count,
				     &amount);
	if (w->err)
		return 1;
	snprintf(u.benefit, sizeof(u.benefit), "%s", b->code);
	u.period_start = since;
	if (b->kind == STORE_QUOTA) {
		u.used = count;
		u.left = b->quota > count ? b->quota - count : 0;
	} else {
		u.used = amount;
		u.left = b->balance > amount ? b->balance - amount : 0;
	}
	return w->fn(w->ctx, &u);
}

int engine_member_usage(struct engine *e, int64_t member_id, int64_t now,
			engine_usage_fn fn, void *ctx)
{
	struct usage_walk w = {.e = e, .now = now, .fn = fn, .ctx = ctx};
	int err;

	err = e->s->ops->member_get_id(e->s, member_id, &w.m);
	if (err)
		return err;
	err = e->s->ops->benefit_list(e->s, usage_one, &w);
	return w.err ? w.err : err;
}
