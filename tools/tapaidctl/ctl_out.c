/*
 * ctl_out.c - rendering: aligned tables for people (UTF-8 aware, so a
 * column of Chinese names lines up), RFC 4180 CSV and JSON lines for
 * scripts, and "key: value" blocks for single objects.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->head = head;
}

int ctl_table_add(struct ctl_table *t, const char *const *values)
{
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		char **nc = realloc(t->cells, ncap * t->ncols * sizeof(*nc));

		if (nc == NULL)
			return -1;
		t->cells = nc;
		t->cap = ncap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(values[i] ? values[i] : "");

		if (s == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -1;
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

static void pad(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

void ctl_table_print(const struct ctl_table *t, FILE *f)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (w == NULL)
		return;
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = ctl_utf8_width(t->head[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t x = ctl_utf8_width(t->cells[r * t->ncols + c]);

			if (x > w[c])
				w[c] = x;
		}
	for (size_t c = 0; c < t->ncols; c++) {
		fputs(t->head[c], f);
		if (c + 1 < t->ncols)
			pad(f, w[c] - ctl_utf8_width(t->head[c]) + 2);
	}
	fputc('\n', f);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, f);
			if (c + 1 < t->ncols)
				pad(f, w[c] - ctl_utf8_width(s) + 2);
		}
		fputc('\n', f);
	}
	free(w);
}

void ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void ctl_csv_field(FILE *f, const char *s)
{
	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void ctl_csv_record(FILE *f, const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		ctl_csv_field(f, fields[i]);
	}
	fputs("\r\n", f);
}

void ctl_json_line(FILE *f, const cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);

	if (s != NULL) {
		fputs(s, f);
		fputc('\n', f);
		free(s);
	}
}

void ctl_print_object(FILE *f, const cJSON *obj, int indent)
{
	const cJSON *it;
	char buf[64];

	cJSON_ArrayForEach(it, obj)
	{
		pad(f, (size_t)indent);
		if (it->string != NULL)
			fprintf(f, "%s:", it->string);
		if (cJSON_IsArray(it) || cJSON_IsObject(it)) {
			if (cJSON_GetArraySize(it) == 0) {
				fputs(" (none)\n", f);
				continue;
			}
			fputc('\n', f);
			if (cJSON_IsArray(it)) {
				const cJSON *e;

				cJSON_ArrayForEach(e, it)
				{
					if (cJSON_IsObject(e)) {
						pad(f, (size_t)indent + 2);
						fputs("-\n", f);
						ctl_print_object(f, e,
								 indent + 4);
					} else {
						pad(f, (size_t)indent + 2);
						fprintf(
						    f, "- %s\n",
						    ctl_json_text(e, buf,
								  sizeof(buf)));
					}
				}
			} else {
				ctl_print_object(f, it, indent + 2);
			}
			continue;
		}
		fprintf(f, " %s\n",
			it->string
			    ? ctl_field_text(obj, it->string, buf, sizeof(buf))
			    : ctl_json_text(it, buf, sizeof(buf)));
	}
}

void ctl_print_list(const cJSON *data, const char *name, size_t ncols,
		    const char *const *head, const char *const *key, int json)
{
	struct ctl_table t;
	const cJSON *o;

	if (ncols > CTL_LIST_COLS)
		ncols = CTL_LIST_COLS;
	ctl_table_init(&t, ncols, head);
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(data, name))
	{
		char b[CTL_LIST_COLS][128];
		const char *v[CTL_LIST_COLS];

		if (json) {
			ctl_json_line(stdout, o);
			continue;
		}
		for (size_t i = 0; i < ncols; i++)
			v[i] = ctl_field_text(o, key[i], b[i], sizeof(b[i]));
		ctl_table_add(&t, v);
	}
	if (!json)
		ctl_table_print(&t, stdout);
	ctl_table_free(&t);
}
