/*
 * fuzz_pn532_chip.c - libFuzzer target for the emulated PN532's command
 * handling, past the frame layer: each record of the input is one
 * command that the harness wraps in a well-formed frame (length and
 * checksums right), so the fuzzer spends its time on command sequences
 * (lists, InDataExchange and InCommunicateThru chains, RF settings)
 * instead of on checksums.  fuzz_pn532_frame covers the frame layer.
 *
 * Input: byte 0 bit 0 puts a virtual NTAG 424 DNA in the field, bit 1 a
 * second one.  Then records: a length byte L and L bytes of command data
 * (TFI D4 is added); L = 0 lets 200 ms pass, L = 255 sends the host's ACK
 * (an abort).  Properties checked: no crash, UB or leak; whatever the
 * commands, the chip answers only with well-formed frames (ACK, error
 * frame, or information frames with TFI D5).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pn532_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pn532_chip chip;
	static const uint8_t uid1[7] = {0x04, 1, 2, 3, 4, 5, 6},
			     uid2[7] = {0x04, 9, 8, 7, 6, 5, 4};
	uint8_t fr[PN532_MAX_FRAME];
	uint64_t clk = 1000;
	size_t off = 1;

	if (size == 0)
		return 0;
	pn532_chip_init(&chip);
	if (data[0] & 1)
		tap_card(&chip, uid1, clk);
	if (data[0] & 2)
		tap_card(&chip, uid2, clk);
	while (off < size) {
		size_t l = data[off++];

		if (l == 0) {
			clk += 200;
			pn532_chip_tick(&chip, clk);
		} else if (l == 255) {
			pn532_chip_input(&chip, pn532_ack_frame, 6, clk);
		} else {
			size_t n;

			if (l > size - off)
				l = size - off;
			n = pn532_frame_build(fr, PN532_TFI_HOST, data + off,
					      l);
			off += l;
			if (n == 0)
				continue;
			pn532_chip_input(&chip, fr, n, clk);
		}
		check_output(&chip);
		clk += 1;
	}
	pn532_chip_tick(&chip, clk + 10000000);
	check_output(&chip);
	pn532_chip_free(&chip);
	return 0;
}
