/*
 * fuzz_ctl_import.c - tapaidd's parse of a big admin request
 * (import_parse_line, host/import.c) over arbitrary bytes, against
 * cJSON's parse of the whole line.  Invariants: no crash, UB or leak;
 * where cJSON parses the line, so does import_parse_line, to the same tree
 * without args.rows, and the rows it packed are those that
 * import_rows_add packs from cJSON's args.rows (the first "rows" of the
 * first "args", if those are an array and an object).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_rows(const struct import_rows *a, const struct import_rows *b)
{
	if (a->present != b->present || a->n != b->n || a->bad != b->bad)
		abort();
	if (a->bad != SIZE_MAX) {
		if (strcmp(a->why, b->why) != 0)
			abort();
		return;
	}
	if (a->len != b->len || (a->len && memcmp(a->buf, b->buf, a->len)))
		abort();
	for (size_t i = 0; i < a->n; i++) {
		struct store_member m;

		if (a->at[i] != b->at[i])
			abort();
		import_row_get(a, i, &m);
		if (strcmp(m.no, import_row_no(a, i)) != 0 || !m.no[0] ||
		    (m.status != STORE_ACTIVE && m.status != STORE_SUSPENDED))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct import_rows got, want;
	cJSON *full, *walked, *args, *rows, *row;
	char *a, *b;
	int oom;

	full = cJSON_ParseWithLength(line, size);
	walked = import_parse_line(line, size, &got, &oom);
	if (oom)
		abort(); /* nothing here is big enough */
	if (!full) {
		/* Only a value nested deeper than cJSON's limit counted from
		 * the root may parse here; nothing else. */
		cJSON_Delete(walked);
		import_rows_free(&got);
		return 0;
	}
	if (!walked)
		abort();
	import_rows_init(&want);
	args = cJSON_IsObject(full)
		   ? cJSON_GetObjectItemCaseSensitive(full, "args")
		   : NULL;
	rows = cJSON_IsObject(args)
		   ? cJSON_GetObjectItemCaseSensitive(args, "rows")
		   : NULL;
	if (cJSON_IsArray(rows)) {
		want.present = 1;
		cJSON_ArrayForEach(row, rows)
		{
			if (import_rows_add(&want, row) < 0)
				abort();
		}
		cJSON_Delete(cJSON_DetachItemViaPointer(args, rows));
	}
	same_rows(&got, &want);
	a = cJSON_PrintUnformatted(full);
	b = cJSON_PrintUnformatted(walked);
	if (!a || !b || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	cJSON_Delete(full);
	cJSON_Delete(walked);
	import_rows_free(&got);
	import_rows_free(&want);
	return 0;
}
