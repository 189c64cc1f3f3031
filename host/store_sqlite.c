/*
 * store_sqlite.c - the embedded storage backend: one SQLite file.
 *
 * WAL mode with synchronous=FULL: a COMMIT returns only once the WAL is
 * fsync'd, so the engine may say "granted" right after it.  (Only the
 * write-back chunks of counters and usage commit with NORMAL; see
 * flush_chunk: no answer depends on them.)  The schema is
 * versioned with PRAGMA user_version; migrations[] holds one script per
 * version and each runs in its own transaction.  Hot statements are
 * prepared once (SQLITE_PREPARE_PERSISTENT) and reused; every value is a
 * bound parameter.  Statements are reset right after use so that no read
 * transaction stays open between calls.
 *
 * The chain heads are read at the start of every write transaction (the
 * write lock is held from BEGIN IMMEDIATE), kept in memory while it runs,
 * and put back on a savepoint rollback.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chain.h"
#include "store.h"

/* ---- schema ---------------------------------------------------------- */

static const char *const migrations[] = {
    /* version 1 */
    "CREATE TABLE members("
    " id INTEGER PRIMARY KEY,"
    " no TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " union_name TEXT NOT NULL,"
    " category TEXT NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE cards("
    " id INTEGER PRIMARY KEY,"
    " lookup BLOB NOT NULL UNIQUE,"
    " member_id INTEGER NOT NULL,"
    " key_version INTEGER NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT '',"
    " last_ctr INTEGER NOT NULL,"
    " issued INTEGER NOT NULL,"
    " replaced_by INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX cards_member ON cards(member_id);"
    "CREATE TABLE kiosks("
    " id TEXT PRIMARY KEY,"
    " point TEXT NOT NULL,"
    " tz TEXT NOT NULL,"
    " pubkey TEXT NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER NOT NULL DEFAULT 0,"
    " offline_seq INTEGER NOT NULL DEFAULT 0,"
    " added INTEGER NOT NULL);"
    "CREATE TABLE benefits("
    " code TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " kind INTEGER NOT NULL,"
    " per INTEGER NOT NULL,"
    " quota INTEGER NOT NULL,"
    " balance INTEGER NOT NULL,"
    " amount INTEGER NOT NULL,"
    " categories TEXT NOT NULL,"
    " unions TEXT NOT NULL,"
    " points TEXT NOT NULL,"
    " offline INTEGER NOT NULL,"
    " valid_from INTEGER NOT NULL,"
    " valid_until INTEGER NOT NULL,"
    " hours_from INTEGER NOT NULL,"
    " hours_to INTEGER NOT NULL);"
    /* The redemption log: hash-chained, append-only. */
    "CREATE TABLE redemptions("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " kiosk TEXT NOT NULL,"
    " point TEXT NOT NULL,"
    " request_id BLOB NOT NULL,"
    " card_id INTEGER NOT NULL,"
    " member_id INTEGER NOT NULL,"
    " benefit TEXT NOT NULL,"
    " result INTEGER NOT NULL,"
    " reason INTEGER NOT NULL,"
    " left_ INTEGER NOT NULL,"
    " amount INTEGER NOT NULL,"
    " offline INTEGER NOT NULL,"
    " offline_seq INTEGER NOT NULL,"
    " kiosk_time INTEGER NOT NULL,"
    " ctr INTEGER NOT NULL,"
    " masked TEXT NOT NULL,"
    " sun TEXT NOT NULL,"
    " kiosk_sig BLOB,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL,"
    " period_start INTEGER NOT NULL,"
    " ctr_set INTEGER NOT NULL);"
    /* Only indexes that grow at their end (or only for offline rows):
     * an index on a random key (request id, member) would cost a random
     * page write per tap; see the write-behind note at the top. */
    "CREATE UNIQUE INDEX red_seq ON redemptions(kiosk, offline_seq)"
    " WHERE offline_seq > 0;"
    "CREATE INDEX red_ts ON redemptions(ts);"
    /* Usage per period, written back from memory (flush); keyed by the
     * period first so that the current periods stay together. */
    "CREATE TABLE usage("
    " period_start INTEGER NOT NULL,"
    " member_id INTEGER NOT NULL,"
    " benefit TEXT NOT NULL,"
    " count INTEGER NOT NULL,"
    " amount INTEGER NOT NULL,"
    " PRIMARY KEY(period_start, member_id, benefit)) WITHOUT ROWID;"
    /* snap_r, snap_s: the last redemption and staff action whose effect
     * on counters and usage is in the tables. */
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('snap_r', 0), ('snap_s', 0);"
    "CREATE TABLE staff_actions("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " role TEXT NOT NULL,"
    " cmd TEXT NOT NULL,"
    " args TEXT NOT NULL,"
    " ref_id INTEGER NOT NULL,"
    " ok INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE INDEX staff_ref ON staff_actions(ref_id);"
    "CREATE TABLE security_events("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " kiosk TEXT NOT NULL,"
    " card_id INTEGER NOT NULL,"
    " detail TEXT NOT NULL);"
    "CREATE INDEX sec_ts ON security_events(ts);"
    "CREATE TABLE checkpoints("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " r_head_id INTEGER NOT NULL,"
    " r_head_hash BLOB NOT NULL,"
    " s_head_id INTEGER NOT NULL,"
    " s_head_hash BLOB NOT NULL,"
    " prev_digest BLOB NOT NULL,"
    " digest BLOB NOT NULL,"
    " sig BLOB NOT NULL);"
    /* Appending is the only change the chained tables allow. */
    "CREATE TRIGGER red_no_update BEFORE UPDATE ON redemptions"
    " BEGIN SELECT RAISE(ABORT, 'redemptions are append-only'); END;"
    "CREATE TRIGGER red_no_delete BEFORE DELETE ON redemptions"
    " BEGIN SELECT RAISE(ABORT, 'redemptions are append-only'); END;"
    "CREATE TRIGGER staff_no_update BEFORE UPDATE ON staff_actions"
    " BEGIN SELECT RAISE(ABORT, 'staff actions are append-only'); END;"
    "CREATE TRIGGER staff_no_delete BEFORE DELETE ON staff_actions"
    " BEGIN SELECT RAISE(ABORT, 'staff actions are append-only'); END;",
    /* version 2: a usage row says up to which redemption and staff action
     * it counts, so that rows can be written back a few at a time (see
     * flush_chunk) and a replay never counts a row's past twice. */
    "ALTER TABLE usage ADD COLUMN upto_r INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage ADD COLUMN upto_s INTEGER NOT NULL DEFAULT 0;"
    /* version 1 wrote every row and the snapshot at once */
    "UPDATE usage SET upto_r = (SELECT v FROM meta WHERE k = 'snap_r'),"
    " upto_s = (SELECT v FROM meta WHERE k = 'snap_s');",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(NMIGRATIONS == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

/* ---- prepared statements --------------------------------------------- */

#define RED_COLS                                                               \
	"id, ts, kiosk, point, request_id, card_id, member_id, benefit,"       \
	" result, reason, left_, amount, offline, offline_seq, kiosk_time,"    \
	" ctr, masked, sun, kiosk_sig, prev_hash, hash, period_start, ctr_set"
#define RED_NCOLS 23
#define RED_COLS_R                                                             \
	"r.id, r.ts, r.kiosk, r.point, r.request_id, r.card_id, r.member_id,"  \
	" r.benefit, r.result, r.reason, r.left_, r.amount, r.offline,"        \
	" r.offline_seq, r.kiosk_time, r.ctr, r.masked, r.sun, r.kiosk_sig,"   \
	" r.prev_hash, r.hash, r.period_start, r.ctr_set"
#define KIOSK_COLS                                                             \
	"id, point, tz, pubkey, status, last_seen, offline_seq, added"
#define BENEFIT_COLS                                                           \
	"code, name, kind, per, quota, balance, amount, categories, unions,"   \
	" points, offline, valid_from, valid_until, hours_from, hours_to"
#define CARD_COLS                                                              \
	"c.id, c.lookup, c.member_id, coalesce(m.no, ''), c.key_version,"      \
	" c.status, c.reason, c.last_ctr, c.issued, c.replaced_by"
#define MEMBER_COLS "id, no, name, union_name, category, status"
#define VOIDED_CMD  "redemption.voided"

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_R_HEAD,
	ST_S_HEAD,
	ST_KIOSK_GET,
	ST_KIOSK_TOUCH,
	ST_CARD_FIND,
	ST_CARD_SET_CTR,
	ST_BENEFIT_GET,
	ST_USAGE,
	ST_USAGE_PUT,
	ST_META_GET,
	ST_META_PUT,
	ST_CTR_ALL,
	ST_RED_BY_SEQ,
	ST_RED_BY_REQ_NEAR,
	ST_RED_INSERT,
	ST_SEC_INSERT,
	ST_MEMBER_UPSERT,
	ST_MEMBER_INSERT,
	ST_MEMBER_GET,
	ST_MEMBER_GET_ID,
	ST_MEMBER_STATUS,
	ST_MEMBER_COUNT,
	ST_BENEFIT_INSERT,
	ST_BENEFIT_LIST,
	ST_KIOSK_INSERT,
	ST_KIOSK_REVOKE,
	ST_KIOSK_LIST,
	ST_CARD_INSERT,
	ST_CARD_REVOKE,
	ST_CARD_GET,
	ST_CARD_LIST,
	ST_CARD_BY_LOOKUP,
	ST_RED_GET,
	ST_STAFF_INSERT,
	ST_SEC_LIST,
	ST_CP_LAST,
	ST_CP_INSERT,
	ST__COUNT
};

static const char *const sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT tap",
    [ST_RELEASE] = "RELEASE tap",
    [ST_ROLLBACK_TO] = "ROLLBACK TO tap",
    [ST_R_HEAD] = "SELECT id, hash FROM redemptions ORDER BY id DESC LIMIT 1",
    [ST_S_HEAD] = "SELECT id, hash FROM staff_actions ORDER BY id DESC LIMIT 1",
    [ST_KIOSK_GET] = "SELECT " KIOSK_COLS " FROM kiosks WHERE id = ?1",
    [ST_KIOSK_TOUCH] =
	"UPDATE kiosks SET last_seen = max(last_seen, ?2),"
	" offline_seq = CASE WHEN ?3 >= 0 THEN max(offline_seq, ?3)"
	" ELSE offline_seq END WHERE id = ?1",
    [ST_CARD_FIND] = "SELECT " CARD_COLS ", coalesce(m.id, 0),"
		     " coalesce(m.name, ''), coalesce(m.union_name, ''),"
		     " coalesce(m.category, ''), coalesce(m.status, 0)"
		     " FROM cards c LEFT JOIN members m ON m.id = c.member_id"
		     " WHERE c.lookup = ?1",
    [ST_CARD_SET_CTR] = "UPDATE cards SET last_ctr = ?2 WHERE id = ?1",
    [ST_BENEFIT_GET] = "SELECT " BENEFIT_COLS " FROM benefits WHERE code = ?1",
    [ST_USAGE] = "SELECT count, amount, upto_r, upto_s FROM usage"
		 " WHERE period_start = ?1 AND member_id = ?2 AND benefit = ?3",
    [ST_USAGE_PUT] = "INSERT INTO usage(period_start, member_id, benefit,"
		     " count, amount, upto_r, upto_s)"
		     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		     " ON CONFLICT DO UPDATE SET count = excluded.count,"
		     " amount = excluded.amount, upto_r = excluded.upto_r,"
		     " upto_s = excluded.upto_s",
    [ST_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [ST_META_PUT] = "UPDATE meta SET v = ?2 WHERE k = ?1",
    [ST_CTR_ALL] = "SELECT id, last_ctr FROM cards",
    [ST_RED_BY_SEQ] = "SELECT " RED_COLS " FROM redemptions"
		      " WHERE kiosk = ?1 AND offline_seq = ?2"
		      " AND offline_seq > 0",
    [ST_RED_BY_REQ_NEAR] = "SELECT " RED_COLS " FROM redemptions"
			   " WHERE ts BETWEEN ?3 AND ?4 AND kiosk = ?1"
			   " AND request_id = ?2 ORDER BY id LIMIT 1",
    [ST_RED_INSERT] = "INSERT INTO redemptions(" RED_COLS ") VALUES(?1, ?2,"
		      " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		      " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
    [ST_SEC_INSERT] = "INSERT INTO security_events(ts, kind, kiosk,"
		      " card_id, detail) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_MEMBER_UPSERT] =
	"INSERT INTO members(no, name, union_name, category, status)"
	" VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(no) DO UPDATE SET"
	" name = excluded.name, union_name = excluded.union_name,"
	" category = excluded.category, status = excluded.status",
    [ST_MEMBER_INSERT] =
	"INSERT INTO members(no, name, union_name, category, status)"
	" VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_MEMBER_GET] = "SELECT " MEMBER_COLS " FROM members WHERE no = ?1",
    [ST_MEMBER_GET_ID] = "SELECT " MEMBER_COLS " FROM members WHERE id = ?1",
    [ST_MEMBER_STATUS] = "UPDATE members SET status = ?2 WHERE no = ?1",
    [ST_MEMBER_COUNT] = "SELECT count(*) FROM members",
    [ST_BENEFIT_INSERT] = "INSERT INTO benefits(" BENEFIT_COLS ") VALUES(?1,"
			  " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
			  " ?13, ?14, ?15)",
    [ST_BENEFIT_LIST] = "SELECT " BENEFIT_COLS " FROM benefits ORDER BY code",
    [ST_KIOSK_INSERT] = "INSERT INTO kiosks(" KIOSK_COLS ") VALUES(?1, ?2,"
			" ?3, ?4, 0, 0, 0, ?5)",
    [ST_KIOSK_REVOKE] = "UPDATE kiosks SET status = 2 WHERE id = ?1",
    [ST_KIOSK_LIST] = "SELECT " KIOSK_COLS " FROM kiosks ORDER BY id",
    [ST_CARD_INSERT] = "INSERT INTO cards(lookup, member_id, key_version,"
		       " status, reason, last_ctr, issued) VALUES(?1, ?2,"
		       " ?3, 0, '', ?4, ?5)",
    [ST_CARD_REVOKE] = "UPDATE cards SET status = 2, reason = ?2,"
		       " replaced_by = ?3 WHERE id = ?1",
    [ST_CARD_GET] = "SELECT " CARD_COLS " FROM cards c LEFT JOIN members m"
		    " ON m.id = c.member_id WHERE c.id = ?1",
    [ST_CARD_LIST] = "SELECT " CARD_COLS " FROM cards c LEFT JOIN members m"
		     " ON m.id = c.member_id WHERE c.member_id = ?1"
		     " ORDER BY c.id",
    [ST_CARD_BY_LOOKUP] = "SELECT id FROM cards WHERE lookup = ?1",
    [ST_RED_GET] = "SELECT " RED_COLS ", EXISTS(SELECT 1 FROM staff_actions s"
		   " WHERE s.ref_id = ?1 AND s.cmd = '" VOIDED_CMD "'"
		   " AND s.ok = 1) FROM redemptions WHERE id = ?1",
    [ST_STAFF_INSERT] = "INSERT INTO staff_actions(id, ts, uid, role, cmd,"
			" args, ref_id, ok, prev_hash, hash) VALUES(?1, ?2,"
			" ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_SEC_LIST] = "SELECT id, ts, kind, kiosk, card_id, detail FROM"
		    " security_events WHERE ts >= ?1 AND id > ?2"
		    " ORDER BY id LIMIT ?3",
    [ST_CP_LAST] = "SELECT id, ts, r_head_id, r_head_hash, s_head_id,"
		   " s_head_hash, prev_digest, digest, sig FROM checkpoints"
		   " ORDER BY id DESC LIMIT 1",
    [ST_CP_INSERT] = "INSERT INTO checkpoints(id, ts, r_head_id,"
		     " r_head_hash, s_head_id, s_head_hash, prev_digest,"
		     " digest, sig) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		     " ?9)",
};

struct head {
	int64_t id;
	uint8_t hash[STORE_HASH_LEN];
};

/* Write-behind tables (sizes: 2^18 x 64 B usage = 16 MiB, 2 x 2^18 x 32 B
 * requests = 16 MiB). */
#define USAGE_CAP  (1u << 18)
#define REQ_CAP	   (1u << 18)
#define REQ_WINDOW (1u << 17) /* ids per generation; two are kept */
/*
 * Write-back in chunks: once FLUSH_DIRTY counters and usage entries wait,
 * the next transaction is preceded by one chunk of them (FLUSH_CHUNK, or
 * a 128th of what waits when taps come faster than that).  Chunks go
 * through a pass in key order (see flush_chunk), so that the many rows
 * waiting on one page go out together: at random taps, the oldest 256
 * would be on about 256 pages.  The more wait, the more share a page:
 * 150,000 cards and a day's usage rows fill about 3,700 pages, which a
 * pass of 16,384 entries nearly all writes, and one of 65,536 too.  In
 * the random-order bench, chunks wrote 58% of the WAL frames at 16,384
 * and 25% at 65,536 (42,575 frames instead of 147,577 in one run), and
 * the checkpointer copies that much less.  The cost: dirty lists of up to 2^18
 * entries (6 MiB each), and a longer replay after a crash.  A chunk costs
 * a few microseconds per entry and no fsync of its own, so a tap never
 * waits behind a long flush; what waits is replayed from the log at
 * open.
 */
#define FLUSH_DIRTY 65536
#define FLUSH_CHUNK 512

/*
 * One entry of a dirty list: a card id or usage slot, and the heads that
 * were committed when it went dirty (its row holds every effect up to
 * them).  Lists are in the order entries went dirty, so since_r and
 * since_s never decrease along a list.
 */
struct dl_ent {
	uint32_t i;
	uint32_t seq; /* the entry's seq when listed: stale once it differs */
	int64_t since_r, since_s;
};

struct usage_ent {
	int64_t member_id;
	int64_t period_start;
	int64_t count, amount;
	char benefit[STORE_CODE_LEN];
	uint8_t used, dirty;
	uint32_t seq; /* of its latest listing in use_dl */
};

struct req_ent {
	uint8_t rid[16];
	uint64_t key;
	int64_t id; /* 0 = empty slot */
};

struct undo {
	uint8_t kind, dirty;
	uint32_t slot;
	int64_t a, b;
};

struct sq {
	struct store base; /* first: a struct store * is a struct sq * */
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	int in_txn;
	int in_sp;
	struct head r_head, s_head;	  /* valid while in_txn */
	struct head r_head_sp, s_head_sp; /* saved at the savepoint */
	uint64_t generation;
	char err[256];
	int ro;	    /* a reader: no writes, no write-behind state */
	int lockfd; /* the writer lock (DB-writer), 0 if none */
	/* write-behind state */
	uint32_t *ctr;
	uint8_t *ctr_dirty;
	uint32_t *ctr_seq; /* of each card's latest listing in ctr_dl */
	size_t ctr_cap;
	struct usage_ent *usage;
	size_t nusage;
	/* Which counters (card ids) and usage slots went dirty, oldest first,
	 * from index h*_dl on, so that a flush does not scan both tables.  An
	 * index may be listed twice or be clean again (rolled back): the
	 * flush checks the mark.  dl_lost: a list could not grow, so the
	 * next flush scans everything.  since_r, since_s: the committed
	 * heads new entries are listed with. */
	struct dl_ent *ctr_dl, *use_dl;
	size_t nctr_dl, cap_ctr_dl, hctr_dl, nuse_dl, cap_use_dl, huse_dl;
	int dl_lost;
	int64_t since_r, since_s;
	/* flush_chunk's pass: the card ids and usage slots dirty when it
	 * began, sorted by key, written from pass_h* on.  listed_*: entries
	 * ever listed (to count what went dirty since the pass began). */
	uint32_t *pass_c, *pass_u;
	uint64_t *pass_key, *pass_tmp; /* sort_usage */
	size_t pass_nc, pass_hc, pass_capc, pass_nu, pass_hu, pass_capu;
	int pass_on;
	uint64_t listed_c, listed_u, pass_lc, pass_lu;
	/* While replaying at open only: per usage slot, up to which
	 * redemption and staff action the row read from the table counts. */
	int64_t (*upto)[2];
	int sync_normal; /* PRAGMA synchronous is NORMAL: no commit allowed */
	struct req_ent *req[2];
	uint32_t nreq[2];
	int req_cur;
	struct undo *undo;
	size_t nundo, capundo, undo_sp;
};

struct store_cursor {
	struct sq *q;
	sqlite3_stmt *st;
	int kind;
};

static struct sq *Q(struct store *s)
{
	return (struct sq *)s;
}

/* ---- errors ------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static int fail(struct sq *q, int err,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return err;
}

/* Maps an SQLite result code to enum store_err and records the message. */
static int dberr(struct sq *q, int rc)
{
	int prim = rc & 0xff;
	int err;

	switch (prim) {
	case SQLITE_FULL:
		err = STORE_EFULL;
		break;
	case SQLITE_CONSTRAINT:
		err = (rc == SQLITE_CONSTRAINT_UNIQUE ||
		       rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			  ? STORE_EEXISTS
			  : STORE_EINVALID;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = STORE_EBUSY;
		break;
	case SQLITE_NOMEM:
		err = STORE_ENOMEM;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		err = STORE_ESCHEMA;
		break;
	default:
		err = STORE_EIO;
	}
	snprintf(q->err, sizeof(q->err), "database: %s",
		 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	return err;
}

const char *store_err_code(int err)
{
	switch (err) {
	case STORE_OK:
		return "ok";
	case STORE_ENOTFOUND:
		return "not_found";
	case STORE_EEXISTS:
		return "exists";
	case STORE_EINVALID:
		return "invalid";
	case STORE_ECONFLICT:
		return "conflict";
	case STORE_EFULL:
	case STORE_EBUSY:
	case STORE_EIO:
	case STORE_ESCHEMA:
		return "storage";
	default:
		return "internal";
	}
}

static const char *sq_errmsg(struct store *s)
{
	return Q(s)->err;
}

/* ---- statement helpers ------------------------------------------------- */

/* The prepared statement i, ready to bind; NULL on error (q->err set). */
static sqlite3_stmt *stmt(struct sq *q, int i)
{
	int rc;

	if (q->st[i] == NULL) {
		rc = sqlite3_prepare_v3(q->db, sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &q->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			dberr(q, rc);
			q->st[i] = NULL;
			return NULL;
		}
	}
	return q->st[i];
}

/* Runs a statement that returns no rows; resets it. */
static int exec_st(struct sq *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dberr(q, rc);
	return 0;
}

static int run(struct sq *q, int i)
{
	sqlite3_stmt *st = stmt(q, i);

	if (!st)
		return STORE_EIO;
	return exec_st(q, st);
}

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static void col_blob(sqlite3_stmt *st, int col, uint8_t *dst, size_t len)
{
	const void *b = sqlite3_column_blob(st, col);
	size_t n = b ? (size_t)sqlite3_column_bytes(st, col) : 0;

	memset(dst, 0, len);
	if (n > len)
		n = len;
	if (n)
		memcpy(dst, b, n);
}

static int bind_text(sqlite3_stmt *st, int i, const char *t)
{
	return sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

/* Checks a text field: present when required, and fits its buffer. */
static int check_text(struct sq *q, const char *what, const char *v, size_t cap,
		      int required)
{
	size_t n = v ? strnlen(v, cap) : 0;

	if (required && n == 0)
		return fail(q, STORE_EINVALID, "%s is empty", what);
	if (n >= cap)
		return fail(q, STORE_EINVALID, "%s is longer than %zu bytes",
			    what, cap - 1);
	return 0;
}

/* Appends s to a JSON string body (escaped) in buf. */
static void json_str(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);

	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
}

/* ---- write-behind state ------------------------------------------------ */

/*
 * Card counters (an array by card id), usage per (period, member, benefit)
 * (an open-addressing table) and recent request ids (two generations of
 * open-addressing tables) live in memory.  Every change made inside a
 * transaction is recorded in an undo list, so that ROLLBACK TO a savepoint
 * and ROLLBACK put memory back exactly as the database went back.
 */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_str(const char *p, uint64_t h)
{
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return h;
}

enum { UNDO_CTR = 1, UNDO_USAGE = 2, UNDO_REQ = 3 };

static int undo_push(struct sq *q, int kind, uint32_t slot, int64_t a,
		     int64_t b, uint8_t dirty)
{
	if (!q->in_txn)
		return 0; /* nothing to undo outside a transaction */
	if (q->nundo == q->capundo) {
		size_t cap = q->capundo ? q->capundo * 2 : 1024;
		struct undo *u = realloc(q->undo, cap * sizeof(*u));

		if (!u)
			return fail(q, STORE_ENOMEM, "out of memory");
		q->undo = u;
		q->capundo = cap;
	}
	q->undo[q->nundo++] = (struct undo){(uint8_t)kind, dirty, slot, a, b};
	return 0;
}

/* Notes index i in a dirty list (see struct sq). */
static void dl_add(struct sq *q, struct dl_ent **l, size_t *h, size_t *n,
		   size_t *cap, uint32_t i)
{
	uint32_t seq;

	if (*n == *cap && *h > 0 && *h >= *n / 2) {
		/* the flushed front goes: the live part moves down */
		memmove(*l, *l + *h, (*n - *h) * sizeof(**l));
		*n -= *h;
		*h = 0;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4096;
		struct dl_ent *p = realloc(*l, nc * sizeof(*p));

		if (!p) {
			q->dl_lost = 1;
			return;
		}
		*l = p;
		*cap = nc;
	}
	/* The entry's older listings are stale from now on: what it held
	 * then was written, or it would not have been clean to be listed. */
	if (l == &q->ctr_dl)
		seq = q->ctr_seq[i] = (uint32_t)++q->listed_c;
	else
		seq = q->usage[i].seq = (uint32_t)++q->listed_u;
	(*l)[(*n)++] = (struct dl_ent){i, seq, q->since_r, q->since_s};
}

static int ctr_reserve(struct sq *q, int64_t id)
{
	size_t cap;
	uint32_t *c;
	uint8_t *d;

	if (id < 0)
		return fail(q, STORE_EINVALID, "bad card id");
	if ((size_t)id < q->ctr_cap)
		return 0;
	cap = q->ctr_cap ? q->ctr_cap : 1024;
	while (cap <= (size_t)id)
		cap *= 2;
	c = realloc(q->ctr, cap * sizeof(*c));
	if (!c)
		return fail(q, STORE_ENOMEM, "out of memory");
	q->ctr = c;
	d = realloc(q->ctr_dirty, cap);
	if (!d)
		return fail(q, STORE_ENOMEM, "out of memory");
	q->ctr_dirty = d;
	c = realloc(q->ctr_seq, cap * sizeof(*c));
	if (!c)
		return fail(q, STORE_ENOMEM, "out of memory");
	q->ctr_seq = c;
	memset(q->ctr + q->ctr_cap, 0, (cap - q->ctr_cap) * sizeof(*c));
	memset(q->ctr_dirty + q->ctr_cap, 0, cap - q->ctr_cap);
	memset(q->ctr_seq + q->ctr_cap, 0, (cap - q->ctr_cap) * sizeof(*c));
	q->ctr_cap = cap;
	return 0;
}

/* Sets a card's counter in memory; dirty = 1 when the table must learn
 * it at the next flush. */
static int ctr_set(struct sq *q, int64_t id, uint32_t v, int dirty)
{
	int err = ctr_reserve(q, id);

	if (err)
		return err;
	if ((err = undo_push(q, UNDO_CTR, (uint32_t)id, q->ctr[id], 0,
			     q->ctr_dirty[id])))
		return err;
	q->ctr[id] = v;
	if (dirty && !q->ctr_dirty[id])
		dl_add(q, &q->ctr_dl, &q->hctr_dl, &q->nctr_dl, &q->cap_ctr_dl,
		       (uint32_t)id);
	q->ctr_dirty[id] = (uint8_t)(q->ctr_dirty[id] | dirty);
	return 0;
}

static uint32_t usage_slot0(int64_t member, const char *benefit, int64_t ps)
{
	uint64_t h = mix((uint64_t)member * 31 + (uint64_t)ps);

	return (uint32_t)(hash_str(benefit, h) & (USAGE_CAP - 1));
}

/*
 * The usage entry of (member, benefit, period), loaded from the table on
 * a miss.  Returns its slot or a negative store error.
 */
static int64_t usage_find(struct sq *q, int64_t member, const char *benefit,
			  int64_t ps)
{
	uint32_t i = usage_slot0(member, benefit, ps);
	struct usage_ent *e;
	sqlite3_stmt *st;
	int rc;

	for (;; i = (i + 1) & (USAGE_CAP - 1)) {
		e = &q->usage[i];
		if (!e->used)
			break;
		if (e->member_id == member && e->period_start == ps &&
		    strcmp(e->benefit, benefit) == 0)
			return i;
	}
	if (q->nusage >= USAGE_CAP - USAGE_CAP / 8)
		return fail(q, STORE_ENOMEM, "usage cache is full");
	if (strlen(benefit) >= sizeof(e->benefit))
		return fail(q, STORE_EINVALID, "benefit code is too long");
	st = stmt(q, ST_USAGE);
	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, ps);
	sqlite3_bind_int64(st, 2, member);
	bind_text(st, 3, benefit);
	rc = sqlite3_step(st);
	memset(e, 0, sizeof(*e));
	if (rc == SQLITE_ROW) {
		e->count = sqlite3_column_int64(st, 0);
		e->amount = sqlite3_column_int64(st, 1);
	}
	if (q->upto) {
		q->upto[i][0] =
		    rc == SQLITE_ROW ? sqlite3_column_int64(st, 2) : 0;
		q->upto[i][1] =
		    rc == SQLITE_ROW ? sqlite3_column_int64(st, 3) : 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(q, rc);
	e->used = 1;
	e->member_id = member;
	e->period_start = ps;
	snprintf(e->benefit, sizeof(e->benefit), "%s", benefit);
	q->nusage++;
	/* A freshly loaded entry equals the table: nothing to undo. */
	return i;
}

static int usage_add(struct sq *q, int64_t member, const char *benefit,
		     int64_t ps, int64_t dcount, int64_t damount)
{
	int64_t i = usage_find(q, member, benefit, ps);
	struct usage_ent *e;
	int err;

	if (i < 0)
		return (int)i;
	e = &q->usage[i];
	if ((err = undo_push(q, UNDO_USAGE, (uint32_t)i, e->count, e->amount,
			     e->dirty)))
		return err;
	e->count += dcount;
	e->amount += damount;
	if (!e->dirty)
		dl_add(q, &q->use_dl, &q->huse_dl, &q->nuse_dl, &q->cap_use_dl,
		       (uint32_t)i);
	e->dirty = 1;
	return 0;
}

/* Puts entry e (and its replay stamps up) into the table; returns its
 * slot. */
static uint32_t usage_put(struct sq *q, const struct usage_ent *e,
			  const int64_t *up)
{
	uint32_t i = usage_slot0(e->member_id, e->benefit, e->period_start);

	while (q->usage[i].used)
		i = (i + 1) & (USAGE_CAP - 1);
	q->usage[i] = *e;
	if (q->upto)
		memcpy(q->upto[i], up, sizeof(q->upto[i]));
	q->nusage++;
	return i;
}

/* How many usage entries are dirty (a scan of the whole table). */
static size_t usage_dirty(const struct sq *q)
{
	size_t nd = 0;

	for (size_t k = 0; k < USAGE_CAP; k++)
		nd += q->usage[k].used && q->usage[k].dirty;
	return nd;
}

/*
 * Drops the clean usage entries (they are in the table), keeping the nd
 * dirty ones (usage_dirty(), counted by the caller, which decides on it
 * first).  Outside transactions only.  In place: the dirty entries (a
 * quarter of the table at most, see sq_begin) go to a small array while
 * the table is cleared.  A second table of 20 MiB for the copy would stay
 * in the heap after it is freed, and the daemon's RSS with it.
 */
static int usage_compact(struct sq *q, size_t nd)
{
	struct usage_ent *keep;
	int64_t(*kup)[2] = NULL;
	size_t m = 0, n = 0;

	q->pass_on = 0; /* its usage slots are about to move */
	if (q->dl_lost)
		return 0; /* the list cannot say which are dirty: keep all */
	keep = malloc((nd ? nd : 1) * sizeof(*keep));
	if (keep && q->upto)
		kup = malloc((nd ? nd : 1) * sizeof(*kup));
	if (!keep || (q->upto && !kup)) {
		free(keep);
		return fail(q, STORE_ENOMEM, "out of memory");
	}
	/* The live listings first, in order: the j-th of them is keep[j]. */
	for (size_t j = q->huse_dl; j < q->nuse_dl; j++) {
		struct dl_ent d = q->use_dl[j];
		struct usage_ent *e = &q->usage[d.i];

		if (!e->used || !e->dirty || e->seq != d.seq)
			continue; /* clean, or a stale listing (see dl_add) */
		keep[m] = *e;
		if (kup)
			memcpy(kup[m], q->upto[d.i], sizeof(kup[m]));
		m++;
		e->used = 0;
		q->use_dl[n++] = d;
	}
	/* A dirty entry is always listed; should one not be, it is kept and
	 * listed as dirty since the start (a longer replay, nothing lost). */
	for (size_t k = 0; k < USAGE_CAP && m < nd; k++) {
		if (!q->usage[k].used || !q->usage[k].dirty)
			continue;
		keep[m] = q->usage[k];
		if (kup)
			memcpy(kup[m], q->upto[k], sizeof(kup[m]));
		m++;
	}
	memset(q->usage, 0, USAGE_CAP * sizeof(*q->usage));
	if (q->upto)
		memset(q->upto, 0, USAGE_CAP * sizeof(*q->upto));
	q->nusage = 0;
	q->huse_dl = 0;
	q->nuse_dl = n;
	/* Slots move: the kept entries are listed again at their new slots,
	 * in the same order and with the same since. */
	for (size_t j = 0; j < m; j++) {
		uint32_t i = usage_put(q, &keep[j], kup ? kup[j] : NULL);

		if (j < n) {
			q->use_dl[j].i = i;
		} else {
			int64_t r = q->since_r, h = q->since_s;

			q->since_r = q->since_s = 0;
			dl_add(q, &q->use_dl, &q->huse_dl, &q->nuse_dl,
			       &q->cap_use_dl, i);
			q->since_r = r, q->since_s = h;
		}
	}
	free(keep);
	free(kup);
	return 0;
}

static uint64_t req_key(const char *kiosk, const uint8_t rid[16])
{
	uint64_t a, b;

	memcpy(&a, rid, 8);
	memcpy(&b, rid + 8, 8);
	return hash_str(kiosk, mix(a ^ mix(b)));
}

static int64_t req_lookup(struct sq *q, const char *kiosk,
			  const uint8_t rid[16])
{
	uint64_t k = req_key(kiosk, rid);

	if (!q->req[0] || !q->req[1])
		return 0;
	for (int t = 0; t < 2; t++) {
		struct req_ent *tab = q->req[(q->req_cur + t) & 1];
		uint32_t i = (uint32_t)(k & (REQ_CAP - 1));

		for (; tab[i].id; i = (i + 1) & (REQ_CAP - 1))
			if (tab[i].key == k && memcmp(tab[i].rid, rid, 16) == 0)
				return tab[i].id;
	}
	return 0;
}

static int req_insert(struct sq *q, const char *kiosk, const uint8_t rid[16],
		      int64_t id)
{
	uint64_t k = req_key(kiosk, rid);
	struct req_ent *tab = q->req[q->req_cur];
	uint32_t i = (uint32_t)(k & (REQ_CAP - 1));

	if (q->nreq[q->req_cur] >= REQ_CAP - REQ_CAP / 8)
		return 0; /* full until the next transaction rotates */
	while (tab[i].id)
		i = (i + 1) & (REQ_CAP - 1);
	memcpy(tab[i].rid, rid, 16);
	tab[i].key = k;
	tab[i].id = id;
	q->nreq[q->req_cur]++;
	return undo_push(q, UNDO_REQ, i, 0, 0, 0);
}

/* Starts a new generation when the current one holds REQ_WINDOW ids. */
static void req_rotate(struct sq *q)
{
	if (q->nreq[q->req_cur] < REQ_WINDOW)
		return;
	q->req_cur ^= 1;
	memset(q->req[q->req_cur], 0, REQ_CAP * sizeof(struct req_ent));
	q->nreq[q->req_cur] = 0;
}

/* Undoes memory changes back to undo index mark (LIFO). */
static void undo_to(struct sq *q, size_t mark)
{
	while (q->nundo > mark) {
		struct undo *u = &q->undo[--q->nundo];

		switch (u->kind) {
		case UNDO_CTR:
			q->ctr[u->slot] = (uint32_t)u->a;
			q->ctr_dirty[u->slot] = u->dirty;
			break;
		case UNDO_USAGE:
			q->usage[u->slot].count = u->a;
			q->usage[u->slot].amount = u->b;
			q->usage[u->slot].dirty = u->dirty;
			break;
		case UNDO_REQ:
			/* LIFO removal keeps linear probing intact: nothing
			 * inserted before this entry probed past its slot. */
			memset(&q->req[q->req_cur][u->slot], 0,
			       sizeof(struct req_ent));
			q->nreq[q->req_cur]--;
			break;
		}
	}
}

/* ---- transactions ------------------------------------------------------ */

static int load_head(struct sq *q, int i, struct head *h)
{
	sqlite3_stmt *st = stmt(q, i);
	int rc;

	if (!st)
		return STORE_EIO;
	memset(h, 0, sizeof(*h));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		h->id = sqlite3_column_int64(st, 0);
		col_blob(st, 1, h->hash, STORE_HASH_LEN);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(q, rc);
	return 0;
}

static int sq_rollback(struct store *s)
{
	struct sq *q = Q(s);

	undo_to(q, 0);
	q->in_txn = q->in_sp = 0;
	if (sqlite3_get_autocommit(q->db))
		return 0; /* SQLite already rolled back (e.g. SQLITE_FULL) */
	return run(q, ST_ROLLBACK);
}

static int flush_chunk(struct sq *q, size_t budget);
static size_t flush_waiting(const struct sq *q);
static int exec_sql(struct sq *q, const char *text);

static int sq_begin(struct store *s)
{
	struct sq *q = Q(s);
	int err;

	if (q->ro)
		return fail(q, STORE_ESTATE,
			    "this database handle is read-only (another "
			    "process or handle is the writer)");
	if (q->in_txn)
		return fail(q, STORE_ESTATE, "a transaction is already open");
	if (q->sync_normal) {
		/* A flush chunk could not put synchronous back to FULL: no
		 * commit may go out without its fsync. */
		if ((err = exec_sql(q, "PRAGMA synchronous = FULL")))
			return err;
		q->sync_normal = 0;
	}
	/* Room for the coming transaction in the memory tables. */
	req_rotate(q);
	{
		size_t waiting = flush_waiting(q);

		if (waiting >= FLUSH_DIRTY || q->dl_lost)
			/* Not needed for this transaction (the log holds every
			 * effect): if it fails, the marks stay and a later one
			 * writes them. */
			(void)flush_chunk(q, waiting / 128 > FLUSH_CHUNK
						 ? waiting / 128
						 : FLUSH_CHUNK);
	}
	if (q->nusage > USAGE_CAP / 2) {
		size_t dirty = usage_dirty(q);

		if (dirty > USAGE_CAP / 4) {
			if ((err = s->ops->flush(s)))
				return err;
			dirty = usage_dirty(q);
		}
		if ((err = usage_compact(q, dirty)))
			return err;
	}
	err = run(q, ST_BEGIN);
	if (err)
		return err;
	q->in_txn = 1;
	q->in_sp = 0;
	q->nundo = 0;
	if ((err = load_head(q, ST_R_HEAD, &q->r_head)) ||
	    (err = load_head(q, ST_S_HEAD, &q->s_head))) {
		sq_rollback(s);
		return err;
	}
	/* What goes dirty now: its row holds everything committed so far. */
	q->since_r = q->r_head.id;
	q->since_s = q->s_head.id;
	return 0;
}

static int sq_commit(struct store *s)
{
	struct sq *q = Q(s);
	int err;

	if (!q->in_txn)
		return fail(q, STORE_ESTATE, "no transaction is open");
	err = run(q, ST_COMMIT);
	if (err) {
		/* A failed COMMIT may leave the transaction open (SQLITE_BUSY)
		 * or rolled back (SQLITE_FULL, SQLITE_IOERR): end it either
		 * way so that the next batch starts clean. */
		char keep[sizeof(q->err)];

		memcpy(keep, q->err, sizeof(keep));
		sq_rollback(s);
		memcpy(q->err, keep, sizeof(keep));
		return err;
	}
	q->in_txn = q->in_sp = 0;
	q->nundo = 0;
	return 0;
}

static int sq_savepoint(struct store *s)
{
	struct sq *q = Q(s);
	int err;

	if (!q->in_txn || q->in_sp)
		return fail(q, STORE_ESTATE, "savepoint outside a transaction");
	err = run(q, ST_SAVEPOINT);
	if (err)
		return err;
	q->in_sp = 1;
	q->r_head_sp = q->r_head;
	q->s_head_sp = q->s_head;
	q->undo_sp = q->nundo;
	return 0;
}

static int sq_release(struct store *s)
{
	struct sq *q = Q(s);
	int err;

	if (!q->in_sp)
		return fail(q, STORE_ESTATE, "no savepoint");
	err = run(q, ST_RELEASE);
	if (err)
		return err;
	q->in_sp = 0;
	return 0;
}

static int sq_rollback_to(struct store *s)
{
	struct sq *q = Q(s);
	int err;

	if (!q->in_sp)
		return fail(q, STORE_ESTATE, "no savepoint");
	q->r_head = q->r_head_sp;
	q->s_head = q->s_head_sp;
	undo_to(q, q->undo_sp);
	err = run(q, ST_ROLLBACK_TO);
	if (err)
		return err;
	q->in_sp = 0;
	return run(q, ST_RELEASE);
}

static uint64_t sq_generation(struct store *s)
{
	return Q(s)->generation;
}

/*
 * Admin writes run in their own transaction unless the caller opened one.
 * own_begin returns 1 when it opened one (end it with own_end).
 */
static int own_begin(struct sq *q, int *own)
{
	int err;

	*own = 0;
	if (q->in_txn)
		return 0;
	err = sq_begin(&q->base);
	if (err)
		return err;
	*own = 1;
	return 0;
}

static int own_end(struct sq *q, int own, int err)
{
	if (!own)
		return err;
	if (err) {
		char keep[sizeof(q->err)];

		memcpy(keep, q->err, sizeof(keep));
		sq_rollback(&q->base);
		memcpy(q->err, keep, sizeof(keep));
		return err;
	}
	return sq_commit(&q->base);
}

/* ---- row readers ------------------------------------------------------- */

static void read_kiosk(sqlite3_stmt *st, struct store_kiosk *k)
{
	col_text(st, 0, k->id, sizeof(k->id));
	col_text(st, 1, k->point, sizeof(k->point));
	col_text(st, 2, k->tz, sizeof(k->tz));
	col_text(st, 3, k->pubkey_pem, sizeof(k->pubkey_pem));
	k->status = sqlite3_column_int(st, 4);
	k->last_seen = sqlite3_column_int64(st, 5);
	k->offline_seq = sqlite3_column_int64(st, 6);
	k->added = sqlite3_column_int64(st, 7);
}

static void read_benefit(sqlite3_stmt *st, struct store_benefit *b)
{
	col_text(st, 0, b->code, sizeof(b->code));
	col_text(st, 1, b->name, sizeof(b->name));
	b->kind = sqlite3_column_int(st, 2);
	b->per = sqlite3_column_int(st, 3);
	b->quota = sqlite3_column_int64(st, 4);
	b->balance = sqlite3_column_int64(st, 5);
	b->amount = sqlite3_column_int64(st, 6);
	col_text(st, 7, b->categories, sizeof(b->categories));
	col_text(st, 8, b->unions, sizeof(b->unions));
	col_text(st, 9, b->points, sizeof(b->points));
	b->offline = sqlite3_column_int(st, 10);
	b->valid_from = sqlite3_column_int(st, 11);
	b->valid_until = sqlite3_column_int(st, 12);
	b->hours_from = sqlite3_column_int(st, 13);
	b->hours_to = sqlite3_column_int(st, 14);
}

/* CARD_COLS starting at column c0. */
static void read_card(struct sq *q, sqlite3_stmt *st, int c0,
		      struct store_card *c)
{
	c->id = sqlite3_column_int64(st, c0);
	col_blob(st, c0 + 1, c->lookup, STORE_LOOKUP_LEN);
	c->member_id = sqlite3_column_int64(st, c0 + 2);
	col_text(st, c0 + 3, c->member_no, sizeof(c->member_no));
	c->key_version = sqlite3_column_int(st, c0 + 4);
	c->status = sqlite3_column_int(st, c0 + 5);
	col_text(st, c0 + 6, c->reason, sizeof(c->reason));
	c->last_ctr = (uint32_t)sqlite3_column_int64(st, c0 + 7);
	c->issued = sqlite3_column_int64(st, c0 + 8);
	c->replaced_by = sqlite3_column_int64(st, c0 + 9);
	if (c->id >= 0 && (size_t)c->id < q->ctr_cap)
		c->last_ctr = q->ctr[c->id]; /* memory is ahead of the table */
}

static void read_member(sqlite3_stmt *st, struct store_member *m)
{
	m->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, m->no, sizeof(m->no));
	col_text(st, 2, m->name, sizeof(m->name));
	col_text(st, 3, m->union_, sizeof(m->union_));
	col_text(st, 4, m->category, sizeof(m->category));
	m->status = sqlite3_column_int(st, 5);
}

static void read_redemption(sqlite3_stmt *st, struct store_redemption *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->ts = sqlite3_column_int64(st, 1);
	col_text(st, 2, r->kiosk, sizeof(r->kiosk));
	col_text(st, 3, r->point, sizeof(r->point));
	col_blob(st, 4, r->request_id, STORE_REQID_LEN);
	r->card_id = sqlite3_column_int64(st, 5);
	r->member_id = sqlite3_column_int64(st, 6);
	col_text(st, 7, r->benefit, sizeof(r->benefit));
	r->result = (uint8_t)sqlite3_column_int(st, 8);
	r->reason = (uint8_t)sqlite3_column_int(st, 9);
	r->left = sqlite3_column_int64(st, 10);
	r->amount = sqlite3_column_int64(st, 11);
	r->offline = (uint8_t)sqlite3_column_int(st, 12);
	r->offline_seq = sqlite3_column_int64(st, 13);
	r->kiosk_time = sqlite3_column_int64(st, 14);
	r->ctr = (uint32_t)sqlite3_column_int64(st, 15);
	col_text(st, 16, r->masked, sizeof(r->masked));
	col_text(st, 17, r->sun, sizeof(r->sun));
	r->has_sig = sqlite3_column_type(st, 18) == SQLITE_BLOB;
	col_blob(st, 18, r->kiosk_sig, STORE_SIG_LEN);
	col_blob(st, 19, r->prev_hash, STORE_HASH_LEN);
	col_blob(st, 20, r->hash, STORE_HASH_LEN);
	r->period_start = sqlite3_column_int64(st, 21);
	r->ctr_set = (uint8_t)sqlite3_column_int(st, 22);
}

static void read_checkpoint(sqlite3_stmt *st, struct store_checkpoint *c)
{
	c->id = sqlite3_column_int64(st, 0);
	c->ts = sqlite3_column_int64(st, 1);
	c->r_head_id = sqlite3_column_int64(st, 2);
	col_blob(st, 3, c->r_head_hash, STORE_HASH_LEN);
	c->s_head_id = sqlite3_column_int64(st, 4);
	col_blob(st, 5, c->s_head_hash, STORE_HASH_LEN);
	col_blob(st, 6, c->prev_digest, STORE_HASH_LEN);
	col_blob(st, 7, c->digest, STORE_HASH_LEN);
	col_blob(st, 8, c->sig, STORE_SIG_LEN);
}

/* Steps a single-row query: 0 and row read, STORE_ENOTFOUND, or error. */
static int one_row(struct sq *q, sqlite3_stmt *st, int *rcp)
{
	int rc = sqlite3_step(st);

	*rcp = rc;
	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return STORE_ENOTFOUND;
	return dberr(q, rc);
}

/* ---- hot path ---------------------------------------------------------- */

static int sq_kiosk_get(struct store *s, const char *id, struct store_kiosk *k)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_KIOSK_GET);
	int rc, err;

	if (!st)
		return STORE_EIO;
	bind_text(st, 1, id);
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND)
		return fail(q, err, "kiosk %s is not enrolled", id);
	if (err)
		return err;
	read_kiosk(st, k);
	sqlite3_reset(st);
	return 0;
}

static int sq_kiosk_touch(struct store *s, const char *id, int64_t last_seen,
			  int64_t offline_seq)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_KIOSK_TOUCH);

	if (!st)
		return STORE_EIO;
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, last_seen);
	sqlite3_bind_int64(st, 3, offline_seq);
	return exec_st(q, st);
}

static int sq_card_find(struct store *s, const uint8_t lookup[STORE_LOOKUP_LEN],
			struct store_card *c, struct store_member *m)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_CARD_FIND);
	int rc, err;

	if (!st)
		return STORE_EIO;
	sqlite3_bind_blob(st, 1, lookup, STORE_LOOKUP_LEN, SQLITE_STATIC);
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND)
		return fail(q, err, "no such card");
	if (err)
		return err;
	read_card(q, st, 0, c);
	if (m) {
		m->id = sqlite3_column_int64(st, 10);
		memcpy(m->no, c->member_no, sizeof(m->no));
		col_text(st, 11, m->name, sizeof(m->name));
		col_text(st, 12, m->union_, sizeof(m->union_));
		col_text(st, 13, m->category, sizeof(m->category));
		m->status = sqlite3_column_int(st, 14);
	}
	sqlite3_reset(st);
	return 0;
}

static int sq_card_set_ctr(struct store *s, int64_t card_id, uint32_t ctr)
{
	struct sq *q = Q(s);

	if (!q->in_txn)
		return fail(q, STORE_ESTATE, "counter outside a transaction");
	/* Durable through the redemption row (ctr_set) of this transaction;
	 * the cards table learns it at the next flush. */
	return ctr_set(q, card_id, ctr, 1);
}

static int sq_benefit_get(struct store *s, const char *code,
			  struct store_benefit *b)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_BENEFIT_GET);
	int rc, err;

	if (!st)
		return STORE_EIO;
	bind_text(st, 1, code);
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND)
		return fail(q, err, "benefit %s does not exist", code);
	if (err)
		return err;
	read_benefit(st, b);
	sqlite3_reset(st);
	return 0;
}

static int sq_usage(struct store *s, int64_t member_id, const char *benefit,
		    int64_t period_start, int64_t *count, int64_t *amount)
{
	struct sq *q = Q(s);
	int64_t i;

	if (!q->usage) { /* a reader: the table as last flushed */
		sqlite3_stmt *st = stmt(q, ST_USAGE);
		int rc;

		if (!st)
			return STORE_EIO;
		sqlite3_bind_int64(st, 1, period_start);
		sqlite3_bind_int64(st, 2, member_id);
		bind_text(st, 3, benefit);
		rc = sqlite3_step(st);
		*count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		*amount = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
		sqlite3_reset(st);
		return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : dberr(q, rc);
	}
	i = usage_find(q, member_id, benefit, period_start);
	if (i < 0)
		return (int)i;
	*count = q->usage[i].count;
	*amount = q->usage[i].amount;
	return 0;
}

static int red_lookup(struct sq *q, int i, const char *kiosk,
		      const uint8_t *rid, int64_t seq,
		      struct store_redemption *r)
{
	sqlite3_stmt *st = stmt(q, i);
	int rc, err;

	if (!st)
		return STORE_EIO;
	bind_text(st, 1, kiosk);
	if (rid)
		sqlite3_bind_blob(st, 2, rid, STORE_REQID_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, seq);
	err = one_row(q, st, &rc);
	if (err)
		return err;
	read_redemption(st, r);
	sqlite3_reset(st);
	return 0;
}

static int sq_red_get(struct store *s, int64_t id, struct store_redemption *r,
		      int *voided);

static int sq_red_by_request(struct store *s, const char *kiosk,
			     const uint8_t rid[STORE_REQID_LEN],
			     struct store_redemption *r)
{
	struct sq *q = Q(s);
	int64_t id = req_lookup(q, kiosk, rid);
	int err;

	if (id == 0)
		return STORE_ENOTFOUND;
	err = sq_red_get(s, id, r, NULL);
	if (err)
		return err;
	if (strcmp(r->kiosk, kiosk) != 0 ||
	    memcmp(r->request_id, rid, STORE_REQID_LEN) != 0)
		return STORE_ENOTFOUND;
	return 0;
}

/*
 * The same request id among the rows stamped between from and until (the
 * red_ts index), for what the in-memory index no longer holds: an offline
 * record uploaded long after the kiosk first tried the tap online.
 */
static int sq_red_by_request_near(struct store *s, const char *kiosk,
				  const uint8_t rid[STORE_REQID_LEN],
				  int64_t from, int64_t until,
				  struct store_redemption *r)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_RED_BY_REQ_NEAR);
	int rc, err;

	if (!st)
		return STORE_EIO;
	bind_text(st, 1, kiosk);
	sqlite3_bind_blob(st, 2, rid, STORE_REQID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, from);
	sqlite3_bind_int64(st, 4, until);
	err = one_row(q, st, &rc);
	if (err)
		return err;
	read_redemption(st, r);
	sqlite3_reset(st);
	return 0;
}

static int sq_red_by_seq(struct store *s, const char *kiosk, int64_t seq,
			 struct store_redemption *r)
{
	return red_lookup(Q(s), ST_RED_BY_SEQ, kiosk, NULL, seq, r);
}

static int sq_red_append(struct store *s, struct store_redemption *r)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int err;

	if (!q->in_txn)
		return fail(q, STORE_ESTATE, "append outside a transaction");
	if ((err = check_text(q, "kiosk", r->kiosk, sizeof(r->kiosk), 1)) ||
	    (err = check_text(q, "point", r->point, sizeof(r->point), 0)) ||
	    (err =
		 check_text(q, "benefit", r->benefit, sizeof(r->benefit), 0)) ||
	    (err = check_text(q, "masked name", r->masked, sizeof(r->masked),
			      0)) ||
	    (err = check_text(q, "SUN text", r->sun, sizeof(r->sun), 0)))
		return err;
	r->id = q->r_head.id + 1;
	memcpy(r->prev_hash, q->r_head.hash, STORE_HASH_LEN);
	err = chain_hash_redemption(r->prev_hash, r, r->hash);
	if (err)
		return fail(q, STORE_EIO, "hashing failed");
	st = stmt(q, ST_RED_INSERT);
	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, r->id);
	sqlite3_bind_int64(st, 2, r->ts);
	bind_text(st, 3, r->kiosk);
	bind_text(st, 4, r->point);
	sqlite3_bind_blob(st, 5, r->request_id, STORE_REQID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, r->card_id);
	sqlite3_bind_int64(st, 7, r->member_id);
	bind_text(st, 8, r->benefit);
	sqlite3_bind_int(st, 9, r->result);
	sqlite3_bind_int(st, 10, r->reason);
	sqlite3_bind_int64(st, 11, r->left);
	sqlite3_bind_int64(st, 12, r->amount);
	sqlite3_bind_int(st, 13, r->offline);
	sqlite3_bind_int64(st, 14, r->offline_seq);
	sqlite3_bind_int64(st, 15, r->kiosk_time);
	sqlite3_bind_int64(st, 16, r->ctr);
	bind_text(st, 17, r->masked);
	bind_text(st, 18, r->sun);
	if (r->has_sig)
		sqlite3_bind_blob(st, 19, r->kiosk_sig, STORE_SIG_LEN,
				  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 19);
	sqlite3_bind_blob(st, 20, r->prev_hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 21, r->hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 22, r->period_start);
	sqlite3_bind_int(st, 23, r->ctr_set ? 1 : 0);
	err = exec_st(q, st);
	if (err)
		return err;
	if ((err = req_insert(q, r->kiosk, r->request_id, r->id)))
		return err;
	if (r->result == STORE_GRANTED && r->member_id &&
	    (err = usage_add(q, r->member_id, r->benefit, r->period_start, 1,
			     r->amount)))
		return err;
	q->r_head.id = r->id;
	memcpy(q->r_head.hash, r->hash, STORE_HASH_LEN);
	return 0;
}

static int sq_security_add(struct store *s, struct store_security_event *e)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int own, err;

	if ((err = own_begin(q, &own)))
		return err;
	st = stmt(q, ST_SEC_INSERT);
	if (!st)
		return own_end(q, own, STORE_EIO);
	sqlite3_bind_int64(st, 1, e->ts);
	bind_text(st, 2, e->kind);
	bind_text(st, 3, e->kiosk);
	sqlite3_bind_int64(st, 4, e->card_id);
	bind_text(st, 5, e->detail);
	err = exec_st(q, st);
	if (!err)
		e->id = sqlite3_last_insert_rowid(q->db);
	return own_end(q, own, err);
}

/* ---- members ------------------------------------------------------------ */

static int check_member(struct sq *q, const struct store_member *m)
{
	int err;

	if ((err = check_text(q, "member number", m->no, sizeof(m->no), 1)) ||
	    (err = check_text(q, "name", m->name, sizeof(m->name), 1)) ||
	    (err = check_text(q, "union", m->union_, sizeof(m->union_), 1)) ||
	    (err = check_text(q, "category", m->category, sizeof(m->category),
			      1)))
		return err;
	if (m->status != STORE_ACTIVE && m->status != STORE_SUSPENDED)
		return fail(q, STORE_EINVALID,
			    "status must be active or suspended");
	return 0;
}

static void bind_member(sqlite3_stmt *st, const struct store_member *m)
{
	bind_text(st, 1, m->no);
	bind_text(st, 2, m->name);
	bind_text(st, 3, m->union_);
	bind_text(st, 4, m->category);
	sqlite3_bind_int(st, 5, m->status);
}

static int sq_member_import(struct store *s, const struct store_member *rows,
			    size_t n, int first_line)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int own, err = 0;
	char msg[sizeof(q->err)];

	if ((err = own_begin(q, &own)))
		return err;
	st = stmt(q, ST_MEMBER_UPSERT);
	if (!st)
		return own_end(q, own, STORE_EIO);
	for (size_t i = 0; i < n && !err; i++) {
		err = check_member(q, &rows[i]);
		if (!err) {
			bind_member(st, &rows[i]);
			err = exec_st(q, st);
		}
		if (err) {
			snprintf(msg, sizeof(msg), "line %lld: %.200s",
				 (long long)first_line + (long long)i, q->err);
			memcpy(q->err, msg, sizeof(msg));
		}
	}
	return own_end(q, own, err);
}

static int sq_member_add(struct store *s, struct store_member *m)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int own, err;

	if ((err = check_member(q, m)))
		return err;
	if ((err = own_begin(q, &own)))
		return err;
	st = stmt(q, ST_MEMBER_INSERT);
	if (!st)
		return own_end(q, own, STORE_EIO);
	bind_member(st, m);
	err = exec_st(q, st);
	if (err == STORE_EEXISTS)
		fail(q, err, "member %s already exists", m->no);
	if (!err)
		m->id = sqlite3_last_insert_rowid(q->db);
	return own_end(q, own, err);
}

static int member_read(struct sq *q, int i, const char *no, int64_t id,
		       struct store_member *m)
{
	sqlite3_stmt *st = stmt(q, i);
	int rc, err;

	if (!st)
		return STORE_EIO;
	if (no)
		bind_text(st, 1, no);
	else
		sqlite3_bind_int64(st, 1, id);
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND) {
		if (no)
			return fail(q, err, "member %s does not exist", no);
		return fail(q, err, "member #%lld does not exist",
			    (long long)id);
	}
	if (err)
		return err;
	read_member(st, m);
	sqlite3_reset(st);
	return 0;
}

static int sq_member_get(struct store *s, const char *no,
			 struct store_member *m)
{
	return member_read(Q(s), ST_MEMBER_GET, no, 0, m);
}

static int sq_member_get_id(struct store *s, int64_t id, struct store_member *m)
{
	return member_read(Q(s), ST_MEMBER_GET_ID, NULL, id, m);
}

static int sq_member_set_status(struct store *s, const char *no, int status)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int own, err;

	if (status != STORE_ACTIVE && status != STORE_SUSPENDED)
		return fail(q, STORE_EINVALID,
			    "status must be active or suspended");
	if ((err = own_begin(q, &own)))
		return err;
	st = stmt(q, ST_MEMBER_STATUS);
	if (!st)
		return own_end(q, own, STORE_EIO);
	bind_text(st, 1, no);
	sqlite3_bind_int(st, 2, status);
	err = exec_st(q, st);
	if (!err && sqlite3_changes(q->db) == 0)
		err = fail(q, STORE_ENOTFOUND, "member %s does not exist", no);
	return own_end(q, own, err);
}

static int sq_member_count(struct store *s, int64_t *n)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_MEMBER_COUNT);
	int rc, err;

	if (!st)
		return STORE_EIO;
	err = one_row(q, st, &rc);
	if (err)
		return err;
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* ---- benefits ----------------------------------------------------------- */

static int check_date(int32_t d)
{
	int m = d / 100 % 100, day = d % 100;

	return d == 0 || (d >= 19700101 && d <= 99991231 && m >= 1 && m <= 12 &&
			  day >= 1 && day <= 31);
}

static int sq_benefit_add(struct store *s, const struct store_benefit *b)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int own, err;

	if ((err = check_text(q, "code", b->code, sizeof(b->code), 1)) ||
	    (err = check_text(q, "name", b->name, sizeof(b->name), 1)) ||
	    (err = check_text(q, "categories", b->categories,
			      sizeof(b->categories), 0)) ||
	    (err = check_text(q, "unions", b->unions, sizeof(b->unions), 0)) ||
	    (err = check_text(q, "points", b->points, sizeof(b->points), 0)))
		return err;
	if (b->kind == STORE_QUOTA) {
		if (b->quota <= 0)
			return fail(q, STORE_EINVALID,
				    "quota must be 1 or more");
		if (b->per < STORE_DAY || b->per > STORE_YEAR)
			return fail(q, STORE_EINVALID,
				    "per must be day, month or year");
	} else if (b->kind == STORE_BALANCE) {
		if (b->balance <= 0)
			return fail(q, STORE_EINVALID,
				    "balance must be 1 cent or more");
		if (b->amount <= 0 || b->amount > b->balance)
			return fail(q, STORE_EINVALID,
				    "amount must be between 1 cent and the "
				    "balance");
		if (b->per < STORE_DAY || b->per > STORE_LIFETIME)
			return fail(q, STORE_EINVALID, "bad period");
	} else {
		return fail(q, STORE_EINVALID, "unknown benefit kind");
	}
	if (!check_date(b->valid_from) || !check_date(b->valid_until))
		return fail(q, STORE_EINVALID, "dates must be YYYY-MM-DD");
	if (b->valid_from && b->valid_until && b->valid_until < b->valid_from)
		return fail(q, STORE_EINVALID,
			    "valid_until is before valid_from");
	if (b->hours_from < -1 || b->hours_from >= 24 * 60 ||
	    b->hours_to < -1 || b->hours_to > 24 * 60 ||
	    (b->hours_from >= 0) != (b->hours_to >= 0))
		return fail(q, STORE_EINVALID, "hours must be HH:MM-HH:MM");
	if (b->offline < 0)
		return fail(q, STORE_EINVALID, "offline must be 0 or more");
	if ((err = own_begin(q, &own)))
		return err;
	st = stmt(q, ST_BENEFIT_INSERT);
	if (!st)
		return own_end(q, own, STORE_EIO);
	bind_text(st, 1, b->code);
	bind_text(st, 2, b->name);
	sqlite3_bind_int(st, 3, b->kind);
	sqlite3_bind_int(st, 4, b->per);
	sqlite3_bind_int64(st, 5, b->kind == STORE_QUOTA ? b->quota : 0);
	sqlite3_bind_int64(st, 6, b->kind == STORE_BALANCE ? b->balance : 0);
	sqlite3_bind_int64(st, 7, b->kind == STORE_BALANCE ? b->amount : 0);
	bind_text(st, 8, b->categories);
	bind_text(st, 9, b->unions);
	bind_text(st, 10, b->points);
	sqlite3_bind_int(st, 11, b->offline);
	sqlite3_bind_int(st, 12, b->valid_from);
	sqlite3_bind_int(st, 13, b->valid_until);
	sqlite3_bind_int(st, 14, b->hours_from);
	sqlite3_bind_int(st, 15, b->hours_to);
	err = exec_st(q, st);
	if (err == STORE_EEXISTS)
		fail(q, err, "benefit %s already exists", b->code);
	err = own_end(q, own, err);
	if (!err)
		q->generation++;
	return err;
}

static int sq_benefit_list(struct store *s, store_benefit_fn fn, void *ctx)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_BENEFIT_LIST);
	struct store_benefit b;
	int rc, ret = 0;

	if (!st)
		return STORE_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_benefit(st, &b);
		if ((ret = fn(ctx, &b)))
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(q, rc);
	return ret;
}

/* ---- kiosks ------------------------------------------------------------- */

static int sq_kiosk_add(struct store *s, const struct store_kiosk *k)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st;
	int own, err;

	if ((err = check_text(q, "kiosk id", k->id, sizeof(k->id), 1)) ||
	    (err = check_text(q, "point", k->point, sizeof(k->point), 1)) ||
	    (err = check_text(q, "time zone", k->tz, sizeof(k->tz), 0)) ||
	    (err = check_text(q, "public key", k->pubkey_pem,
			      sizeof(k->pubkey_pem), 1)))
		return err;
	if ((err = own_begin(q, &own)))
		return err;
	st = stmt(q, ST_KIOSK_INSERT);
	if (!st)
		return own_end(q, own, STORE_EIO);
	bind_text(st, 1, k->id);
	bind_text(st, 2, k->point);
	bind_text(st, 3, k->tz);
	bind_text(st, 4, k->pubkey_pem);
	sqlite3_bind_int64(st, 5, k->added ? k->added : (int64_t)time(NULL));
	err = exec_st(q, st);
	if (err == STORE_EEXISTS)
		fail(q, err, "kiosk %s already exists", k->id);
	err = own_end(q, own, err);
	if (!err)
		q->generation++;
	return err;
}

static int sq_kiosk_revoke(struct store *s, const char *id)
{
	struct sq *q = Q(s);
	struct store_kiosk k;
	sqlite3_stmt *st;
	int own, err;

	if ((err = own_begin(q, &own)))
		return err;
	err = sq_kiosk_get(s, id, &k);
	if (!err && k.status == STORE_REVOKED)
		err =
		    fail(q, STORE_ECONFLICT, "kiosk %s is already revoked", id);
	if (!err) {
		st = stmt(q, ST_KIOSK_REVOKE);
		if (!st)
			return own_end(q, own, STORE_EIO);
		bind_text(st, 1, id);
		err = exec_st(q, st);
	}
	err = own_end(q, own, err);
	if (!err)
		q->generation++;
	return err;
}

static int sq_kiosk_list(struct store *s, store_kiosk_fn fn, void *ctx)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_KIOSK_LIST);
	struct store_kiosk k;
	int rc, ret = 0;

	if (!st)
		return STORE_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_kiosk(st, &k);
		if ((ret = fn(ctx, &k)))
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(q, rc);
	return ret;
}

/* ---- cards -------------------------------------------------------------- */

static int card_insert(struct sq *q, const uint8_t *lookup, int64_t member_id,
		       int key_version, uint32_t ctr, int64_t now,
		       int64_t *card_id)
{
	sqlite3_stmt *st;
	int err;

	if (key_version < 0 || key_version > 255)
		return fail(q, STORE_EINVALID, "key version must be 0..255");
	if (ctr > 0xFFFFFFu)
		return fail(q, STORE_EINVALID, "counter is over 24 bits");
	st = stmt(q, ST_CARD_INSERT);
	if (!st)
		return STORE_EIO;
	sqlite3_bind_blob(st, 1, lookup, STORE_LOOKUP_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, member_id);
	sqlite3_bind_int(st, 3, key_version);
	sqlite3_bind_int64(st, 4, ctr);
	sqlite3_bind_int64(st, 5, now);
	err = exec_st(q, st);
	if (err == STORE_EEXISTS)
		return fail(q, err, "this card is already registered");
	if (err)
		return err;
	*card_id = sqlite3_last_insert_rowid(q->db);
	return ctr_set(q, *card_id, ctr, 0);
}

static int sq_card_register(struct store *s,
			    const uint8_t lookup[STORE_LOOKUP_LEN],
			    const char *member_no, int key_version,
			    uint32_t ctr, int64_t now, int64_t *card_id)
{
	struct sq *q = Q(s);
	struct store_member m;
	int own, err;

	if ((err = own_begin(q, &own)))
		return err;
	err = sq_member_get(s, member_no, &m);
	if (!err)
		err = card_insert(q, lookup, m.id, key_version, ctr, now,
				  card_id);
	return own_end(q, own, err);
}

static int sq_card_get(struct store *s, int64_t card_id, struct store_card *c)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_CARD_GET);
	int rc, err;

	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, card_id);
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND)
		return fail(q, err, "card %lld does not exist",
			    (long long)card_id);
	if (err)
		return err;
	read_card(q, st, 0, c);
	sqlite3_reset(st);
	return 0;
}

static int card_revoke(struct sq *q, int64_t card_id, const char *reason,
		       int64_t replaced_by)
{
	struct store_card c;
	sqlite3_stmt *st;
	int err;

	err = sq_card_get(&q->base, card_id, &c);
	if (err)
		return err;
	if (c.status == STORE_REVOKED)
		return fail(q, STORE_ECONFLICT, "card %lld is already revoked",
			    (long long)card_id);
	st = stmt(q, ST_CARD_REVOKE);
	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, card_id);
	bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, replaced_by);
	return exec_st(q, st);
}

static int sq_card_revoke(struct store *s, int64_t card_id, const char *reason)
{
	struct sq *q = Q(s);
	int own, err;

	if (!reason || (strcmp(reason, "lost") && strcmp(reason, "stolen") &&
			strcmp(reason, "left") && strcmp(reason, "damaged")))
		return fail(q, STORE_EINVALID,
			    "reason must be lost, stolen, left or damaged");
	if ((err = own_begin(q, &own)))
		return err;
	err = card_revoke(q, card_id, reason, 0);
	return own_end(q, own, err);
}

static int staff_insert(struct sq *q, struct store_staff_action *a);

static int sq_card_replace(struct store *s, int64_t old_id,
			   const uint8_t lookup[STORE_LOOKUP_LEN],
			   int key_version, uint32_t ctr, int64_t now,
			   const struct store_actor *actor, int64_t *new_id)
{
	struct sq *q = Q(s);
	struct store_card old;
	struct store_staff_action a;
	char args[128];
	int own, err;

	if ((err = own_begin(q, &own)))
		return err;
	err = sq_card_get(s, old_id, &old);
	if (!err && old.status == STORE_REVOKED)
		err = fail(q, STORE_ECONFLICT, "card %lld is already revoked",
			   (long long)old_id);
	if (!err)
		err = card_insert(q, lookup, old.member_id, key_version, ctr,
				  now, new_id);
	if (!err)
		err = card_revoke(q, old_id, "replaced", *new_id);
	if (!err) {
		memset(&a, 0, sizeof(a));
		a.ts = now;
		a.uid = actor ? actor->uid : 0;
		snprintf(a.role, sizeof(a.role), "%s",
			 actor ? actor->role : "");
		snprintf(a.cmd, sizeof(a.cmd), "card.replaced");
		snprintf(args, sizeof(args), "{\"old\":%lld,\"new\":%lld}",
			 (long long)old_id, (long long)*new_id);
		a.args = args;
		a.ok = 1;
		err = staff_insert(q, &a);
	}
	return own_end(q, own, err);
}

static int sq_card_list(struct store *s, int64_t member_id, store_card_fn fn,
			void *ctx)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_CARD_LIST);
	struct store_card c;
	int rc, ret = 0;

	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, member_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_card(q, st, 0, &c);
		if ((ret = fn(ctx, &c)))
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(q, rc);
	return ret;
}

/* ---- staff actions ------------------------------------------------------ */

static int staff_insert(struct sq *q, struct store_staff_action *a)
{
	sqlite3_stmt *st;
	int err;

	if ((err = check_text(q, "role", a->role, sizeof(a->role), 0)) ||
	    (err = check_text(q, "command", a->cmd, sizeof(a->cmd), 1)))
		return err;
	if (!a->args)
		a->args = "";
	a->id = q->s_head.id + 1;
	memcpy(a->prev_hash, q->s_head.hash, STORE_HASH_LEN);
	if (chain_hash_staff(a->prev_hash, a, a->hash))
		return fail(q, STORE_EIO, "hashing failed");
	st = stmt(q, ST_STAFF_INSERT);
	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_int64(st, 2, a->ts);
	sqlite3_bind_int64(st, 3, a->uid);
	bind_text(st, 4, a->role);
	bind_text(st, 5, a->cmd);
	bind_text(st, 6, a->args);
	sqlite3_bind_int64(st, 7, a->ref_id);
	sqlite3_bind_int(st, 8, a->ok ? 1 : 0);
	sqlite3_bind_blob(st, 9, a->prev_hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, a->hash, STORE_HASH_LEN, SQLITE_STATIC);
	err = exec_st(q, st);
	if (err)
		return err;
	q->s_head.id = a->id;
	memcpy(q->s_head.hash, a->hash, STORE_HASH_LEN);
	return 0;
}

static int sq_staff_append(struct store *s, struct store_staff_action *a)
{
	struct sq *q = Q(s);
	int own, err;

	if ((err = own_begin(q, &own)))
		return err;
	err = staff_insert(q, a);
	return own_end(q, own, err);
}

/* ---- log ---------------------------------------------------------------- */

static int sq_red_get(struct store *s, int64_t id, struct store_redemption *r,
		      int *voided)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_RED_GET);
	int rc, err;

	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, id);
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND)
		return fail(q, err, "redemption %lld does not exist",
			    (long long)id);
	if (err)
		return err;
	read_redemption(st, r);
	if (voided)
		*voided = sqlite3_column_int(st, RED_NCOLS);
	sqlite3_reset(st);
	return 0;
}

static int sq_red_void(struct store *s, int64_t id, const char *reason,
		       const struct store_actor *actor, int64_t now)
{
	struct sq *q = Q(s);
	struct store_redemption r;
	struct store_staff_action a;
	char args[512];
	int own, err, voided = 0;

	if (!reason || !*reason)
		return fail(q, STORE_EINVALID, "a reason is required");
	if ((err = own_begin(q, &own)))
		return err;
	err = sq_red_get(s, id, &r, &voided);
	if (!err && voided)
		err = fail(q, STORE_ECONFLICT,
			   "redemption %lld is already voided", (long long)id);
	if (!err && r.result != STORE_GRANTED)
		err = fail(q, STORE_ECONFLICT,
			   "redemption %lld was not granted", (long long)id);
	if (!err) {
		memset(&a, 0, sizeof(a));
		a.ts = now;
		a.uid = actor ? actor->uid : 0;
		snprintf(a.role, sizeof(a.role), "%s",
			 actor ? actor->role : "");
		snprintf(a.cmd, sizeof(a.cmd), VOIDED_CMD);
		snprintf(args, sizeof(args), "{\"id\":%lld,\"reason\":\"",
			 (long long)id);
		json_str(args, sizeof(args) - 3, reason);
		strcat(args, "\"}");
		a.args = args;
		a.ref_id = id;
		a.ok = 1;
		err = staff_insert(q, &a);
	}
	if (!err && r.member_id)
		err = usage_add(q, r.member_id, r.benefit, r.period_start, -1,
				-r.amount);
	return own_end(q, own, err);
}

static int sq_log_query(struct store *s, const struct store_log_filter *f,
			store_log_fn fn, void *ctx, int64_t *next)
{
	struct sq *q = Q(s);
	char qs[1024];
	sqlite3_stmt *st = NULL;
	struct store_log_row row;
	struct store_member m;
	int rc, limit, n = 0, ret = 0, b = 1;
	int i_member = 0, i_kiosk = 0, i_benefit = 0, i_since = 0, i_until = 0,
	    i_result = 0;

	*next = 0;
	limit = f->limit <= 0 ? 100 : f->limit;
	if (limit > 10000)
		return fail(q, STORE_EINVALID, "limit is over 10000");
	if (f->member_no[0]) {
		ret = sq_member_get(s, f->member_no, &m);
		if (ret)
			return ret;
	}
	snprintf(qs, sizeof(qs),
		 "SELECT " RED_COLS_R ", coalesce(m.no, ''),"
		 " coalesce(m.name, ''), EXISTS(SELECT 1 FROM staff_actions s"
		 " WHERE s.ref_id = r.id AND s.cmd = '" VOIDED_CMD "'"
		 " AND s.ok = 1) FROM redemptions r LEFT JOIN members m"
		 " ON m.id = r.member_id WHERE r.id > ?1");
	/* Only fixed SQL text is appended; every value is a parameter. */
#define ADD(cond, idx, text)                                                   \
	do {                                                                   \
		if (cond) {                                                    \
			idx = ++b;                                             \
			snprintf(qs + strlen(qs), sizeof(qs) - strlen(qs),     \
				 text, idx);                                   \
		}                                                              \
	} while (0)
	ADD(f->member_no[0], i_member, " AND r.member_id = ?%d");
	ADD(f->kiosk[0], i_kiosk, " AND r.kiosk = ?%d");
	ADD(f->benefit[0], i_benefit, " AND r.benefit = ?%d");
	ADD(f->since, i_since, " AND r.ts >= ?%d");
	ADD(f->until, i_until, " AND r.ts < ?%d");
	ADD(f->result >= 0, i_result, " AND r.result = ?%d");
#undef ADD
	snprintf(qs + strlen(qs), sizeof(qs) - strlen(qs),
		 " ORDER BY r.id LIMIT %d", limit + 1);
	rc = sqlite3_prepare_v2(q->db, qs, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return dberr(q, rc);
	sqlite3_bind_int64(st, 1, f->after_id);
	if (i_member)
		sqlite3_bind_int64(st, i_member, m.id);
	if (i_kiosk)
		bind_text(st, i_kiosk, f->kiosk);
	if (i_benefit)
		bind_text(st, i_benefit, f->benefit);
	if (i_since)
		sqlite3_bind_int64(st, i_since, f->since);
	if (i_until)
		sqlite3_bind_int64(st, i_until, f->until);
	if (i_result)
		sqlite3_bind_int(st, i_result, f->result);
	ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			*next = row.r.id;
			break;
		}
		memset(&row, 0, sizeof(row));
		read_redemption(st, &row.r);
		col_text(st, RED_NCOLS, row.member_no, sizeof(row.member_no));
		col_text(st, RED_NCOLS + 1, row.name, sizeof(row.name));
		row.voided = sqlite3_column_int(st, RED_NCOLS + 2);
		n++;
		if ((ret = fn(ctx, &row)))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = dberr(q, rc);
	sqlite3_finalize(st);
	return ret;
}

static int report_section(struct sq *q, const char *section, const char *qs,
			  int64_t since, int64_t until, int64_t off,
			  store_report_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct store_report_row row;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(q->db, qs, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return dberr(q, rc);
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	sqlite3_bind_int64(st, 3, off);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.section = section;
		if (strcmp(section, "per_day") == 0) {
			time_t t = (time_t)sqlite3_column_int64(st, 0) * 86400;
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(row.key, sizeof(row.key), "%Y-%m-%d", &tm);
		} else {
			col_text(st, 0, row.key, sizeof(row.key));
		}
		row.granted = sqlite3_column_int64(st, 1);
		row.denied = sqlite3_column_int64(st, 2);
		row.amount = sqlite3_column_int64(st, 3);
		if ((ret = fn(ctx, &row)))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = dberr(q, rc);
	sqlite3_finalize(st);
	return ret;
}

static int sq_report(struct store *s, int64_t since, int64_t until,
		     int64_t utc_offset, store_report_fn fn, void *ctx)
{
	/* A voided grant is no grant: neither its count nor its amount (as
	 * in the usage the quota reads).  The voided ids are one list, read
	 * once per section. */
#define RPT_GRANTED                                                            \
	"(result = 1 AND id NOT IN (SELECT ref_id FROM staff_actions"          \
	" WHERE cmd = '" VOIDED_CMD "' AND ok = 1))"
#define RPT_COUNTS                                                             \
	" sum(" RPT_GRANTED "), sum(result != 1), sum(CASE WHEN " RPT_GRANTED  \
	" THEN amount ELSE 0 END)"
	static const struct {
		const char *section, *sql;
	} sec[] = {
	    {"per_day", "SELECT (ts + ?3) / 86400 AS k," RPT_COUNTS
			" FROM redemptions WHERE ts >= ?1 AND ts < ?2"
			" GROUP BY k ORDER BY k"},
	    {"per_benefit", "SELECT benefit," RPT_COUNTS
			    " FROM redemptions WHERE ts >= ?1 AND ts < ?2"
			    " AND ?3 = ?3 GROUP BY benefit ORDER BY benefit"},
	    {"per_point", "SELECT point," RPT_COUNTS
			  " FROM redemptions WHERE ts >= ?1 AND ts < ?2"
			  " AND ?3 = ?3 GROUP BY point ORDER BY point"},
	    {"denials",
	     "SELECT reason, 0, count(*), 0 FROM redemptions"
	     " WHERE ts >= ?1 AND ts < ?2 AND result != 1 AND ?3 = ?3"
	     " GROUP BY reason ORDER BY reason"},
	    {"security", "SELECT kind, count(*), 0, 0 FROM security_events"
			 " WHERE ts >= ?1 AND ts < ?2 AND ?3 = ?3"
			 " GROUP BY kind ORDER BY kind"},
	};
#undef RPT_COUNTS
#undef RPT_GRANTED
	int ret;

	for (size_t i = 0; i < sizeof(sec) / sizeof(sec[0]); i++) {
		ret = report_section(Q(s), sec[i].section, sec[i].sql, since,
				     until, utc_offset, fn, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

static int sq_security_list(struct store *s, int64_t since, int64_t after_id,
			    int limit, store_sec_fn fn, void *ctx)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_SEC_LIST);
	struct store_security_event e;
	int rc, ret = 0;

	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, after_id);
	sqlite3_bind_int(st, 3, limit <= 0 ? 100 : limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e.id = sqlite3_column_int64(st, 0);
		e.ts = sqlite3_column_int64(st, 1);
		col_text(st, 2, e.kind, sizeof(e.kind));
		col_text(st, 3, e.kiosk, sizeof(e.kiosk));
		e.card_id = sqlite3_column_int64(st, 4);
		col_text(st, 5, e.detail, sizeof(e.detail));
		if ((ret = fn(ctx, &e)))
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(q, rc);
	return ret;
}

/* ---- chain support ------------------------------------------------------ */

static int sq_chain_heads(struct store *s, int64_t *r_id,
			  uint8_t r_hash[STORE_HASH_LEN], int64_t *s_id,
			  uint8_t s_hash[STORE_HASH_LEN])
{
	struct sq *q = Q(s);
	struct head r, h;
	int err;

	if (q->in_txn) {
		r = q->r_head;
		h = q->s_head;
	} else if ((err = load_head(q, ST_R_HEAD, &r)) ||
		   (err = load_head(q, ST_S_HEAD, &h))) {
		return err;
	}
	*r_id = r.id;
	memcpy(r_hash, r.hash, STORE_HASH_LEN);
	*s_id = h.id;
	memcpy(s_hash, h.hash, STORE_HASH_LEN);
	return 0;
}

static int sq_checkpoint_last(struct store *s, struct store_checkpoint *c)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_CP_LAST);
	int rc, err;

	if (!st)
		return STORE_EIO;
	err = one_row(q, st, &rc);
	if (err == STORE_ENOTFOUND)
		return fail(q, err, "no checkpoint yet");
	if (err)
		return err;
	read_checkpoint(st, c);
	sqlite3_reset(st);
	return 0;
}

static int sq_checkpoint_add(struct store *s, struct store_checkpoint *c)
{
	struct sq *q = Q(s);
	sqlite3_stmt *st = stmt(q, ST_CP_INSERT);

	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_int64(st, 2, c->ts);
	sqlite3_bind_int64(st, 3, c->r_head_id);
	sqlite3_bind_blob(st, 4, c->r_head_hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, c->s_head_id);
	sqlite3_bind_blob(st, 6, c->s_head_hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, c->prev_digest, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, c->digest, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, c->sig, STORE_SIG_LEN, SQLITE_STATIC);
	return exec_st(q, st);
}

static int sq_cursor_open(struct store *s, int kind, int64_t after_id,
			  struct store_cursor **out)
{
	struct sq *q = Q(s);
	struct store_cursor *cur;
	const char *qs;
	int rc;

	switch (kind) {
	case STORE_CUR_REDEMPTIONS:
		qs = "SELECT " RED_COLS " FROM redemptions WHERE id > ?1"
		     " ORDER BY id";
		break;
	case STORE_CUR_STAFF:
		qs = "SELECT id, ts, uid, role, cmd, args, ref_id, ok,"
		     " prev_hash, hash FROM staff_actions WHERE id > ?1"
		     " ORDER BY id";
		break;
	case STORE_CUR_CHECKPOINTS:
		qs = "SELECT id, ts, r_head_id, r_head_hash, s_head_id,"
		     " s_head_hash, prev_digest, digest, sig FROM checkpoints"
		     " WHERE id > ?1 ORDER BY id";
		break;
	default:
		return fail(q, STORE_EINVALID, "unknown cursor kind");
	}
	cur = calloc(1, sizeof(*cur));
	if (!cur)
		return fail(q, STORE_ENOMEM, "out of memory");
	rc = sqlite3_prepare_v2(q->db, qs, -1, &cur->st, NULL);
	if (rc != SQLITE_OK) {
		free(cur);
		return dberr(q, rc);
	}
	sqlite3_bind_int64(cur->st, 1, after_id);
	cur->q = q;
	cur->kind = kind;
	*out = cur;
	return 0;
}

static int sq_cursor_next(struct store_cursor *cur, void *row)
{
	sqlite3_stmt *st = cur->st;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return dberr(cur->q, rc);
	switch (cur->kind) {
	case STORE_CUR_REDEMPTIONS:
		read_redemption(st, row);
		break;
	case STORE_CUR_STAFF: {
		struct store_staff_action *a = row;

		a->id = sqlite3_column_int64(st, 0);
		a->ts = sqlite3_column_int64(st, 1);
		a->uid = (uint32_t)sqlite3_column_int64(st, 2);
		col_text(st, 3, a->role, sizeof(a->role));
		col_text(st, 4, a->cmd, sizeof(a->cmd));
		a->args = (const char *)sqlite3_column_text(st, 5);
		if (!a->args)
			a->args = "";
		a->ref_id = sqlite3_column_int64(st, 6);
		a->ok = sqlite3_column_int(st, 7);
		col_blob(st, 8, a->prev_hash, STORE_HASH_LEN);
		col_blob(st, 9, a->hash, STORE_HASH_LEN);
		break;
	}
	case STORE_CUR_CHECKPOINTS:
		read_checkpoint(st, row);
		break;
	}
	return 1;
}

static void sq_cursor_close(struct store_cursor *cur)
{
	if (!cur)
		return;
	sqlite3_finalize(cur->st);
	free(cur);
}

static int sq_count(struct store *s, int kind, int64_t *n)
{
	struct sq *q = Q(s);
	const char *qs;
	sqlite3_stmt *st;
	int rc;

	switch (kind) {
	case STORE_CUR_REDEMPTIONS:
		qs = "SELECT coalesce(max(id), 0) FROM redemptions";
		break;
	case STORE_CUR_STAFF:
		qs = "SELECT coalesce(max(id), 0) FROM staff_actions";
		break;
	case STORE_CUR_CHECKPOINTS:
		qs = "SELECT coalesce(max(id), 0) FROM checkpoints";
		break;
	default:
		return fail(q, STORE_EINVALID, "unknown table");
	}
	rc = sqlite3_prepare_v2(q->db, qs, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return dberr(q, rc);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : dberr(q, rc);
}

/* ---- write-behind: flush and replay ------------------------------------- */

/* Sets the marks of 2 (written by this flush) in list entries [from, to)
 * of both lists to v; with dl_lost, in both whole tables. */
static void dl_settle(struct sq *q, size_t cfrom, size_t cto, size_t ufrom,
		      size_t uto, uint8_t v)
{
	if (q->dl_lost) {
		cfrom = ufrom = 0;
		cto = q->ctr_cap;
		uto = USAGE_CAP;
	}
	for (size_t j = cfrom; j < cto; j++) {
		size_t id = q->dl_lost ? j : q->ctr_dl[j].i;

		if (q->ctr_dirty[id] == 2)
			q->ctr_dirty[id] = v;
	}
	for (size_t j = ufrom; j < uto; j++) {
		struct usage_ent *e =
		    &q->usage[q->dl_lost ? j : q->use_dl[j].i];

		if (e->dirty == 2)
			e->dirty = v;
	}
}

/* Writes counter id (marked 2: written by this flush). */
static int put_ctr(struct sq *q, size_t id)
{
	sqlite3_stmt *st = stmt(q, ST_CARD_SET_CTR);

	q->ctr_dirty[id] = 2;
	if (!st)
		return STORE_EIO;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	sqlite3_bind_int64(st, 2, q->ctr[id]);
	return exec_st(q, st);
}

/*
 * Writes usage slot i, which counts every redemption up to r_id and staff
 * action up to s_id (and, replaying, what its row already counted).
 */
static int put_usage(struct sq *q, size_t i, int64_t r_id, int64_t s_id)
{
	struct usage_ent *e = &q->usage[i];
	sqlite3_stmt *st = stmt(q, ST_USAGE_PUT);

	e->dirty = 2;
	if (!st)
		return STORE_EIO;
	if (q->upto) {
		if (q->upto[i][0] > r_id)
			r_id = q->upto[i][0];
		if (q->upto[i][1] > s_id)
			s_id = q->upto[i][1];
		q->upto[i][0] = r_id;
		q->upto[i][1] = s_id;
	}
	sqlite3_bind_int64(st, 1, e->period_start);
	sqlite3_bind_int64(st, 2, e->member_id);
	bind_text(st, 3, e->benefit);
	sqlite3_bind_int64(st, 4, e->count);
	sqlite3_bind_int64(st, 5, e->amount);
	sqlite3_bind_int64(st, 6, r_id);
	sqlite3_bind_int64(st, 7, s_id);
	return exec_st(q, st);
}

static int put_snapshot(struct sq *q, int64_t r_id, int64_t s_id)
{
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *st = stmt(q, ST_META_PUT);
		int err;

		if (!st)
			return STORE_EIO;
		bind_text(st, 1, i ? "snap_s" : "snap_r");
		sqlite3_bind_int64(st, 2, i ? s_id : r_id);
		if ((err = exec_st(q, st)))
			return err;
	}
	return 0;
}

/* Ends a flush transaction: commit, or roll back keeping the error. */
static int flush_end(struct sq *q, int err)
{
	char keep[sizeof(q->err)];

	if (!err)
		err = run(q, ST_COMMIT);
	if (!err)
		return 0;
	memcpy(keep, q->err, sizeof(keep));
	if (!sqlite3_get_autocommit(q->db))
		run(q, ST_ROLLBACK);
	memcpy(q->err, keep, sizeof(keep));
	return err;
}

/*
 * Writes every dirty counter and usage row and the snapshot position
 * (r_id, s_id: the last rows whose effects they hold) in one transaction.
 * Dirty marks are cleared only once it committed.
 */
static int flush_to(struct sq *q, int64_t r_id, int64_t s_id)
{
	size_t ch = q->hctr_dl, cn = q->nctr_dl, uh = q->huse_dl,
	       un = q->nuse_dl;
	int err = 0;

	if (q->in_txn)
		return fail(q, STORE_ESTATE, "flush inside a transaction");
	if ((err = run(q, ST_BEGIN)))
		return err;
	for (size_t j = 0, n = q->dl_lost ? q->ctr_cap : cn - ch; j < n && !err;
	     j++) {
		size_t id = q->dl_lost ? j : q->ctr_dl[ch + j].i;

		if (q->ctr_dirty[id] == 1) /* listed twice: written once */
			err = put_ctr(q, id);
	}
	for (size_t j = 0, n = q->dl_lost ? USAGE_CAP : un - uh; j < n && !err;
	     j++) {
		size_t i = q->dl_lost ? j : q->use_dl[uh + j].i;

		if (q->usage[i].used && q->usage[i].dirty == 1)
			err = put_usage(q, i, r_id, s_id);
	}
	if (!err)
		err = put_snapshot(q, r_id, s_id);
	err = flush_end(q, err);
	/* Marks of 2 (written): clean if committed, dirty again if not. */
	dl_settle(q, ch, cn, uh, un, err ? 1 : 0);
	if (err)
		return err;
	q->hctr_dl = q->nctr_dl = q->huse_dl = q->nuse_dl = 0;
	q->dl_lost = 0;
	q->pass_on = 0;
	return 0;
}

/* Skips list entries that are clean (written, or rolled back) or stale (the
 * entry went dirty again and is listed again further on). */
static void dl_skip_clean(struct sq *q)
{
	while (
	    q->hctr_dl < q->nctr_dl &&
	    (q->ctr_dirty[q->ctr_dl[q->hctr_dl].i] != 1 ||
	     q->ctr_seq[q->ctr_dl[q->hctr_dl].i] != q->ctr_dl[q->hctr_dl].seq))
		q->hctr_dl++;
	while (q->huse_dl < q->nuse_dl &&
	       !(q->usage[q->use_dl[q->huse_dl].i].used &&
		 q->usage[q->use_dl[q->huse_dl].i].dirty == 1 &&
		 q->usage[q->use_dl[q->huse_dl].i].seq ==
		     q->use_dl[q->huse_dl].seq))
		q->huse_dl++;
}

/* Usage slots in the order of the table's key (period, member, benefit). */
static int cmp_use(const void *a, const void *b, void *arg)
{
	const struct usage_ent *u = arg;
	const struct usage_ent *x = &u[*(const uint32_t *)a],
			       *y = &u[*(const uint32_t *)b];

	if (x->period_start != y->period_start)
		return x->period_start < y->period_start ? -1 : 1;
	if (x->member_id != y->member_id)
		return x->member_id < y->member_id ? -1 : 1;
	return strcmp(x->benefit, y->benefit);
}

/*
 * Sort keys for usage slots: the period's rank among those of the pass,
 * the member id, the slot (USAGE_SLOT_BITS), so that a radix sort on the
 * bits above the slot gives the table's order (within one member and
 * period, the benefits of a pass come in slot order: one page anyway).
 */
#define USAGE_SLOT_BITS	  18
#define USAGE_MEMBER_BITS 40
#define USAGE_RANKS	  (1u << (64 - USAGE_MEMBER_BITS - USAGE_SLOT_BITS))
_Static_assert(USAGE_CAP == 1u << USAGE_SLOT_BITS, "slot bits");

/* Sorts a[0..n) by bits [lo, 64), least significant byte first; tmp has
 * room for n.  Bytes every key shares are skipped. */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n, unsigned lo)
{
	uint64_t *src = a, *dst = tmp, *t;

	for (unsigned sh = lo; sh < 64 && n > 1; sh += 8) {
		size_t cnt[256] = {0}, pos = 0;

		for (size_t i = 0; i < n; i++)
			cnt[(src[i] >> sh) & 255]++;
		if (cnt[(src[0] >> sh) & 255] == n)
			continue;
		for (int d = 0; d < 256; d++) {
			size_t c = cnt[d];

			cnt[d] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[(src[i] >> sh) & 255]++] = src[i];
		t = src, src = dst, dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

/*
 * Puts the usage slots pass_u[0..n) in key order.  The periods of a pass
 * are few (today's, this month's, ...), so a radix sort of packed keys
 * does it in a few passes over memory; qsort_r through the table took
 * 15 ms for 32,000 entries, in front of a batch.  Returns 0, or -1 when
 * the keys do not pack (then the caller sorts with cmp_use).
 */
static int sort_usage(struct sq *q, size_t n)
{
	int64_t ps[USAGE_RANKS];
	unsigned nps = 0, last = 0;

	for (size_t k = 0; k < n; k++) {
		const struct usage_ent *e = &q->usage[q->pass_u[k]];
		unsigned r = last;

		if (e->member_id < 0 ||
		    (uint64_t)e->member_id >> USAGE_MEMBER_BITS)
			return -1;
		if (r >= nps || ps[r] != e->period_start) {
			for (r = 0; r < nps && ps[r] != e->period_start; r++)
				;
			if (r == nps) {
				if (nps == USAGE_RANKS)
					return -1;
				ps[nps++] = e->period_start;
			}
		}
		last = r;
	}
	/* ranks in period order (insertion sort: a handful) */
	for (unsigned i = 1; i < nps; i++)
		for (unsigned j = i; j > 0 && ps[j - 1] > ps[j]; j--) {
			int64_t t = ps[j];

			ps[j] = ps[j - 1];
			ps[j - 1] = t;
		}
	for (size_t k = 0; k < n; k++) {
		const struct usage_ent *e = &q->usage[q->pass_u[k]];
		uint64_t r = 0;

		while (ps[r] != e->period_start)
			r++;
		q->pass_key[k] = r << (USAGE_MEMBER_BITS + USAGE_SLOT_BITS) |
				 (uint64_t)e->member_id << USAGE_SLOT_BITS |
				 q->pass_u[k];
	}
	radix_sort(q->pass_key, q->pass_tmp, n, USAGE_SLOT_BITS);
	for (size_t k = 0; k < n; k++)
		q->pass_u[k] =
		    (uint32_t)(q->pass_key[k] & ((1u << USAGE_SLOT_BITS) - 1));
	return 0;
}

/* Counters and usage entries dirty, as flush_chunk counts them. */
static size_t flush_waiting(const struct sq *q)
{
	if (!q->pass_on)
		return (q->nctr_dl - q->hctr_dl) + (q->nuse_dl - q->huse_dl);
	return (q->pass_nc - q->pass_hc) + (q->pass_nu - q->pass_hu) +
	       (size_t)(q->listed_c - q->pass_lc) +
	       (size_t)(q->listed_u - q->pass_lu);
}

/* Starts a pass: every entry dirty now, once each, in key order. */
static int pass_begin(struct sq *q)
{
	size_t wc = q->nctr_dl - q->hctr_dl, wu = q->nuse_dl - q->huse_dl;
	size_t nc = 0, nu = 0;
	uint32_t lo = UINT32_MAX;

	if (wc > q->pass_capc) {
		uint32_t *p = realloc(q->pass_c, wc * sizeof(*p));

		if (!p)
			return fail(q, STORE_ENOMEM, "out of memory");
		q->pass_c = p;
		q->pass_capc = wc;
	}
	if (wu > q->pass_capu) {
		uint32_t *p = realloc(q->pass_u, wu * sizeof(*p));
		uint64_t *k = p ? realloc(q->pass_key, wu * sizeof(*k)) : NULL;
		uint64_t *t = k ? realloc(q->pass_tmp, wu * sizeof(*t)) : NULL;

		if (p)
			q->pass_u = p;
		if (k)
			q->pass_key = k;
		if (!t)
			return fail(q, STORE_ENOMEM, "out of memory");
		q->pass_tmp = t;
		q->pass_capu = wu;
	}
	/* An index may be listed more than once: mark 3 takes it once.  Card
	 * ids index the counters, so a sweep over the marked range puts them
	 * in order. */
	for (size_t j = q->hctr_dl; j < q->nctr_dl; j++) {
		uint32_t id = q->ctr_dl[j].i;

		if (q->ctr_dirty[id] == 1) {
			q->ctr_dirty[id] = 3;
			lo = id < lo ? id : lo;
			nc++;
		}
	}
	for (size_t id = lo, k = 0; k < nc; id++)
		if (q->ctr_dirty[id] == 3) {
			q->ctr_dirty[id] = 1;
			q->pass_c[k++] = (uint32_t)id;
		}
	for (size_t j = q->huse_dl; j < q->nuse_dl; j++) {
		uint32_t i = q->use_dl[j].i;

		if (q->usage[i].used && q->usage[i].dirty == 1) {
			q->usage[i].dirty = 3;
			q->pass_u[nu++] = i;
		}
	}
	for (size_t k = 0; k < nu; k++)
		q->usage[q->pass_u[k]].dirty = 1;
	if (sort_usage(q, nu) != 0)
		qsort_r(q->pass_u, nu, sizeof(*q->pass_u), cmp_use, q->usage);
	q->pass_nc = nc;
	q->pass_nu = nu;
	q->pass_hc = q->pass_hu = 0;
	q->pass_lc = q->listed_c;
	q->pass_lu = q->listed_u;
	q->pass_on = 1;
	return 0;
}

/* Sets the marks of 2 (written by this chunk) in pass entries [from, to)
 * of both arrays to v. */
static void pass_settle(struct sq *q, size_t cfrom, size_t cto, size_t ufrom,
			size_t uto, uint8_t v)
{
	for (size_t j = cfrom; j < cto; j++)
		if (q->ctr_dirty[q->pass_c[j]] == 2)
			q->ctr_dirty[q->pass_c[j]] = v;
	for (size_t j = ufrom; j < uto; j++)
		if (q->usage[q->pass_u[j]].dirty == 2)
			q->usage[q->pass_u[j]].dirty = v;
}

/*
 * Writes back the next budget entries of the pass (about half counters,
 * half usage) and moves the snapshot up to the oldest entry still dirty.
 *
 * A pass takes every entry dirty when it begins, sorted by key: cards by
 * id, usage rows by (period, member, benefit), as the tables store them,
 * so rows that share a page go out in the same chunk.  Entries that go
 * dirty meanwhile wait for the next pass.  The snapshot does not depend
 * on that order: it is the oldest entry of the dirty lists (oldest first)
 * still dirty, and within one pass every entry older than the pass is
 * written.  A usage row is stamped with the heads it counts up to, so a
 * replay from the snapshot skips what such a row already holds; counters
 * only grow, so they need no stamp.
 *
 * The chunk commits with synchronous=NORMAL, i.e. without an fsync of its
 * own: the next batch's commit (FULL) syncs the WAL with it.  If the
 * machine loses power first, the chunk is lost whole (WAL frames carry
 * checksums) and the snapshot with it, which the log covers: no tap
 * depends on a chunk being durable.
 */
static int flush_chunk(struct sq *q, size_t budget)
{
	struct head r, h;
	size_t ch, cn, uh, un, left;
	int64_t snap_r, snap_s;
	int err, e2;

	if (q->in_txn)
		return fail(q, STORE_ESTATE, "flush inside a transaction");
	if ((err = load_head(q, ST_R_HEAD, &r)) ||
	    (err = load_head(q, ST_S_HEAD, &h)))
		return err;
	if (q->dl_lost)
		return flush_to(q, r.id, h.id); /* no list: write everything */
	dl_skip_clean(q);
	if ((!q->pass_on ||
	     (q->pass_hc >= q->pass_nc && q->pass_hu >= q->pass_nu)) &&
	    (err = pass_begin(q)))
		return err;
	ch = q->pass_hc;
	uh = q->pass_hu;
	/* both arrays advance in step, so that neither holds the snapshot
	 * back */
	left = budget;
	cn = ch + (q->pass_nc - ch < left / 2 ? q->pass_nc - ch : left / 2);
	left -= cn - ch;
	un = uh + (q->pass_nu - uh < left ? q->pass_nu - uh : left);
	left -= un - uh;
	if (left > 0 && cn < q->pass_nc)
		cn += q->pass_nc - cn < left ? q->pass_nc - cn : left;
	if (cn == ch && un == uh)
		return 0;
	if ((err = exec_sql(q, "PRAGMA synchronous = NORMAL")))
		return err;
	q->sync_normal = 1;
	err = run(q, ST_BEGIN);
	for (size_t j = ch; j < cn && !err; j++)
		if (q->ctr_dirty[q->pass_c[j]] == 1)
			err = put_ctr(q, q->pass_c[j]);
	for (size_t j = uh; j < un && !err; j++) {
		size_t i = q->pass_u[j];

		if (q->usage[i].used && q->usage[i].dirty == 1)
			err = put_usage(q, i, r.id, h.id);
	}
	if (!err) {
		/* The oldest entry still dirty after this chunk (marks of 2
		 * count as written) bounds the snapshot; with none, the heads
		 * do. */
		size_t sc = q->hctr_dl, su = q->huse_dl;

		dl_skip_clean(q);
		snap_r = r.id;
		snap_s = h.id;
		if (q->hctr_dl < q->nctr_dl) {
			snap_r = q->ctr_dl[q->hctr_dl].since_r;
			snap_s = q->ctr_dl[q->hctr_dl].since_s;
		}
		if (q->huse_dl < q->nuse_dl) {
			if (q->use_dl[q->huse_dl].since_r < snap_r)
				snap_r = q->use_dl[q->huse_dl].since_r;
			if (q->use_dl[q->huse_dl].since_s < snap_s)
				snap_s = q->use_dl[q->huse_dl].since_s;
		}
		q->hctr_dl = sc;
		q->huse_dl = su;
		err = put_snapshot(q, snap_r, snap_s);
	}
	err = flush_end(q, err);
	if ((e2 = exec_sql(q, "PRAGMA synchronous = FULL")) == 0)
		q->sync_normal = 0;
	else if (!err)
		err = e2; /* sq_begin tries again and refuses until it works */
	pass_settle(q, ch, cn, uh, un, err ? 1 : 0);
	if (!err) {
		q->pass_hc = cn;
		q->pass_hu = un;
		dl_skip_clean(q);
	}
	return err;
}

static int sq_flush(struct store *s)
{
	struct sq *q = Q(s);
	struct head r, h;
	int err;

	if (q->ro)
		return 0; /* a reader keeps no state to write */
	if (q->in_txn)
		return fail(q, STORE_ESTATE, "flush inside a transaction");
	if ((err = load_head(q, ST_R_HEAD, &r)) ||
	    (err = load_head(q, ST_S_HEAD, &h)))
		return err;
	return flush_to(q, r.id, h.id);
}

static int meta_get(struct sq *q, const char *k, int64_t *v)
{
	sqlite3_stmt *st = stmt(q, ST_META_GET);
	int rc;

	if (!st)
		return STORE_EIO;
	bind_text(st, 1, k);
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : dberr(q, rc);
}

/*
 * The usage entry of a replayed row gets its effect unless the row read
 * from the table already counts it (its upto_r or upto_s).
 */
static int usage_replay(struct sq *q, int64_t member, const char *benefit,
			int64_t ps, int64_t dcount, int64_t damount, int k,
			int64_t id)
{
	int64_t i = usage_find(q, member, benefit, ps);

	if (i < 0)
		return (int)i;
	if (q->upto[i][k] >= id)
		return 0;
	return usage_add(q, member, benefit, ps, dcount, damount);
}

/*
 * Counters from the cards table, then the effects of every redemption and
 * void after the snapshot (a row that counts further than the snapshot
 * says so itself).
 */
static int replay(struct sq *q)
{
	struct store *s = &q->base;
	struct store_cursor *cur = NULL;
	struct store_redemption r;
	struct store_staff_action a;
	sqlite3_stmt *st;
	int64_t snap_r, snap_s;
	int rc, err;

	q->upto = calloc(USAGE_CAP, sizeof(*q->upto));
	if (!q->upto)
		return fail(q, STORE_ENOMEM, "out of memory");
	if (!(st = stmt(q, ST_CTR_ALL)))
		return STORE_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = ctr_set(q, sqlite3_column_int64(st, 0),
			      (uint32_t)sqlite3_column_int64(st, 1), 0);
		if (err) {
			sqlite3_reset(st);
			return err;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dberr(q, rc);
	if ((err = meta_get(q, "snap_r", &snap_r)) ||
	    (err = meta_get(q, "snap_s", &snap_s)))
		return err;
	/* replayed effects go dirty as "since the snapshot" */
	q->since_r = snap_r;
	q->since_s = snap_s;
	if ((err = sq_cursor_open(s, STORE_CUR_REDEMPTIONS, snap_r, &cur)))
		return err;
	while ((rc = sq_cursor_next(cur, &r)) == 1) {
		if (r.ctr_set && r.card_id > 0 &&
		    ((size_t)r.card_id >= q->ctr_cap ||
		     r.ctr > q->ctr[r.card_id]))
			err = ctr_set(q, r.card_id, r.ctr, 1);
		if (!err && r.result == STORE_GRANTED && r.member_id)
			err =
			    usage_replay(q, r.member_id, r.benefit,
					 r.period_start, 1, r.amount, 0, r.id);
		if (!err && q->nusage > USAGE_CAP / 2 &&
		    !(err = flush_to(q, r.id, snap_s)))
			err = usage_compact(q, usage_dirty(q));
		if (err)
			break;
	}
	sq_cursor_close(cur);
	if (rc < 0)
		return rc;
	if (err)
		return err;
	if ((err = sq_cursor_open(s, STORE_CUR_STAFF, snap_s, &cur)))
		return err;
	while ((rc = sq_cursor_next(cur, &a)) == 1) {
		struct store_redemption v;

		if (!a.ok || strcmp(a.cmd, VOIDED_CMD) != 0 || a.ref_id <= 0)
			continue;
		err = sq_red_get(s, a.ref_id, &v, NULL);
		if (!err && v.member_id)
			err = usage_replay(q, v.member_id, v.benefit,
					   v.period_start, -1, -v.amount, 1,
					   a.id);
		if (err)
			break;
	}
	sq_cursor_close(cur);
	if (rc < 0)
		return rc;
	return err;
}

/*
 * Rebuilds memory at open: counters from the cards table, then the
 * effects of every redemption and void after the snapshot, then the
 * request index from the log tail.
 */
static int load_state(struct sq *q)
{
	struct store *s = &q->base;
	struct store_cursor *cur = NULL;
	struct store_redemption r;
	struct head head;
	int rc, err;

	q->usage = calloc(USAGE_CAP, sizeof(*q->usage));
	q->req[0] = calloc(REQ_CAP, sizeof(struct req_ent));
	q->req[1] = calloc(REQ_CAP, sizeof(struct req_ent));
	if (!q->usage || !q->req[0] || !q->req[1])
		return fail(q, STORE_ENOMEM, "out of memory");
	err = replay(q);
	free(q->upto);
	q->upto = NULL;
	if (err)
		return err;
	/* the request index: the last 2 x REQ_WINDOW rows */
	if ((err = load_head(q, ST_R_HEAD, &head)))
		return err;
	if ((err = sq_cursor_open(s, STORE_CUR_REDEMPTIONS,
				  head.id > 2 * (int64_t)REQ_WINDOW
				      ? head.id - 2 * (int64_t)REQ_WINDOW
				      : 0,
				  &cur)))
		return err;
	while ((rc = sq_cursor_next(cur, &r)) == 1) {
		req_rotate(q);
		req_insert(q, r.kiosk, r.request_id, r.id);
	}
	sq_cursor_close(cur);
	return rc < 0 ? rc : 0;
}

/* ---- open / close -------------------------------------------------------- */

static void free_sq(struct sq *q);

static void sq_close(struct store *s)
{
	struct sq *q = Q(s);

	if (q->in_txn)
		sq_rollback(s);
	if (!q->ro && q->usage && q->req[0] && q->req[1])
		sq_flush(s); /* if it fails, the next open replays the log */
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(q->st[i]);
	if (!q->ro)
		sqlite3_exec(q->db, "PRAGMA optimize", NULL, NULL, NULL);
	free_sq(q);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .errmsg = sq_errmsg,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .generation = sq_generation,
    .kiosk_get = sq_kiosk_get,
    .kiosk_touch = sq_kiosk_touch,
    .card_find = sq_card_find,
    .card_set_ctr = sq_card_set_ctr,
    .benefit_get = sq_benefit_get,
    .usage = sq_usage,
    .redemption_by_request = sq_red_by_request,
    .redemption_by_request_near = sq_red_by_request_near,
    .redemption_by_seq = sq_red_by_seq,
    .redemption_append = sq_red_append,
    .security_add = sq_security_add,
    .member_import = sq_member_import,
    .member_add = sq_member_add,
    .member_get = sq_member_get,
    .member_get_id = sq_member_get_id,
    .member_set_status = sq_member_set_status,
    .member_count = sq_member_count,
    .benefit_add = sq_benefit_add,
    .benefit_list = sq_benefit_list,
    .kiosk_add = sq_kiosk_add,
    .kiosk_revoke = sq_kiosk_revoke,
    .kiosk_list = sq_kiosk_list,
    .card_register = sq_card_register,
    .card_revoke = sq_card_revoke,
    .card_replace = sq_card_replace,
    .card_get = sq_card_get,
    .card_list = sq_card_list,
    .log_query = sq_log_query,
    .redemption_void = sq_red_void,
    .redemption_get = sq_red_get,
    .report = sq_report,
    .security_list = sq_security_list,
    .staff_append = sq_staff_append,
    .flush = sq_flush,
    .chain_heads = sq_chain_heads,
    .checkpoint_last = sq_checkpoint_last,
    .checkpoint_add = sq_checkpoint_add,
    .cursor_open = sq_cursor_open,
    .cursor_next = sq_cursor_next,
    .cursor_close = sq_cursor_close,
    .count = sq_count,
};

static int exec_sql(struct sq *q, const char *text)
{
	char *msg = NULL;
	int rc = sqlite3_exec(q->db, text, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int err = dberr(q, rc);

		if (msg)
			snprintf(q->err, sizeof(q->err), "database: %s", msg);
		sqlite3_free(msg);
		return err;
	}
	return 0;
}

/* Brings the schema to STORE_SCHEMA_VERSION, one migration a transaction. */
static int migrate(struct sq *q)
{
	sqlite3_stmt *st;
	int version, rc, err;
	char set[64];

	rc = sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return dberr(q, rc);
	rc = sqlite3_step(st);
	version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (version < 0)
		return dberr(q, rc);
	if (version > STORE_SCHEMA_VERSION)
		return fail(q, STORE_ESCHEMA,
			    "database schema version %d is newer than this "
			    "program (%d)",
			    version, STORE_SCHEMA_VERSION);
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		if ((err = exec_sql(q, "BEGIN IMMEDIATE")))
			return err;
		snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
		if ((err = exec_sql(q, migrations[v])) ||
		    (err = exec_sql(q, set)) || (err = exec_sql(q, "COMMIT"))) {
			char keep[sizeof(q->err)];

			memcpy(keep, q->err, sizeof(keep));
			exec_sql(q, "ROLLBACK");
			memcpy(q->err, keep, sizeof(keep));
			return err;
		}
	}
	return 0;
}

/* Per thread: the daemon opens read-only handles on a job thread. */
static _Thread_local char open_err[256];

static void free_sq(struct sq *q)
{
	if (q->db)
		sqlite3_close_v2(q->db);
	if (q->lockfd > 0)
		close(q->lockfd);
	free(q->ctr);
	free(q->ctr_dirty);
	free(q->ctr_seq);
	free(q->usage);
	free(q->ctr_dl);
	free(q->use_dl);
	free(q->pass_c);
	free(q->pass_u);
	free(q->pass_key);
	free(q->pass_tmp);
	free(q->req[0]);
	free(q->req[1]);
	free(q->undo);
	free(q);
}

/*
 * Only one read-write handle may keep the write-behind state: a flock on
 * DB-writer says who.  Returns 1 if we hold it, 0 if someone else does.
 */
static int take_writer_lock(struct sq *q, const char *path)
{
	char lp[4096];

	if (snprintf(lp, sizeof(lp), "%s-writer", path) >= (int)sizeof(lp))
		return 0;
	q->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->lockfd < 0) {
		q->lockfd = 0;
		return 0;
	}
	if (flock(q->lockfd, LOCK_EX | LOCK_NB) != 0) {
		close(q->lockfd);
		q->lockfd = 0;
		return 0;
	}
	return 1;
}

static int do_open(const char *path, int want_ro, struct store **out)
{
	struct sq *q;
	int rc, err, version = -1;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return STORE_ENOMEM;
	q->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &q->db,
			     SQLITE_OPEN_READWRITE |
				 (want_ro ? 0 : SQLITE_OPEN_CREATE) |
				 SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		err = dberr(q, rc);
		goto fail;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 5000);
	q->ro = want_ro || !take_writer_lock(q, path);
	if (q->ro) {
		/* A reader: no migrations, no write-behind state, and SQLite
		 * itself refuses writes. */
		sqlite3_stmt *st;

		if ((err = exec_sql(q, "PRAGMA query_only = 1")) ||
		    (err = exec_sql(q, "PRAGMA cache_size = -8192")))
			goto fail;
		if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st,
				       NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (version > STORE_SCHEMA_VERSION) {
			err = fail(q, STORE_ESCHEMA,
				   "database schema version %d is newer than "
				   "this program (%d)",
				   version, STORE_SCHEMA_VERSION);
			goto fail;
		}
		if (version != STORE_SCHEMA_VERSION) {
			err = fail(q, STORE_ESCHEMA,
				   "database schema version %d is older than "
				   "this program (%d): open it read-write once",
				   version, STORE_SCHEMA_VERSION);
			goto fail;
		}
		*out = &q->base;
		return 0;
	}
	/* WAL + FULL: a COMMIT is on disk when it returns.  The page cache
	 * is bounded (32 MiB) to keep the daemon well under its RSS goal.
	 * While a long read (log.verify) holds a snapshot the WAL cannot
	 * start over and grows, by hundreds of MB under load; the size limit
	 * cuts it back to 16 MiB at the first commit after it starts over,
	 * instead of leaving that on disk (under load it starts over at 4
	 * to 16 MiB, walckpt.c). */
	if ((err = exec_sql(q, "PRAGMA journal_mode = WAL")) ||
	    (err = exec_sql(q, "PRAGMA journal_size_limit = 16777216")) ||
	    (err = exec_sql(q, "PRAGMA synchronous = FULL")) ||
	    (err = exec_sql(q, "PRAGMA cache_size = -32768")) ||
	    (err = exec_sql(q, "PRAGMA temp_store = MEMORY")) ||
	    (err = exec_sql(q, "PRAGMA foreign_keys = OFF")) ||
	    (err = migrate(q)) || (err = load_state(q)))
		goto fail;
	*out = &q->base;
	return 0;
fail:
	snprintf(open_err, sizeof(open_err), "%.100s: %.140s", path, q->err);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(q->st[i]);
	free_sq(q);
	return err;
}

int store_sqlite_open(const char *path, struct store **out)
{
	return do_open(path, 0, out);
}

int store_sqlite_open_readonly(const char *path, struct store **out)
{
	return do_open(path, 1, out);
}

int store_sqlite_is_readonly(struct store *s)
{
	return Q(s)->ro;
}

const char *store_sqlite_open_error(void)
{
	return open_err;
}

void *store_sqlite_handle(struct store *s)
{
	return Q(s)->db;
}
