/*
 * ctl_int.h - tapaidctl's internal header: one section per file.
 *
 * tapaidctl is a thin client.  Who may do what is decided by tapaidd on the
 * admin socket (host/ADMIN.md); everything here only parses what the user
 * typed, checks it well enough to give a clear message early, and renders
 * what the daemon answers.  Exit codes everywhere: CTL_OK (0) success,
 * CTL_FAIL (1) refused or failed, one line on stderr saying why and what to
 * do; CTL_USAGE (2) bad usage.
 */
#ifndef TAPAIDCTL_INT_H
#define TAPAIDCTL_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#define CTL_OK	  0
#define CTL_FAIL  1
#define CTL_USAGE 2

/* A subcommand: wg.c's {name, fn, help} habit. */
struct ctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* --- tapaidctl.c --- */

/* The data directory (--dir or TAPAID_DIR); NULL when neither was given. */
extern const char *ctl_dir;

/* --- ctl_util.c --- */

/* Prints "tapaidctl: <message>" and a newline on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints usage text on stderr and returns CTL_USAGE. */
int ctl_usage(const char *usage);

/* 1 when argv holds -h or --help before any "--". */
int ctl_want_help(int argc, char **argv);

/*
 * Runs the subcommand of table named by argv[1] (argv[0] is the parent's
 * name).  With no name, or -h/--help, prints the table's help on stdout.
 */
int ctl_dispatch(const struct ctl_cmd *table, size_t n, const char *parent,
		 int argc, char **argv);

/*
 * Reads a whole file of at most max bytes.  OUT: *buf (NUL-terminated,
 * caller frees with free()) and *len.  Returns 0 or -errno (EFBIG when too
 * large).
 */
int ctl_read_file(const char *path, size_t max, char **buf, size_t *len);

/*
 * Reads an AES-128 key file: 32 hex digits and an optional newline.  Prints
 * why on failure and returns CTL_FAIL; the buffer holding the text is wiped.
 */
int ctl_read_key16(const char *path, uint8_t key[static 16]);

/* 1 when s is YYYY-MM-DD or YYYY-MM-DD[T ]HH:MM[:SS] with sane fields. */
int ctl_valid_date(const char *s);

/* 1 when the n bytes at s are well-formed UTF-8 with no control chars. */
int ctl_utf8_text(const char *s, size_t n);

/* Display width of UTF-8 text on a terminal (CJK wide chars count 2). */
size_t ctl_utf8_width(const char *s);

/* Parses a decimal unsigned value in [min, max]; 1 on success. */
int ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Formats a cJSON scalar as text ("" for null/missing). OUT: buf. */
const char *ctl_json_text(const cJSON *v, char *buf, size_t cap);

/*
 * Member key of obj as text; Unix times (keys ts, issued, last_seen, time,
 * created) become local "YYYY-MM-DD HH:MM:SS".  OUT: buf.
 */
const char *ctl_field_text(const cJSON *obj, const char *key, char *buf,
			   size_t cap);

/* --- ctl_client.c --- */

struct ctl_conn;

/* Lines the daemon reads: requests at most 64 MiB, answers as the client. */
#define CTL_MAX_LINE (64u << 20)

/*
 * Connects to DIR/admin.sock (DIR from ctl_dir).  Prints why and what to do
 * on failure.  Returns CTL_OK or CTL_FAIL.
 */
int ctl_open(struct ctl_conn **out);
int ctl_open_path(const char *sock, struct ctl_conn **out);
void ctl_close(struct ctl_conn *c);

/* When set, a spinner is ticked while waiting for an answer. */
extern struct ctl_progress *ctl_wait_progress;

/*
 * Sends {"v":1,"cmd":cmd,"args":args} and reads the answer.  Takes
 * ownership of args (may be NULL).  On {"ok":true} stores the "data" object
 * in *data (caller cJSON_Delete()s it; may be NULL when not wanted) and
 * returns CTL_OK.  On a refusal prints one line (what was refused, the role
 * it needs) and returns CTL_FAIL; *code (if not NULL) gets the daemon's
 * error code ("forbidden", "exists", ...) or "io".
 */
int ctl_call(struct ctl_conn *c, const char *cmd, cJSON *args, cJSON **data,
	     const char **code);

/*
 * The same, but on a refusal other than "forbidden" the daemon's sentence
 * is copied to msg instead of printed, for callers that say it better.
 */
int ctl_call_ex(struct ctl_conn *c, const char *cmd, cJSON *args, cJSON **data,
		const char **code, char *msg, size_t msgcap);

/*
 * After a request made with show_names: the daemon quietly masks names for
 * roles below staff, so ask it our role and refuse (exit 1, one line)
 * rather than print masked names as if they were shown.  The request
 * itself is already in the staff-action log.
 */
int ctl_check_show_names(struct ctl_conn *c, const char *what);

/* Opens, calls once, closes. */
int ctl_rpc(const char *cmd, cJSON *args, cJSON **data);

/*
 * Lower level, for callers that handle a refusal themselves: returns the
 * whole answer object (caller frees) or NULL after printing an I/O error.
 */
cJSON *ctl_request(struct ctl_conn *c, const char *cmd, cJSON *args);

/*
 * The same with args given as JSON text (an object), for requests too big
 * to build as a cJSON tree (member.import).
 */
cJSON *ctl_request_raw(struct ctl_conn *c, const char *cmd, const char *args,
		       size_t len);

/* Prints the one-line message for a refused answer; returns CTL_FAIL. */
int ctl_report_refusal(const char *cmd, const cJSON *answer);

/* --- ctl_out.c --- */

/* A table of strings, rendered aligned (terminal), as CSV or as JSON. */
struct ctl_table {
	size_t ncols;
	const char *const *head;
	char **cells; /* nrows * ncols, each malloc'd */
	size_t nrows, cap;
};

void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *head);
/* Appends one row of ncols values (NULL means empty). 0 or -ENOMEM. */
int ctl_table_add(struct ctl_table *t, const char *const *values);
void ctl_table_print(const struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

/* One RFC 4180 field (quoted when it holds , " CR or LF). */
void ctl_csv_field(FILE *f, const char *s);
/* One RFC 4180 record ended by CRLF. */
void ctl_csv_record(FILE *f, const char *const *fields, size_t n);

/* Prints obj as one line of JSON and a newline. */
void ctl_json_line(FILE *f, const cJSON *obj);

/*
 * Prints the objects of data's array member `name`: as a table with the
 * given column heads and keys (at most CTL_LIST_COLS), or one JSON line per
 * object with json.
 */
#define CTL_LIST_COLS 8
void ctl_print_list(const cJSON *data, const char *name, size_t ncols,
		    const char *const *head, const char *const *key, int json);

/* Prints a cJSON object as "key: value" lines (nested arrays indented). */
void ctl_print_object(FILE *f, const cJSON *obj, int indent);

/* --- ctl_progress.c --- */

/*
 * A progress bar on stderr, drawn only when stderr is a terminal and the
 * job is long enough to be worth watching (it appears after 0.3 s).  With
 * total 0 it is a spinner with elapsed time (a daemon-side job that does
 * not report progress).
 */
struct ctl_progress {
	int on;
	int drawn;
	const char *label;
	uint64_t total, done;
	uint64_t start_ms, last_ms;
	unsigned spin;
	int fd;
};

void ctl_progress_start(struct ctl_progress *p, const char *label,
			uint64_t total);
/* Same, drawing on fd if force or fd is a terminal (tests use force). */
void ctl_progress_start_fd(struct ctl_progress *p, const char *label,
			   uint64_t total, int fd, int force);
void ctl_progress_set(struct ctl_progress *p, uint64_t done);
/* Erases the bar (nothing is left on the terminal). */
void ctl_progress_end(struct ctl_progress *p);
uint64_t ctl_now_ms(void);

/* --- ctl_csv.c --- */

/*
 * The members of one import file, checked.  json is the JSON array of
 * [no, name, union, category, status] arrays, ready for member.import
 * (built as text: a cJSON tree of 400,000 rows costs ten times the memory);
 * line[i] is the physical line on which row i starts (for mapping the
 * daemon's "line N" back).
 */
struct ctl_import {
	char *json;
	size_t jlen, jcap;
	uint32_t *line;
	size_t n, cap;
	size_t nerr;	  /* bad rows found */
	size_t max_show;  /* how many error lines to print (default 20) */
	FILE *errs;	  /* where errors go (stderr) */
	const char *file; /* name shown in messages */
};

/*
 * Parses and checks a member CSV (header member_no,name,union,category
 * [,status]).  Every bad row is reported as "FILE:LINE: reason".  Returns
 * 0 when the whole file is good, -1 otherwise (nothing is imported then).
 * prog may be NULL.
 */
int ctl_import_parse(struct ctl_import *imp, const char *buf, size_t len,
		     struct ctl_progress *prog);
void ctl_import_free(struct ctl_import *imp);

/* Maps a daemon line number (first_line 2 + row index) to the file line. */
uint32_t ctl_import_line(const struct ctl_import *imp, uint32_t dline);

/* --- ctl_report.c --- */

/*
 * Writes a self-contained HTML report (inline CSS and SVG, no script, no
 * network) from a report.data answer.  Returns 0 or -1 (write error).
 */
int ctl_report_html(FILE *f, const cJSON *data, const char *since,
		    const char *until, const char *generated);

/* --- subcommands (ctl_*.c) --- */
int ctl_init(int argc, char **argv);
int ctl_member(int argc, char **argv);
int ctl_benefit(int argc, char **argv);
int ctl_kiosk(int argc, char **argv);
int ctl_card(int argc, char **argv);
int ctl_log(int argc, char **argv);
int ctl_redemption(int argc, char **argv);
int ctl_report(int argc, char **argv);
int ctl_sun(int argc, char **argv);
int ctl_ping(int argc, char **argv);

/* --- ctl_issue.c --- */
int ctl_card_issue(int argc, char **argv);
int ctl_card_replace(int argc, char **argv);
int ctl_card_read(int argc, char **argv);

#endif
