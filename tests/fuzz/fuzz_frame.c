/*
 * fuzz_frame.c - libFuzzer target for the framing layer: tp_frame_split
 * over the input as a byte stream, tp_frame_parse on each frame found,
 * tp_frame_open of SEALED frames under a fixed key, and the seal/open
 * round trip of the input as a plaintext.
 */
#include <stdlib.h>
#include <string.h>

#include "tapaid/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = {0,  1,	2,  3,	4,  5,	6,  7,	8,  9,	10,
				11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
				22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pt[TP_FRAME_MAX], f[TP_FRAME_MAX];
	size_t off = 0, fl, pn, fn;
	int rc;

	/* The input as a stream of frames. */
	while (off < size) {
		struct tp_frame_hdr h;

		rc = tp_frame_split(data + off, size - off, &fl);
		if (rc != TP_OK)
			break;
		if (fl < TP_FRAME_HDR_LEN || fl > TP_FRAME_MAX ||
		    fl > size - off)
			abort();
		if (tp_frame_parse(data + off, fl, &h) != TP_OK ||
		    h.body_len + (size_t)TP_FRAME_HDR_LEN != fl)
			abort();
		if (h.type == TP_FRAME_SEALED) {
			uint64_t seq = 0;

			for (int i = 7; i >= 0; i--)
				seq = seq << 8 | h.body[i];
			rc = tp_frame_open(key, seq, data + off, fl, pt,
					   sizeof(pt), &pn);
			if (rc == TP_OK &&
			    pn != (size_t)h.body_len - TP_SEALED_OVERHEAD)
				abort();
		}
		off += fl;
	}

	/* The input as a plaintext: seal, open, compare. */
	if (size >= 1 && size <= TP_MSG_MAX) {
		uint64_t seq = size % 1000;

		if (tp_frame_seal(key, 1, seq, data, size, f, sizeof(f), &fn) !=
			TP_OK ||
		    tp_frame_split(f, fn, &fl) != TP_OK || fl != fn ||
		    tp_frame_open(key, seq, f, fn, pt, sizeof(pt), &pn) !=
			TP_OK ||
		    pn != size || memcmp(pt, data, size) != 0)
			abort();
		/* one flipped bit anywhere must be refused */
		f[size % fn] ^= (uint8_t)(1u << (size % 8));
		if (tp_frame_open(key, seq, f, fn, pt, sizeof(pt), &pn) ==
		    TP_OK)
			abort();
	}
	return 0;
}
