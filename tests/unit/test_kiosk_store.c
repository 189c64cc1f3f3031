/*
 * test_kiosk_store.c - the offline queue on disk (firmware/hal/store_file.c).
 *
 * What must hold: an appended record is there after any crash; a torn
 * tail is cut, not misread; the upload cursor only moves forward and
 * survives restarts, so nothing is uploaded twice; and a kill -9 at any
 * moment loses nothing that append() had confirmed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "hal/backends.h"

static char dir[64];

static int mkdir_tmp(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/tk_store_XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int rm_tmp(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void rec_of(uint64_t i, uint8_t *buf, size_t *len)
{
	*len = (size_t)snprintf((char *)buf, 64, "record number %llu",
				(unsigned long long)i);
}

static void append_n(struct hal_store *s, uint64_t from, uint64_t n)
{
	uint8_t b[64];
	size_t len;
	uint64_t seq;

	for (uint64_t i = from; i < from + n; i++) {
		rec_of(i, b, &len);
		assert_int_equal(s->append(s->ctx, b, len, &seq), 0);
		assert_int_equal(seq, i);
	}
}

static void expect_head(struct hal_store *s, uint64_t want)
{
	uint8_t b[64], got[64];
	size_t len, glen;
	uint64_t seq;

	assert_int_equal(s->peek(s->ctx, &seq, got, sizeof(got), &glen), 0);
	assert_int_equal(seq, want);
	rec_of(want, b, &len);
	assert_int_equal(glen, len);
	assert_memory_equal(got, b, len);
}

static void append_peek_ack_reopen(void **state)
{
	struct hal_store s;
	uint8_t b[64];
	size_t len;
	uint64_t seq;

	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	assert_int_equal(s.depth(s.ctx), 0);
	assert_int_equal(s.peek(s.ctx, &seq, b, sizeof(b), &len),
			 HAL_ERR_AGAIN);
	assert_int_equal(s.next_seq(s.ctx), 1);
	append_n(&s, 1, 5);
	assert_int_equal(s.depth(s.ctx), 5);
	expect_head(&s, 1);
	assert_int_equal(s.ack(s.ctx, 2), HAL_ERR_ARG); /* in order only */
	assert_int_equal(s.ack(s.ctx, 1), 0);
	assert_int_equal(s.ack(s.ctx, 2), 0);
	expect_head(&s, 3);
	hal_store_file_close(&s);

	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	assert_int_equal(s.depth(s.ctx), 3);
	expect_head(&s, 3); /* 1 and 2 are never offered again */
	assert_int_equal(s.next_seq(s.ctx), 6);
	assert_int_equal(s.ack(s.ctx, 3), 0);
	assert_int_equal(s.ack(s.ctx, 4), 0);
	assert_int_equal(s.ack(s.ctx, 5), 0);
	assert_int_equal(s.depth(s.ctx), 0);
	assert_int_equal(s.peek(s.ctx, &seq, b, sizeof(b), &len),
			 HAL_ERR_AGAIN);
	append_n(&s, 6, 1);
	expect_head(&s, 6);
	hal_store_file_close(&s);
}

static void torn_tail_is_cut(void **state)
{
	struct hal_store s;
	char path[128];
	struct stat st;
	int fd;

	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	append_n(&s, 1, 3);
	hal_store_file_close(&s);
	snprintf(path, sizeof(path), "%s/queue.log", dir);
	assert_int_equal(stat(path, &st), 0);
	/* A power cut in the middle of the fourth append. */
	for (int cut = 1; cut < 40; cut += 7) {
		fd = open(path, O_WRONLY | O_APPEND);
		assert_true(fd >= 0);
		uint8_t junk[40];
		memset(junk, 0x5a, sizeof(junk));
		junk[0] = 30; /* a plausible length */
		assert_int_equal(write(fd, junk, (size_t)cut), cut);
		close(fd);
		assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
		assert_int_equal(s.depth(s.ctx), 3);
		assert_int_equal(s.next_seq(s.ctx), 4);
		hal_store_file_close(&s);
		struct stat st2;
		assert_int_equal(stat(path, &st2), 0);
		assert_int_equal(st2.st_size, st.st_size);
	}
	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	append_n(&s, 4, 1);
	expect_head(&s, 1);
	hal_store_file_close(&s);
}

static void damaged_record(void **state)
{
	struct hal_store s;
	char path[128];
	int fd;
	uint8_t c;

	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	append_n(&s, 1, 3);
	hal_store_file_close(&s);
	snprintf(path, sizeof(path), "%s/queue.log", dir);
	fd = open(path, O_RDWR);
	/* A bit flipped in the first record, with whole records after it:
	 * damage, not a crash.  Refused, nothing cut. */
	assert_int_equal(pread(fd, &c, 1, 20), 1);
	c ^= 1;
	assert_int_equal(pwrite(fd, &c, 1, 20), 1);
	off_t end = lseek(fd, 0, SEEK_END);
	assert_int_equal(hal_store_file_open(&s, dir, 1024), HAL_ERR_CORRUPT);
	assert_int_equal(lseek(fd, 0, SEEK_END), end);
	c ^= 1;
	assert_int_equal(pwrite(fd, &c, 1, 20), 1);
	/* The last record's payload half-written: a torn append, cut. */
	assert_int_equal(pread(fd, &c, 1, end - 2), 1);
	c ^= 1;
	assert_int_equal(pwrite(fd, &c, 1, end - 2), 1);
	close(fd);
	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	assert_int_equal(s.depth(s.ctx), 2);
	hal_store_file_close(&s);
}

static void cursor_slot_damage(void **state)
{
	struct hal_store s;
	char path[128];
	int fd;
	uint8_t junk[32];

	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	append_n(&s, 1, 4);
	assert_int_equal(s.ack(s.ctx, 1), 0);
	assert_int_equal(s.ack(s.ctx, 2), 0);
	assert_int_equal(s.ack(s.ctx, 3), 0);
	hal_store_file_close(&s);
	/* A torn write of the newest slot (seq 3 is in slot 1). */
	snprintf(path, sizeof(path), "%s/queue.cur", dir);
	fd = open(path, O_RDWR);
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(pwrite(fd, junk, 32, 32), 32);
	close(fd);
	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	/* Falls back to the older slot: record 3 is offered once more (the
	 * host answers it as a duplicate), nothing is skipped. */
	assert_int_equal(s.depth(s.ctx), 2);
	expect_head(&s, 3);
	hal_store_file_close(&s);
}

static int count(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
	uint64_t *n = arg;
	uint8_t b[64];
	size_t bl;

	rec_of(seq, b, &bl);
	if (bl != len || memcmp(b, rec, len) != 0 || seq != *n + 1)
		return -1;
	(*n)++;
	return 0;
}

static void scan_and_blob(void **state)
{
	struct hal_store s;
	uint64_t n = 0;
	uint8_t blob[100], back[100];
	size_t len;

	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	append_n(&s, 1, 7);
	assert_int_equal(s.ack(s.ctx, 1), 0);
	assert_int_equal(s.scan(s.ctx, count, &n), 0);
	assert_int_equal(n, 7); /* uploaded or not, all are scanned */
	assert_int_equal(s.get_blob(s.ctx, back, sizeof(back), &len),
			 HAL_ERR_AGAIN);
	for (int i = 0; i < 100; i++)
		blob[i] = (uint8_t)i;
	assert_int_equal(s.put_blob(s.ctx, blob, sizeof(blob)), 0);
	hal_store_file_close(&s);
	assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
	assert_int_equal(s.get_blob(s.ctx, back, sizeof(back), &len), 0);
	assert_int_equal(len, 100);
	assert_memory_equal(back, blob, 100);
	hal_store_file_close(&s);
}

static void compaction_keeps_sequence(void **state)
{
	struct hal_store s;
	static uint8_t big[60000];
	uint64_t seq;
	size_t len;
	char path[128];
	struct stat st;

	assert_int_equal(hal_store_file_open(&s, dir, sizeof(big)), 0);
	for (int i = 0; i < 72; i++) { /* past the 4 MiB limit */
		memset(big, i, sizeof(big));
		assert_int_equal(s.append(s.ctx, big, sizeof(big), &seq), 0);
	}
	for (uint64_t i = 1; i <= 72; i++)
		assert_int_equal(s.ack(s.ctx, i), 0);
	snprintf(path, sizeof(path), "%s/queue.log", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(s.append(s.ctx, big, 10, &seq), 0);
	assert_int_equal(seq, 73);
	hal_store_file_close(&s);
	assert_int_equal(hal_store_file_open(&s, dir, sizeof(big)), 0);
	assert_int_equal(s.depth(s.ctx), 1);
	assert_int_equal(s.peek(s.ctx, &seq, big, sizeof(big), &len), 0);
	assert_int_equal(seq, 73);
	hal_store_file_close(&s);
}

static void fault_injection(void **state)
{
	struct hal_store inner, s;
	struct hal_fault f;
	uint8_t b[64];
	size_t len;
	uint64_t seq;

	assert_int_equal(hal_store_file_open(&inner, dir, 1024), 0);
	hal_fault_store(&s, &inner, &f);
	hal_fault_arm(&f, 2, 1, HAL_ERR_FULL);
	rec_of(1, b, &len);
	assert_int_equal(s.append(s.ctx, b, len, &seq), 0);
	assert_int_equal(s.append(s.ctx, b, len, &seq), HAL_ERR_FULL);
	rec_of(2, b, &len);
	assert_int_equal(s.append(s.ctx, b, len, &seq), 0);
	assert_int_equal(seq, 2); /* the failed append took no number */
	hal_fault_arm(&f, 1, 0, HAL_ERR_IO); /* persistent */
	assert_int_equal(s.ack(s.ctx, 1), HAL_ERR_IO);
	assert_int_equal(s.ack(s.ctx, 1), HAL_ERR_IO);
	assert_int_equal(s.depth(s.ctx), 2); /* the cursor did not move */
	hal_fault_free(s.ctx);
	hal_store_file_close(&inner);
}

/*
 * kill -9 at random moments of a child that appends and acks as fast as
 * it can, reporting each confirmed append and ack on a pipe.  After each
 * kill: every confirmed record is there, in order, with its bytes; the
 * cursor is at or after every confirmed ack (never before: no re-upload
 * beyond the one in flight) and never past a record not yet acked.
 */
static void kill9_loses_nothing(void **state)
{
	uint64_t confirmed = 0, acked = 0;

	srand(1234);
	for (int round = 0; round < 12; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct hal_store s;
			uint8_t b[64];
			size_t len;
			uint64_t seq;
			close(p[0]);
			if (hal_store_file_open(&s, dir, 1024) != 0)
				_exit(3);
			for (;;) {
				seq = s.next_seq(s.ctx);
				rec_of(seq, b, &len);
				if (s.append(s.ctx, b, len, &seq) != 0)
					_exit(4);
				uint64_t msg[2] = {seq, 0};
				if (seq % 3 == 0 &&
				    s.peek(s.ctx, &msg[1], b, 64, &len) == 0 &&
				    s.ack(s.ctx, msg[1]) == 0) {
				} else {
					msg[1] = 0;
				}
				if (write(p[1], msg, sizeof(msg)) !=
				    sizeof(msg))
					_exit(5);
			}
		}
		close(p[1]);
		usleep((useconds_t)(2000 + rand() % 30000));
		kill(pid, SIGKILL);
		uint64_t msg[2];
		while (read(p[0], msg, sizeof(msg)) == sizeof(msg)) {
			assert_true(msg[0] > confirmed);
			confirmed = msg[0];
			if (msg[1])
				acked = msg[1];
		}
		close(p[0]);
		int st;
		waitpid(pid, &st, 0);
		assert_true(WIFSIGNALED(st));

		struct hal_store s;
		uint64_t n = 0;
		assert_int_equal(hal_store_file_open(&s, dir, 1024), 0);
		assert_int_equal(s.scan(s.ctx, count, &n), 0);
		assert_true(n >= confirmed); /* nothing confirmed is lost */
		uint64_t cur = n - s.depth(s.ctx);
		assert_true(cur >= acked);
		assert_true(cur <= n);
		confirmed = n; /* what the next round starts from */
		acked = cur;
		hal_store_file_close(&s);
	}
	assert_true(confirmed > 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, mkdir_tmp, rm_tmp)
	    T(append_peek_ack_reopen), T(torn_tail_is_cut),
	    T(damaged_record),	       T(cursor_slot_damage),
	    T(scan_and_blob),	       T(compaction_keeps_sequence),
	    T(fault_injection),	       T(kill9_loses_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
