/*
 * net.c - kiosk connections: accept, buffers with hard caps, the session
 * handshake (tapaid/proto.h), limits, and the group-committed tap batch.
 *
 * Every connection is a struct conn with a fixed read buffer (small before
 * the handshake completes, a few frames after) and a write buffer with a
 * hard cap: a kiosk that does not read its answers is closed, not waited
 * for.  Connections that have not finished the handshake sit in a FIFO;
 * when there are max_halfopen of them the oldest is evicted, so a flood of
 * idle connections cannot lock real kiosks out, and each one times out
 * after handshake_timeout_ms anyway.
 *
 * Taps and offline records are only decoded in the read handler and queued;
 * net_beforesleep() hands the whole queue to engine_decide_batch() once per
 * loop turn (one transaction, one fsync) and only then seals and writes the
 * DECISIONs, so "granted" never leaves before its row is on disk.
 *
 * A frame that does not parse, authenticate or fit the session state is a
 * security event (recorded in the store, not only logged) and the
 * connection is closed; no other connection notices.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tapaid/proto.h"

#include "chain.h"
#include "daemon.h"
#include "engine.h"
#include "store.h"

#define RBUF_CAP	 (4 * TP_FRAME_MAX)
#define WBUF_MAX	 (256 * 1024) /* a kiosk this far behind is dropped */
#define WBUF_DENY_LOW	 (16 * 1024)  /* refill the deny stream under this */
#define ACCEPT_PER_TURN	 256
#define PENDING_PER_CONN 64  /* queued taps; more is a misbehaving peer */
#define SEC_QUEUE_MAX	 256 /* security events stored per loop turn */
/*
 * Handshake frames (each costs an ECDSA sign or verify, about a
 * millisecond or two) handled per loop turn.  When a thousand kiosks
 * reconnect at once, the taps of the kiosks already in session still get
 * their batch every turn instead of waiting behind every handshake.
 */
#define HS_PER_TURN 24

struct kiosk {
	struct kiosk *next; /* hash chain */
	char id[STORE_ID_LEN];
	char point[STORE_ID_LEN];
	struct tp_key *pub; /* owned; lives until shutdown (sessions borrow) */
	int status;	    /* STORE_ACTIVE or STORE_REVOKED */
	int nsessions;
	int seen; /* mark for reload */
};

struct conn {
	struct loop_io io;
	struct daemon *d;
	struct conn *prev, *next;	/* d->conns */
	struct conn *ho_prev, *ho_next; /* d->halfopen FIFO */
	struct conn *dirty_next, *dead_next;
	int dirty, in_halfopen, established, closing;
	uint64_t gen;
	uint64_t accepted_ms, last_rx_ms;
	struct kiosk *kiosk;
	char claimed_id[TP_KIOSK_ID_MAX + 1];
	char peer[64];
	int npending;
	/* deny list stream */
	int deny_active;
	uint32_t deny_version;
	uint16_t deny_next;
	struct tp_session s;
	uint8_t *wbuf;
	size_t wlen, woff, wcap;
	size_t rlen;
	uint8_t rbuf[RBUF_CAP];
};

struct net_sec_event {
	char kind[STORE_CMD_LEN];
	char kiosk[STORE_ID_LEN];
	char detail[STORE_DETAIL_LEN];
};

/* Queued this turn (loop thread), and the copy the store thread stores. */
static struct net_sec_event secq[SEC_QUEUE_MAX + 1];
static struct net_sec_event secq_flight[SEC_QUEUE_MAX + 1];
static int hs_budget = HS_PER_TURN;
static size_t nsecq;
static uint64_t sec_dropped;

static void conn_close(struct conn *c, const char *why);
static void conn_flush(struct conn *c);

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the store lock ------------------------------------------------------ */

int daemon_lock_init(struct daemon *d)
{
	pthread_mutexattr_t a;
	int rc;

	if (pthread_mutexattr_init(&a) != 0)
		return -1;
	rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	if (rc == 0)
		rc = pthread_mutex_init(&d->store_mu, &a);
	pthread_mutexattr_destroy(&a);
	return rc == 0 ? 0 : -1;
}

void daemon_lock(struct daemon *d)
{
	pthread_mutex_lock(&d->store_mu);
}

void daemon_unlock(struct daemon *d)
{
	pthread_mutex_unlock(&d->store_mu);
}

/* ---- security events ---------------------------------------------------- */

void net_security(struct daemon *d, const char *kind, const char *kiosk,
		  const char *fmt, ...)
{
	struct net_sec_event *e;
	va_list ap;
	char detail[STORE_DETAIL_LEN];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_warnx("security: %s kiosk=%s %s", kind,
		  kiosk && *kiosk ? kiosk : "-", detail);
	if (nsecq >= SEC_QUEUE_MAX) {
		sec_dropped++;
		return;
	}
	e = &secq[nsecq++];
	scopy(e->kind, sizeof(e->kind), kind);
	scopy(e->kiosk, sizeof(e->kiosk), kiosk ? kiosk : "");
	memcpy(e->detail, detail, sizeof(e->detail));
}

/* Adds the "more events were not stored" line to the queue, if needed. */
static void security_note_dropped(void)
{
	struct net_sec_event *e;

	if (sec_dropped == 0)
		return;
	e = &secq[nsecq++]; /* secq has room for this one past the cap */
	scopy(e->kind, sizeof(e->kind), STORE_SEC_MALFORMED);
	e->kiosk[0] = '\0';
	snprintf(e->detail, sizeof(e->detail),
		 "%llu more events in one loop turn were not stored one by "
		 "one",
		 (unsigned long long)sec_dropped);
	sec_dropped = 0;
}

/* Stores n security events in one transaction (store thread). */
static void security_store(struct store *s, const struct net_sec_event *q,
			   size_t n, int64_t now)
{
	int rc;

	if (n == 0)
		return;
	rc = s->ops->begin(s);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		struct store_security_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.ts = now;
		memcpy(ev.kind, q[i].kind, sizeof(ev.kind));
		memcpy(ev.kiosk, q[i].kiosk, sizeof(ev.kiosk));
		memcpy(ev.detail, q[i].detail, sizeof(ev.detail));
		rc = s->ops->security_add(s, &ev);
	}
	if (rc == STORE_OK)
		rc = s->ops->commit(s);
	if (rc != STORE_OK) {
		log_warnx("cannot store %zu security events: %s", n,
			  store_errmsg(s));
		s->ops->rollback(s);
	}
}

/* ---- kiosks ------------------------------------------------------------- */

static struct kiosk *kiosk_find(struct daemon *d, const char *id)
{
	struct kiosk *k;

	if (!d->kiosk_tab)
		return NULL;
	for (k = d->kiosk_tab[hash_str(id) % d->kiosk_tab_size]; k; k = k->next)
		if (strcmp(k->id, id) == 0)
			return k;
	return NULL;
}

static int reload_kiosk_cb(void *ctx, const struct store_kiosk *sk)
{
	struct daemon *d = ctx;
	struct kiosk *k = kiosk_find(d, sk->id);

	if (!k) {
		struct tp_key *pub = NULL;
		size_t b;

		if (keys_parse_public_pem(sk->pubkey_pem, &pub) != TP_OK) {
			log_warnx("kiosk %s: stored public key does not parse; "
				  "it cannot connect",
				  sk->id);
			return 0;
		}
		k = calloc(1, sizeof(*k));
		if (!k) {
			tp_key_free(pub);
			return 0;
		}
		scopy(k->id, sizeof(k->id), sk->id);
		k->pub = pub;
		b = hash_str(k->id) % d->kiosk_tab_size;
		k->next = d->kiosk_tab[b];
		d->kiosk_tab[b] = k;
	}
	scopy(k->point, sizeof(k->point), sk->point);
	k->status = sk->status;
	k->seen = 1;
	return 0;
}

static int kiosk_lookup(void *ctx, const char *kiosk_id,
			const struct tp_key **pub)
{
	struct conn *c = ctx;
	struct kiosk *k;

	scopy(c->claimed_id, sizeof(c->claimed_id), kiosk_id);
	k = kiosk_find(c->d, kiosk_id);
	if (!k || k->status != STORE_ACTIVE)
		return TP_ERR_UNKNOWN_PEER;
	*pub = k->pub;
	return TP_OK;
}

/* ---- deny list ---------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/*
 * Deny lists hold the ids a kiosk can compute from the RF UID it reads
 * (tp_kiosk_lookup_id: no secret), while the store finds cards by a salted
 * lookup id the kiosk cannot compute.  So the daemon keeps, in a side
 * table of its own, the kiosk-side id of every card registered or
 * replaced through the admin socket (the only moment the UID is known).
 */
#define KIDS_TABLE "hostd_kiosk_ids"

static int kids_table(sqlite3 *db)
{
	return sqlite3_exec(db,
			    "CREATE TABLE IF NOT EXISTS " KIDS_TABLE
			    "(card_id INTEGER PRIMARY KEY, kid BLOB NOT NULL)",
			    NULL, NULL, NULL) == SQLITE_OK
		   ? 0
		   : -1;
}

static int note_card(struct daemon *d, int64_t card_id, const uint8_t uid[7])
{
	sqlite3 *db = store_sqlite_handle(d->store);
	sqlite3_stmt *st = NULL;
	uint8_t kid[16];
	int rc;

	if (!db || kids_table(db) < 0 || tp_kiosk_lookup_id(uid, kid) != TP_OK)
		return -1;
	rc = sqlite3_prepare_v2(db,
				"INSERT OR REPLACE INTO " KIDS_TABLE
				"(card_id, kid) VALUES(?1, ?2)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, card_id);
		sqlite3_bind_blob(st, 2, kid, 16, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("cannot note the deny-list id of card %lld: %s",
			  (long long)card_id, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int net_note_card(struct daemon *d, int64_t card_id, const uint8_t uid[7])
{
	int rc;

	daemon_lock(d);
	rc = note_card(d, card_id, uid);
	daemon_unlock(d);
	return rc;
}

/*
 * The kiosk-side ids of revoked cards.  store.h has no walk over revoked
 * cards, so this reads the SQLite backend directly (store_sqlite_handle).
 */
static int revoked_ids(struct daemon *d, uint8_t (**ids)[16], size_t *n)
{
	sqlite3 *db = store_sqlite_handle(d->store);
	sqlite3_stmt *st = NULL;
	uint8_t(*a)[16] = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (!db)
		return -1;
	if (kids_table(db) < 0)
		return -1;
	rc =
	    sqlite3_prepare_v2(db,
			       "SELECT k.kid FROM " KIDS_TABLE " k JOIN cards c"
			       " ON c.id = k.card_id WHERE c.status = ?1",
			       -1, &st, NULL);
	if (rc != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, STORE_REVOKED);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != 16)
			continue;
		if (cnt == cap) {
			size_t nc = cap ? 2 * cap : 256;
			void *p = realloc(a, nc * 16);

			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			a = p;
			cap = nc;
		}
		memcpy(a[cnt++], sqlite3_column_blob(st, 0), 16);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(a);
		return -1;
	}
	*ids = a;
	*n = cnt;
	return 0;
}

/*
 * Rebuilds the deny list.  Its version is the first four bytes of the
 * SHA-256 of the sorted ids (never 0), so that the same list always has the
 * same version, across restarts too, and a kiosk holding it gets nothing.
 */
static int deny_reload(struct daemon *d)
{
	struct {
		uint8_t (*ids)[16];
		size_t n;
	} b;
	uint8_t h[32];
	uint32_t v;

	if (revoked_ids(d, &b.ids, &b.n) < 0) {
		log_warnx("cannot load the deny list from the database");
		return -1;
	}
	if (b.n)
		qsort(b.ids, b.n, 16, cmp_id);
	tp_sha256(b.ids ? (const void *)b.ids : (const void *)"", b.n * 16, h);
	v = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
	    (uint32_t)h[3] << 24;
	if (v == 0)
		v = 1;
	free(d->deny.ids);
	d->deny.ids = b.ids;
	d->deny.n = b.n;
	if (v != d->deny.version)
		log_info("deny list: %zu revoked cards, version %08x", b.n,
			 (unsigned)v);
	d->deny.version = v;
	return 0;
}

static void deny_start(struct conn *c)
{
	c->deny_active = 1;
	c->deny_version = c->d->deny.version;
	c->deny_next = 0;
}

/* ---- connections -------------------------------------------------------- */

static void halfopen_remove(struct conn *c)
{
	struct daemon *d = c->d;

	if (!c->in_halfopen)
		return;
	if (c->ho_prev)
		c->ho_prev->ho_next = c->ho_next;
	else
		d->halfopen_head = c->ho_next;
	if (c->ho_next)
		c->ho_next->ho_prev = c->ho_prev;
	else
		d->halfopen_tail = c->ho_prev;
	c->ho_prev = c->ho_next = NULL;
	c->in_halfopen = 0;
	d->nhalfopen--;
}

static void mark_dirty(struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	c->dirty_next = c->d->dirty;
	c->d->dirty = c;
}

/* Appends bytes to the write buffer; 0, or -1 when over the cap. */
static int conn_queue(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->woff > 0 && c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wlen + n > c->wcap) {
		size_t live = c->wlen - c->woff, nc;
		uint8_t *nb;

		if (c->woff > 0) {
			memmove(c->wbuf, c->wbuf + c->woff, live);
			c->wlen = live;
			c->woff = 0;
		}
		if (c->wlen + n > c->wcap) {
			if (c->wlen + n > WBUF_MAX)
				return -1;
			nc = c->wcap ? c->wcap : 2048;
			while (nc < c->wlen + n)
				nc *= 2;
			if (nc > WBUF_MAX)
				nc = WBUF_MAX;
			nb = realloc(c->wbuf, nc);
			if (!nb)
				return -1;
			c->wbuf = nb;
			c->wcap = nc;
		}
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	mark_dirty(c);
	return 0;
}

/* Seals m for the kiosk and queues it; closes a slow kiosk. */
static int conn_send(struct conn *c, const struct tp_msg *m)
{
	uint8_t out[TP_FRAME_MAX];
	size_t n;
	int rc;

	if (!c->established || c->closing)
		return -1;
	rc = tp_session_seal(&c->s, m, out, sizeof(out), &n);
	if (rc != TP_OK) {
		log_warnx("kiosk %s: cannot seal %s: %s", c->claimed_id,
			  tp_msg_type_name(m->type), tp_strerror(rc));
		conn_close(c, "seal failed");
		return -1;
	}
	if (conn_queue(c, out, n) < 0) {
		c->d->st.slow_closed++;
		log_warnx("kiosk %s (%s): does not read its answers, closing",
			  c->claimed_id, c->peer);
		conn_close(c, "slow reader");
		return -1;
	}
	return 0;
}

/* Queues the next deny list chunks while the write buffer is short. */
static void deny_pump(struct conn *c)
{
	struct daemon *d = c->d;
	size_t count;

	while (c->deny_active && !c->closing &&
	       c->wlen - c->woff < WBUF_DENY_LOW) {
		struct tp_msg m;
		size_t first;

		if (c->deny_version != d->deny.version)
			deny_start(c); /* the list changed: start over */
		count = d->deny.n ? (d->deny.n + TP_DENY_CHUNK_MAX - 1) /
					TP_DENY_CHUNK_MAX
				  : 1;
		memset(&m, 0, sizeof(m));
		m.type = TP_MSG_DENYLIST;
		m.u.deny.version = d->deny.version;
		m.u.deny.chunk_index = c->deny_next;
		m.u.deny.chunk_count = (uint16_t)count;
		first = (size_t)c->deny_next * TP_DENY_CHUNK_MAX;
		m.u.deny.n = (uint8_t)(d->deny.n - first < TP_DENY_CHUNK_MAX
					   ? d->deny.n - first
					   : TP_DENY_CHUNK_MAX);
		if (m.u.deny.n)
			memcpy(m.u.deny.ids, d->deny.ids[first],
			       (size_t)m.u.deny.n * 16);
		if (conn_send(c, &m) < 0)
			return;
		if (++c->deny_next >= count)
			c->deny_active = 0;
	}
}

static void conn_free(struct conn *c)
{
	tp_session_clear(&c->s);
	free(c->wbuf);
	free(c);
}

/*
 * Closes c now.  Queued taps of c are still decided (the kiosk will retry
 * with the same request id and get that first answer); their pending
 * entries lose the pointer.
 */
static void conn_close(struct conn *c, const char *why)
{
	struct daemon *d = c->d;

	if (c->io.fd < 0)
		return;
	log_debug("close %s kiosk=%s: %s", c->peer,
		  c->claimed_id[0] ? c->claimed_id : "-", why);
	for (size_t i = 0; i < d->npend; i++)
		if (d->pend[i].conn == c)
			d->pend[i].conn = NULL;
	if (d->batch.busy)
		for (size_t i = 0; i < d->batch.n; i++)
			if (d->batch.pend[i].conn == c)
				d->batch.pend[i].conn = NULL;
	halfopen_remove(c);
	if (c->kiosk && c->established)
		c->kiosk->nsessions--;
	loop_del(d->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nconns--;
	/* Freed at the end of this turn, when no handler can see it. */
	c->dead_next = d->dead;
	d->dead = c;
}

/* Closes after the queued bytes are written. */
static void conn_close_after_flush(struct conn *c)
{
	c->closing = 1;
	c->deny_active = 0;
	mark_dirty(c);
}

static void conn_flush(struct conn *c)
{
	for (;;) {
		while (c->woff < c->wlen) {
			ssize_t n = write(c->io.fd, c->wbuf + c->woff,
					  c->wlen - c->woff);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				conn_close(c, "write error");
				return;
			}
			c->woff += (size_t)n;
		}
		if (c->woff < c->wlen) {
			/* The kernel buffer is full: wait for EPOLLOUT. */
			loop_mod(c->d->loop, &c->io,
				 c->closing ? EPOLLOUT : EPOLLIN | EPOLLOUT);
			return;
		}
		c->woff = c->wlen = 0;
		if (c->deny_active) {
			deny_pump(c); /* more of the deny list, then write on */
			if (c->io.fd >= 0 && c->wlen)
				continue;
			if (c->io.fd < 0)
				return;
		}
		if (c->closing) {
			conn_close(c, "closed after answer");
			return;
		}
		loop_mod(c->d->loop, &c->io, EPOLLIN);
		return;
	}
}

/*
 * Closes the session of a kiosk that was revoked, after telling it so in a
 * sealed ERROR (unknown peer).  A kiosk that only saw the connection drop
 * would take it for a network fault and grant offline, and such a grant
 * could never be logged; told it is refused, it grants nothing more.
 */
static void conn_refuse(struct conn *c)
{
	struct tp_msg m;

	if (c->closing || c->io.fd < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_ERROR;
	m.u.error.code = (uint16_t)-TP_ERR_UNKNOWN_PEER;
	snprintf(m.u.error.text, sizeof(m.u.error.text), "kiosk %s is revoked",
		 c->kiosk ? c->kiosk->id : c->claimed_id);
	if (conn_send(c, &m) < 0)
		return; /* conn_send closed it */
	c->closing = 1;
	conn_flush(c);
}

/* The session just completed its handshake. */
static void conn_established(struct conn *c)
{
	struct daemon *d = c->d;
	struct kiosk *k;

	halfopen_remove(c);
	scopy(c->claimed_id, sizeof(c->claimed_id), tp_session_kiosk_id(&c->s));
	k = kiosk_find(d, c->claimed_id);
	if (!k || k->status != STORE_ACTIVE) {
		/* Revoked between HELLO and AUTH. */
		conn_close(c, "kiosk revoked during handshake");
		return;
	}
	/*
	 * Per-kiosk session limit: a kiosk that reconnects after a network
	 * blip may still have its old half-dead session here; the newest
	 * session wins and the oldest goes.
	 */
	while (k->nsessions >= d->cf.max_sessions_per_kiosk) {
		struct conn *o, *oldest = NULL;

		for (o = d->conns; o; o = o->next)
			if (o != c && o->established && o->kiosk == k &&
			    (!oldest || o->accepted_ms < oldest->accepted_ms))
				oldest = o;
		if (!oldest)
			break;
		log_info("kiosk %s: over %d sessions, closing the oldest",
			 k->id, d->cf.max_sessions_per_kiosk);
		conn_close(oldest, "per-kiosk session limit");
	}
	c->kiosk = k;
	c->established = 1;
	k->nsessions++;
	log_info("kiosk %s connected from %s", k->id, c->peer);
	deny_start(c);
	deny_pump(c);
}

static void classify_failure(struct conn *c, int rc)
{
	struct daemon *d = c->d;
	const char *id = c->claimed_id;
	struct kiosk *k;

	switch (rc) {
	case TP_ERR_UNKNOWN_PEER:
		k = kiosk_find(d, id);
		net_security(d, STORE_SEC_UNKNOWN_KIOSK, id,
			     "%s kiosk tried to connect from %s",
			     k ? "revoked" : "unknown", c->peer);
		break;
	case TP_ERR_SIGNATURE:
		net_security(d, STORE_SEC_BAD_SIGNATURE, id,
			     "handshake signature does not verify (from %s)",
			     c->peer);
		break;
	case TP_ERR_MAC:
		net_security(d, STORE_SEC_BAD_SIGNATURE, id,
			     "sealed frame forged or altered (from %s)",
			     c->peer);
		break;
	case TP_ERR_REPLAY:
		net_security(d, STORE_SEC_REPLAYED, id,
			     "sealed frame replayed or reordered (from %s)",
			     c->peer);
		break;
	default:
		d->st.garbage++;
		net_security(d, STORE_SEC_MALFORMED, id, "%s (from %s, %s)",
			     tp_strerror(rc), c->peer,
			     c->established ? "in session" : "in handshake");
		break;
	}
}

static void queue_pending(struct conn *c, const struct engine_tap *t,
			  int is_record, uint64_t seq, const uint8_t rid[16])
{
	struct daemon *d = c->d;
	struct pending *p;

	if (d->npend == d->pend_cap) {
		size_t nc = d->pend_cap ? 2 * d->pend_cap : 1024;
		void *a = realloc(d->pend, nc * sizeof(*d->pend));
		void *b = a ? realloc(d->btaps, nc * sizeof(*d->btaps)) : NULL;
		void *e = b ? realloc(d->bdec, nc * sizeof(*d->bdec)) : NULL;

		if (a)
			d->pend = a;
		if (b)
			d->btaps = b;
		if (!a || !b || !e) {
			log_warnx("out of memory queuing a tap");
			conn_close(c, "out of memory");
			return;
		}
		d->bdec = e;
		d->pend_cap = nc;
	}
	p = &d->pend[d->npend];
	p->conn = c;
	p->conn_gen = c->gen;
	p->is_record = is_record;
	p->record_seq = seq;
	memcpy(p->request_id, rid, 16);
	d->btaps[d->npend] = *t;
	/* The card cryptography that needs no database, here rather than
	 * on the store thread. */
	engine_tap_prepare(&d->keys, &d->btaps[d->npend]);
	d->npend++;
	c->npending++;
}

static void handle_tap(struct conn *c, const struct tp_tap_request *tr)
{
	struct engine_tap t;

	memset(&t, 0, sizeof(t));
	scopy(t.kiosk, sizeof(t.kiosk), c->kiosk->id);
	memcpy(t.request_id, tr->request_id, sizeof(t.request_id));
	scopy(t.benefit, sizeof(t.benefit), tr->benefit);
	scopy(t.sun, sizeof(t.sun), tr->sun);
	t.kiosk_time = (int64_t)(tr->kiosk_time_ms / 1000);
	c->d->st.taps++;
	queue_pending(c, &t, 0, 0, tr->request_id);
}

static void send_record_ack(struct conn *c, uint64_t seq, int status,
			    int reason)
{
	struct tp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_RECORD_ACK;
	m.u.record_ack.record_seq = seq;
	m.u.record_ack.status = (uint8_t)status;
	m.u.record_ack.reason = (uint8_t)reason;
	conn_send(c, &m);
}

/*
 * An offline record: its kiosk signature is checked here (ECDSA, about a
 * millisecond), then it joins the batch like a tap; the engine applies the
 * records of one kiosk in order and flags those now denied as conflicts.
 */
static void handle_record(struct conn *c, const struct tp_record_msg *rm)
{
	struct daemon *d = c->d;
	struct tp_record rec;
	struct engine_tap t;
	int rc;

	d->st.records++;
	rc = tp_record_decode_verify(rm->bytes, rm->len, c->kiosk->pub, &rec);
	if (rc != TP_OK) {
		struct tp_record un;
		uint64_t seq = 0;

		if (tp_record_decode(rm->bytes, rm->len, &un) == TP_OK)
			seq = un.seq;
		net_security(d,
			     rc == TP_ERR_SIGNATURE ? STORE_SEC_BAD_SIGNATURE
						    : STORE_SEC_MALFORMED,
			     c->kiosk->id, "offline record %llu: %s",
			     (unsigned long long)seq, tp_strerror(rc));
		send_record_ack(c, seq, TP_RECORD_REJECTED,
				rc == TP_ERR_SIGNATURE
				    ? TP_REASON_BAD_SIGNATURE
				    : TP_REASON_NOT_A_SERVICE_CARD);
		return;
	}
	if (strcmp(rec.kiosk_id, c->kiosk->id) != 0) {
		net_security(d, STORE_SEC_BAD_SIGNATURE, c->kiosk->id,
			     "offline record %llu names kiosk %s",
			     (unsigned long long)rec.seq, rec.kiosk_id);
		send_record_ack(c, rec.seq, TP_RECORD_REJECTED,
				TP_REASON_BAD_SIGNATURE);
		return;
	}
	memset(&t, 0, sizeof(t));
	scopy(t.kiosk, sizeof(t.kiosk), c->kiosk->id);
	memcpy(t.request_id, rec.request_id, sizeof(t.request_id));
	scopy(t.benefit, sizeof(t.benefit), rec.benefit);
	scopy(t.sun, sizeof(t.sun), rec.sun);
	t.kiosk_time = (int64_t)(rec.kiosk_time_ms / 1000);
	t.offline = 1;
	t.has_sig = 1;
	t.offline_seq = (int64_t)rec.seq;
	memcpy(t.kiosk_sig, rec.sig, sizeof(t.kiosk_sig));
	queue_pending(c, &t, 1, rec.seq, rec.request_id);
}

static void handle_msg(struct conn *c, const struct tp_msg *m)
{
	struct daemon *d = c->d;
	struct tp_msg a;

	switch (m->type) {
	case TP_MSG_TAP_REQUEST:
		if (c->npending >= PENDING_PER_CONN) {
			net_security(d, STORE_SEC_MALFORMED, c->kiosk->id,
				     "more than %d taps in flight",
				     PENDING_PER_CONN);
			conn_close(c, "too many taps in flight");
			return;
		}
		handle_tap(c, &m->u.tap);
		break;
	case TP_MSG_RECORD:
		if (c->npending >= PENDING_PER_CONN) {
			/* Do not read further until the batch is done. */
			net_security(d, STORE_SEC_MALFORMED, c->kiosk->id,
				     "more than %d records in flight",
				     PENDING_PER_CONN);
			conn_close(c, "too many records in flight");
			return;
		}
		handle_record(c, &m->u.record);
		break;
	case TP_MSG_STATUS:
		memset(&a, 0, sizeof(a));
		a.type = TP_MSG_STATUS_ACK;
		a.u.status_ack.host_time_ms = wall_ms();
		a.u.status_ack.denylist_version = d->deny.version;
		if (conn_send(c, &a) < 0)
			return;
		if (m->u.status.denylist_version != d->deny.version &&
		    !c->deny_active) {
			deny_start(c);
			deny_pump(c);
		}
		break;
	case TP_MSG_BYE:
		conn_close_after_flush(c);
		break;
	case TP_MSG_ERROR:
		log_warnx("kiosk %s reports error %u: %s", c->kiosk->id,
			  m->u.error.code, m->u.error.text);
		break;
	default:
		/* tp_session_recv only passes types a kiosk may send. */
		break;
	}
}

/* Feeds every whole frame in rbuf to the session. */
static void conn_process(struct conn *c)
{
	size_t off = 0;

	while (c->io.fd >= 0 && !c->closing && off < c->rlen) {
		uint8_t reply[TP_FRAME_MAX];
		size_t fl, rl = 0;
		struct tp_msg msg;
		int rc, was = c->established;

		rc = tp_frame_split(c->rbuf + off, c->rlen - off, &fl);
		if (rc == TP_ERR_NEED_MORE)
			break;
		if (rc != TP_OK) {
			classify_failure(c, rc);
			conn_close(c, "bad frame");
			return;
		}
		if (!was)
			hs_budget--;
		rc = tp_session_recv(&c->s, c->rbuf + off, fl, &msg, reply,
				     sizeof(reply), &rl);
		off += fl;
		if (rl > 0 && conn_queue(c, reply, rl) < 0) {
			conn_close(c, "write buffer full");
			return;
		}
		if (rc != TP_OK) {
			classify_failure(c, rc);
			c->d->st.hs_failed += !was;
			/* Send the refusal (if any), then close. */
			conn_close_after_flush(c);
			break;
		}
		if (!was && tp_session_established(&c->s)) {
			conn_established(c);
			if (c->io.fd < 0)
				return;
		}
		if (msg.type != TP_MSG_NONE && c->established)
			handle_msg(c, &msg);
	}
	if (c->io.fd < 0)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static int batch_cycle(struct daemon *d, int wait);

static void conn_io(struct loop_io *io, uint32_t events)
{
	struct conn *c = io->arg;

	/* A turn can hold hundreds of events: the store thread, once done,
	 * gets its next batch between two of them rather than at the end. */
	if (atomic_load_explicit(&c->d->batch.ready, memory_order_acquire)) {
		batch_cycle(c->d, 0);
		if (c->io.fd < 0)
			return;
	}

	if (events & EPOLLOUT) {
		conn_flush(c);
		if (c->io.fd < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		size_t cap = c->established ? RBUF_CAP : TP_FRAME_PREAUTH_MAX;
		ssize_t n;

		if (c->closing) {
			/* Only the refusal is still to go out: drop input. */
			uint8_t junk[512];

			n = read(c->io.fd, junk, sizeof(junk));
			if (n == 0 ||
			    (n < 0 && errno != EAGAIN && errno != EINTR))
				conn_close(c, "peer closed");
			return;
		}
		if (!c->established && hs_budget <= 0)
			/*
			 * Over this turn's handshake budget: leave the bytes
			 * in the socket; the event is level-triggered and
			 * comes back next turn.  (A kiosk sends one handshake
			 * frame and waits, so nothing whole is left in rbuf.)
			 */
			return;
		if (c->rlen >= cap) {
			/* A full buffer without one whole frame. */
			classify_failure(c, TP_ERR_TOO_BIG);
			conn_close(c, "oversized frame");
			return;
		}
		n = read(c->io.fd, c->rbuf + c->rlen, cap - c->rlen);
		if (n == 0) {
			conn_close(c, "peer closed");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c, "read error");
			return;
		}
		c->rlen += (size_t)n;
		c->last_rx_ms = now_ms();
		conn_process(c);
	}
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	}
	snprintf(out, len, "%s:%d", host, port);
}

static void accept_io(struct loop_io *io, uint32_t events)
{
	struct daemon *d = io->arg;

	for (int i = 0; i < ACCEPT_PER_TURN; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct conn *c;
		int fd, one = 1;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(io->fd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Use the reserve to shed one connection. */
				if (d->spare_fd >= 0) {
					close(d->spare_fd);
					fd = accept(io->fd, NULL, NULL);
					if (fd >= 0)
						close(fd);
					d->spare_fd = open(
					    "/dev/null", O_RDONLY | O_CLOEXEC);
				}
				log_warnx("out of file descriptors; shedding "
					  "connections");
			}
			return;
		}
		if (d->terminating || d->nconns >= d->cf.max_sessions) {
			d->st.refused_full++;
			close(fd);
			continue;
		}
		if (d->nhalfopen >= d->cf.max_halfopen && d->halfopen_head) {
			d->st.evicted_halfopen++;
			conn_close(d->halfopen_head, "half-open limit");
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->d = d;
		c->gen = ++d->next_gen;
		c->io.fd = fd;
		c->io.fn = conn_io;
		c->io.arg = c;
		c->accepted_ms = c->last_rx_ms = now_ms();
		peer_name(&ss, c->peer, sizeof(c->peer));
		tp_session_init_host(&c->s, d->host_key, kiosk_lookup, c);
		if (loop_add(d->loop, &c->io, EPOLLIN) < 0) {
			log_warn("epoll add");
			close(fd);
			conn_free(c);
			continue;
		}
		c->next = d->conns;
		if (d->conns)
			d->conns->prev = c;
		d->conns = c;
		d->nconns++;
		c->in_halfopen = 1;
		c->ho_prev = d->halfopen_tail;
		if (d->halfopen_tail)
			d->halfopen_tail->ho_next = c;
		else
			d->halfopen_head = c;
		d->halfopen_tail = c;
		d->nhalfopen++;
		d->st.accepted++;
	}
}

int net_listen(struct daemon *d, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(d->cf.listen_host, d->cf.listen_port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen address %s: %s",
			 d->cf.listen_host, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 4096) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s",
			 d->cf.listen_host, d->cf.listen_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	d->listen_io.fd = fd;
	d->listen_io.fn = accept_io;
	d->listen_io.arg = d;
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (loop_add(d->loop, &d->listen_io, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int reload(struct daemon *d)
{
	struct conn *c, *n;
	uint32_t old_version = d->deny.version;
	int rc;

	if (!d->kiosk_tab) {
		d->kiosk_tab_size = 4096;
		d->kiosk_tab = calloc(d->kiosk_tab_size, sizeof(*d->kiosk_tab));
		if (!d->kiosk_tab)
			return -1;
	}
	for (size_t b = 0; b < d->kiosk_tab_size; b++)
		for (struct kiosk *k = d->kiosk_tab[b]; k; k = k->next)
			k->seen = 0;
	rc = d->store->ops->kiosk_list(d->store, reload_kiosk_cb, d);
	if (rc < 0) {
		log_warnx("cannot load kiosks: %s", store_errmsg(d->store));
		return -1;
	}
	/* A kiosk gone from the store counts as revoked. */
	for (size_t b = 0; b < d->kiosk_tab_size; b++)
		for (struct kiosk *k = d->kiosk_tab[b]; k; k = k->next)
			if (!k->seen)
				k->status = STORE_REVOKED;
	for (c = d->conns; c; c = n) {
		n = c->next;
		if (c->established && c->kiosk->status != STORE_ACTIVE) {
			log_info("kiosk %s is revoked: closing its session",
				 c->kiosk->id);
			conn_refuse(c);
		}
	}
	if (deny_reload(d) < 0)
		return -1;
	if (d->deny.version != old_version)
		for (c = d->conns; c; c = c->next)
			if (c->established && !c->closing) {
				deny_start(c);
				deny_pump(c);
			}
	return 0;
}

int net_reload(struct daemon *d)
{
	int rc;

	daemon_lock(d);
	rc = reload(d);
	daemon_unlock(d);
	return rc;
}

void net_close_kiosk(struct daemon *d, const char *id)
{
	struct kiosk *k = kiosk_find(d, id);
	struct conn *c, *n;

	if (k)
		k->status = STORE_REVOKED;
	for (c = d->conns; c; c = n) {
		n = c->next;
		if (c->established && c->kiosk == k)
			conn_refuse(c);
	}
}

/* ---- the batch ---------------------------------------------------------- */

static void answer(struct pending *p, const struct engine_tap *t,
		   const struct engine_decision *e)
{
	struct conn *c = p->conn;
	struct tp_msg m;

	if (!c || c->gen != p->conn_gen || c->io.fd < 0)
		return; /* gone: the kiosk retries and gets this answer */
	c->npending--;
	if (c->closing)
		return;
	memset(&m, 0, sizeof(m));
	if (p->is_record) {
		int status;

		if (e->reason == TP_REASON_HOST_UNAVAILABLE &&
		    e->redemption_id == 0 && !e->duplicate) {
			/* Not stored: the kiosk keeps it and sends it again. */
			m.type = TP_MSG_ERROR;
			m.u.error.code = 0;
			snprintf(m.u.error.text, sizeof(m.u.error.text),
				 "record %llu not stored: host unavailable, "
				 "send it again later",
				 (unsigned long long)p->record_seq);
			conn_send(c, &m);
			return;
		}
		if (e->duplicate)
			status = TP_RECORD_DUPLICATE;
		else if (e->result == STORE_CONFLICT)
			status = TP_RECORD_CONFLICT;
		else
			status = TP_RECORD_APPLIED;
		send_record_ack(c, p->record_seq, status, e->reason);
		return;
	}
	m.type = TP_MSG_DECISION;
	memcpy(m.u.decision.request_id, p->request_id, 16);
	m.u.decision.reason = e->reason;
	m.u.decision.result =
	    e->result == STORE_GRANTED && e->reason == TP_REASON_GRANTED
		? TP_RESULT_GRANTED
		: TP_RESULT_DENIED;
	if (m.u.decision.result == TP_RESULT_DENIED &&
	    e->reason == TP_REASON_GRANTED)
		m.u.decision.reason = TP_REASON_HOST_UNAVAILABLE;
	scopy(m.u.decision.benefit, sizeof(m.u.decision.benefit), e->benefit);
	if (m.u.decision.benefit[0] == '\0')
		/* The engine names no benefit when it never got that far. */
		scopy(m.u.decision.benefit, sizeof(m.u.decision.benefit),
		      t->benefit);
	m.u.decision.left = e->left < 0		  ? -1
			    : e->left > INT32_MAX ? INT32_MAX
						  : (int32_t)e->left;
	scopy(m.u.decision.name, sizeof(m.u.decision.name), e->masked);
	m.u.decision.host_time_ms = wall_ms();
	conn_send(c, &m);
}

/*
 * Decides and commits one batch, then stores the security events: the
 * store thread's whole job (or the loop thread's, without one).
 */
static void batch_run(struct daemon *d, struct batcher *b)
{
	uint64_t t0 = now_ms();

	daemon_lock(d);
	walckpt_catch_up(d->store);
	b->rc = 0;
	if (b->n > 0)
		b->rc = engine_decide_batch(d->engine, b->taps, b->n, b->dec,
					    wall_s());
	security_store(d->store, b->sec, b->nsec, wall_s());
	daemon_unlock(d);
	b->ms = now_ms() - t0;
}

static void *batch_thread(void *arg)
{
	struct daemon *d = arg;
	struct batcher *b = &d->batch;

	thread_role("tapaidd-store", 0);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		uint64_t one = 1;

		while (!(b->busy && !b->done) && !b->stop)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->stop)
			break;
		pthread_mutex_unlock(&b->mu);
		batch_run(d, b);
		pthread_mutex_lock(&b->mu);
		b->done = 1;
		atomic_store_explicit(&b->ready, 1, memory_order_release);
		pthread_cond_broadcast(&b->cv);
		if (write(b->io.fd, &one, sizeof(one)) < 0)
			(void)0; /* the counter is only a wake-up */
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* The bell: beforesleep, which runs after this turn, does the work. */
static void batch_io(struct loop_io *io, uint32_t events)
{
	uint64_t n;

	if (read(io->fd, &n, sizeof(n)) < 0)
		(void)0;
}

int net_batcher_start(struct daemon *d)
{
	struct batcher *b = &d->batch;

	if (b->started)
		return 0;
	b->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->io.fd < 0)
		return -1;
	b->io.fn = batch_io;
	b->io.arg = d;
	if (pthread_mutex_init(&b->mu, NULL) != 0 ||
	    pthread_cond_init(&b->cv, NULL) != 0 ||
	    loop_add(d->loop, &b->io, EPOLLIN) < 0 ||
	    pthread_create(&b->thr, NULL, batch_thread, d) != 0) {
		close(b->io.fd);
		b->io.fd = -1;
		return -1;
	}
	b->started = 1;
	return 0;
}

static void batch_stop(struct daemon *d)
{
	struct batcher *b = &d->batch;

	if (!b->started)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thr, NULL);
	loop_del(d->loop, &b->io);
	close(b->io.fd);
	b->io.fd = -1;
	b->started = 0;
}

/*
 * Takes the batch in flight if it is done (its answers stay in b->pend,
 * b->taps, b->dec, b->n of them, for the caller to send); 1 if the
 * batcher is free.
 */
static int batch_collect(struct daemon *d, int wait)
{
	struct batcher *b = &d->batch;
	int done;

	if (!b->busy)
		return 1;
	/* busy and done go back to 0 under b->mu, which guards them: a store
	 * thread woken spuriously must never see busy without done and decide
	 * this batch again.  Without the thread, b->mu was never made. */
	if (b->started)
		pthread_mutex_lock(&b->mu);
	while (b->started && wait && !b->done)
		pthread_cond_wait(&b->cv, &b->mu);
	done = b->done;
	if (done)
		b->done = b->busy = 0;
	if (b->started)
		pthread_mutex_unlock(&b->mu);
	if (!done)
		return 0;
	d->st.batches++;
	if (b->ms >= 250)
		log_warnx("slow batch: %zu taps took %llu ms", b->n,
			  (unsigned long long)b->ms);
	if (b->rc < 0)
		log_warnx("batch of %zu taps not committed (%s): answered "
			  "host_unavailable",
			  b->n, store_errmsg(d->store));
	b->nsec = 0;
	atomic_store_explicit(&b->ready, 0, memory_order_relaxed);
	return 1;
}

/*
 * Hands the taps and security events queued so far to the store thread:
 * the daemon's queue and the batcher's arrays trade places, so nothing is
 * copied and the loop fills the other set meanwhile.
 */
static void batch_submit(struct daemon *d)
{
	struct batcher *b = &d->batch;
	struct pending *p;
	struct engine_tap *t;
	struct engine_decision *e;
	size_t cap;

	if (b->busy || (d->npend == 0 && nsecq == 0 && sec_dropped == 0))
		return;
	security_note_dropped();
	p = b->pend, t = b->taps, e = b->dec, cap = b->cap;
	b->pend = d->pend, b->taps = d->btaps, b->dec = d->bdec;
	b->cap = d->pend_cap, b->n = d->npend;
	d->pend = p, d->btaps = t, d->bdec = e, d->pend_cap = cap;
	d->npend = 0;
	memcpy(secq_flight, secq, nsecq * sizeof(secq[0]));
	b->sec = secq_flight;
	b->nsec = nsecq;
	nsecq = 0;
	if (!b->started) {
		b->busy = 1;
		batch_run(d, b);
		b->done = 1;
		return;
	}
	/* The batch is published by the mutex: the store thread reads what
	 * was written above only after it saw busy set under it. */
	pthread_mutex_lock(&b->mu);
	b->busy = 1;
	b->done = 0;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/*
 * When the batch in flight is done: hands the store thread the taps queued
 * since, and only then seals and queues the answers of the finished batch,
 * so that the store thread does not wait for them.  The finished batch's
 * arrays become the loop's queue in batch_submit(), which is empty until
 * this returns.  0 while a batch is still in flight.
 */
static int batch_cycle(struct daemon *d, int wait)
{
	struct batcher *b = &d->batch;
	struct pending *p;
	struct engine_tap *t;
	struct engine_decision *e;
	size_t n;

	if (!batch_collect(d, wait))
		return 0;
	p = b->pend, t = b->taps, e = b->dec, n = b->n;
	b->n = 0;
	batch_submit(d);
	for (size_t i = 0; i < n; i++) {
		answer(&p[i], &t[i], &e[i]);
		engine_tap_wipe(&t[i]);
	}
	if (!b->started && b->busy)
		batch_cycle(d, 0); /* decided inline just now: answer it */
	return 1;
}

/* Decides and answers everything queued (shutdown). */
static void batch_drain(struct daemon *d)
{
	while (d->batch.busy || d->npend > 0 || nsecq > 0 || sec_dropped)
		batch_cycle(d, 1);
}

void net_beforesleep(void *arg)
{
	struct daemon *d = arg;
	struct conn *c;

	batch_cycle(d, 0);
	hs_budget = HS_PER_TURN;
	/* Write everything queued this turn. */
	while ((c = d->dirty) != NULL) {
		d->dirty = c->dirty_next;
		c->dirty = 0;
		c->dirty_next = NULL;
		if (c->io.fd >= 0)
			conn_flush(c);
	}
	/* No batch names these any more: conn_close cleared the pointers. */
	while ((c = d->dead) != NULL) {
		d->dead = c->dead_next;
		conn_free(c);
	}
	control_reap(d);
}

/* ---- timers ------------------------------------------------------------- */

static void checkpoint(struct daemon *d, int force)
{
	struct store_checkpoint cp;
	int rc;

	rc = chain_checkpoint(d->store, wall_s(), chain_sign_with_key,
			      d->host_key, force, &cp);
	d->last_checkpoint_ms = now_ms();
	if (rc < 0)
		log_warnx("checkpoint failed: %s", store_errmsg(d->store));
	else if (rc == 0) {
		/* A trail outside the database (syslog may go to another
		 * host): tapaidctl log verify --checkpoint takes this
		 * ID:DIGEST and fails if the log was cut back past it. */
		char hex[2 * STORE_HASH_LEN + 1];

		tp_hex_encode(cp.digest, STORE_HASH_LEN, hex, 0);
		log_info("checkpoint %lld:%s signed (redemptions to %lld, "
			 "staff actions to %lld)",
			 (long long)cp.id, hex, (long long)cp.r_head_id,
			 (long long)cp.s_head_id);
	}
}

void net_checkpoint(struct daemon *d, int force)
{
	daemon_lock(d);
	checkpoint(d, force);
	daemon_unlock(d);
}

void net_tick(void *arg)
{
	struct daemon *d = arg;
	uint64_t now = now_ms();
	uint64_t hs = (uint64_t)d->cf.handshake_timeout_ms;
	uint64_t idle = (uint64_t)d->cf.idle_timeout_s * 1000;
	struct conn *c, *n;

	while ((c = d->halfopen_head) && now - c->accepted_ms >= hs) {
		d->st.hs_timeout++;
		conn_close(c, "handshake timeout");
	}
	for (c = d->conns; c; c = n) {
		n = c->next;
		if (c->established && now - c->last_rx_ms >= idle)
			conn_close(c, "idle timeout");
	}
	if (now - d->last_checkpoint_ms >=
	    (uint64_t)d->cf.checkpoint_interval_s * 1000)
		net_checkpoint(d, 0);
}

/*
 * Shutdown: stop accepting, decide and answer every queued tap (the
 * store thread finishes its batch, then the rest is decided), say BYE to
 * every session, and give the kiosks up to a second to receive it all.
 */
void net_shutdown(struct daemon *d)
{
	struct conn *c, *n;
	uint64_t until = now_ms() + 1000;

	if (d->listen_io.fd > 0) {
		loop_del(d->loop, &d->listen_io);
		close(d->listen_io.fd);
		d->listen_io.fd = -1;
	}
	/* Every queued tap is decided and answered before the BYE. */
	batch_drain(d);
	batch_stop(d);
	for (c = d->conns; c; c = n) {
		n = c->next;
		if (c->established && !c->closing) {
			struct tp_msg m = {.type = TP_MSG_BYE};

			if (conn_send(c, &m) == 0)
				conn_close_after_flush(c);
		} else {
			conn_close(c, "shutdown");
		}
	}
	net_beforesleep(d);
	while (d->conns && now_ms() < until) {
		for (c = d->conns; c; c = n) {
			n = c->next;
			conn_flush(c);
		}
		if (d->conns)
			usleep(10000);
	}
	for (c = d->conns; c; c = n) {
		n = c->next;
		conn_close(c, "shutdown");
	}
	net_beforesleep(d); /* frees the closed connections */
	if (d->spare_fd >= 0)
		close(d->spare_fd);
}
