/*
 * test_iface_properties.c - the driver_info keys each interface registry
 * row documents (GET /v1/drivers/{name}/properties renders their union):
 * every built row that reads driver_info has a table, no other row has
 * one, and each table is well formed.  Pure data; one thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "conductor/hwtype.h"
#include "conductor/util/banned.h"

/* The implementations that read driver_info keys, and one key of each. */
static const struct {
	enum lb_iface_kind kind;
	const char *name;
	const char *key;
} readers[] = {
	{ LB_IFACE_POWER, "ipmitool", "ipmi_address" },
	{ LB_IFACE_MANAGEMENT, "ipmitool", "ipmi_address" },
	{ LB_IFACE_POWER, "redfish", "redfish_address" },
	{ LB_IFACE_MANAGEMENT, "redfish", "redfish_address" },
	{ LB_IFACE_POWER, "fake", "fake_fail_rate" },
	{ LB_IFACE_BOOT, "pxe", "rescue_kernel" },
	{ LB_IFACE_BOOT, "ipxe", "rescue_ramdisk" },
	{ LB_IFACE_BOOT, "redfish-virtual-media", "rescue_iso" },
	{ LB_IFACE_NETWORK, "switch", "rescuing_network" },
	{ LB_IFACE_RESCUE, "agent", "rescue_soft_power_off_timeout" },
	{ LB_IFACE_CONSOLE, "ipmitool-socat", "ipmi_terminal_port" },
};

static const char *
reader_key(enum lb_iface_kind kind, const char *name)
{
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		if (readers[i].kind == kind &&
		    strcmp(readers[i].name, name) == 0)
			return readers[i].key;
	}
	return NULL;
}

static bool
has_key(const struct lb_property *p, const char *key)
{
	for (; p != NULL && p->name != NULL; p++) {
		if (strcmp(p->name, key) == 0)
			return true;
	}
	return false;
}

/* Names non-empty and unique, every doc a sentence, NULL-terminated. */
static void
assert_table_ok(const struct lb_property *p)
{
	size_t n;

	for (n = 0; p[n].name != NULL; n++) {
		size_t len;

		assert_true(n < 64);
		assert_true(p[n].name[0] != '\0');
		assert_non_null(p[n].doc);
		len = strlen(p[n].doc);
		assert_true(len > 10);
		assert_int_equal(p[n].doc[len - 1], '.');
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(p[j].name, p[n].name);
	}
	assert_true(n > 0);
}

static void
test_readers_document_their_keys(void **state)
{
	size_t built = 0;

	(void)state;
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		size_t n;
		const struct lb_iface_impl *rows =
		    lb_iface_impls((enum lb_iface_kind)k, &n);

		for (size_t i = 0; i < n; i++) {
			const char *key = reader_key((enum lb_iface_kind)k,
			    rows[i].name);

			if (!(rows[i].flags & LB_IMPL_BUILT))
				continue;
			if (key == NULL) {
				assert_null(rows[i].properties);
				continue;
			}
			assert_non_null(rows[i].properties);
			assert_table_ok(rows[i].properties);
			assert_true(has_key(rows[i].properties, key));
			built++;
		}
	}
	/* fake, pxe, ipxe, vmedia, switch and agent are always built. */
	assert_true(built >= 6);
}

/* Every reader the test names is a registry row (no stale names here). */
static void
test_readers_exist(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
		assert_non_null(lb_iface_find(readers[i].kind,
		    readers[i].name));
}

/* Only vmedia boots an ISO: ipmi's boot rows never offer rescue_iso. */
static void
test_rescue_iso_only_for_vmedia(void **state)
{
	const struct lb_hwtype *hw = lb_hwtype_find("ipmi");

	(void)state;
	assert_non_null(hw);
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		for (size_t i = 0; hw->supported[k] != NULL &&
		    hw->supported[k][i] != NULL; i++) {
			const struct lb_iface_impl *impl = lb_iface_find(
			    (enum lb_iface_kind)k, hw->supported[k][i]);

			assert_non_null(impl);
			assert_false(has_key(impl->properties, "rescue_iso"));
			assert_false(has_key(impl->properties,
			    "redfish_address"));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_document_their_keys),
		cmocka_unit_test(test_readers_exist),
		cmocka_unit_test(test_rescue_iso_only_for_vmedia),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
