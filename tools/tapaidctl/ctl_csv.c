/*
 * ctl_csv.c - reading and checking a member import file.
 *
 * The file is RFC 4180 CSV in UTF-8 (a BOM, as Excel writes, is skipped),
 * header member_no,name,union,category[,status].  libcsv does the parsing
 * in strict mode; this file counts physical lines itself so that every bad
 * row is reported with the line it starts on, even when a quoted field
 * spans lines or the file has blank lines or CRLF endings.  Every row is
 * checked and every problem reported before anything is sent: the import
 * is all or nothing, and a file with one bad row imports nothing.
 */
#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl_int.h"

#define MAX_FIELDS 8
#define MAX_FIELD  400 /* bytes kept per field; longer is an error anyway */
#define MAX_NO	   32
#define MAX_NAME   200
#define MAX_OTHER  100

static const char *const cols[] = {"member_no", "name", "union", "category",
				   "status"};

struct parse {
	struct ctl_import *imp;
	char field[MAX_FIELDS][MAX_FIELD + 1];
	size_t flen[MAX_FIELDS];
	size_t nf;	   /* fields in the current record */
	size_t nf_total;   /* including those past MAX_FIELDS */
	int too_long;	   /* a field was longer than MAX_FIELD */
	uint32_t rec_line; /* line the current record starts on */
	uint32_t nl_in_rec;
	int prev_cr;
	int have_header;
	size_t ncols;
	uint32_t *nos; /* member_no of row i: offset into arena */
	char *arena;   /* the member_nos, each NUL-terminated */
	size_t alen, acap;
	uint64_t *hash; /* hash << 32 | (row index + 1); 0 empty */
	size_t hcap;
	int oom;
};

static void bad(struct parse *ps, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bad(struct parse *ps, uint32_t line, const char *fmt, ...)
{
	struct ctl_import *imp = ps->imp;
	va_list ap;

	imp->nerr++;
	if (imp->nerr > imp->max_show)
		return;
	fprintf(imp->errs, "%s:%u: ", imp->file, line);
	va_start(ap, fmt);
	vfprintf(imp->errs, fmt, ap);
	va_end(ap);
	fputc('\n', imp->errs);
}

static void on_field(void *s, size_t len, void *data)
{
	struct parse *ps = data;
	const char *p = s;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n')
			ps->nl_in_rec++;
	ps->nf_total++;
	if (ps->nf >= MAX_FIELDS)
		return;
	if (len > MAX_FIELD) {
		ps->too_long = 1;
		len = MAX_FIELD;
	}
	memcpy(ps->field[ps->nf], p, len);
	ps->field[ps->nf][len] = '\0';
	ps->flen[ps->nf] = len;
	ps->nf++;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

/*
 * The duplicate check: open addressing, each slot the row index + 1 in
 * the low 32 bits and the member_no's hash in the high 32, so that growing
 * and most misses never touch the strings (which are scattered in memory:
 * with 400,000 rows, cache misses dominate).
 */
static int grow_hash(struct parse *ps, size_t want)
{
	size_t ncap = ps->hcap ? ps->hcap : 1024;
	uint64_t *nh;

	while (ncap < want * 2)
		ncap *= 2;
	nh = calloc(ncap, sizeof(*nh));
	if (nh == NULL)
		return -1;
	for (size_t i = 0; i < ps->hcap; i++) {
		uint64_t v = ps->hash[i];
		size_t j;

		if (v == 0)
			continue;
		j = (size_t)(v >> 32) & (ncap - 1);
		while (nh[j] != 0)
			j = (j + 1) & (ncap - 1);
		nh[j] = v;
	}
	free(ps->hash);
	ps->hash = nh;
	ps->hcap = ncap;
	return 0;
}

/* Returns the row index already holding no, or -1 (and inserts row). */
static long find_or_add(struct parse *ps, const char *no, size_t row)
{
	uint64_t h = hash_str(no);
	uint32_t h32 = (uint32_t)(h ^ (h >> 32));
	size_t j;

	if ((row + 1) * 2 > ps->hcap && grow_hash(ps, row + 1) < 0) {
		ps->oom = 1;
		return -1;
	}
	j = h32 & (ps->hcap - 1);
	while (ps->hash[j] != 0) {
		uint64_t v = ps->hash[j];

		if ((uint32_t)(v >> 32) == h32 &&
		    strcmp(ps->arena + ps->nos[(uint32_t)v - 1], no) == 0)
			return (long)(uint32_t)v - 1;
		j = (j + 1) & (ps->hcap - 1);
	}
	ps->hash[j] = (uint64_t)h32 << 32 | (uint32_t)(row + 1);
	return -1;
}

/* By length, not to a NUL: a NUL byte in the field is not allowed. */
static int no_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-' ||
		      s[i] == '_'))
			return 0;
	return 1;
}

static int check_text(struct parse *ps, uint32_t line, size_t i, size_t max)
{
	if (ps->flen[i] == 0) {
		bad(ps, line, "%s is empty", cols[i]);
		return 0;
	}
	if (!ctl_utf8_text(ps->field[i], ps->flen[i])) {
		bad(ps, line,
		    "%s is not valid UTF-8 text (save the file as UTF-8, "
		    "without control characters)",
		    cols[i]);
		return 0;
	}
	if (ps->flen[i] > max) {
		bad(ps, line, "%s is longer than %zu bytes", cols[i], max);
		return 0;
	}
	return 1;
}

static void header(struct parse *ps, uint32_t line)
{
	size_t n = ps->nf;

	ps->have_header = 1;
	if (n == 4 || n == 5) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcasecmp(ps->field[i], cols[i]) != 0)
				break;
		if (i == n) {
			ps->ncols = n;
			return;
		}
	}
	bad(ps, line,
	    "the header must be member_no,name,union,category[,status]");
	ps->ncols = 0;
}

/* Grows *buf to hold at least need bytes; 0 when out of memory. */
static int reserve(char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	char *nb;

	if (need <= *cap)
		return 1;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(*buf, ncap);
	if (nb == NULL)
		return 0;
	*buf = nb;
	*cap = ncap;
	return 1;
}

static int json_put(struct ctl_import *imp, const char *s, size_t n)
{
	if (!reserve(&imp->json, &imp->jcap, imp->jlen + n + 1))
		return 0;
	memcpy(imp->json + imp->jlen, s, n);
	imp->jlen += n;
	imp->json[imp->jlen] = '\0';
	return 1;
}

static int json_str(struct ctl_import *imp, const char *s, size_t n)
{
	char *p;

	/* At worst every byte escaped, plus the quotes. */
	if (!reserve(&imp->json, &imp->jcap, imp->jlen + 2 * n + 3))
		return 0;
	p = imp->json + imp->jlen;
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*p++ = '\\';
		*p++ = s[i];
	}
	*p++ = '"';
	*p = '\0';
	imp->jlen = (size_t)(p - imp->json);
	return 1;
}

static void row(struct parse *ps, uint32_t line)
{
	struct ctl_import *imp = ps->imp;
	const char *status = "active";
	long dup;
	int ok = 1;

	if (ps->ncols == 0)
		return; /* the header was bad: already reported once */
	if (ps->nf_total != ps->ncols) {
		bad(ps, line, "expected %zu fields, found %zu", ps->ncols,
		    ps->nf_total);
		return;
	}
	if (ps->too_long) {
		bad(ps, line, "a field is longer than %d bytes", MAX_FIELD);
		return;
	}
	if (ps->flen[0] == 0) {
		bad(ps, line, "member_no is empty");
		ok = 0;
	} else if (ps->flen[0] > MAX_NO || !no_ok(ps->field[0], ps->flen[0])) {
		bad(ps, line,
		    "member_no must be 1 to %d letters, digits, '-' or '_'",
		    MAX_NO);
		ok = 0;
	}
	ok = ok && check_text(ps, line, 1, MAX_NAME);
	ok = ok && check_text(ps, line, 2, MAX_OTHER);
	ok = ok && check_text(ps, line, 3, MAX_OTHER);
	if (ok && ps->ncols == 5 && ps->flen[4] > 0) {
		if (strcasecmp(ps->field[4], "active") == 0)
			status = "active";
		else if (strcasecmp(ps->field[4], "suspended") == 0)
			status = "suspended";
		else {
			bad(ps, line, "status must be active or suspended");
			ok = 0;
		}
	}
	if (!ok)
		return;
	if (imp->n == imp->cap) {
		size_t ncap = imp->cap ? imp->cap * 2 : 1024;
		uint32_t *nl = realloc(imp->line, ncap * sizeof(*nl));
		uint32_t *nn;

		if (nl == NULL)
			goto oom;
		imp->line = nl;
		nn = realloc(ps->nos, ncap * sizeof(*nn));
		if (nn == NULL)
			goto oom;
		ps->nos = nn;
		imp->cap = ncap;
	}
	if (!reserve(&ps->arena, &ps->acap, ps->alen + ps->flen[0] + 1))
		goto oom;
	memcpy(ps->arena + ps->alen, ps->field[0], ps->flen[0] + 1);
	ps->nos[imp->n] = (uint32_t)ps->alen;
	dup = find_or_add(ps, ps->field[0], imp->n);
	if (ps->oom)
		goto oom;
	if (dup >= 0) {
		bad(ps, line, "member_no %s repeats line %u", ps->field[0],
		    imp->line[dup]);
		return;
	}
	ps->alen += ps->flen[0] + 1;
	/* The row as JSON: the text was checked (UTF-8, no control
	 * characters), so only '"' and '\\' need escaping. */
	if (!json_put(imp, "[", 1))
		goto oom;
	for (size_t i = 0; i < 4; i++)
		if (!json_str(imp, ps->field[i], ps->flen[i]) ||
		    !json_put(imp, ",", 1))
			goto oom;
	if (!json_str(imp, status, strlen(status)) || !json_put(imp, "],", 2))
		goto oom;
	imp->line[imp->n++] = line;
	return;
oom:
	ps->oom = 1;
}

static void on_record(int c, void *data)
{
	struct parse *ps = data;
	uint32_t line = ps->rec_line;

	if (ps->nf_total == 0) {
		/* An empty record: the LF of a CRLF, or a blank line. */
		if (c == '\n' && ps->prev_cr) {
			ps->prev_cr = 0;
			return;
		}
		ps->rec_line++;
		ps->prev_cr = c == '\r';
		return;
	}
	if (!ps->have_header)
		header(ps, line);
	else
		row(ps, line);
	ps->rec_line = line + ps->nl_in_rec + 1;
	ps->prev_cr = c == '\r';
	ps->nf = ps->nf_total = 0;
	ps->nl_in_rec = 0;
	ps->too_long = 0;
}

/* The line holding byte off of buf (for a parse error). */
static uint32_t line_at(const char *buf, size_t off)
{
	uint32_t l = 1;

	for (size_t i = 0; i < off; i++)
		if (buf[i] == '\n')
			l++;
	return l;
}

int ctl_import_parse(struct ctl_import *imp, const char *buf, size_t len,
		     struct ctl_progress *prog)
{
	struct csv_parser p;
	struct parse *ps;
	size_t off = 0, skip = 0;
	int rc = -1;

	if (imp->errs == NULL)
		imp->errs = stderr;
	if (imp->max_show == 0)
		imp->max_show = 20;
	if (imp->file == NULL)
		imp->file = "input";
	imp->jlen = 0;
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL || !json_put(imp, "[", 1)) {
		free(ps);
		ctl_err("out of memory");
		return -1;
	}
	ps->imp = imp;
	ps->rec_line = 1;
	/* Size the table once from the file size (rows are ~40 bytes). */
	if (grow_hash(ps, len / 32 + 16) < 0) {
		free(ps);
		ctl_err("out of memory");
		return -1;
	}
	if (csv_init(&p, CSV_STRICT | CSV_REPALL_NL | CSV_STRICT_FINI) != 0) {
		free(ps);
		ctl_err("out of memory");
		return -1;
	}
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		skip = off = 3;
	while (off < len && !ps->oom) {
		size_t chunk = len - off > (1u << 20) ? (1u << 20) : len - off;
		size_t used =
		    csv_parse(&p, buf + off, chunk, on_field, on_record, ps);

		if (used != chunk) {
			bad(ps, line_at(buf, off + used),
			    "malformed CSV (%s): a quote inside an unquoted "
			    "field, or text after a closing quote",
			    csv_strerror(csv_error(&p)));
			goto out;
		}
		off += chunk;
		ctl_progress_set(prog, off);
	}
	if (!ps->oom && csv_fini(&p, on_field, on_record, ps) != 0) {
		bad(ps, line_at(buf, len),
		    "malformed CSV: the file ends inside a quoted field");
		goto out;
	}
	if (ps->oom) {
		ctl_err("out of memory reading %s", imp->file);
		goto out;
	}
	if (!ps->have_header) {
		bad(ps, 1,
		    "the file is empty; it needs the header "
		    "member_no,name,union,category[,status]");
		goto out;
	}
	/* Close the array: the last row's ',' becomes ']'. */
	if (imp->json[imp->jlen - 1] == ',')
		imp->json[imp->jlen - 1] = ']';
	else if (!json_put(imp, "]", 1)) {
		ctl_err("out of memory reading %s", imp->file);
		goto out;
	}
	rc = imp->nerr == 0 ? 0 : -1;
out:
	(void)skip;
	csv_free(&p);
	free(ps->hash);
	free(ps->nos);
	free(ps->arena);
	free(ps);
	if (imp->nerr > imp->max_show)
		fprintf(imp->errs, "%s: ... and %zu more bad rows\n", imp->file,
			imp->nerr - imp->max_show);
	return rc;
}

void ctl_import_free(struct ctl_import *imp)
{
	free(imp->json);
	free(imp->line);
	imp->json = NULL;
	imp->jlen = imp->jcap = 0;
	imp->line = NULL;
	imp->n = imp->cap = 0;
}

uint32_t ctl_import_line(const struct ctl_import *imp, uint32_t dline)
{
	if (dline >= 2 && dline - 2 < imp->n)
		return imp->line[dline - 2];
	return dline;
}
