/*
 * replay_main.c - runs a libFuzzer target over its stored corpus without
 * libFuzzer, so that `make test` (built with gcc, or under ASan) replays
 * every input a fuzzer ever found.  Speaks TAP: one line per corpus file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	/* build/tests/replay_<name>: <name> may hold underscores itself */
	const char *name = strstr(argv[0], "replay_");
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0, bad = 0;

	(void)argc;
	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s",
		 name ? name + 7 : "");
	if (!(d = opendir(dir))) {
		printf("ok 1 - %s: no corpus yet\n", dir);
		return 0;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (replay_file(path) < 0) {
			printf("not ok %d - %s unreadable\n", ++n, path);
			bad++;
		}
		n++;
	}
	closedir(d);
	/* A crash aborts before this line, and run.sh counts the exit. */
	printf("ok %d - replayed %d inputs from %s\n", n + 1, n, dir);
	return bad ? 1 : 0;
}
