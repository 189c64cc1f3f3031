/*
 * store_file.c - the offline queue as files in one directory.
 *
 *   queue.log  append-only journal: per record
 *              len u32 | seq u64 | crc32 u32 (of len, seq, payload) | payload
 *   queue.cur  the upload cursor: two 32-byte slots written in turn, each
 *              magic | acked seq u64 | crc32; the valid one with the
 *              higher seq wins, so a torn write of one slot loses nothing
 *   deny.bin   the last deny list, replaced by write-fsync-rename
 *
 * append() writes and fdatasync()s before it returns: the member is shown
 * "granted" only after that.  A power cut in the middle of an append leaves
 * a torn tail, which the next open finds (bad length or CRC) and cuts off;
 * that record was never acknowledged to anyone.  ack() writes the cursor
 * and fdatasync()s it, so a record the host acknowledged is not sent again
 * after a restart.  (If the kiosk dies between the host's ack and the
 * cursor write, the record is sent once more; it carries its request id
 * and the host answers it as a duplicate without counting it again.)
 *
 * When everything is uploaded and the journal has grown past a limit, it is
 * truncated; sequence numbers go on from the cursor.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal/backends.h"

#define REC_HDR	      16
#define CUR_SLOT      32
#define COMPACT_BYTES (4u << 20)

struct store_file {
	int dir_fd;
	int log_fd;
	int cur_fd;
	char dir[PATH_MAX];
	size_t max_rec;
	uint8_t *buf;	   /* one record, REC_HDR + max_rec bytes */
	uint64_t acked;	   /* last acknowledged seq */
	uint64_t last;	   /* last appended seq */
	off_t end;	   /* end of the valid journal */
	off_t head_off;	   /* offset of the first record with seq > acked */
	uint64_t head_seq; /* its seq, 0 if none */
};

static const uint8_t cur_magic[8] = {'T', 'P', 'K', 'Q', 'C', 'U', 'R', '1'};

static uint32_t crc32_upd(uint32_t c, const uint8_t *p, size_t n)
{
	c = ~c;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int full_pread(int fd, void *buf, size_t n, off_t off)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static int full_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pwrite(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/*
 * Reads the record at off into s->buf.  Returns its payload length, or -1
 * when the bytes there are not a whole valid record (the torn tail).
 */
static ssize_t read_rec(struct store_file *s, off_t off, uint64_t *seq)
{
	uint32_t len, crc;

	if (off + REC_HDR > s->end)
		return -1;
	if (full_pread(s->log_fd, s->buf, REC_HDR, off) != 0)
		return -1;
	len = get32(s->buf);
	if (len == 0 || len > s->max_rec || off + REC_HDR + len > s->end)
		return -1;
	if (full_pread(s->log_fd, s->buf + REC_HDR, len, off + REC_HDR) != 0)
		return -1;
	crc = crc32_upd(0, s->buf, 12);
	crc = crc32_upd(crc, s->buf + REC_HDR, len);
	if (crc != get32(s->buf + 12))
		return -1;
	*seq = get64(s->buf + 4);
	return (ssize_t)len;
}

static int load_cursor(struct store_file *s)
{
	uint8_t slot[CUR_SLOT];
	uint64_t best = 0;

	for (int i = 0; i < 2; i++) {
		if (full_pread(s->cur_fd, slot, CUR_SLOT,
			       (off_t)i * CUR_SLOT) != 0)
			continue;
		if (memcmp(slot, cur_magic, 8) != 0 ||
		    crc32_upd(0, slot, 16) != get32(slot + 16))
			continue;
		if (get64(slot + 8) > best)
			best = get64(slot + 8);
	}
	s->acked = best;
	return 0;
}

static int save_cursor(struct store_file *s, uint64_t acked)
{
	uint8_t slot[CUR_SLOT] = {0};

	memcpy(slot, cur_magic, 8);
	put64(slot + 8, acked);
	put32(slot + 16, crc32_upd(0, slot, 16));
	if (full_pwrite(s->cur_fd, slot, CUR_SLOT,
			(off_t)(acked % 2) * CUR_SLOT) != 0)
		return HAL_ERR_IO;
	if (fdatasync(s->cur_fd) != 0)
		return HAL_ERR_IO;
	return 0;
}

/*
 * Is the bad record at off the remains of an interrupted append?  It is
 * when its header is incomplete, or when the length it claims reaches the
 * end of the file (the payload was cut or never reached the disk).
 */
static int torn_tail(struct store_file *s, off_t off)
{
	uint8_t h[REC_HDR];
	uint32_t len;

	if (off + REC_HDR > s->end ||
	    full_pread(s->log_fd, h, REC_HDR, off) != 0)
		return 1;
	len = get32(h);
	if (len == 0 || len > s->max_rec)
		/* Zeros or garbage: a tail only if nothing valid follows,
		 * which we cannot know; be safe for short remains. */
		return s->end - off <= (off_t)(REC_HDR + s->max_rec);
	return off + REC_HDR + (off_t)len >= s->end;
}

/* Walks the journal, cuts a torn tail, finds the first unacked record. */
static int recover(struct store_file *s)
{
	struct stat st;
	off_t off = 0;
	uint64_t seq, prev = 0;

	if (fstat(s->log_fd, &st) != 0)
		return HAL_ERR_IO;
	s->end = st.st_size;
	s->head_off = -1;
	s->head_seq = 0;
	for (;;) {
		ssize_t n = read_rec(s, off, &seq);
		if (n < 0 || (prev && seq != prev + 1)) {
			/*
			 * A torn append leaves a bad record that runs to the
			 * end of the file.  A bad record with whole records
			 * after it is damage, not a crash: refuse to go on
			 * rather than cut confirmed records away.
			 */
			if (off < s->end && !torn_tail(s, off))
				return HAL_ERR_CORRUPT;
			break;
		}
		if (seq > s->acked && s->head_off < 0) {
			s->head_off = off;
			s->head_seq = seq;
		}
		prev = seq;
		off += REC_HDR + n;
	}
	if (off != s->end) {
		if (ftruncate(s->log_fd, off) != 0 || fsync(s->log_fd) != 0)
			return HAL_ERR_IO;
		s->end = off;
	}
	s->last = prev > s->acked ? prev : s->acked;
	if (s->head_off < 0)
		s->head_off = s->end;
	return 0;
}

static int sf_append(void *ctx, const uint8_t *rec, size_t len, uint64_t *seq)
{
	struct store_file *s = ctx;
	uint32_t crc;

	if (len == 0 || len > s->max_rec)
		return HAL_ERR_ARG;
	put32(s->buf, (uint32_t)len);
	put64(s->buf + 4, s->last + 1);
	memcpy(s->buf + REC_HDR, rec, len);
	crc = crc32_upd(0, s->buf, 12);
	crc = crc32_upd(crc, rec, len);
	put32(s->buf + 12, crc);
	if (full_pwrite(s->log_fd, s->buf, REC_HDR + len, s->end) != 0 ||
	    fdatasync(s->log_fd) != 0) {
		/* Leave no partial record behind to confuse the next append. */
		if (ftruncate(s->log_fd, s->end) != 0) {
			/* recover() will cut it at the next open */
		}
		return errno == ENOSPC ? HAL_ERR_FULL : HAL_ERR_IO;
	}
	if (s->head_seq == 0) {
		s->head_off = s->end;
		s->head_seq = s->last + 1;
	}
	s->end += (off_t)(REC_HDR + len);
	s->last++;
	if (seq)
		*seq = s->last;
	return 0;
}

static int sf_peek(void *ctx, uint64_t *seq, uint8_t *rec, size_t cap,
		   size_t *len)
{
	struct store_file *s = ctx;
	ssize_t n;

	if (s->head_seq == 0)
		return HAL_ERR_AGAIN;
	n = read_rec(s, s->head_off, seq);
	if (n < 0)
		return HAL_ERR_CORRUPT;
	if ((size_t)n > cap)
		return HAL_ERR_FULL;
	memcpy(rec, s->buf + REC_HDR, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static int sf_ack(void *ctx, uint64_t seq)
{
	struct store_file *s = ctx;
	uint64_t got;
	ssize_t n;
	int rc;

	if (s->head_seq == 0 || seq != s->head_seq)
		return HAL_ERR_ARG; /* acks come in order, one at a time */
	n = read_rec(s, s->head_off, &got);
	if (n < 0 || got != seq)
		return HAL_ERR_CORRUPT;
	rc = save_cursor(s, seq);
	if (rc != 0)
		return rc;
	s->acked = seq;
	s->head_off += REC_HDR + n;
	s->head_seq = seq < s->last ? seq + 1 : 0;
	if (s->head_seq == 0 && s->end > (off_t)COMPACT_BYTES) {
		if (ftruncate(s->log_fd, 0) == 0 && fsync(s->log_fd) == 0) {
			s->end = 0;
			s->head_off = 0;
		}
	}
	return 0;
}

static size_t sf_depth(void *ctx)
{
	struct store_file *s = ctx;
	return (size_t)(s->last - s->acked);
}

static uint64_t sf_next_seq(void *ctx)
{
	struct store_file *s = ctx;
	return s->last + 1;
}

static int sf_scan(void *ctx,
		   int (*fn)(void *arg, uint64_t seq, const uint8_t *rec,
			     size_t len),
		   void *arg)
{
	struct store_file *s = ctx;
	off_t off = 0;
	uint64_t seq;

	while (off < s->end) {
		ssize_t n = read_rec(s, off, &seq);
		if (n < 0)
			return HAL_ERR_CORRUPT;
		int rc = fn(arg, seq, s->buf + REC_HDR, (size_t)n);
		if (rc != 0)
			return rc;
		off += REC_HDR + n;
	}
	return 0;
}

static int sf_put_blob(void *ctx, const uint8_t *buf, size_t len)
{
	struct store_file *s = ctx;
	int fd = openat(s->dir_fd, "deny.bin.tmp",
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = HAL_ERR_IO;

	if (fd < 0)
		return HAL_ERR_IO;
	if (full_pwrite(fd, buf, len, 0) == 0 && fsync(fd) == 0)
		rc = 0;
	close(fd);
	if (rc == 0 &&
	    renameat(s->dir_fd, "deny.bin.tmp", s->dir_fd, "deny.bin") != 0)
		rc = HAL_ERR_IO;
	if (rc == 0)
		fsync(s->dir_fd);
	return rc;
}

static int sf_get_blob(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
	struct store_file *s = ctx;
	struct stat st;
	int fd = openat(s->dir_fd, "deny.bin", O_RDONLY | O_CLOEXEC);
	int rc = HAL_ERR_IO;

	if (fd < 0)
		return HAL_ERR_AGAIN;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size <= cap &&
	    (st.st_size == 0 ||
	     full_pread(fd, buf, (size_t)st.st_size, 0) == 0)) {
		*len = (size_t)st.st_size;
		rc = 0;
	}
	close(fd);
	return rc;
}

void hal_store_file_close(struct hal_store *h)
{
	struct store_file *s = h->ctx;

	if (!s)
		return;
	if (s->log_fd >= 0)
		close(s->log_fd);
	if (s->cur_fd >= 0)
		close(s->cur_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->buf);
	free(s);
	h->ctx = NULL;
}

int hal_store_file_open(struct hal_store *h, const char *dir, size_t max_rec)
{
	struct store_file *s = calloc(1, sizeof(*s));
	int rc = HAL_ERR_IO;

	memset(h, 0, sizeof(*h));
	if (!s)
		return HAL_ERR_FULL;
	s->log_fd = s->cur_fd = s->dir_fd = -1;
	s->max_rec = max_rec;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->buf = malloc(REC_HDR + max_rec);
	if (!s->buf)
		goto out;
	mkdir(dir, 0700);
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0)
		goto out;
	s->log_fd =
	    openat(s->dir_fd, "queue.log", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	s->cur_fd =
	    openat(s->dir_fd, "queue.cur", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->log_fd < 0 || s->cur_fd < 0)
		goto out;
	/* Make the new directory entries themselves durable. */
	fsync(s->dir_fd);
	if ((rc = load_cursor(s)) != 0 || (rc = recover(s)) != 0)
		goto out;
	h->ctx = s;
	h->append = sf_append;
	h->peek = sf_peek;
	h->ack = sf_ack;
	h->depth = sf_depth;
	h->next_seq = sf_next_seq;
	h->scan = sf_scan;
	h->put_blob = sf_put_blob;
	h->get_blob = sf_get_blob;
	return 0;
out:
	h->ctx = s;
	hal_store_file_close(h);
	return rc;
}
