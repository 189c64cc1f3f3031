/*
 * fuzz_ctl_csv.c - tapaidctl's member import checker (ctl_import_parse)
 * over arbitrary bytes: any file staff might feed it.  Invariants: no
 * crash or UB; a file accepted becomes valid JSON with one
 * [no,name,union,category,status] row per line number, all of it valid
 * UTF-8 text with a known status.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

const char *ctl_dir;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_import imp = {0};
	FILE *devnull = fopen("/dev/null", "w");
	char *buf = malloc(size + 1);
	const cJSON *row;
	cJSON *rows;
	uint32_t last = 0;
	size_t i = 0;

	if (buf == NULL || devnull == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	imp.errs = devnull;
	imp.file = "fuzz";
	if (ctl_import_parse(&imp, buf, size, NULL) == 0) {
		rows = cJSON_Parse(imp.json);
		if (rows == NULL || (size_t)cJSON_GetArraySize(rows) != imp.n)
			abort(); /* the text sent must be valid JSON */
		cJSON_ArrayForEach(row, rows)
		{
			const cJSON *f;
			int k = 0;

			if (imp.line[i] <= last)
				abort(); /* lines strictly increase */
			last = imp.line[i++];
			cJSON_ArrayForEach(f, row)
			{
				if (!cJSON_IsString(f) ||
				    !ctl_utf8_text(f->valuestring,
						   strlen(f->valuestring)))
					abort();
				if (k++ == 4 &&
				    strcmp(f->valuestring, "active") &&
				    strcmp(f->valuestring, "suspended"))
					abort();
			}
			if (k != 5)
				abort();
		}
		cJSON_Delete(rows);
	}
	ctl_import_free(&imp);
	fclose(devnull);
	free(buf);
	return 0;
}
