/*
 * control.c - the admin socket (host/ADMIN.md): the only way tapaidctl
 * reads or changes data.
 *
 * A Unix stream socket DATA_DIR/admin.sock, mode 0666: who may do what is
 * decided here, not by the file mode.  At accept the peer's uid is read
 * with SO_PEERCRED and mapped to a role through [roles] (config.c).  Each
 * request is one JSON line; each command handler checks the role itself
 * (need()), and every request is recorded in the hash-chained staff-action
 * log with uid, role, command and arguments before it runs, refused or not.
 *
 * Connections are capped in number (per uid and in all); a request line is
 * capped at 64 KiB, or 64 MiB for a peer whose role may import members.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "tapaid/proto.h"

#include "chain.h"
#include "daemon.h"
#include "engine.h"
#include "store.h"

#define CTL_LINE_MAX	    (64 * 1024)
#define CTL_IMPORT_MAX	    (64 * 1024 * 1024)
#define CTL_MAXCONN	    128
#define CTL_MAXCONN_PER_UID 16
#define CTL_WBUF_MAX	    (256 * 1024 * 1024)

/* A big import whose plan a member write made stale is planned again on
 * the job thread this many times, then in the loop. */
#define IMPORT_REPLANS 3

struct ctl_conn {
	struct loop_io io;
	struct daemon *d;
	struct ctl_conn *next;
	uid_t uid;
	pid_t pid;
	enum role role;
	int closing;
	struct job *job; /* a slow request running off the loop, or NULL */
	char *rbuf;
	size_t rlen, rcap;
	size_t scanned; /* rbuf[0..scanned) holds no newline */
	char *wbuf;
	size_t wlen, woff, wcap;
};

/*
 * A member import as the job thread found it against the members table
 * (plan_import): which rows would change a member or add one.  The loop
 * stores only those if no member was written since the job's gen.
 */
struct import_plan {
	size_t nchanged;
	uint8_t *changed; /* a flag per row */
};

/* One request in flight: what handlers read and fill. */
struct req {
	struct daemon *d;
	struct ctl_conn *c;
	const char *cmd;
	const cJSON *args; /* never NULL: an empty object when absent */
	cJSON *data;	   /* the answer's data, created by the handler */
	int failed;
	const char *code;
	char error[512];
	const char *need_role;
	int deferred; /* answered later by the job thread (slow reads) */
	const struct import_plan *plan; /* member.import, made off the loop */
	const struct import_rows *rows; /* and its rows, from import.c */
};

static void ctl_close(struct ctl_conn *c);

/* ---- replies ------------------------------------------------------------ */

static void fail(struct req *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct req *r, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = 1;
	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

/* A store error as the answer; returns 1 when rc is an error. */
static int store_fail(struct req *r, int rc)
{
	if (rc >= 0)
		return 0;
	fail(r, store_err_code(rc), "%s", store_errmsg(r->d->store));
	return 1;
}

/*
 * The role check every handler starts with.  Returns 1 when the peer has
 * at least role want; otherwise fails the request with code "forbidden"
 * and the role needed, and records a security event.
 */
static int need(struct req *r, enum role want)
{
	if (r->c->role >= want)
		return 1;
	fail(r, "forbidden", "%s needs the %s role; uid %u has %s", r->cmd,
	     role_name(want), (unsigned)r->c->uid,
	     r->c->role ? role_name(r->c->role) : "no role");
	r->need_role = role_name(want);
	net_security(r->d, STORE_SEC_FORBIDDEN, "", "uid %u (%s) refused %s",
		     (unsigned)r->c->uid, role_name(r->c->role), r->cmd);
	return 0;
}

static cJSON *data_obj(struct req *r)
{
	if (!r->data)
		r->data = cJSON_CreateObject();
	return r->data;
}

/* ---- argument helpers --------------------------------------------------- */

/* A string argument copied into out; 1 if present and fits. */
static int arg_str(struct req *r, const char *key, char *out, size_t len,
		   int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->args, key);

	out[0] = '\0';
	if (!v || cJSON_IsNull(v)) {
		if (required)
			fail(r, "bad_request", "%s needs \"%s\"", r->cmd, key);
		return 0;
	}
	if (!cJSON_IsString(v)) {
		fail(r, "bad_request", "\"%s\" must be a string", key);
		return 0;
	}
	if (strlen(v->valuestring) >= len) {
		fail(r, "invalid", "\"%s\" is too long (at most %zu bytes)",
		     key, len - 1);
		return 0;
	}
	if (required && v->valuestring[0] == '\0') {
		fail(r, "invalid", "\"%s\" is empty", key);
		return 0;
	}
	strcpy(out, v->valuestring);
	return 1;
}

/* An integer argument (a JSON number, or a decimal string). */
static int arg_int(struct req *r, const char *key, int64_t lo, int64_t hi,
		   int64_t *out, int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->args, key);
	double x;

	if (!v || cJSON_IsNull(v)) {
		if (required)
			fail(r, "bad_request", "%s needs \"%s\"", r->cmd, key);
		return 0;
	}
	if (cJSON_IsString(v)) {
		char *end;

		errno = 0;
		x = (double)strtoll(v->valuestring, &end, 10);
		if (errno || end == v->valuestring || *end) {
			fail(r, "bad_request", "\"%s\" must be a number", key);
			return 0;
		}
	} else if (cJSON_IsNumber(v)) {
		x = v->valuedouble;
	} else {
		fail(r, "bad_request", "\"%s\" must be a number", key);
		return 0;
	}
	if (x != (double)(int64_t)x || x < (double)lo || x > (double)hi) {
		fail(r, "invalid",
		     "\"%s\" must be a whole number from %lld "
		     "to %lld",
		     key, (long long)lo, (long long)hi);
		return 0;
	}
	*out = (int64_t)x;
	return 1;
}

static int arg_bool(struct req *r, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->args, key));
}

/* A list argument (JSON array of strings, or "a,b") joined with commas. */
static int arg_list(struct req *r, const char *key, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->args, key), *e;
	size_t n = 0;

	out[0] = '\0';
	if (!v || cJSON_IsNull(v))
		return 1;
	if (cJSON_IsString(v))
		return arg_str(r, key, out, len, 0);
	if (!cJSON_IsArray(v)) {
		fail(r, "bad_request", "\"%s\" must be a list of strings", key);
		return 0;
	}
	cJSON_ArrayForEach(e, v)
	{
		size_t l;

		if (!cJSON_IsString(e) || e->valuestring[0] == '\0' ||
		    strchr(e->valuestring, ',')) {
			fail(r, "invalid",
			     "\"%s\" entries must be non-empty strings "
			     "without commas",
			     key);
			return 0;
		}
		l = strlen(e->valuestring);
		if (n + l + 2 > len) {
			fail(r, "invalid", "\"%s\" is too long", key);
			return 0;
		}
		if (n)
			out[n++] = ',';
		memcpy(out + n, e->valuestring, l + 1);
		n += l;
	}
	return 1;
}

/* "YYYY-MM-DD" -> 20261127; 0 for an empty string; -1 if malformed. */
static int32_t parse_ymd(const char *s)
{
	int y, m, d;
	char tail;

	if (!*s)
		return 0;
	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 ||
	    y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	return y * 10000 + m * 100 + d;
}

/*
 * A time argument: unix seconds (number), or "YYYY-MM-DD" or
 * "YYYY-MM-DDTHH:MM[:SS]" in the host's local time zone.
 */
static int arg_time(struct req *r, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->args, key);
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, s = 0, n;
	char c1 = 0;

	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 1;
	if (cJSON_IsNumber(v)) {
		*out = (int64_t)v->valuedouble;
		return 1;
	}
	if (!cJSON_IsString(v)) {
		fail(r, "bad_request", "\"%s\" must be a date", key);
		return 0;
	}
	n = sscanf(v->valuestring, "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &c1,
		   &h, &mi, &s);
	if (!(n == 3 || ((n == 6 || n == 7) && (c1 == 'T' || c1 == ' '))) ||
	    mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    s > 60) {
		fail(r, "invalid",
		     "\"%s\" must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]", key);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm);
	return 1;
}

/*
 * n bytes given as 2n hex digits (at most 32 bytes); 1 if present and
 * right.  what follows the digit count in the error ("" or " (...)").
 */
static int arg_hex(struct req *r, const char *key, uint8_t *out, size_t n,
		   int required, const char *what)
{
	char hex[2 * 32 + 18];

	if (!arg_str(r, key, hex, 2 * n + 18, required))
		return 0;
	if (strlen(hex) != 2 * n ||
	    tp_hex_decode(hex, 2 * n, out, n) != TP_OK) {
		fail(r, "invalid", "\"%s\" must be %zu hex digits%s", key,
		     2 * n, what);
		return 0;
	}
	return 1;
}

static int arg_uid(struct req *r, const char *key, uint8_t uid[7])
{
	return arg_hex(r, key, uid, 7, 1, " (7-byte UID)");
}

static const char *status_name(int st)
{
	switch (st) {
	case STORE_ACTIVE:
		return "active";
	case STORE_SUSPENDED:
		return "suspended";
	case STORE_REVOKED:
		return "revoked";
	default:
		return "unknown";
	}
}

static const char *result_name(int res)
{
	switch (res) {
	case STORE_GRANTED:
		return "granted";
	case STORE_CONFLICT:
		return "conflict";
	default:
		return "denied";
	}
}

static const char *period_name(int per)
{
	switch (per) {
	case STORE_DAY:
		return "day";
	case STORE_MONTH:
		return "month";
	case STORE_YEAR:
		return "year";
	default:
		return "lifetime";
	}
}

/* Names are masked unless asked for by staff or admin (recorded). */
static int show_names(struct req *r)
{
	return arg_bool(r, "show_names") && r->c->role >= ROLE_STAFF;
}

static void add_name(struct req *r, cJSON *o, const char *key, const char *name)
{
	char m[STORE_NAME_LEN];

	if (show_names(r)) {
		cJSON_AddStringToObject(o, key, name);
		return;
	}
	mask_name(name, m, sizeof(m));
	cJSON_AddStringToObject(o, key, m);
}

/* ---- slow reads off the loop ------------------------------------------- */

/*
 * log.verify walks every row (30 s for 10 million) and report.data
 * aggregates a year; run in the loop they would stop every kiosk's
 * answers for that long.  They run instead on one job thread with its own
 * read connection to the database (WAL lets it read while the loop
 * writes) and its own copy of the host public key; the loop answers when
 * the job is done.  While a connection waits for its job, nothing more is
 * read from it, so answers stay in request order.
 */
enum job_kind { JOB_VERIFY, JOB_REPORT, JOB_PARSE, JOB_PLAN, JOB_FREE };

struct job {
	struct job *next;
	/* set by the loop thread, read by the job thread */
	int kind;
	int flags;
	int64_t since, until, off;
	struct chain_kept kept; /* log.verify: id 0 if none */
	char dbpath[PATH_MAX + 16];
	uint8_t host_pub[TP_P256_PUB_LEN];
	char *line; /* JOB_PARSE: the request line, parsed into data */
	size_t len;
	uint64_t gen; /* JOB_PARSE, JOB_PLAN: d->members_gen when queued */
	int replans;  /* JOB_PLAN: times the plan was made again */
	/* loop thread only */
	struct ctl_conn *c; /* NULL once the connection went away */
	/* set by the job thread */
	int failed;
	char code[16];
	char error[512];
	cJSON *data;
	struct import_plan *plan; /* JOB_PARSE of a member.import, or NULL */
	struct import_rows rows;  /* JOB_PARSE: the rows of args.rows */
	int oom;		  /* JOB_PARSE: they did not fit in memory */
};

static struct {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, *done;
	int started, stop;
	struct loop_io io; /* eventfd: a job is done */
} jobs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int report_cb(void *ctx, const struct store_report_row *row);
static void verify_to_json(const struct chain_verify_result *res, cJSON *o);
static struct import_plan *plan_import(const struct job *j, struct store *s);

static void plan_free(struct import_plan *p)
{
	if (p) {
		free(p->changed);
		free(p);
	}
}

static void job_run(struct job *j)
{
	struct store *s = NULL;
	struct tp_key *pub = NULL;
	int rc;

	if (j->kind == JOB_FREE) {
		/* A big request, after the loop ran it: its packed rows, and
		 * its tree, which holds everything else of a line of up to
		 * 64 MiB (only args.rows is packed) and can take long to
		 * free. */
		cJSON_Delete(j->data);
		j->data = NULL;
		plan_free(j->plan);
		j->plan = NULL;
		import_rows_free(&j->rows);
		return;
	}
	if (j->kind == JOB_PARSE || j->kind == JOB_PLAN) {
		/* The members as they are now, as close as this thread gets
		 * to the loop reading members_gen for it (j->gen), for a
		 * member import's plan: one read transaction, so one
		 * snapshot, and no lock taken per row (which was half the
		 * time).  The SQLite handle, as net.c reads the kiosks. */
		if (store_sqlite_open_readonly(j->dbpath, &s) == 0 &&
		    sqlite3_exec(store_sqlite_handle(s),
				 "BEGIN; SELECT 1 FROM members LIMIT 1", NULL,
				 NULL, NULL) != SQLITE_OK) {
			store_close(s);
			s = NULL;
		}
		/* NULL if it is not JSON: the loop says so.  JOB_PLAN: parsed
		 * already, planned again (its plan was stale). */
		if (j->kind == JOB_PARSE) {
			j->data = import_parse_line(j->line, j->len, &j->rows,
						    &j->oom);
			free(j->line);
			j->line = NULL;
		}
		if (s) {
			j->plan = plan_import(j, s);
			sqlite3_exec(store_sqlite_handle(s), "COMMIT", NULL,
				     NULL, NULL);
			store_close(s);
		}
		return;
	}
	rc = store_sqlite_open(j->dbpath, &s);
	if (rc < 0) {
		j->failed = 1;
		snprintf(j->code, sizeof(j->code), "%s", store_err_code(rc));
		snprintf(j->error, sizeof(j->error),
			 "cannot open the database for reading");
		return;
	}
	j->data = cJSON_CreateObject();
	if (j->kind == JOB_VERIFY) {
		struct chain_verify_result res;

		if (tp_key_from_public_raw(j->host_pub, &pub) != TP_OK)
			pub = NULL;
		rc =
		    chain_verify(s, pub, j->flags, j->kept.id ? &j->kept : NULL,
				 NULL, NULL, &res);
		if (rc >= 0)
			verify_to_json(&res, j->data);
		tp_key_free(pub);
	} else {
		static const char *const sections[] = {"per_day", "per_benefit",
						       "per_point", "denials",
						       "security"};

		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]);
		     i++)
			cJSON_AddArrayToObject(j->data, sections[i]);
		rc = s->ops->report(s, j->since, j->until, j->off, report_cb,
				    j->data);
	}
	if (rc < 0) {
		j->failed = 1;
		snprintf(j->code, sizeof(j->code), "%s", store_err_code(rc));
		snprintf(j->error, sizeof(j->error), "%s", store_errmsg(s));
		cJSON_Delete(j->data);
		j->data = NULL;
	}
	store_close(s);
}

static void *job_thread(void *arg)
{
	(void)arg;
	/* A log.verify of 10 million rows is 20 s of CPU on this thread and
	 * its hasher (which inherits this): taps go first. */
	thread_role("tapaidd-job", 10);
	pthread_mutex_lock(&jobs.mu);
	for (;;) {
		struct job *j;
		uint64_t one = 1;

		while (!jobs.todo && !jobs.stop)
			pthread_cond_wait(&jobs.cv, &jobs.mu);
		if (jobs.stop)
			break;
		j = jobs.todo;
		jobs.todo = j->next;
		pthread_mutex_unlock(&jobs.mu);
		job_run(j);
		pthread_mutex_lock(&jobs.mu);
		j->next = jobs.done;
		jobs.done = j;
		if (write(jobs.io.fd, &one, sizeof(one)) < 0)
			(void)0; /* the counter is only a wake-up */
	}
	pthread_mutex_unlock(&jobs.mu);
	return NULL;
}

static void process_lines(struct ctl_conn *c);
static void reply(struct ctl_conn *c, struct req *r);
static void jobs_push(struct job *j);
static void handle_request(struct ctl_conn *c, cJSON *root, size_t len,
			   const struct import_plan *plan,
			   const struct import_rows *rows);

/* The loop side: a job is done; answer it and read on. */
static void jobs_io_locked(struct loop_io *io, uint32_t events)
{
	struct job *list, *j;
	uint64_t n;

	if (read(io->fd, &n, sizeof(n)) < 0)
		(void)0;
	pthread_mutex_lock(&jobs.mu);
	list = jobs.done;
	jobs.done = NULL;
	pthread_mutex_unlock(&jobs.mu);
	while ((j = list) != NULL) {
		struct ctl_conn *c = j->c;

		list = j->next;
		if (c && j->plan && j->gen != c->d->members_gen) {
			/* A member was written while the import was planned:
			 * the job thread plans it again, c stays parked; after
			 * IMPORT_REPLANS tries the loop plans it itself. */
			int again = j->replans < IMPORT_REPLANS;

			log_info("member import: a member changed while it "
				 "was planned; planning again %s",
				 again ? "off the loop" : "in the loop");
			plan_free(j->plan);
			j->plan = NULL;
			if (again) {
				j->kind = JOB_PLAN;
				j->gen = c->d->members_gen;
				j->replans++;
				jobs_push(j);
				continue;
			}
		}
		if (j->kind == JOB_PARSE || j->kind == JOB_PLAN) {
			if (c && j->oom) {
				struct req r;

				memset(&r, 0, sizeof(r));
				r.cmd = "member.import";
				log_warnx("admin: uid %u: a member import of "
					  "%zu bytes did not fit in memory",
					  (unsigned)c->uid, j->len);
				fail(&r, "internal",
				     "out of memory for the import");
				c->job = NULL;
				reply(c, &r);
			} else if (c) {
				c->job = NULL;
				handle_request(c, j->data, j->len, j->plan,
					       &j->rows);
			}
			/* The tree and the plan go back to be freed there,
			 * also when the client hung up meanwhile. */
			j->kind = JOB_FREE;
			j->c = NULL;
			jobs_push(j);
			if (c)
				process_lines(c);
			continue;
		} else if (c) {
			struct req r;

			memset(&r, 0, sizeof(r));
			r.d = c->d;
			r.c = c;
			r.failed = j->failed;
			r.code = j->code;
			snprintf(r.error, sizeof(r.error), "%s", j->error);
			r.data = j->data;
			j->data = NULL;
			c->job = NULL;
			reply(c, &r);
			process_lines(c);
		}
		cJSON_Delete(j->data);
		plan_free(j->plan);
		free(j);
	}
}

/* Admin work uses the store: under the store lock (struct daemon). */
static void jobs_io(struct loop_io *io, uint32_t events)
{
	struct daemon *d = io->arg;

	daemon_lock(d);
	jobs_io_locked(io, events);
	daemon_unlock(d);
}

static int jobs_start(struct daemon *d)
{
	if (jobs.started)
		return 0;
	if (!sqlite3_threadsafe())
		return -1;
	jobs.io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (jobs.io.fd < 0)
		return -1;
	jobs.io.fn = jobs_io;
	jobs.io.arg = d;
	if (loop_add(d->loop, &jobs.io, EPOLLIN) < 0 ||
	    pthread_create(&jobs.thr, NULL, job_thread, NULL) != 0) {
		close(jobs.io.fd);
		return -1;
	}
	jobs.started = 1;
	return 0;
}

static void jobs_stop(struct daemon *d)
{
	struct job *j;

	if (!jobs.started)
		return;
	pthread_mutex_lock(&jobs.mu);
	jobs.stop = 1;
	pthread_cond_signal(&jobs.cv);
	pthread_mutex_unlock(&jobs.mu);
	pthread_join(jobs.thr, NULL);
	while ((j = jobs.todo) || (j = jobs.done)) {
		if (j == jobs.todo)
			jobs.todo = j->next;
		else
			jobs.done = j->next;
		cJSON_Delete(j->data);
		plan_free(j->plan);
		import_rows_free(&j->rows);
		free(j->line);
		free(j);
	}
	loop_del(d->loop, &jobs.io);
	close(jobs.io.fd);
	jobs.started = 0;
}

/* Hands j to the job thread, behind the jobs already waiting. */
static void jobs_push(struct job *j)
{
	pthread_mutex_lock(&jobs.mu);
	j->next = NULL;
	if (!jobs.todo) {
		jobs.todo = j;
	} else {
		struct job *t = jobs.todo;

		while (t->next)
			t = t->next;
		t->next = j;
	}
	pthread_cond_signal(&jobs.cv);
	pthread_mutex_unlock(&jobs.mu);
}

/* Queues j for the job thread and parks c until it is done. */
static void enqueue(struct ctl_conn *c, struct job *j)
{
	j->c = c;
	c->job = j;
	loop_mod(c->d->loop, &c->io, 0);
	jobs_push(j);
}

/*
 * Hands the read j to the job thread and parks the connection until it is
 * done.  Returns 0, or -1 when there is no job thread (the caller then
 * runs the request in the loop as before).
 */
static int defer(struct req *r, struct job *j)
{
	struct daemon *d = r->d;

	if (jobs_start(d) < 0)
		return -1;
	snprintf(j->dbpath, sizeof(j->dbpath), "%s/tapaid.db", d->cf.data_dir);
	if (tp_key_public_raw(d->host_key, j->host_pub) != TP_OK)
		return -1;
	r->deferred = 1;
	enqueue(r->c, j);
	return 0;
}

/* ---- commands ------------------------------------------------------------ */

static void cmd_ping(struct req *r)
{
	cJSON *o;

	if (!need(r, ROLE_AUDITOR))
		return;
	o = data_obj(r);
	cJSON_AddStringToObject(o, "version", TAPAIDD_VERSION);
	cJSON_AddStringToObject(o, "role", role_name(r->c->role));
	cJSON_AddNumberToObject(o, "uid", r->c->uid);
}

/* Rows stored per call: the import's memory does not grow with the file. */
#define IMPORT_CHUNK 4096

/* 1 if stored differs from row (the fields an import sets). */
static int member_differs(const struct store_member *row,
			  const struct store_member *stored)
{
	return strcmp(row->name, stored->name) != 0 ||
	       strcmp(row->union_, stored->union_) != 0 ||
	       strcmp(row->category, stored->category) != 0 ||
	       row->status != stored->status;
}

/*
 * Flags every row of a member number that is in the file more than once:
 * those all go in, in file order, so that the last one wins as it does
 * when every row is stored.  0, or -1 out of memory.
 */
static int flag_repeats(const struct import_rows *rows, uint8_t *changed)
{
	size_t cap = 16, n = rows->n;
	uint32_t *tab;

	while (cap < 2 * n)
		cap *= 2;
	if (!(tab = calloc(cap, sizeof(*tab))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *no = import_row_no(rows, i);
		size_t k;

		for (k = hash_str(no) & (cap - 1); tab[k];
		     k = (k + 1) & (cap - 1))
			if (strcmp(import_row_no(rows, tab[k] - 1), no) == 0) {
				changed[tab[k] - 1] = changed[i] = 1;
				break;
			}
		if (!tab[k])
			tab[k] = (uint32_t)(i + 1);
	}
	free(tab);
	return 0;
}

/*
 * Which of rows (all good) would add a member or change one in s as it
 * reads now, and every row of a member number the file holds more than
 * once.  NULL on any error.
 */
static struct import_plan *plan_rows(struct store *s,
				     const struct import_rows *rows)
{
	struct import_plan *p = calloc(1, sizeof(*p));
	struct store_member m, cur;
	int rc;

	if (!p)
		return NULL;
	if (!(p->changed = calloc(rows->n ? rows->n : 1, 1)) ||
	    flag_repeats(rows, p->changed) < 0) {
		plan_free(p);
		return NULL;
	}
	for (size_t i = 0; i < rows->n; i++) {
		if (!p->changed[i]) {
			import_row_get(rows, i, &m);
			rc = s->ops->member_get(s, m.no, &cur);
			if (rc == STORE_ENOTFOUND)
				p->changed[i] = 1;
			else if (rc < 0) {
				plan_free(p);
				return NULL;
			} else
				p->changed[i] = member_differs(&m, &cur);
		}
		p->nchanged += p->changed[i];
	}
	return p;
}

/*
 * The job thread's part of a big member import (JOB_PARSE): if the request
 * is one and every row is good, its plan against the members table as s,
 * in a read transaction, shows it.  A roster imported again usually
 * changes a few rows in a hundred; the loop then stores only those, and
 * kiosks wait for that instead of for 400,000 upserts.  NULL if it is
 * anything else or a row is bad (the loop says which), or on any error.
 */
static struct import_plan *plan_import(const struct job *j, struct store *s)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(j->data, "cmd");

	if (!cJSON_IsString(cmd) || strcmp(cmd->valuestring, "member.import") ||
	    !j->rows.present || j->rows.bad != SIZE_MAX)
		return NULL;
	return plan_rows(s, &j->rows);
}

/*
 * All or nothing: every row is checked before the first is stored, then
 * the rows that add a member or change one go in, IMPORT_CHUNK at a time,
 * inside one transaction; the others would leave their member as it is.
 * A big import comes with its rows checked and packed (import.c) and a
 * plan made on the job thread; jobs_io_locked drops a plan that a member
 * write made stale.  Without a plan (a small import, or one still stale
 * after IMPORT_REPLANS tries) the loop makes it here.
 */
static void cmd_member_import(struct req *r)
{
	struct store *s = r->d->store;
	const struct import_plan *plan = r->plan;
	const struct import_rows *rows =
	    r->rows && r->rows->present ? r->rows : NULL;
	struct import_plan *own = NULL;
	struct import_rows mine;
	struct store_member *m = NULL;
	int64_t first = 2;
	size_t k = 0, at = 0;
	int rc;

	import_rows_init(&mine);
	if (!need(r, ROLE_STAFF))
		return;
	if (!rows) {
		const cJSON *arr, *row;

		arr = cJSON_GetObjectItemCaseSensitive(r->args, "rows");
		if (cJSON_IsArray(arr)) {
			cJSON_ArrayForEach(row, arr)
			{
				if (import_rows_add(&mine, row) < 0) {
					fail(r, "internal",
					     "out of memory for the import");
					goto out;
				}
			}
			rows = &mine;
		}
	}
	if (!rows) {
		fail(r, "bad_request", "member.import needs \"rows\"");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(r->args, "first_line") &&
	    !arg_int(r, "first_line", 1, INT32_MAX, &first, 1))
		goto out;
	if (rows->bad != SIZE_MAX) {
		fail(r, "invalid", "line %lld: %s",
		     (long long)first + (long long)rows->bad, rows->why);
		goto out;
	}
	if (!(m = calloc(IMPORT_CHUNK, sizeof(*m)))) {
		fail(r, "internal", "out of memory for the import");
		goto out;
	}
	if (!plan && !(plan = own = plan_rows(s, rows))) {
		fail(r, "internal",
		     "cannot compare the import with the members: %s",
		     store_errmsg(s));
		goto out;
	}
	if (store_fail(r, s->ops->begin(s)))
		goto out;
	r->d->members_gen++;
	rc = 0;
	for (size_t i = 0; i < rows->n; i++) {
		if (!plan->changed[i])
			continue;
		/* A chunk is one run of lines: the store names a bad row by
		 * the chunk's first line and its place in the chunk. */
		if (k > 0 && (k == IMPORT_CHUNK || i != at + k)) {
			rc = s->ops->member_import(s, m, k, (int)(first + at));
			k = 0;
			if (rc < 0)
				break;
		}
		if (k == 0)
			at = i;
		import_row_get(rows, i, &m[k++]);
	}
	if (rc >= 0 && k > 0)
		rc = s->ops->member_import(s, m, k, (int)(first + at));
	if (rc < 0) {
		store_fail(r,
			   rc); /* the store's message, before the rollback */
		s->ops->rollback(s);
	} else if (!store_fail(r, s->ops->commit(s))) {
		cJSON_AddNumberToObject(data_obj(r), "imported",
					(double)rows->n);
		cJSON_AddNumberToObject(data_obj(r), "stored",
					(double)plan->nchanged);
	}
out:
	plan_free(own);
	import_rows_free(&mine);
	free(m);
}

static void cmd_member_add(struct req *r)
{
	struct store_member m;
	int rc;

	if (!need(r, ROLE_STAFF))
		return;
	memset(&m, 0, sizeof(m));
	if (!arg_str(r, "no", m.no, sizeof(m.no), 1) ||
	    !arg_str(r, "name", m.name, sizeof(m.name), 1) ||
	    !arg_str(r, "union", m.union_, sizeof(m.union_), 1) ||
	    !arg_str(r, "category", m.category, sizeof(m.category), 1))
		return;
	m.status = STORE_ACTIVE;
	rc = r->d->store->ops->member_add(r->d->store, &m);
	r->d->members_gen++;
	if (!store_fail(r, rc))
		cJSON_AddStringToObject(data_obj(r), "no", m.no);
}

static cJSON *card_json(const struct store_card *c)
{
	cJSON *o = cJSON_CreateObject();
	char hex[33];

	cJSON_AddNumberToObject(o, "card", (double)c->id);
	cJSON_AddStringToObject(o, "member", c->member_no);
	cJSON_AddStringToObject(o, "status", status_name(c->status));
	cJSON_AddStringToObject(o, "reason", c->reason);
	cJSON_AddNumberToObject(o, "key_version", c->key_version);
	cJSON_AddNumberToObject(o, "last_ctr", c->last_ctr);
	cJSON_AddNumberToObject(o, "issued", (double)c->issued);
	if (c->replaced_by)
		cJSON_AddNumberToObject(o, "replaced_by",
					(double)c->replaced_by);
	tp_hex_encode(c->lookup, 16, hex, 0);
	cJSON_AddStringToObject(o, "lookup", hex);
	return o;
}

static int card_list_cb(void *ctx, const struct store_card *c)
{
	cJSON_AddItemToArray(ctx, card_json(c));
	return 0;
}

static int usage_cb(void *ctx, const struct engine_usage *u)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "benefit", u->benefit);
	cJSON_AddNumberToObject(o, "used", (double)u->used);
	cJSON_AddNumberToObject(o, "left", (double)u->left);
	cJSON_AddStringToObject(o, "period", u->period);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

static void cmd_member_show(struct req *r)
{
	struct store_member m;
	cJSON *o, *cards, *usage;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	if (!arg_str(r, "no", m.no, sizeof(m.no), 1))
		return;
	rc = r->d->store->ops->member_get(r->d->store, m.no, &m);
	if (store_fail(r, rc))
		return;
	o = data_obj(r);
	cJSON_AddStringToObject(o, "no", m.no);
	add_name(r, o, "name", m.name);
	cJSON_AddStringToObject(o, "union", m.union_);
	cJSON_AddStringToObject(o, "category", m.category);
	cJSON_AddStringToObject(o, "status", status_name(m.status));
	cards = cJSON_AddArrayToObject(o, "cards");
	rc =
	    r->d->store->ops->card_list(r->d->store, m.id, card_list_cb, cards);
	if (store_fail(r, rc))
		return;
	usage = cJSON_AddArrayToObject(o, "usage");
	rc = engine_member_usage(r->d->engine, m.id, (int64_t)time(NULL),
				 usage_cb, usage);
	store_fail(r, rc);
}

static void member_set(struct req *r, int status)
{
	char no[STORE_NO_LEN];
	int rc;

	if (!need(r, ROLE_STAFF))
		return;
	if (!arg_str(r, "no", no, sizeof(no), 1))
		return;
	rc = r->d->store->ops->member_set_status(r->d->store, no, status);
	r->d->members_gen++;
	if (store_fail(r, rc))
		return;
	cJSON_AddStringToObject(data_obj(r), "no", no);
	cJSON_AddStringToObject(data_obj(r), "status", status_name(status));
}

static void cmd_member_suspend(struct req *r)
{
	member_set(r, STORE_SUSPENDED);
}

static void cmd_member_resume(struct req *r)
{
	member_set(r, STORE_ACTIVE);
}

/* "08:00-20:00" -> minutes; -1/-1 for "" (all day). */
static int parse_hours(const char *s, int *from, int *to)
{
	int h1, m1, h2, m2;
	char tail;

	*from = *to = -1;
	if (!*s)
		return 0;
	if (sscanf(s, "%2d:%2d-%2d:%2d%c", &h1, &m1, &h2, &m2, &tail) != 4 ||
	    h1 < 0 || h1 > 24 || m1 < 0 || m1 > 59 || h2 < 0 || h2 > 24 ||
	    m2 < 0 || m2 > 59)
		return -1;
	*from = h1 * 60 + m1;
	*to = h2 * 60 + m2;
	if (*from > 1440 || *to > 1440 || *from == *to)
		return -1;
	return 0;
}

static void cmd_benefit_add(struct req *r)
{
	struct store_benefit b;
	char per[16], vf[16], vu[16], hours[16];
	int64_t x;
	int rc;

	if (!need(r, ROLE_ADMIN))
		return;
	memset(&b, 0, sizeof(b));
	if (!arg_str(r, "code", b.code, sizeof(b.code), 1) ||
	    !arg_str(r, "name", b.name, sizeof(b.name), 1))
		return;
	for (const char *p = b.code; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p)) {
			fail(r, "invalid",
			     "benefit code may hold only letters, digits and "
			     "_ . -");
			return;
		}
	if (strlen(b.code) > TP_BENEFIT_MAX) {
		fail(r, "invalid", "benefit code is at most %d characters",
		     TP_BENEFIT_MAX);
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(r->args, "quota")) {
		if (!arg_int(r, "quota", 1, INT32_MAX, &b.quota, 1) ||
		    !arg_str(r, "per", per, sizeof(per), 1))
			return;
		b.kind = STORE_QUOTA;
	} else if (cJSON_GetObjectItemCaseSensitive(r->args, "balance")) {
		if (!arg_int(r, "balance", 1, INT64_MAX / 2, &b.balance, 1))
			return;
		b.kind = STORE_BALANCE;
		if (!arg_str(r, "per", per, sizeof(per), 0))
			strcpy(per, "lifetime");
		b.amount = 0;
		if (!arg_int(r, "amount", 1, INT64_MAX / 2, &b.amount, 1))
			return;
	} else {
		fail(r, "bad_request",
		     "benefit.add needs \"quota\" (with "
		     "\"per\") or \"balance\"");
		return;
	}
	if (r->failed)
		return;
	if (strcmp(per, "day") == 0)
		b.per = STORE_DAY;
	else if (strcmp(per, "month") == 0)
		b.per = STORE_MONTH;
	else if (strcmp(per, "year") == 0)
		b.per = STORE_YEAR;
	else if (strcmp(per, "lifetime") == 0 && b.kind == STORE_BALANCE)
		b.per = STORE_LIFETIME;
	else {
		fail(r, "invalid", "\"per\" must be day, month or year");
		return;
	}
	if (!arg_list(r, "categories", b.categories, sizeof(b.categories)) ||
	    !arg_list(r, "unions", b.unions, sizeof(b.unions)) ||
	    !arg_list(r, "points", b.points, sizeof(b.points)))
		return;
	if (arg_int(r, "offline", 0, 1000000, &x, 0))
		b.offline = (int)x;
	if (r->failed)
		return;
	arg_str(r, "valid_from", vf, sizeof(vf), 0);
	arg_str(r, "valid_until", vu, sizeof(vu), 0);
	arg_str(r, "hours", hours, sizeof(hours), 0);
	if (r->failed)
		return;
	b.valid_from = parse_ymd(vf);
	b.valid_until = parse_ymd(vu);
	if (b.valid_from < 0 || b.valid_until < 0) {
		fail(r, "invalid", "valid_from and valid_until are YYYY-MM-DD");
		return;
	}
	if (parse_hours(hours, &b.hours_from, &b.hours_to) < 0) {
		fail(r, "invalid", "\"hours\" must look like 08:00-20:00");
		return;
	}
	rc = r->d->store->ops->benefit_add(r->d->store, &b);
	if (!store_fail(r, rc))
		cJSON_AddStringToObject(data_obj(r), "code", b.code);
}

static void list_to_array(cJSON *o, const char *key, const char *list)
{
	cJSON *a = cJSON_AddArrayToObject(o, key);
	char buf[STORE_LIST_LEN], *save = NULL, *t;

	scopy(buf, sizeof(buf), list);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(a, cJSON_CreateString(t));
}

static void ymd_str(int32_t v, char *out, size_t len)
{
	if (v <= 0)
		snprintf(out, len, "%s", "");
	else
		snprintf(out, len, "%04d-%02d-%02d", v / 10000, v / 100 % 100,
			 v % 100);
}

static int benefit_cb(void *ctx, const struct store_benefit *b)
{
	cJSON *o = cJSON_CreateObject();
	char buf[32];

	cJSON_AddStringToObject(o, "code", b->code);
	cJSON_AddStringToObject(o, "name", b->name);
	if (b->kind == STORE_QUOTA) {
		cJSON_AddNumberToObject(o, "quota", (double)b->quota);
	} else {
		cJSON_AddNumberToObject(o, "balance", (double)b->balance);
		cJSON_AddNumberToObject(o, "amount", (double)b->amount);
	}
	cJSON_AddStringToObject(o, "per", period_name(b->per));
	list_to_array(o, "categories", b->categories);
	list_to_array(o, "unions", b->unions);
	list_to_array(o, "points", b->points);
	cJSON_AddNumberToObject(o, "offline", b->offline);
	ymd_str(b->valid_from, buf, sizeof(buf));
	cJSON_AddStringToObject(o, "valid_from", buf);
	ymd_str(b->valid_until, buf, sizeof(buf));
	cJSON_AddStringToObject(o, "valid_until", buf);
	if (b->hours_from >= 0)
		snprintf(buf, sizeof(buf), "%02d:%02d-%02d:%02d",
			 b->hours_from / 60, b->hours_from % 60,
			 b->hours_to / 60, b->hours_to % 60);
	else
		buf[0] = '\0';
	cJSON_AddStringToObject(o, "hours", buf);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

static void cmd_benefit_list(struct req *r)
{
	cJSON *a;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	a = cJSON_AddArrayToObject(data_obj(r), "benefits");
	rc = r->d->store->ops->benefit_list(r->d->store, benefit_cb, a);
	store_fail(r, rc);
}

static int valid_kiosk_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > TP_KIOSK_ID_MAX)
		return 0;
	for (; *id; id++)
		if (*id < 0x21 || *id > 0x7e)
			return 0;
	return 1;
}

static void cmd_kiosk_add(struct req *r)
{
	struct store_kiosk k;
	struct tp_key *pub = NULL;
	int rc;

	if (!need(r, ROLE_ADMIN))
		return;
	memset(&k, 0, sizeof(k));
	if (!arg_str(r, "id", k.id, sizeof(k.id), 1) ||
	    !arg_str(r, "point", k.point, sizeof(k.point), 1) ||
	    !arg_str(r, "pubkey", k.pubkey_pem, sizeof(k.pubkey_pem), 1))
		return;
	arg_str(r, "tz", k.tz, sizeof(k.tz), 0);
	if (r->failed)
		return;
	if (!valid_kiosk_id(k.id)) {
		fail(r, "invalid",
		     "kiosk id must be 1 to %d printable "
		     "characters without spaces",
		     TP_KIOSK_ID_MAX);
		return;
	}
	if (keys_parse_public_pem(k.pubkey_pem, &pub) != TP_OK) {
		fail(r, "invalid",
		     "pubkey is not a P-256 public key in PEM "
		     "(kiosk.pub from tapaid-kiosk --enroll)");
		return;
	}
	tp_key_free(pub);
	k.status = STORE_ACTIVE;
	k.added = (int64_t)time(NULL);
	rc = r->d->store->ops->kiosk_add(r->d->store, &k);
	if (store_fail(r, rc))
		return;
	net_reload(r->d);
	cJSON_AddStringToObject(data_obj(r), "id", k.id);
}

static void cmd_kiosk_revoke(struct req *r)
{
	char id[STORE_ID_LEN];
	int rc;

	if (!need(r, ROLE_ADMIN))
		return;
	if (!arg_str(r, "id", id, sizeof(id), 1))
		return;
	rc = r->d->store->ops->kiosk_revoke(r->d->store, id);
	if (store_fail(r, rc))
		return;
	net_close_kiosk(r->d, id);
	cJSON_AddStringToObject(data_obj(r), "id", id);
	cJSON_AddStringToObject(data_obj(r), "status", "revoked");
}

static int kiosk_cb(void *ctx, const struct store_kiosk *k)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", k->id);
	cJSON_AddStringToObject(o, "point", k->point);
	cJSON_AddStringToObject(o, "status", status_name(k->status));
	if (k->last_seen)
		cJSON_AddNumberToObject(o, "last_seen", (double)k->last_seen);
	else
		cJSON_AddNullToObject(o, "last_seen");
	cJSON_AddStringToObject(o, "tz", k->tz);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

static void cmd_kiosk_list(struct req *r)
{
	cJSON *a;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	a = cJSON_AddArrayToObject(data_obj(r), "kiosks");
	rc = r->d->store->ops->kiosk_list(r->d->store, kiosk_cb, a);
	store_fail(r, rc);
}

/*
 * A ready kiosk configuration: host address, the pinned host public key
 * (65 bytes, hex), kiosk id, reader, key file, benefit and language.
 */
static void cmd_kiosk_config(struct req *r)
{
	struct store_kiosk k;
	struct store_benefit b;
	char reader[256], key[1024], benefit[STORE_CODE_LEN], lang[8];
	char pubhex[2 * TP_P256_PUB_LEN + 1], text[4096];
	uint8_t pub[TP_P256_PUB_LEN];
	int rc;

	if (!need(r, ROLE_ADMIN))
		return;
	if (!arg_str(r, "id", k.id, sizeof(k.id), 1) ||
	    !arg_str(r, "reader", reader, sizeof(reader), 1) ||
	    !arg_str(r, "key", key, sizeof(key), 1) ||
	    !arg_str(r, "benefit", benefit, sizeof(benefit), 1))
		return;
	if (!arg_str(r, "lang", lang, sizeof(lang), 0) && !r->failed)
		strcpy(lang, "zh");
	if (r->failed)
		return;
	rc = r->d->store->ops->kiosk_get(r->d->store, k.id, &k);
	if (store_fail(r, rc))
		return;
	/* The benefit must exist: its offline allowance goes in the config. */
	rc = r->d->store->ops->benefit_get(r->d->store, benefit, &b);
	if (store_fail(r, rc))
		return;
	if (tp_key_public_raw(r->d->host_key, pub) != TP_OK) {
		fail(r, "internal", "cannot read the host public key");
		return;
	}
	tp_hex_encode(pub, sizeof(pub), pubhex, 0);
	snprintf(
	    text, sizeof(text),
	    "; tapaid-kiosk configuration for kiosk %s at %s\n"
	    "[kiosk]\n"
	    "id = %s\n"
	    "key = %s\n"
	    "reader = %s\n"
	    "point = %s\n"
	    "benefit = %s\n"
	    "lang = %s\n"
	    "[host]\n"
	    "address = %s:%s\n"
	    "pubkey = %s\n"
	    "[offline]\n"
	    "; grants per card per local day while the host is unreachable\n"
	    "per_card_per_day = %d\n",
	    k.id, k.point, k.id, key, reader, k.point, benefit, lang,
	    r->d->cf.listen_host, r->d->cf.listen_port, pubhex, b.offline);
	cJSON_AddStringToObject(data_obj(r), "config", text);
}

static void cmd_card_prepare(struct req *r)
{
	struct store_member m;
	struct store_card sc;
	struct store_member sm;
	uint8_t uid[7], lookup[16], k[16];
	char hex[33];
	cJSON *keys;
	int rc;

	if (!need(r, ROLE_STAFF))
		return;
	if (!arg_str(r, "member", m.no, sizeof(m.no), 1) ||
	    !arg_uid(r, "uid", uid))
		return;
	rc = r->d->store->ops->member_get(r->d->store, m.no, &m);
	if (store_fail(r, rc))
		return;
	keys_card_lookup(r->d->keys.salt, uid, lookup);
	rc = r->d->store->ops->card_find(r->d->store, lookup, &sc, &sm);
	if (rc == STORE_OK) {
		fail(r, "exists",
		     "a card with this UID is already registered "
		     "(card %lld)",
		     (long long)sc.id);
		return;
	}
	if (rc != STORE_ENOTFOUND && store_fail(r, rc))
		return;
	cJSON_AddNumberToObject(data_obj(r), "key_version",
				ENGINE_CARD_KEY_VERSION);
	keys = cJSON_AddObjectToObject(data_obj(r), "keys");
	for (int i = 0; i <= 4; i++) {
		char name[4];

		if (i == 1)
			memcpy(k, r->d->keys.meta, 16);
		else if (keys_card_key(r->d->keys.master, uid, i,
				       ENGINE_CARD_KEY_VERSION, k) != TP_OK) {
			fail(r, "internal", "cannot derive card key %d", i);
			tp_wipe(k, sizeof(k));
			return;
		}
		tp_hex_encode(k, 16, hex, 0);
		snprintf(name, sizeof(name), "k%d", i);
		cJSON_AddStringToObject(keys, name, hex);
	}
	tp_wipe(k, sizeof(k));
	tp_wipe(hex, sizeof(hex));
	{
		char url[sizeof(r->d->cf.card_url) + 64];

		snprintf(url, sizeof(url),
			 "%s%sp=00000000000000000000000000000000"
			 "&c=0000000000000000",
			 r->d->cf.card_url,
			 strchr(r->d->cf.card_url, '?') ? "&" : "?");
		cJSON_AddStringToObject(data_obj(r), "url_template", url);
	}
}

static void cmd_card_register(struct req *r)
{
	char member[STORE_NO_LEN];
	uint8_t uid[7], lookup[16];
	int64_t kv, ctr, id = 0;
	int rc;

	if (!need(r, ROLE_STAFF))
		return;
	if (!arg_str(r, "member", member, sizeof(member), 1) ||
	    !arg_uid(r, "uid", uid) ||
	    !arg_int(r, "key_version", 0, 255, &kv, 1) ||
	    !arg_int(r, "ctr", 0, 0xffffff, &ctr, 1))
		return;
	keys_card_lookup(r->d->keys.salt, uid, lookup);
	rc = r->d->store->ops->card_register(r->d->store, lookup, member,
					     (int)kv, (uint32_t)ctr,
					     (int64_t)time(NULL), &id);
	if (store_fail(r, rc))
		return;
	net_note_card(r->d, id, uid);
	cJSON_AddNumberToObject(data_obj(r), "card", (double)id);
}

static void cmd_card_revoke(struct req *r)
{
	char reason[STORE_REASON_LEN];
	int64_t id;
	int rc;

	if (!need(r, ROLE_STAFF))
		return;
	if (!arg_int(r, "card", 1, INT64_MAX / 2, &id, 1) ||
	    !arg_str(r, "reason", reason, sizeof(reason), 1))
		return;
	if (strcmp(reason, "lost") && strcmp(reason, "stolen") &&
	    strcmp(reason, "left") && strcmp(reason, "damaged")) {
		fail(r, "invalid",
		     "reason must be lost, stolen, left or "
		     "damaged");
		return;
	}
	rc = r->d->store->ops->card_revoke(r->d->store, id, reason);
	if (store_fail(r, rc))
		return;
	net_reload(r->d); /* the deny list changed */
	cJSON_AddNumberToObject(data_obj(r), "card", (double)id);
	cJSON_AddStringToObject(data_obj(r), "status", "revoked");
}

static void cmd_card_replace(struct req *r)
{
	struct store_actor actor;
	uint8_t uid[7], lookup[16];
	int64_t old, kv, ctr, nid = 0;
	int rc;

	if (!need(r, ROLE_STAFF))
		return;
	if (!arg_int(r, "card", 1, INT64_MAX / 2, &old, 1) ||
	    !arg_uid(r, "uid", uid) ||
	    !arg_int(r, "key_version", 0, 255, &kv, 1) ||
	    !arg_int(r, "ctr", 0, 0xffffff, &ctr, 1))
		return;
	keys_card_lookup(r->d->keys.salt, uid, lookup);
	memset(&actor, 0, sizeof(actor));
	actor.uid = (uint32_t)r->c->uid;
	scopy(actor.role, sizeof(actor.role), role_name(r->c->role));
	rc = r->d->store->ops->card_replace(r->d->store, old, lookup, (int)kv,
					    (uint32_t)ctr, (int64_t)time(NULL),
					    &actor, &nid);
	if (store_fail(r, rc))
		return;
	net_note_card(r->d, nid, uid);
	net_reload(r->d);
	cJSON_AddNumberToObject(data_obj(r), "old", (double)old);
	cJSON_AddNumberToObject(data_obj(r), "new", (double)nid);
}

static void cmd_card_show(struct req *r)
{
	struct store_card c;
	int64_t id;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	if (!arg_int(r, "card", 1, INT64_MAX / 2, &id, 1))
		return;
	rc = r->d->store->ops->card_get(r->d->store, id, &c);
	if (store_fail(r, rc))
		return;
	cJSON_Delete(r->data);
	r->data = card_json(&c);
}

static void cmd_card_list(struct req *r)
{
	struct store_member m;
	cJSON *a;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	if (!arg_str(r, "member", m.no, sizeof(m.no), 1))
		return;
	rc = r->d->store->ops->member_get(r->d->store, m.no, &m);
	if (store_fail(r, rc))
		return;
	a = cJSON_AddArrayToObject(data_obj(r), "cards");
	rc = r->d->store->ops->card_list(r->d->store, m.id, card_list_cb, a);
	store_fail(r, rc);
}

struct log_ctx {
	struct req *r;
	cJSON *rows;
};

static int log_cb(void *ctx, const struct store_log_row *row)
{
	struct log_ctx *lc = ctx;
	cJSON *o = cJSON_CreateObject();
	const char *reason = tp_reason_name(row->r.reason);

	cJSON_AddNumberToObject(o, "id", (double)row->r.id);
	cJSON_AddNumberToObject(o, "ts", (double)row->r.ts);
	cJSON_AddStringToObject(o, "kiosk", row->r.kiosk);
	cJSON_AddStringToObject(o, "point", row->r.point);
	cJSON_AddStringToObject(o, "member", row->member_no);
	add_name(lc->r, o, "name", row->name);
	cJSON_AddStringToObject(o, "benefit", row->r.benefit);
	cJSON_AddStringToObject(o, "result", result_name(row->r.result));
	cJSON_AddStringToObject(o, "reason", reason ? reason : "?");
	if (row->r.left >= 0)
		cJSON_AddNumberToObject(o, "left", (double)row->r.left);
	else
		cJSON_AddNullToObject(o, "left");
	cJSON_AddBoolToObject(o, "offline", row->r.offline);
	cJSON_AddBoolToObject(o, "voided", row->voided);
	cJSON_AddItemToArray(lc->rows, o);
	return 0;
}

static void cmd_log_query(struct req *r)
{
	struct store_log_filter f;
	struct log_ctx lc = {r, NULL};
	char res[16];
	int64_t x, next = 0;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	memset(&f, 0, sizeof(f));
	f.result = -1;
	arg_str(r, "member", f.member_no, sizeof(f.member_no), 0);
	arg_str(r, "kiosk", f.kiosk, sizeof(f.kiosk), 0);
	arg_str(r, "benefit", f.benefit, sizeof(f.benefit), 0);
	arg_time(r, "since", &f.since);
	arg_time(r, "until", &f.until);
	if (arg_str(r, "result", res, sizeof(res), 0) && res[0]) {
		if (strcmp(res, "granted") == 0)
			f.result = STORE_GRANTED;
		else if (strcmp(res, "denied") == 0)
			f.result = STORE_DENIED;
		else if (strcmp(res, "conflict") == 0)
			f.result = STORE_CONFLICT;
		else
			fail(r, "invalid", "result must be granted or denied");
	}
	if (arg_int(r, "limit", 1, 10000, &x, 0))
		f.limit = (int)x;
	if (arg_int(r, "after_id", 0, INT64_MAX / 2, &x, 0))
		f.after_id = x;
	if (r->failed)
		return;
	lc.rows = cJSON_AddArrayToObject(data_obj(r), "rows");
	rc = r->d->store->ops->log_query(r->d->store, &f, log_cb, &lc, &next);
	if (store_fail(r, rc))
		return;
	if (next)
		cJSON_AddNumberToObject(data_obj(r), "next", (double)next);
	else
		cJSON_AddNullToObject(data_obj(r), "next");
}

static void verify_to_json(const struct chain_verify_result *res, cJSON *o)
{
	char hex[65];

	cJSON_AddBoolToObject(o, "ok", res->ok);
	cJSON_AddNumberToObject(o, "rows", (double)res->rows);
	cJSON_AddNumberToObject(o, "staff_rows", (double)res->staff_rows);
	cJSON_AddNumberToObject(o, "checkpoints", (double)res->checkpoints);
	if (res->first_bad)
		cJSON_AddNumberToObject(o, "first_bad", (double)res->first_bad);
	else
		cJSON_AddNullToObject(o, "first_bad");
	if (res->first_bad_table)
		cJSON_AddStringToObject(o, "table", res->first_bad_table);
	cJSON_AddStringToObject(o, "why", res->why);
	if (res->last.id) {
		cJSON *cp = cJSON_AddObjectToObject(o, "last_checkpoint");

		cJSON_AddNumberToObject(cp, "id", (double)res->last.id);
		cJSON_AddNumberToObject(cp, "ts", (double)res->last.ts);
		cJSON_AddNumberToObject(cp, "redemption_head",
					(double)res->last.r_head_id);
		tp_hex_encode(res->last.digest, 32, hex, 0);
		cJSON_AddStringToObject(cp, "digest", hex);
	}
}

/*
 * The checkpoint an auditor kept ("checkpoint" id and "digest", 64 hex
 * digits, both or neither).  Returns 1 and sets k->id (0 when none was
 * given), or 0 after failing the request.
 */
static int arg_kept(struct req *r, struct chain_kept *k)
{
	int has_id, has_hex;

	memset(k, 0, sizeof(*k));
	has_id = arg_int(r, "checkpoint", 1, INT64_MAX, &k->id, 0);
	if (r->failed)
		return 0;
	has_hex = arg_hex(r, "digest", k->digest, STORE_HASH_LEN, 0, "");
	if (r->failed)
		return 0;
	if (has_id != has_hex) {
		fail(r, "bad_request",
		     "\"checkpoint\" and \"digest\" go together");
		return 0;
	}
	return 1;
}

static void cmd_log_verify(struct req *r)
{
	struct chain_verify_result res;
	struct chain_kept kept;
	struct job *j;
	int rc, flags;

	if (!need(r, ROLE_AUDITOR) || !arg_kept(r, &kept))
		return;
	flags = arg_bool(r, "all_signatures") ? CHAIN_VERIFY_ALL_SIGS : 0;
	/* A fresh checkpoint first, so that the newest rows are covered. */
	net_checkpoint(r->d, 0);
	j = calloc(1, sizeof(*j));
	if (j) {
		j->kind = JOB_VERIFY;
		j->flags = flags;
		j->kept = kept;
		if (defer(r, j) == 0)
			return;
		free(j);
	}
	rc = chain_verify(r->d->store, r->d->host_key, flags,
			  kept.id ? &kept : NULL, NULL, NULL, &res);
	if (store_fail(r, rc))
		return;
	verify_to_json(&res, data_obj(r));
}

static void cmd_redemption_void(struct req *r)
{
	struct store_actor actor;
	char reason[256];
	int64_t id;
	int rc;

	if (!need(r, ROLE_ADMIN))
		return;
	if (!arg_int(r, "id", 1, INT64_MAX / 2, &id, 1) ||
	    !arg_str(r, "reason", reason, sizeof(reason), 1))
		return;
	memset(&actor, 0, sizeof(actor));
	actor.uid = (uint32_t)r->c->uid;
	scopy(actor.role, sizeof(actor.role), role_name(r->c->role));
	rc = r->d->store->ops->redemption_void(r->d->store, id, reason, &actor,
					       (int64_t)time(NULL));
	if (store_fail(r, rc))
		return;
	cJSON_AddNumberToObject(data_obj(r), "id", (double)id);
	cJSON_AddBoolToObject(data_obj(r), "voided", 1);
}

static int report_cb(void *ctx, const struct store_report_row *row)
{
	cJSON *data = ctx, *a, *o;
	const char *label = "key";

	a = cJSON_GetObjectItemCaseSensitive(data, row->section);
	if (!a)
		return 0;
	o = cJSON_CreateObject();
	if (strcmp(row->section, "per_day") == 0)
		label = "day";
	else if (strcmp(row->section, "per_benefit") == 0)
		label = "benefit";
	else if (strcmp(row->section, "per_point") == 0)
		label = "point";
	else if (strcmp(row->section, "denials") == 0)
		label = "reason";
	else if (strcmp(row->section, "security") == 0)
		label = "kind";
	if (strcmp(row->section, "denials") == 0) {
		const char *n = tp_reason_name(atoi(row->key));

		cJSON_AddStringToObject(o, label, n ? n : row->key);
		cJSON_AddNumberToObject(o, "count", (double)row->denied);
	} else if (strcmp(row->section, "security") == 0) {
		cJSON_AddStringToObject(o, label, row->key);
		cJSON_AddNumberToObject(o, "count", (double)row->granted);
	} else {
		cJSON_AddStringToObject(o, label, row->key);
		cJSON_AddNumberToObject(o, "granted", (double)row->granted);
		cJSON_AddNumberToObject(o, "denied", (double)row->denied);
		cJSON_AddNumberToObject(o, "amount", (double)row->amount);
	}
	cJSON_AddItemToArray(a, o);
	return 0;
}

static void cmd_report_data(struct req *r)
{
	static const char *const sections[] = {
	    "per_day", "per_benefit", "per_point", "denials", "security"};
	int64_t since, until, off = 0;
	struct tm tm;
	time_t now = time(NULL);
	cJSON *o;
	int rc;

	if (!need(r, ROLE_AUDITOR))
		return;
	if (!arg_time(r, "since", &since) || !arg_time(r, "until", &until))
		return;
	if (!arg_int(r, "utc_offset", -86400, 86400, &off, 0)) {
		if (r->failed)
			return;
		localtime_r(&now, &tm);
		off = tm.tm_gmtoff;
	}
	if (until == 0)
		until = (int64_t)now + 1;
	{
		struct job *j = calloc(1, sizeof(*j));

		if (j) {
			j->kind = JOB_REPORT;
			j->since = since;
			j->until = until;
			j->off = off;
			if (defer(r, j) == 0)
				return;
			free(j);
		}
	}
	o = data_obj(r);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		cJSON_AddArrayToObject(o, sections[i]);
	rc = r->d->store->ops->report(r->d->store, since, until, off, report_cb,
				      o);
	store_fail(r, rc);
}

struct command {
	const char *name;
	void (*fn)(struct req *r);
	enum role role; /* for the staff-action record only */
};

/*
 * Every handler checks its role itself, first thing (need()); the role
 * here only lets the record, written before the handler runs, say whether
 * the request was allowed.
 */
static const struct command commands[] = {
    {"ping", cmd_ping, ROLE_AUDITOR},
    {"member.import", cmd_member_import, ROLE_STAFF},
    {"member.add", cmd_member_add, ROLE_STAFF},
    {"member.show", cmd_member_show, ROLE_AUDITOR},
    {"member.suspend", cmd_member_suspend, ROLE_STAFF},
    {"member.resume", cmd_member_resume, ROLE_STAFF},
    {"benefit.add", cmd_benefit_add, ROLE_ADMIN},
    {"benefit.list", cmd_benefit_list, ROLE_AUDITOR},
    {"kiosk.add", cmd_kiosk_add, ROLE_ADMIN},
    {"kiosk.revoke", cmd_kiosk_revoke, ROLE_ADMIN},
    {"kiosk.list", cmd_kiosk_list, ROLE_AUDITOR},
    {"kiosk.config", cmd_kiosk_config, ROLE_ADMIN},
    {"card.prepare", cmd_card_prepare, ROLE_STAFF},
    {"card.register", cmd_card_register, ROLE_STAFF},
    {"card.revoke", cmd_card_revoke, ROLE_STAFF},
    {"card.replace", cmd_card_replace, ROLE_STAFF},
    {"card.show", cmd_card_show, ROLE_AUDITOR},
    {"card.list", cmd_card_list, ROLE_AUDITOR},
    {"log.query", cmd_log_query, ROLE_AUDITOR},
    {"log.verify", cmd_log_verify, ROLE_AUDITOR},
    {"redemption.void", cmd_redemption_void, ROLE_ADMIN},
    {"report.data", cmd_report_data, ROLE_AUDITOR},
};

/*
 * The arguments as recorded in the staff-action log: no secrets and no
 * names.  A member import is recorded by its size, a name by its mask.
 */
static char *record_args(const char *cmd, const cJSON *args)
{
	cJSON *copy;
	char *s;

	if (strcmp(cmd, "member.import") == 0) {
		const cJSON *rows =
		    cJSON_GetObjectItemCaseSensitive(args, "rows");

		copy = cJSON_CreateObject();
		cJSON_AddNumberToObject(
		    copy, "rows",
		    cJSON_IsArray(rows) ? cJSON_GetArraySize(rows) : 0);
	} else {
		cJSON *name;

		copy = cJSON_Duplicate(args, 1);
		name = cJSON_GetObjectItemCaseSensitive(copy, "name");
		if (name && cJSON_IsString(name) &&
		    strcmp(cmd, "member.add") == 0) {
			char m[STORE_NAME_LEN];

			mask_name(name->valuestring, m, sizeof(m));
			cJSON_ReplaceItemInObjectCaseSensitive(
			    copy, "name", cJSON_CreateString(m));
		}
	}
	s = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return s;
}

/* Records the request before it runs; 0, or -1 if it could not be. */
static int record_request(struct req *r, int allowed)
{
	struct store_staff_action a;
	char *args = record_args(r->cmd, r->args);
	int rc;

	memset(&a, 0, sizeof(a));
	a.ts = (int64_t)time(NULL);
	a.uid = (uint32_t)r->c->uid;
	scopy(a.role, sizeof(a.role), role_name(r->c->role));
	scopy(a.cmd, sizeof(a.cmd), r->cmd);
	a.args = args ? args : "";
	a.ok = allowed;
	rc = r->d->store->ops->staff_append(r->d->store, &a);
	free(args);
	if (rc < 0) {
		log_warnx("cannot record %s by uid %u: %s", r->cmd,
			  (unsigned)r->c->uid, store_errmsg(r->d->store));
		return -1;
	}
	return 0;
}

/* ---- connection I/O ----------------------------------------------------- */

static void ctl_write(struct ctl_conn *c, const char *s, size_t n)
{
	if (c->wlen + n + 1 > c->wcap) {
		size_t nc = c->wcap ? c->wcap : 4096;
		char *nb;

		while (nc < c->wlen + n + 1)
			nc *= 2;
		if (nc > CTL_WBUF_MAX || !(nb = realloc(c->wbuf, nc))) {
			c->closing = 1;
			return;
		}
		c->wbuf = nb;
		c->wcap = nc;
	}
	memcpy(c->wbuf + c->wlen, s, n);
	c->wlen += n;
	c->wbuf[c->wlen++] = '\n';
}

static void ctl_flush(struct ctl_conn *c)
{
	if (c->io.fd < 0)
		return;
	while (c->woff < c->wlen) {
		ssize_t n =
		    write(c->io.fd, c->wbuf + c->woff, c->wlen - c->woff);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			ctl_close(c);
			return;
		}
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
		if (c->closing) {
			ctl_close(c);
			return;
		}
		loop_mod(c->d->loop, &c->io, c->job ? 0 : EPOLLIN);
	} else {
		loop_mod(c->d->loop, &c->io, EPOLLOUT);
	}
}

static void reply(struct ctl_conn *c, struct req *r)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	if (r->failed) {
		cJSON_AddFalseToObject(o, "ok");
		cJSON_AddStringToObject(o, "error", r->error);
		cJSON_AddStringToObject(o, "code", r->code);
		if (r->need_role)
			cJSON_AddStringToObject(o, "need_role", r->need_role);
		cJSON_Delete(r->data);
	} else {
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddItemToObject(o, "data",
				      r->data ? r->data : cJSON_CreateObject());
	}
	r->data = NULL;
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s) {
		static const char oom[] = "{\"ok\":false,\"error\":\"out of "
					  "memory\",\"code\":\"internal\"}";

		ctl_write(c, oom, sizeof(oom) - 1);
		return;
	}
	ctl_write(c, s, strlen(s));
	free(s);
}

/*
 * A line over CTL_LINE_MAX (a member import, from staff or admin) is
 * parsed on the job thread: 20 MB of JSON for 400,000 members take about
 * half a second that kiosks would wait for.  The first len bytes of c->rbuf
 * are that line: the buffer goes to the job as it is, and c reads on into
 * a new one with what came after the line.  1 if it went there.
 */
static int parse_off_loop(struct ctl_conn *c, size_t len)
{
	size_t nrest = c->rlen - len - 1, cap = 65536 * 2;
	struct job *j;
	char *rest;

	if (len <= CTL_LINE_MAX || jobs_start(c->d) < 0 ||
	    !(j = calloc(1, sizeof(*j))))
		return 0;
	while (cap < nrest + 65536)
		cap *= 2;
	if (!(rest = malloc(cap))) {
		free(j);
		return 0;
	}
	memcpy(rest, c->rbuf + len + 1, nrest);
	j->kind = JOB_PARSE;
	j->len = len;
	j->line = c->rbuf;
	j->gen = c->d->members_gen;
	snprintf(j->dbpath, sizeof(j->dbpath), "%s/tapaid.db",
		 c->d->cf.data_dir);
	import_rows_init(&j->rows);
	c->rbuf = rest;
	c->rcap = cap;
	c->rlen = nrest;
	c->scanned = 0;
	enqueue(c, j);
	return 1;
}

static void handle_line(struct ctl_conn *c, const char *line, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(line, len);

	handle_request(c, root, len, NULL, NULL);
	cJSON_Delete(root);
}

/* Runs the request in root (NULL: the line was not JSON); root stays the
 * caller's to free. */
static void handle_request(struct ctl_conn *c, cJSON *root, size_t len,
			   const struct import_plan *plan,
			   const struct import_rows *rows)
{
	struct req r;
	cJSON *empty = NULL;
	const cJSON *v, *cmd, *args;
	const struct command *found = NULL;

	memset(&r, 0, sizeof(r));
	r.d = c->d;
	r.c = c;
	r.plan = plan;
	r.rows = rows;
	r.cmd = "?";
	if (!root || !cJSON_IsObject(root)) {
		fail(&r, "bad_request",
		     "a request is one JSON object per line");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "v");
	cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd");
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (!cJSON_IsString(cmd)) {
		fail(&r, "bad_request", "the request has no \"cmd\"");
		goto out;
	}
	r.cmd = cmd->valuestring;
	if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
		fail(&r, "version",
		     "admin protocol version 1 expected; "
		     "tapaidctl and tapaidd do not match");
		goto out;
	}
	if (args && !cJSON_IsNull(args) && !cJSON_IsObject(args)) {
		fail(&r, "bad_request", "\"args\" must be an object");
		goto out;
	}
	if (!args || cJSON_IsNull(args))
		args = empty = cJSON_CreateObject();
	r.args = args;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, r.cmd) == 0)
			found = &commands[i];
	if (!found) {
		fail(&r, "bad_request", "unknown command \"%.64s\"", r.cmd);
		goto out;
	}
	if (len > CTL_LINE_MAX && strcmp(r.cmd, "member.import") != 0) {
		fail(&r, "bad_request", "request line over 64 KiB");
		goto out;
	}
	/*
	 * Recorded before it runs.  Whether the role allows it is decided
	 * in the handler; the record says what the table says, so that a
	 * refused request is visible as refused.
	 */
	if (record_request(&r, c->role >= found->role) < 0) {
		fail(&r, "storage",
		     "the request could not be recorded, so it "
		     "was not run: %s",
		     store_errmsg(c->d->store));
		goto out;
	}
	log_info("admin: uid %u (%s) %s", (unsigned)c->uid, role_name(c->role),
		 r.cmd);
	found->fn(&r);
	if (r.deferred)
		goto done;
out:
	reply(c, &r);
done:
	cJSON_Delete(empty);
}

/* Answers a request line over the cap and closes after the answer. */
static void too_long(struct ctl_conn *c, size_t max)
{
	struct req r;

	memset(&r, 0, sizeof(r));
	r.cmd = "?";
	fail(&r, "bad_request", "request line too long (at most %zu bytes)",
	     max);
	reply(c, &r);
	c->closing = 1;
	c->rlen = c->scanned = 0;
	ctl_flush(c);
}

static void ctl_io_locked(struct loop_io *io, uint32_t events)
{
	struct ctl_conn *c = io->arg;
	size_t max = c->role >= ROLE_STAFF ? CTL_IMPORT_MAX : CTL_LINE_MAX;

	if (events & EPOLLOUT) {
		ctl_flush(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->job) {
		/* Parked behind its job: only a hang-up gets here. */
		ctl_close(c);
		return;
	}
	for (;;) {
		ssize_t n;

		if (c->rlen + 65536 > c->rcap) {
			size_t nc = c->rcap ? c->rcap * 2 : 65536 * 2;
			char *nb;

			if (nc > max + 65536)
				nc = max + 65536;
			if (nc <= c->rcap || !(nb = realloc(c->rbuf, nc))) {
				too_long(c, max);
				return;
			}
			c->rbuf = nb;
			c->rcap = nc;
		}
		n = read(c->io.fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n == 0) {
			ctl_close(c);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			ctl_close(c);
			return;
		}
		c->rlen += (size_t)n;
		process_lines(c);
		if (c->job || c->io.fd < 0)
			return; /* parked, or closed */
		if (c->rlen > max) {
			too_long(c, max);
			return;
		}
	}
	if (c->wlen)
		ctl_flush(c);
}

static void ctl_io(struct loop_io *io, uint32_t events)
{
	struct daemon *d = ((struct ctl_conn *)io->arg)->d;

	daemon_lock(d);
	ctl_io_locked(io, events);
	daemon_unlock(d);
}

/* Handles the whole lines in rbuf, until one is handed to the job thread. */
static void process_lines(struct ctl_conn *c)
{
	char *nl;

	/* A 20 MB import comes in a few hundred reads: each looks only at
	 * what the last one added. */
	while (c->io.fd >= 0 && !c->job && c->scanned < c->rlen) {
		size_t ll;

		nl = memchr(c->rbuf + c->scanned, '\n', c->rlen - c->scanned);
		if (!nl) {
			c->scanned = c->rlen;
			break;
		}
		ll = (size_t)(nl - c->rbuf);
		if (parse_off_loop(c, ll))
			break; /* parked, with the rest of rbuf */
		handle_line(c, c->rbuf, ll);
		memmove(c->rbuf, nl + 1, c->rlen - ll - 1);
		c->rlen -= ll + 1;
		c->scanned = 0;
	}
	if (c->wlen)
		ctl_flush(c);
}

/* Closed connections wait here until control_reap(), at the end of the
 * loop turn, so that no caller is left holding a freed pointer. */
static struct ctl_conn *ctl_dead;

static void ctl_close(struct ctl_conn *c)
{
	struct daemon *d = c->d;
	struct ctl_conn **pp;

	if (c->io.fd < 0)
		return;
	for (pp = &d->ctls; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	d->nctls--;
	if (c->job)
		c->job->c = NULL; /* the job finishes; nobody is told */
	c->job = NULL;
	loop_del(d->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	c->next = ctl_dead;
	ctl_dead = c;
}

void control_reap(struct daemon *d)
{
	struct ctl_conn *c;

	(void)d;
	while ((c = ctl_dead) != NULL) {
		ctl_dead = c->next;
		free(c->rbuf);
		free(c->wbuf);
		free(c);
	}
}

static void ctl_accept_locked(struct loop_io *io, uint32_t events)
{
	struct daemon *d = io->arg;

	for (;;) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct ctl_conn *c, *o;
		int fd, per_uid = 0;

		fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			close(fd);
			continue;
		}
		for (o = d->ctls; o; o = o->next)
			per_uid += o->uid == cred.uid;
		if (d->nctls >= CTL_MAXCONN || per_uid >= CTL_MAXCONN_PER_UID) {
			static const char busy[] =
			    "{\"ok\":false,\"error\":\"too many admin "
			    "connections\",\"code\":\"internal\"}\n";

			if (write(fd, busy, sizeof(busy) - 1) < 0)
				(void)0;
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->d = d;
		c->uid = cred.uid;
		c->pid = cred.pid;
		c->role = config_role(&d->cf, cred.uid);
		c->io.fd = fd;
		c->io.fn = ctl_io;
		c->io.arg = c;
		if (loop_add(d->loop, &c->io, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = d->ctls;
		d->ctls = c;
		d->nctls++;
		if (c->role == ROLE_NONE)
			log_warnx("admin connection from uid %u, which has no "
				  "role",
				  (unsigned)cred.uid);
	}
}

static void ctl_accept(struct loop_io *io, uint32_t events)
{
	struct daemon *d = io->arg;

	daemon_lock(d);
	ctl_accept_locked(io, events);
	daemon_unlock(d);
}

int control_listen(struct daemon *d, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(d->ctl_path, sizeof(d->ctl_path), "%s/admin.sock",
		     d->cf.data_dir) >= (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "admin socket path too long: %s",
			 d->ctl_path);
		return -1;
	}
	strcpy(sun.sun_path, d->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* A live socket means another tapaidd serves this data dir. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, errlen,
			 "another tapaidd is running on %s (admin socket %s)",
			 d->cf.data_dir, d->ctl_path);
		close(fd);
		return -1;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(d->ctl_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(d->ctl_path, 0666) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", d->ctl_path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	d->ctl_io.fd = fd;
	d->ctl_io.fn = ctl_accept;
	d->ctl_io.arg = d;
	if (loop_add(d->loop, &d->ctl_io, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return 0;
}

void control_shutdown(struct daemon *d)
{
	while (d->ctls)
		ctl_close(d->ctls);
	jobs_stop(d);
	control_reap(d);
	if (d->ctl_io.fd > 0) {
		loop_del(d->loop, &d->ctl_io);
		close(d->ctl_io.fd);
		d->ctl_io.fd = -1;
		unlink(d->ctl_path);
	}
}
