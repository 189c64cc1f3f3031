/*
 * import.c - the rows of a member import, kept compact, and the parse of
 * a big import request without building its rows as a JSON tree.
 *
 * A roster of 400,000 members is a 20 MB request line.  Parsed by cJSON
 * whole, its rows are two million nodes and as many strings: over 200 MB
 * of heap for data that packs into 18 MB.  import_parse_line() walks the top
 * two levels of the request object itself and hands every value to cJSON,
 * one at a time; the elements of args.rows are checked and packed into an
 * import_rows as they come, and each one's tree is freed before the next.
 * Everything else in the request becomes the same cJSON tree that
 * cJSON_ParseWithLength() would have made, without "rows".
 *
 * What it accepts is what cJSON accepts, the JSON grammar is cJSON's
 * (fuzz_ctl_import checks the two against each other): whitespace is any
 * byte up to 32, a UTF-8 BOM is skipped at the very start only, bytes after
 * the top-level object are ignored, and of two members with the same name
 * the first is the one that counts (cJSON_GetObjectItemCaseSensitive).
 * The one difference: cJSON counts nesting from the root and stops at
 * CJSON_NESTING_LIMIT; here each value is counted from its own start, so
 * a row may nest two levels deeper than it could in a whole parse.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "daemon.h"

/* The field limits are the store's (NUL included). */
static const size_t field_max[4] = {STORE_NO_LEN, STORE_NAME_LEN,
				    STORE_UNION_LEN, STORE_CAT_LEN};
static const char *const field_name[5] = {"member number", "name", "union",
					  "category", "status"};

void import_rows_init(struct import_rows *ir)
{
	memset(ir, 0, sizeof(*ir));
	ir->bad = SIZE_MAX;
}

void import_rows_free(struct import_rows *ir)
{
	if (!ir)
		return;
	free(ir->at);
	free(ir->buf);
	import_rows_init(ir);
}

static int parse_status(const char *s)
{
	if (!*s || strcmp(s, "active") == 0)
		return STORE_ACTIVE;
	if (strcmp(s, "suspended") == 0)
		return STORE_SUSPENDED;
	return -1;
}

/* What is wrong with row, into why; 0 if nothing. */
static int row_check(const cJSON *row, char *why, size_t len)
{
	int nf = cJSON_GetArraySize(row);
	const cJSON *v;
	int f = 0;

	if (!cJSON_IsArray(row) || nf < 4 || nf > 5) {
		snprintf(why, len, "expected 4 or 5 fields");
		return -1;
	}
	cJSON_ArrayForEach(v, row)
	{
		size_t max = f < 4 ? field_max[f] : 16;

		if (!cJSON_IsString(v) || strlen(v->valuestring) >= max) {
			snprintf(why, len, "%s is %s", field_name[f],
				 cJSON_IsString(v) ? "too long" : "not text");
			return -1;
		}
		if (f < 4 && v->valuestring[0] == '\0') {
			snprintf(why, len, "%s is empty", field_name[f]);
			return -1;
		}
		if (f == 4 && parse_status(v->valuestring) < 0) {
			snprintf(why, len,
				 "status must be active or suspended");
			return -1;
		}
		f++;
	}
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t nc = *cap ? *cap : 1024;
	void *np;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	if (!(np = realloc(*p, nc * size)))
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

/* The most a checked row takes packed: its status byte and four fields,
 * each shorter than its limit, with their NULs. */
#define ROW_MAX                                                                \
	(1 + STORE_NO_LEN + STORE_NAME_LEN + STORE_UNION_LEN + STORE_CAT_LEN)

/*
 * Appends row: [status][no]\0[name]\0[union]\0[category]\0 in buf.  After
 * the first bad row nothing more is kept: the import will be refused, and
 * only which row and why are needed.
 */
int import_rows_add(struct import_rows *ir, const cJSON *row)
{
	const cJSON *v;
	int f = 0;
	char *p;

	if (ir->bad != SIZE_MAX) {
		ir->n++;
		return 0;
	}
	if (row_check(row, ir->why, sizeof(ir->why)) < 0) {
		ir->bad = ir->n++;
		free(ir->at);
		free(ir->buf);
		ir->at = NULL, ir->buf = NULL;
		ir->cap = ir->len = ir->bcap = 0;
		return 0;
	}
	if (ir->len + ROW_MAX > UINT32_MAX ||
	    grow((void **)&ir->at, &ir->cap, ir->n + 1, sizeof(*ir->at)) < 0 ||
	    grow((void **)&ir->buf, &ir->bcap, ir->len + ROW_MAX, 1) < 0)
		return -1;
	ir->at[ir->n] = (uint32_t)ir->len;
	p = ir->buf + ir->len;
	*p++ = (char)STORE_ACTIVE;
	cJSON_ArrayForEach(v, row)
	{
		size_t l = strlen(v->valuestring);

		if (f++ == 4) {
			ir->buf[ir->len] = (char)parse_status(v->valuestring);
			break;
		}
		memcpy(p, v->valuestring, l + 1);
		p += l + 1;
	}
	ir->len = (size_t)(p - ir->buf);
	ir->n++;
	return 0;
}

const char *import_row_no(const struct import_rows *ir, size_t i)
{
	return ir->buf + ir->at[i] + 1;
}

void import_row_get(const struct import_rows *ir, size_t i,
		    struct store_member *m)
{
	const char *p = ir->buf + ir->at[i];
	char *dst[4] = {m->no, m->name, m->union_, m->category};

	memset(m, 0, sizeof(*m));
	m->status = (unsigned char)*p++;
	for (int f = 0; f < 4; f++) {
		size_t l = strlen(p);

		memcpy(dst[f], p, l + 1); /* checked by row_check */
		p += l + 1;
	}
}

/* ---- the request line ------------------------------------------------ */

struct walk {
	const char *p, *end;
	struct import_rows *rows;
};

/* cJSON's whitespace: every byte up to 32. */
static void skip_ws(struct walk *w)
{
	while (w->p < w->end && (unsigned char)*w->p <= 32)
		w->p++;
}

/* One value at w->p, parsed by cJSON; NULL if it is not one. */
static cJSON *value(struct walk *w)
{
	const char *e = NULL;
	cJSON *v;

	skip_ws(w);
	/* cJSON skips a BOM at the start of what it is given, which here
	 * is the middle of the line. */
	if (w->p == w->end || (unsigned char)*w->p == 0xEF)
		return NULL;
	v = cJSON_ParseWithLengthOpts(w->p, (size_t)(w->end - w->p), &e, 0);
	if (v)
		w->p = e;
	return v;
}

/* 1 if the next byte after whitespace is c. */
static int at(struct walk *w, char c)
{
	skip_ws(w);
	return w->p < w->end && *w->p == c;
}

/* 1 and past it if the next byte after whitespace is c. */
static int accept(struct walk *w, char c)
{
	if (!at(w, c))
		return 0;
	w->p++;
	return 1;
}

/* The elements of a JSON array, into w->rows; w->p is at its '['.  0, -1
 * if it is not JSON, or -2 out of memory. */
static int rows_walk(struct walk *w)
{
	w->p++;
	if (accept(w, ']'))
		return 0;
	do {
		cJSON *row = value(w);
		int rc;

		if (!row)
			return -1;
		rc = import_rows_add(w->rows, row);
		cJSON_Delete(row);
		if (rc < 0)
			return -2;
	} while (accept(w, ','));
	return accept(w, ']') ? 0 : -1;
}

/*
 * The object at w->p, with its members in order.  depth 0 is the
 * request; its first "args", if an object, is walked too (depth 1), and
 * the first "rows" in that, if an array, goes to w->rows and is left out.
 */
static cJSON *object_walk(struct walk *w, int depth, int *err)
{
	const char *special = depth == 0 ? "args" : "rows";
	cJSON *o = cJSON_CreateObject();
	int seen = 0;

	if (!o || !accept(w, '{'))
		goto fail;
	if (accept(w, '}'))
		return o;
	do {
		cJSON *key, *v = NULL;
		int ok, walk_it;

		if (!at(w, '"') || !(key = value(w)))
			goto fail;
		walk_it = !seen && strcmp(key->valuestring, special) == 0;
		seen |= walk_it;
		if (!accept(w, ':')) {
			ok = 0;
		} else if (walk_it && depth == 0 && at(w, '{')) {
			ok = (v = object_walk(w, 1, err)) != NULL;
		} else if (walk_it && depth == 1 && at(w, '[')) {
			int rc = rows_walk(w);

			if (rc == -2)
				*err = -2;
			ok = w->rows->present = rc == 0;
		} else {
			ok = (v = value(w)) != NULL;
		}
		if (ok && v && !cJSON_AddItemToObject(o, key->valuestring, v)) {
			cJSON_Delete(v);
			ok = 0;
		}
		cJSON_Delete(key);
		if (!ok)
			goto fail;
	} while (accept(w, ','));
	if (accept(w, '}'))
		return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *import_parse_line(const char *line, size_t len, struct import_rows *rows,
			 int *oom)
{
	struct walk w = {line, line + len, rows};
	int err = 0;
	cJSON *root;

	*oom = 0;
	import_rows_init(rows);
	if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		w.p += 3;
	skip_ws(&w);
	if (w.p == w.end || *w.p != '{')
		return cJSON_ParseWithLength(line, len);
	root = object_walk(&w, 0, &err);
	if (!root) {
		*oom = err == -2;
		import_rows_free(rows);
	}
	return root;
}
