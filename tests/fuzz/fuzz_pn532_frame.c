/*
 * fuzz_pn532_frame.c - libFuzzer target for tapaid-pn532emu's host side:
 * the PN532 frame decoder, and the chip (with or without a virtual NTAG
 * 424 DNA in its field) behind it.
 *
 * Input: byte 0 bit 0 puts a card in the field; the rest is what a host
 * writes to the emulated UART.  Properties checked:
 *  - every frame the decoder accepts encodes back to bytes that decode to
 *    the same data;
 *  - whatever the host sends, the chip answers only with well-formed
 *    frames (ACK, error frame, or information frames with TFI D5).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pn532_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct pn532_rx *rx)
{
	uint8_t fr[PN532_MAX_FRAME];
	struct pn532_rx back;
	size_t n = pn532_frame_build(fr, PN532_TFI_HOST, rx->data, rx->len);
	int frames = 0;

	if (n == 0)
		abort();
	pn532_rx_init(&back, PN532_TFI_HOST);
	for (size_t i = 0; i < n; i++)
		if (pn532_rx_feed(&back, fr[i]) == PN532_EV_FRAME)
			frames++;
	if (frames != 1 || back.len != rx->len ||
	    memcmp(back.data, rx->data, rx->len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pn532_chip chip;
	static const uint8_t uid[7] = {0x04, 1, 2, 3, 4, 5, 6};
	struct pn532_rx rx;
	uint64_t clk = 1000;

	pn532_rx_init(&rx, PN532_TFI_HOST);
	for (size_t i = 0; i < size; i++)
		if (pn532_rx_feed(&rx, data[i]) == PN532_EV_FRAME)
			check_roundtrip(&rx);

	if (size == 0)
		return 0;
	pn532_chip_init(&chip);
	if (data[0] & 1)
		tap_card(&chip, uid, clk);
	/* Feed in small chunks so a long input never fills the output. */
	for (size_t off = 1; off < size; off += 64) {
		size_t k = size - off < 64 ? size - off : 64;

		pn532_chip_input(&chip, data + off, k, clk);
		check_output(&chip);
		clk += 10;
	}
	pn532_chip_tick(&chip, clk + 10000000);
	check_output(&chip);
	pn532_chip_free(&chip);
	return 0;
}
