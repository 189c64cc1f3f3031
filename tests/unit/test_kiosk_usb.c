/*
 * test_kiosk_usb.c - the libusb backend where this machine allows it: no
 * USB reader is attached here, so what is tested is the connstring logic
 * (which readers are on USB, where they are), that a UART or pty reader is
 * left alone, and that a USB reader that is not there is reported as
 * missing rather than crashing.  The reset-and-reopen policy itself is
 * tested on fakes in test_kiosk_core.
 */
#include "test_util.h"
#include "hal/backends.h"

static void which_are_usb(void **state)
{
	assert_true(hal_usb_connstring_is_usb("pn53x_usb"));
	assert_true(hal_usb_connstring_is_usb("pn53x_usb:001:004"));
	assert_true(hal_usb_connstring_is_usb("acr122_usb"));
	assert_true(hal_usb_connstring_is_usb("acr122_usb:002:010"));
	assert_false(hal_usb_connstring_is_usb("pn532_uart:/dev/ttyUSB0"));
	assert_false(hal_usb_connstring_is_usb("pn532_uart:/dev/pts/3"));
	assert_false(hal_usb_connstring_is_usb("acr122_pcsc"));
	assert_false(hal_usb_connstring_is_usb("pn53x_usbx"));
	assert_false(hal_usb_connstring_is_usb(""));
}

static void locations(void **state)
{
	int bus = 0, addr = 0;

	assert_true(
	    hal_usb_connstring_location("pn53x_usb:003:017", &bus, &addr));
	assert_int_equal(bus, 3);
	assert_int_equal(addr, 17);
	assert_false(hal_usb_connstring_location("pn53x_usb", &bus, &addr));
	assert_false(hal_usb_connstring_location("pn53x_usb:003", &bus, &addr));
	assert_false(
	    hal_usb_connstring_location("pn53x_usb:003:017x", &bus, &addr));
	assert_false(
	    hal_usb_connstring_location("pn532_uart:/dev/x", &bus, &addr));
	assert_false(
	    hal_usb_connstring_location("pn53x_usb:000:000", &bus, &addr));
}

static void uart_reader_is_left_alone(void **state)
{
	struct hal_usb u;

	assert_int_equal(hal_usb_libusb_new(&u, NULL, "pn532_uart:/dev/pts/3"),
			 0);
	assert_int_equal(u.applies(u.ctx), 0);
	assert_int_equal(u.poll(u.ctx), 0);
	assert_int_equal(u.reset(u.ctx), HAL_ERR_NODEV);
	hal_usb_libusb_free(&u);
}

static void missing_usb_reader(void **state)
{
	struct hal_usb u;
	struct hal_reader r;
	int rc;

	assert_int_equal(hal_reader_libnfc_new(&r, "pn53x_usb:250:250"), 0);
	rc = hal_usb_libusb_new(&u, &r, "pn53x_usb:250:250");
	if (rc == HAL_ERR_NODEV) {
		/* No USB at all in this sandbox: the kiosk says so and only
		 * reopens the reader. */
		assert_int_equal(u.applies(u.ctx), 0);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(u.applies(u.ctx), 1);
		assert_int_equal(u.poll(u.ctx) & HAL_USB_ARRIVED, 0);
		assert_int_equal(u.reset(u.ctx), HAL_ERR_NODEV);
	}
	hal_usb_libusb_free(&u);
	hal_reader_libnfc_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(which_are_usb),
	    cmocka_unit_test(locations),
	    cmocka_unit_test(uart_reader_is_left_alone),
	    cmocka_unit_test(missing_usb_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
