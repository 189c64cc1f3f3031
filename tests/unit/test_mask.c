/*
 * test_mask.c - masked member names (host/mask.c): first and last code
 * point kept, the middle masked, UTF-8 aware.
 */
#include "test_util.h"

#include "../../host/engine.h"

static void masks_names(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {"王小明", "王*明"},
	    {"王明", "王*"},
	    {"欧阳小明", "欧**明"},
	    {"王", "*"},
	    {"", ""},
	    {"Alice", "A***e"},
	    {" 李四 ", "李*"},
	    {"\xff\xfe\xfd", "\xff*\xfd"},
	    {"Zoë", "Z*ë"},
	};
	char out[STORE_NAME_LEN];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = mask_name(t[i].in, out, sizeof(out));

		assert_string_equal(out, t[i].out);
		assert_int_equal(n, strlen(t[i].out));
	}
}

/* A small buffer cuts at a code point, never inside one. */
static void small_buffer(void **state)
{
	char out[5];

	mask_name("王小明", out, sizeof(out));
	assert_string_equal(out, "王*");
	mask_name("王小明", out, 3);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(masks_names),
	    cmocka_unit_test(small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
