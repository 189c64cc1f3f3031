/*
 * fuzz_kiosk_conf.c - the kiosk's INI configuration parser over any text:
 * it either accepts (and then every field is within its bounds) or says
 * why in one NUL-terminated line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiosk_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct kiosk_conf c;
	char *text = malloc(len + 1);

	if (!text)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	if (kiosk_conf_parse(&c, text, "fuzz") == 0) {
		if (!c.host_addr[0] || !c.connstring[0] ||
		    !c.core.kiosk_id[0] || strlen(c.core.benefit) > 16 ||
		    c.core.host_pub[0] != 0x04)
			abort();
	} else if (!c.err[0] || strlen(c.err) >= sizeof(c.err)) {
		abort();
	}
	free(text);
	return 0;
}
