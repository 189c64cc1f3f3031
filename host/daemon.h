/*
 * daemon.h - tapaidd's internal header: one section per file of the daemon
 * (tapaidd.c, loop.c, config.c, keys.c, net.c, control.c).  Nothing outside
 * host/ includes it; the storage, engine and chain APIs are in store.h,
 * engine.h and chain.h.
 */
#ifndef TAPAID_HOST_DAEMON_H
#define TAPAID_HOST_DAEMON_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"

#define TAPAIDD_VERSION "0.1"

/* Copies src into dst[n], cutting it if needed; always NUL-terminated. */
static inline void scopy(char *dst, size_t n, const char *src)
{
	size_t l = 0;

	while (l + 1 < n && src[l])
		l++;
	for (size_t i = 0; i < l; i++)
		dst[i] = src[i];
	if (n)
		dst[l] = '\0';
}

/* FNV-1a of a string: kiosk ids (net.c), member numbers (control.c). */
static inline uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/*
 * Names the calling thread (top -H, /proc/PID/task/TID/comm) and lowers
 * its CPU priority by nice_by steps (at most to 19).  The loop and the
 * store thread serve kiosks at the process's priority; the background
 * threads, checkpointer and admin jobs (log.verify, report.data), take 10
 * so that they use what CPU the taps leave.  On Linux the nice value
 * belongs to the thread, threads created later inherit it, and raising it
 * needs no privilege.  Best effort: on failure the thread runs as it was.
 */
static inline void thread_role(const char *name, int nice_by)
{
	id_t tid = (id_t)gettid();
	int cur;

	(void)pthread_setname_np(pthread_self(), name);
	errno = 0;
	cur = getpriority(PRIO_PROCESS, tid);
	if (cur == -1 && errno != 0)
		return;
	(void)setpriority(PRIO_PROCESS, tid,
			  cur + nice_by > 19 ? 19 : cur + nice_by);
}

/* --- config.c --- */

enum role { ROLE_NONE = 0, ROLE_AUDITOR = 1, ROLE_STAFF = 2, ROLE_ADMIN = 3 };

struct role_map {
	uid_t uid;
	enum role role;
};

struct daemon_config {
	char path[PATH_MAX];	 /* the config file itself */
	char data_dir[PATH_MAX]; /* tapaid.db, admin.sock, keys */
	char listen_host[64];	 /* numeric IPv4 or IPv6 */
	char listen_port[8];
	char host_key[PATH_MAX];
	char card_url[200];	    /* base of the SUN URL cards carry */
	int log_level;		    /* enum log_level */
	int max_sessions;	    /* kiosk connections in all */
	int max_halfopen;	    /* connections before the handshake */
	int max_sessions_per_kiosk; /* live sessions of one kiosk id */
	int handshake_timeout_ms;
	int idle_timeout_s; /* an established session with no frame */
	int checkpoint_interval_s;
	struct role_map *roles; /* owned; config_free() frees it */
	size_t nroles;
};

/*
 * Reads and checks the INI file at path into cf (all fields set, defaults
 * for absent keys).  On failure writes one clear sentence to err and
 * returns -1; cf is then freed.
 */
int config_load(const char *path, struct daemon_config *cf, char *err,
		size_t errlen);
void config_free(struct daemon_config *cf);
/* The role of uid: the daemon's own uid is always admin. */
enum role config_role(const struct daemon_config *cf, uid_t uid);
const char *role_name(enum role r);

/* --- loop.c --- */

/*
 * A small epoll loop in the style of Redis ae.c: file events, one periodic
 * tick, and a before-sleep hook that runs after every turn's events and
 * before the next epoll_wait (the group commit lives there).
 */
struct loop;
struct loop_io;
typedef void (*loop_io_fn)(struct loop_io *io, uint32_t events);

struct loop_io {
	int fd;
	uint32_t events; /* EPOLLIN / EPOLLOUT currently asked for */
	loop_io_fn fn;
	void *arg;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);
int loop_add(struct loop *l, struct loop_io *io, uint32_t events);
int loop_mod(struct loop *l, struct loop_io *io, uint32_t events);
void loop_del(struct loop *l, struct loop_io *io);
/* fn runs every ms milliseconds (approximately). */
void loop_set_tick(struct loop *l, int ms, void (*fn)(void *), void *arg);
void loop_set_beforesleep(struct loop *l, void (*fn)(void *), void *arg);
/* Runs until loop_stop(); returns 0, or -1 if epoll failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Monotonic milliseconds. */
uint64_t now_ms(void);

/* --- keys.c --- */

struct tp_key;

/* The card secrets of the data dir, 16 bytes each; wipe with keys_wipe(). */
struct host_secrets {
	uint8_t card_master[16]; /* card-master.key: AN10922 master */
	uint8_t sdm_meta[16];	 /* sdm-meta.key: SUN PICC data key */
	uint8_t lookup_salt[16]; /* lookup-salt.key */
};

/*
 * Reads one secret file: exactly 32 hex digits (a trailing newline is
 * allowed), owned by us and not readable by group or others.  On failure
 * writes one sentence to err and returns -1.
 */
int keys_read_secret(const char *path, uint8_t out[16], char *err,
		     size_t errlen);
/* Loads the three secrets from dir; -1 and err on failure. */
int keys_load_secrets(const char *dir, struct host_secrets *s, char *err,
		      size_t errlen);
/* Loads the host's private key (tp_key_load_private: mode 0600 only). */
int keys_load_host(const char *path, struct tp_key **out, char *err,
		   size_t errlen);
void keys_wipe(struct host_secrets *s);
/*
 * Parses a P-256 public key from PEM text (SubjectPublicKeyInfo), as kept
 * in the kiosks table.  Returns 0 or a negative enum tp_err.
 */
int keys_parse_public_pem(const char *pem, struct tp_key **out);
/*
 * The card crypto the admin commands need (tapaid/ntag.h, kept here so
 * that no file includes both ntag.h and proto.h): the salted lookup id the
 * store indexes cards by, and a card's diversified key keyno (0, 2, 3, 4).
 */
int keys_card_lookup(const uint8_t salt[16], const uint8_t uid[7],
		     uint8_t out[16]);
int keys_card_key(const uint8_t master[16], const uint8_t uid[7], int keyno,
		  int keyver, uint8_t out[16]);

/* --- net.c --- */

struct conn;
struct kiosk;

/* One queued tap or offline record, decided in the next batch. */
struct pending {
	struct conn *conn; /* NULL once the connection went away */
	uint64_t conn_gen; /* conn->gen when queued */
	int is_record;
	uint64_t record_seq;
	uint8_t request_id[16];
};

/* The deny list kiosks hold: lookup ids of revoked cards. */
struct denylist {
	uint32_t version; /* 0 = not loaded */
	size_t n;
	uint8_t (*ids)[16];
};

/*
 * The store thread: one batch at a time is decided and committed there
 * while the loop thread goes on reading, decrypting and answering.  The
 * loop thread owns pend (the connections) and hands taps, decisions and
 * the security events over; the store thread touches only those.
 */
struct net_sec_event;
struct batcher {
	pthread_t thr;
	pthread_mutex_t mu; /* guards busy, done, stop */
	pthread_cond_t cv;
	struct loop_io io; /* eventfd: the store thread finished a batch */
	int started, busy, done, stop;
	/* the batch in flight; swapped with the daemon's queue */
	struct pending *pend;
	struct engine_tap *taps;
	struct engine_decision *dec;
	size_t n, cap;
	atomic_int ready; /* done, for a look without the mutex */
	struct net_sec_event *sec;
	size_t nsec;
	int rc;
	uint64_t ms; /* how long deciding and committing took */
};

struct net_stats {
	uint64_t accepted, refused_full, evicted_halfopen, hs_timeout;
	uint64_t hs_failed, garbage, slow_closed, taps, records, batches;
};

struct daemon {
	struct daemon_config cf;
	struct loop *loop;
	struct tp_key *host_key;
	struct engine_keys keys; /* card secrets, wiped at exit */
	struct store *store;
	struct engine *engine;
	int foreground;
	volatile int terminating;

	/* net.c */
	struct loop_io listen_io;
	struct loop_io sig_io;
	int spare_fd;	    /* reserve for EMFILE */
	struct conn *conns; /* all connections, doubly linked */
	struct conn *halfopen_head, *halfopen_tail; /* FIFO by accept time */
	int nconns, nhalfopen;
	uint64_t next_gen;
	struct kiosk **kiosk_tab; /* hash by id */
	size_t kiosk_tab_size;
	struct denylist deny;
	struct pending *pend;
	size_t npend, pend_cap;
	struct engine_tap *btaps;
	struct engine_decision *bdec;
	struct batcher batch;
	/*
	 * Held by whoever uses store or engine: the store thread for a
	 * batch, the loop thread for admin commands, reloads and
	 * checkpoints.  Recursive, so a handler may call net_reload().
	 */
	pthread_mutex_t store_mu;
	struct conn *dirty; /* connections with output to flush */
	struct conn *dead;  /* closed, freed at the end of the turn */
	struct net_stats st;
	uint64_t last_checkpoint_ms;

	/* control.c */
	/* Bumped by every admin command that writes members: a member import
	 * planned on the job thread is applied as planned only if no member
	 * changed since (control.c). */
	uint64_t members_gen;
	struct loop_io ctl_io;
	struct ctl_conn *ctls;
	int nctls;
	char ctl_path[PATH_MAX];
};

/* Makes d->store_mu (see struct daemon); 0 or -1.  Then take and release
 * it with daemon_lock() and daemon_unlock(). */
int daemon_lock_init(struct daemon *d);
void daemon_lock(struct daemon *d);
void daemon_unlock(struct daemon *d);
/* Opens the kiosk listener; -1 and err on failure. */
int net_listen(struct daemon *d, char *err, size_t errlen);
/* Loads (or reloads) kiosks and the deny list from the store, closes the
 * sessions of revoked kiosks and sends a changed deny list. */
int net_reload(struct daemon *d);
/*
 * Starts the store thread (after daemon(): threads do not survive a
 * fork).  Without it, batches are decided on the loop thread.  0 or -1.
 */
int net_batcher_start(struct daemon *d);
/* The before-sleep hook: answer the batch the store thread finished and
 * hand it the taps queued since. */
void net_beforesleep(void *arg);
/* Once a second: handshake and idle timeouts, checkpoints. */
void net_tick(void *arg);
/* Writes a checkpoint (force: even with unchanged heads). */
void net_checkpoint(struct daemon *d, int force);
/* Closes every connection, after flushing what is queued for it. */
void net_shutdown(struct daemon *d);
/* Records a security event (stored, and logged). */
void net_security(struct daemon *d, const char *kind, const char *kiosk,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Remembers the deny-list id of a card registered with this UID. */
int net_note_card(struct daemon *d, int64_t card_id, const uint8_t uid[7]);
/* Closes the live sessions of one kiosk (kiosk.revoke). */
void net_close_kiosk(struct daemon *d, const char *id);

/* --- walckpt.c --- */

/* Starts the WAL checkpoint thread (turns SQLite's own off); 0 or -1. */
int walckpt_start(struct store *s, const char *dbpath, int every_ms);
/* On the store thread, between transactions: after the thread copied a big
 * WAL, copies what was written meanwhile, so the next write restarts it. */
void walckpt_catch_up(struct store *s);
/* Stops it and turns SQLite's automatic checkpoints back on. */
void walckpt_stop(struct store *s);

/* --- import.c --- */

struct cJSON;

/*
 * The rows of a member import, each packed as its status byte and four
 * NUL-terminated fields.  Only rows before the first bad one are kept.
 */
struct import_rows {
	size_t n;     /* rows seen, good or bad */
	uint32_t *at; /* row i starts at buf + at[i] */
	char *buf;    /* the packed rows */
	size_t cap, len, bcap;
	size_t bad;   /* the first bad row, or SIZE_MAX */
	char why[96]; /* what is wrong with it ("name is empty") */
	int present;  /* import_parse_line found args.rows an array */
};

void import_rows_init(struct import_rows *ir);
void import_rows_free(struct import_rows *ir);
/* Checks and appends one row (a JSON array); 0, or -1 out of memory. */
int import_rows_add(struct import_rows *ir, const struct cJSON *row);
/* Row i (below the first bad one) into *m; its member number. */
void import_row_get(const struct import_rows *ir, size_t i,
		    struct store_member *m);
const char *import_row_no(const struct import_rows *ir, size_t i);
/*
 * A request line as cJSON_ParseWithLength() would parse it, except that
 * the elements of args.rows go into *rows instead of the tree.  NULL if
 * it is not JSON, or *oom if the rows did not fit in memory.
 */
struct cJSON *import_parse_line(const char *line, size_t len,
				struct import_rows *rows, int *oom);

/* --- control.c --- */

struct ctl_conn;
int control_listen(struct daemon *d, char *err, size_t errlen);
void control_shutdown(struct daemon *d);
/* Frees the admin connections closed during this loop turn. */
void control_reap(struct daemon *d);

#endif
