/*
 * test_config.c - unit tests of the lifeboat.conf parser, checker and
 * example writer (conductor/util/config.c).  Single-threaded.  Reads
 * etc/lifeboat.conf.example from $LB_SOURCE_ROOT (default ".").
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conductor/util/config.h"
#include "conductor/util/httpurl.h"
#include "conductor/util/dburl.h"

#include "conductor/util/banned.h"

/* Loads 'text' named "t.conf" into a fresh default config. */

/* What lifeboatd passes in from its registries, as of this writing. */
#ifdef LB_HAVE_POSTGRESQL
#define DB_BUILT_IN "sqlite, postgresql"
#else
#define DB_BUILT_IN "sqlite"
#endif

static const struct lb_config_names test_names = {
	.hardware_types = (const char *const[]){ "ipmi", "redfish",
	    "fake-hardware", NULL },
	.interfaces = {
		[LB_IFACE_BIOS] = (const char *const[]){ "no-bios", "fake",
		    NULL },
		[LB_IFACE_BOOT] = (const char *const[]){ "ipxe", "pxe",
		    "redfish-virtual-media", "fake", NULL },
		[LB_IFACE_CONSOLE] = (const char *const[]){ "no-console",
		    "fake", "ipmitool-socat", "ipmitool-shellinabox", NULL },
		[LB_IFACE_DEPLOY] = (const char *const[]){ "direct", "fake",
		    NULL },
		[LB_IFACE_INSPECT] = (const char *const[]){ "no-inspect",
		    "fake", NULL },
		[LB_IFACE_MANAGEMENT] = (const char *const[]){ "ipmitool",
		    "redfish", "fake", NULL },
		[LB_IFACE_NETWORK] = (const char *const[]){ "noop", "flat",
		    "neutron", "switch", NULL },
		[LB_IFACE_POWER] = (const char *const[]){ "ipmitool",
		    "redfish", "fake", NULL },
		[LB_IFACE_RAID] = (const char *const[]){ "no-raid", "fake",
		    NULL },
		[LB_IFACE_RESCUE] = (const char *const[]){ "agent",
		    "no-rescue", "fake", NULL },
		[LB_IFACE_STORAGE] = (const char *const[]){ "noop", "fake",
		    NULL },
		[LB_IFACE_VENDOR] = (const char *const[]){ "no-vendor", "fake",
		    NULL },
	},
};

static int
load(struct lb_config *cfg, const char *text, char **problems,
    struct lb_err *err)
{
	lb_config_init(cfg);
	return lb_config_load_buffer(cfg, "t.conf", text, strlen(text),
	    problems, err);
}

/* Loads 'text', expects failure with exactly 'expected' as the problems. */
static void
expect_problems(const char *text, const char *expected)
{
	struct lb_config cfg;
	struct lb_err err = { { 0 } };
	char *problems = NULL;
	const char *nl;

	assert_int_equal(load(&cfg, text, &problems, &err), -EINVAL);
	assert_non_null(problems);
	assert_string_equal(problems, expected);
	/* err->msg is the first problem */
	nl = strchr(expected, '\n');
	assert_int_equal(strlen(err.msg),
	    nl ? (size_t)(nl - expected) : strlen(expected));
	assert_memory_equal(err.msg, expected, strlen(err.msg));
	free(problems);
	lb_config_release(&cfg);
}

static char *
read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*ret_len = n;
	return buf;
}

static char *
example_text(size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(lb_config_write_example(f), 0);
	fclose(f);
	*ret_len = len;
	return text;
}

static void
test_defaults(void **state)
{
	struct lb_config cfg;
	char host[HOST_NAME_MAX + 1] = "";
	const struct lb_strlist *l;

	(void)state;
	lb_config_init(&cfg);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_string_equal(cfg.host, host);
	assert_string_equal(cfg.state_path, "/var/lib/lifeboat");
	assert_false(cfg.debug);
	assert_int_equal(cfg.log_level, LB_LOG_INFO);
	assert_string_equal(cfg.auth_strategy, "noauth");
	assert_string_equal(cfg.http_basic_auth_user_file,
	    "/etc/lifeboat/htpasswd");
	l = &cfg.enabled_hardware_types;
	assert_int_equal(l->n, 3);
	assert_string_equal(l->items[0], "ipmi");
	assert_string_equal(l->items[1], "redfish");
	assert_string_equal(l->items[2], "fake-hardware");
	l = &cfg.enabled_interfaces[LB_IFACE_BOOT];
	assert_int_equal(l->n, 4);
	assert_string_equal(l->items[0], "ipxe");
	assert_string_equal(l->items[3], "fake");
	l = &cfg.enabled_interfaces[LB_IFACE_NETWORK];
	assert_int_equal(l->n, 4);
	assert_string_equal(l->items[0], "noop");
	assert_string_equal(l->items[3], "switch");
	assert_string_equal(cfg.enabled_interfaces[LB_IFACE_RESCUE].items[0],
	    "agent");
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		assert_true(cfg.enabled_interfaces[k].n >= 2);
		assert_null(cfg.default_interface[k]);
	}
	assert_string_equal(cfg.api_host_ip, "127.0.0.1");
	assert_int_equal(cfg.api_port, 6385);
	assert_int_equal(cfg.api_workers, 0);
	assert_int_equal(cfg.api_max_limit, 1000);
	assert_null(cfg.api_public_endpoint);
	assert_true(cfg.api_restrict_lookup);
	assert_int_equal(cfg.api_ramdisk_heartbeat_timeout, 300);
	assert_int_equal(cfg.max_request_body_size, 1048576);
	assert_null(cfg.database_connection);
	assert_true(cfg.allow_deleting_available_nodes);
	assert_int_equal(cfg.workers_pool_size, 16);
	assert_int_equal(cfg.sync_power_state_interval, 60);
	assert_int_equal(cfg.power_state_change_timeout, 60);
	assert_int_equal(cfg.rescue_callback_timeout, 1800);
	assert_int_equal(cfg.rescue_soft_power_off_timeout, 0);
	assert_int_equal(cfg.check_rescue_state_interval, 60);
	assert_string_equal(cfg.rescue_password_hash_algorithm, "sha256");
	assert_null(cfg.rescue_kernel);
	assert_null(cfg.rescue_ramdisk);
	assert_int_equal(cfg.ipmi_min_command_interval, 5);
	assert_int_equal(cfg.ipmi_max_concurrent_per_bmc, 1);
	assert_int_equal(cfg.ipmi_command_retry_timeout, 60);
	assert_string_equal(cfg.redfish_auth_type, "auto");
	assert_int_equal(cfg.redfish_connection_attempts, 5);
	assert_int_equal(cfg.redfish_connection_retry_interval, 4);
	lb_config_release(&cfg);
	lb_config_release(&cfg);	/* twice is harmless */
}

static void
test_empty_and_comments(void **state)
{
	struct lb_config cfg;
	struct lb_err err = { "untouched" };
	char *problems = (char *)"junk";

	(void)state;
	assert_int_equal(load(&cfg, "", &problems, &err), 0);
	assert_null(problems);
	assert_string_equal(err.msg, "untouched");
	lb_config_release(&cfg);

	assert_int_equal(load(&cfg, "\xef\xbb\xbf# comment\r\n; other\n\n"
	    "   \t\n[api]\r\n  # port = 1\n\tport\t=\t7000\t\r\n", &problems,
	    &err), 0);
	assert_null(problems);
	assert_int_equal(cfg.api_port, 7000);
	lb_config_release(&cfg);
}

static void
test_string_values_trimmed(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\nhost =   conductor-1  \n"
	    "[api]\nhost_ip=::1\n[conductor]\n"
	    "rescue_kernel = http://images/vmlinuz = x\n", NULL, NULL), 0);
	assert_string_equal(cfg.host, "conductor-1");
	assert_string_equal(cfg.api_host_ip, "::1");
	/* only the first '=' separates */
	assert_string_equal(cfg.rescue_kernel, "http://images/vmlinuz = x");
	lb_config_release(&cfg);
}

static void
test_empty_string_value(void **state)
{
	struct lb_config cfg;

	(void)state;
	/* unsets an option whose default is unset */
	assert_int_equal(load(&cfg, "[api]\npublic_endpoint = http://a\n"
	    "public_endpoint =\n", NULL, NULL), 0);
	assert_null(cfg.api_public_endpoint);
	lb_config_release(&cfg);
	/* is an error for one that has a default */
	expect_problems("[api]\nhost_ip =\n",
	    "t.conf:2: [api] host_ip: value is empty");
}

static void
test_path(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\nstate_path = /srv/lb\n",
	    NULL, NULL), 0);
	assert_string_equal(cfg.state_path, "/srv/lb");
	lb_config_release(&cfg);
	expect_problems("[DEFAULT]\n\nstate_path = var/lib\n",
	    "t.conf:3: [DEFAULT] state_path: 'var/lib' is not an absolute "
	    "path");
}

static void
test_bool_spellings(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
		{ "true", true }, { "TRUE", true }, { "yes", true },
		{ "Yes", true }, { "on", true }, { "ON", true }, { "1", true },
		{ "false", false }, { "False", false }, { "no", false },
		{ "NO", false }, { "off", false }, { "Off", false },
		{ "0", false },
	};
	char text[64];
	struct lb_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[api]\nrestrict_lookup = %s\n",
		    cases[i].text);
		assert_int_equal(load(&cfg, text, NULL, NULL), 0);
		assert_int_equal(cfg.api_restrict_lookup, cases[i].value);
		lb_config_release(&cfg);
		snprintf(text, sizeof(text), "[DEFAULT]\ndebug = %s\n",
		    cases[i].text);
		assert_int_equal(load(&cfg, text, NULL, NULL), 0);
		assert_int_equal(cfg.debug, cases[i].value);
		lb_config_release(&cfg);
	}
}

/* Ironic's conductor group names, kept lower-case; the ring's options. */
static void
test_conductor_group_and_ring(void **state)
{
	struct lb_config cfg;
	char *problems = NULL;
	char long_name[320];

	(void)state;
	lb_config_init(&cfg);
	assert_null(cfg.conductor_group);
	assert_int_equal(cfg.hash_partition_exponent, 5);
	assert_int_equal(cfg.hash_ring_reset_interval, 15);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[conductor]\nconductor_group = Rack-1.a_B\n"
	    "[DEFAULT]\nhash_partition_exponent = 7\n"
	    "hash_ring_reset_interval = 3\n", &problems, NULL), 0);
	assert_string_equal(cfg.conductor_group, "rack-1.a_b");
	assert_int_equal(cfg.hash_partition_exponent, 7);
	assert_int_equal(cfg.hash_ring_reset_interval, 3);
	lb_config_release(&cfg);
	expect_problems("[conductor]\nconductor_group = rack 1\n",
	    "t.conf:2: [conductor] conductor_group: 'rack 1' is not a "
	    "conductor group: only letters, digits, '_', '-' and '.' are "
	    "allowed, at most 255");
	/* At most 255 characters. */
	for (int len = 255; len <= 256; len++) {
		int n = snprintf(long_name, sizeof(long_name),
		    "[conductor]\nconductor_group = ");

		memset(long_name + n, 'a', (size_t)len);
		long_name[n + len] = '\0';
		assert_int_equal(load(&cfg, long_name, &problems, NULL),
		    len == 255 ? 0 : -EINVAL);
		assert_true(len == 255 ? problems == NULL :
		    strstr(problems, "is not a conductor group") != NULL);
		free(problems);
		problems = NULL;
		lb_config_release(&cfg);
	}
	expect_problems("[DEFAULT]\nhash_partition_exponent = 17\n",
	    "t.conf:2: [DEFAULT] hash_partition_exponent: '17' is out of "
	    "range 0..16");
}

static void
test_bool_bad(void **state)
{
	(void)state;
	expect_problems("[conductor]\nallow_deleting_available_nodes = maybe\n",
	    "t.conf:2: [conductor] allow_deleting_available_nodes: 'maybe' is "
	    "not a boolean (true/false, yes/no, on/off, 1/0)");
	expect_problems("[api]\nrestrict_lookup = 2\n",
	    "t.conf:2: [api] restrict_lookup: '2' is not a boolean "
	    "(true/false, yes/no, on/off, 1/0)");
}

static void
test_int_range_edges(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[api]\nport = 1\napi_workers = 64\n"
	    "[conductor]\nsync_power_state_interval = 0\n"
	    "power_state_change_timeout = 2\nrescue_callback_timeout = 0\n"
	    "rescue_soft_power_off_timeout = 3600\n"
	    "workers_pool_size = 1024\n[ipmi]\nmin_command_interval = 0\n"
	    "max_concurrent_per_bmc = 4\ncommand_retry_timeout = 120\n"
	    "[redfish]\nconnection_attempts = 3\n"
	    "connection_retry_interval = 10\n", NULL, NULL), 0);
	assert_int_equal(cfg.api_port, 1);
	assert_int_equal(cfg.api_workers, 64);
	assert_int_equal(cfg.sync_power_state_interval, 0);
	assert_int_equal(cfg.power_state_change_timeout, 2);
	assert_int_equal(cfg.rescue_callback_timeout, 0);
	assert_int_equal(cfg.rescue_soft_power_off_timeout, 3600);
	assert_int_equal(cfg.workers_pool_size, 1024);
	assert_int_equal(cfg.ipmi_min_command_interval, 0);
	assert_int_equal(cfg.ipmi_max_concurrent_per_bmc, 4);
	assert_int_equal(cfg.ipmi_command_retry_timeout, 120);
	assert_int_equal(cfg.redfish_connection_attempts, 3);
	assert_int_equal(cfg.redfish_connection_retry_interval, 10);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[api]\nport = 65535\n", NULL, NULL), 0);
	assert_int_equal(cfg.api_port, 65535);
	lb_config_release(&cfg);
}

static void
test_int_out_of_range(void **state)
{
	(void)state;
	expect_problems("[api]\nport = 0\nport = 65536\napi_workers = -1\n"
	    "[conductor]\npower_state_change_timeout = 1\n"
	    "check_rescue_state_interval = 0\n"
	    "rescue_soft_power_off_timeout = -1\n"
	    "rescue_soft_power_off_timeout = 3601\n",
	    "t.conf:2: [api] port: '0' is out of range 1..65535\n"
	    "t.conf:3: [api] port: '65536' is out of range 1..65535\n"
	    "t.conf:4: [api] api_workers: '-1' is out of range 0..64\n"
	    "t.conf:6: [conductor] power_state_change_timeout: '1' is out of "
	    "range 2..3600\n"
	    "t.conf:7: [conductor] check_rescue_state_interval: '0' is out of "
	    "range 1..86400\n"
	    "t.conf:8: [conductor] rescue_soft_power_off_timeout: '-1' is out "
	    "of range 0..3600\n"
	    "t.conf:9: [conductor] rescue_soft_power_off_timeout: '3601' is "
	    "out of range 0..3600");
}

/* [redfish] min_command_interval, the one number with a fraction. */
static void
test_float(void **state)
{
	struct lb_config cfg;

	(void)state;
	lb_config_init(&cfg);
	assert_true(cfg.redfish_min_command_interval == 0.0);
	assert_int_equal(cfg.redfish_max_concurrent_per_bmc, 4);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[redfish]\nmin_command_interval = 0.25\n"
	    "max_concurrent_per_bmc = 1\n", NULL, NULL), 0);
	assert_true(cfg.redfish_min_command_interval == 0.25);
	assert_int_equal(cfg.redfish_max_concurrent_per_bmc, 1);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[redfish]\nmin_command_interval = 60\n",
	    NULL, NULL), 0);
	assert_true(cfg.redfish_min_command_interval == 60.0);
	lb_config_release(&cfg);
	expect_problems("[redfish]\nmin_command_interval = 1.5s\n"
	    "min_command_interval = nan\nmin_command_interval = inf\n"
	    "min_command_interval =\nmin_command_interval = 1e999\n"
	    "min_command_interval = -0.5\nmin_command_interval = 60.5\n"
	    "max_concurrent_per_bmc = 0\n",
	    "t.conf:2: [redfish] min_command_interval: '1.5s' is not a "
	    "number\n"
	    "t.conf:3: [redfish] min_command_interval: 'nan' is not a number\n"
	    "t.conf:4: [redfish] min_command_interval: 'inf' is not a number\n"
	    "t.conf:5: [redfish] min_command_interval: '' is not a number\n"
	    "t.conf:6: [redfish] min_command_interval: '1e999' is not a "
	    "number\n"
	    "t.conf:7: [redfish] min_command_interval: '-0.5' is out of range "
	    "0..60\n"
	    "t.conf:8: [redfish] min_command_interval: '60.5' is out of range "
	    "0..60\n"
	    "t.conf:9: [redfish] max_concurrent_per_bmc: '0' is out of range "
	    "1..16");
}

static void
test_int_not_a_number(void **state)
{
	(void)state;
	expect_problems("[api]\nport = 63a\nport = 0x10\nport =\n"
	    "port = 99999999999999999999999\nport = 1.5\nport = 1K\n",
	    "t.conf:2: [api] port: '63a' is not an integer\n"
	    "t.conf:3: [api] port: '0x10' is not an integer\n"
	    "t.conf:4: [api] port: '' is not an integer\n"
	    "t.conf:5: [api] port: '99999999999999999999999' is not an "
	    "integer\n"
	    "t.conf:6: [api] port: '1.5' is not an integer\n"
	    "t.conf:7: [api] port: '1K' is not an integer");
}

static void
test_size(void **state)
{
	static const struct {
		const char *text;
		long value;
	} cases[] = {
		{ "2048", 2048 }, { "64k", 65536 }, { "64K", 65536 },
		{ "2M", 2097152 }, { "1G", 1073741824 },
	};
	char text[80];
	struct lb_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
		    "[oslo_middleware]\nmax_request_body_size = %s\n",
		    cases[i].text);
		assert_int_equal(load(&cfg, text, NULL, NULL), 0);
		assert_int_equal(cfg.max_request_body_size, cases[i].value);
		lb_config_release(&cfg);
	}
	expect_problems("[oslo_middleware]\nmax_request_body_size = 1T\n"
	    "max_request_body_size = 2G\nmax_request_body_size = 1023\n"
	    "max_request_body_size = KB\n",
	    "t.conf:2: [oslo_middleware] max_request_body_size: '1T' is not a "
	    "size in bytes\n"
	    "t.conf:3: [oslo_middleware] max_request_body_size: '2G' is out of "
	    "range 1024..1073741824\n"
	    "t.conf:4: [oslo_middleware] max_request_body_size: '1023' is out "
	    "of range 1024..1073741824\n"
	    "t.conf:5: [oslo_middleware] max_request_body_size: 'KB' is not a "
	    "size in bytes");
}

static void
test_enum(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\nauth_strategy = HTTP_Basic\n"
	    "log_level = Warning\n[redfish]\nauth_type = session\n"
	    "[conductor]\nrescue_password_hash_algorithm = sha512\n", NULL,
	    NULL), 0);
	/* stored as spelled in the table */
	assert_string_equal(cfg.auth_strategy, "http_basic");
	assert_int_equal(cfg.log_level, LB_LOG_WARNING);
	assert_string_equal(cfg.redfish_auth_type, "session");
	assert_string_equal(cfg.rescue_password_hash_algorithm, "sha512");
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[DEFAULT]\nlog_level = error\n", NULL,
	    NULL), 0);
	assert_int_equal(cfg.log_level, LB_LOG_ERROR);
	lb_config_release(&cfg);
	expect_problems("[redfish]\nauth_type = digest\n[DEFAULT]\n"
	    "log_level = warn\nauth_strategy = keystone\n",
	    "t.conf:2: [redfish] auth_type: 'digest' is not one of basic, "
	    "session, auto\n"
	    "t.conf:4: [DEFAULT] log_level: 'warn' is not one of debug, info, "
	    "warning, error\n"
	    "t.conf:5: [DEFAULT] auth_strategy: 'keystone' is not one of "
	    "noauth, http_basic");
}

static void
test_default_boot_mode(void **state)
{
	struct lb_config cfg;

	(void)state;
	lb_config_init(&cfg);
	assert_int_equal(cfg.deploy_default_boot_mode, LB_DEFAULT_BOOT_UEFI);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[deploy]\ndefault_boot_mode = BIOS\n",
	    NULL, NULL), 0);
	assert_int_equal(cfg.deploy_default_boot_mode, LB_DEFAULT_BOOT_BIOS);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[deploy]\ndefault_boot_mode = uefi\n",
	    NULL, NULL), 0);
	assert_int_equal(cfg.deploy_default_boot_mode, LB_DEFAULT_BOOT_UEFI);
	lb_config_release(&cfg);
	expect_problems("[deploy]\ndefault_boot_mode = legacy\n",
	    "t.conf:2: [deploy] default_boot_mode: 'legacy' is not one of "
	    "uefi, bios");
}

static void
test_debug_forces_log_level(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\nlog_level = error\n"
	    "debug = true\n", NULL, NULL), 0);
	assert_true(cfg.debug);
	assert_int_equal(cfg.log_level, LB_LOG_DEBUG);
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[DEFAULT]\nlog_level = error\n"
	    "debug = false\n", NULL, NULL), 0);
	assert_int_equal(cfg.log_level, LB_LOG_ERROR);
	lb_config_release(&cfg);
}

static void
test_list(void **state)
{
	struct lb_config cfg;
	const struct lb_strlist *l;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\n"
	    "enabled_hardware_types =  redfish , ,ipmi,,\t\n"
	    "enabled_power_interfaces = fake\n"
	    "enabled_raid_interfaces =\n"
	    "enabled_bios_interfaces = , ,\n", NULL, NULL), 0);
	l = &cfg.enabled_hardware_types;
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[0], "redfish");
	assert_string_equal(l->items[1], "ipmi");
	l = &cfg.enabled_interfaces[LB_IFACE_POWER];
	assert_int_equal(l->n, 1);
	assert_string_equal(l->items[0], "fake");
	assert_int_equal(cfg.enabled_interfaces[LB_IFACE_RAID].n, 0);
	assert_int_equal(cfg.enabled_interfaces[LB_IFACE_BIOS].n, 0);
	lb_config_release(&cfg);
}

static void
test_interface_options(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\n"
	    "enabled_boot_interfaces = pxe, redfish-virtual-media\n"
	    "default_boot_interface = redfish-virtual-media\n"
	    "default_vendor_interface = fake\n", NULL, NULL), 0);
	assert_int_equal(cfg.enabled_interfaces[LB_IFACE_BOOT].n, 2);
	assert_string_equal(cfg.enabled_interfaces[LB_IFACE_BOOT].items[1],
	    "redfish-virtual-media");
	assert_string_equal(cfg.default_interface[LB_IFACE_BOOT],
	    "redfish-virtual-media");
	assert_string_equal(cfg.default_interface[LB_IFACE_VENDOR], "fake");
	assert_null(cfg.default_interface[LB_IFACE_POWER]);
	lb_config_release(&cfg);
}

static void
test_sections_case_insensitive(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[default]\ndebug = yes\n[ API ]\n"
	    "port = 8000\n[Redfish]\nauth_type = basic\n", NULL, NULL), 0);
	assert_true(cfg.debug);
	assert_int_equal(cfg.api_port, 8000);
	assert_string_equal(cfg.redfish_auth_type, "basic");
	lb_config_release(&cfg);
	/* option names are not */
	expect_problems("[api]\nPort = 8000\n",
	    "t.conf:2: unknown option [api] Port");
}

static void
test_unknown_section(void **state)
{
	(void)state;
	/* reported once; its options are not reported one by one */
	expect_problems("[DEFAULT]\ndebug = true\n\n[keystone_authtoken]\n"
	    "auth_url = http://x\npassword = hunter2\n[api]\nport = 0\n",
	    "t.conf:4: unknown section [keystone_authtoken]\n"
	    "t.conf:8: [api] port: '0' is out of range 1..65535");
}

static void
test_unknown_option(void **state)
{
	(void)state;
	expect_problems("[api]\nprot = 6385\n[DEFAULT]\nport = 1\n",
	    "t.conf:2: unknown option [api] prot\n"
	    "t.conf:4: unknown option [DEFAULT] port");
}

static void
test_missing_equals(void **state)
{
	(void)state;
	/* the line is not echoed: it may hold a secret */
	expect_problems("[api]\nport 6385\n\n[DEFAULT]\nhunter2\n",
	    "t.conf:2: missing '=' (expected 'name = value')\n"
	    "t.conf:5: missing '=' (expected 'name = value')");
	expect_problems("[api]\n = 6385\n",
	    "t.conf:2: missing option name before '='");
}

static void
test_option_before_section(void **state)
{
	(void)state;
	expect_problems("debug = true\n[DEFAULT]\n",
	    "t.conf:1: option 'debug' before any [section]");
}

static void
test_bad_section_headers(void **state)
{
	(void)state;
	expect_problems("[api\nport = 1\n[api] x\n[ ]\n[DEFAULT]\nhost = h\n"
	    "[\x01zz]\n",
	    "t.conf:1: missing ']' in section header\n"
	    "t.conf:3: unexpected text after section header\n"
	    "t.conf:4: empty section name\n"
	    "t.conf:7: unknown section [?zz]");
}

static void
test_line_too_long(void **state)
{
	struct lb_config cfg;
	size_t n = LB_CONFIG_LINE_MAX + 64;
	char *text = malloc(n);
	size_t off;

	(void)state;
	assert_non_null(text);
	/* exactly LB_CONFIG_LINE_MAX bytes is fine */
	off = (size_t)snprintf(text, n, "[conductor]\nrescue_kernel = ");
	memset(text + off, 'k', LB_CONFIG_LINE_MAX - 16);
	off += LB_CONFIG_LINE_MAX - 16;
	text[off] = '\0';
	assert_int_equal(strlen(text) - strlen("[conductor]\n"),
	    LB_CONFIG_LINE_MAX);
	assert_int_equal(load(&cfg, text, NULL, NULL), 0);
	assert_int_equal(strlen(cfg.rescue_kernel), LB_CONFIG_LINE_MAX - 16);
	lb_config_release(&cfg);
	/* one more is not, and the lines after it still count */
	text[off] = 'k';
	memcpy(text + off + 1, "\nnope = 1\n", 11);
	expect_problems(text, "t.conf:2: line too long (more than 4096 "
	    "bytes)\nt.conf:3: unknown option [conductor] nope");
	free(text);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "[api]\nport = 1\0 2\nmax_limit = 0\n";
	struct lb_config cfg;
	struct lb_err err;
	char *problems = NULL;

	(void)state;
	lb_config_init(&cfg);
	assert_int_equal(lb_config_load_buffer(&cfg, "n.conf", text,
	    sizeof(text) - 1, &problems, &err), -EINVAL);
	assert_string_equal(problems, "n.conf:2: line contains a NUL byte\n"
	    "n.conf:3: [api] max_limit: '0' is out of range 1..100000");
	assert_string_equal(err.msg, "n.conf:2: line contains a NUL byte");
	free(problems);
	lb_config_release(&cfg);
}

static void
test_duplicate_last_wins(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[api]\nport = 1000\n[conductor]\n"
	    "rescue_kernel = a\n[api]\nport = 2000\n[conductor]\n"
	    "rescue_kernel = b\n[DEFAULT]\nenabled_hardware_types = ipmi\n"
	    "enabled_hardware_types = redfish, fake-hardware\n", NULL, NULL),
	    0);
	assert_int_equal(cfg.api_port, 2000);
	assert_string_equal(cfg.rescue_kernel, "b");
	assert_int_equal(cfg.enabled_hardware_types.n, 2);
	assert_string_equal(cfg.enabled_hardware_types.items[0], "redfish");
	lb_config_release(&cfg);
}

static void
test_multiple_errors_collected(void **state)
{
	(void)state;
	expect_problems("# lifeboat\n[DEFAULT]\ndebug = perhaps\n"
	    "log_level = loud\n[api]\nprot = 1\nport = 99999\n[bogus]\n"
	    "x = 1\n[redfish]\nconnection_attempts\n"
	    "connection_retry_interval = 0\n",
	    "t.conf:3: [DEFAULT] debug: 'perhaps' is not a boolean "
	    "(true/false, yes/no, on/off, 1/0)\n"
	    "t.conf:4: [DEFAULT] log_level: 'loud' is not one of debug, info, "
	    "warning, error\n"
	    "t.conf:6: unknown option [api] prot\n"
	    "t.conf:7: [api] port: '99999' is out of range 1..65535\n"
	    "t.conf:8: unknown section [bogus]\n"
	    "t.conf:11: missing '=' (expected 'name = value')\n"
	    "t.conf:12: [redfish] connection_retry_interval: '0' is out of "
	    "range 1..600");
}

static void
test_many_problems_capped(void **state)
{
	struct lb_config cfg;
	struct lb_err err;
	char *text, *problems = NULL, *last;
	size_t n = 0;
	unsigned int lines = 0;

	(void)state;
	text = malloc(150 * 16 + 16);
	assert_non_null(text);
	n += snprintf(text + n, 16, "[api]\n");
	for (int i = 0; i < 150; i++)
		n += snprintf(text + n, 16, "port = x%d\n", i);
	assert_int_equal(load(&cfg, text, &problems, &err), -EINVAL);
	for (char *p = problems; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 100);
	last = strrchr(problems, '\n') + 1;
	assert_string_equal(last, "... and 50 more problems");
	assert_string_equal(err.msg,
	    "t.conf:2: [api] port: 'x0' is not an integer");
	free(problems);
	free(text);
	lb_config_release(&cfg);
}

static void
test_failed_load_changes_nothing(void **state)
{
	struct lb_config cfg;
	struct lb_err err;
	static const char bad[] = "[api]\nport = 7000\nhost_ip = 10.0.0.1\n"
	    "max_limit = many\n[DEFAULT]\nenabled_hardware_types = fake\n";

	(void)state;
	assert_int_equal(load(&cfg, "[api]\nport = 8000\n", NULL, NULL), 0);
	assert_int_equal(lb_config_load_buffer(&cfg, "b.conf", bad,
	    strlen(bad), NULL, &err), -EINVAL);
	assert_string_equal(err.msg,
	    "b.conf:4: [api] max_limit: 'many' is not an integer");
	assert_int_equal(cfg.api_port, 8000);
	assert_string_equal(cfg.api_host_ip, "127.0.0.1");
	assert_int_equal(cfg.enabled_hardware_types.n, 3);
	/* and a second file applies over the first */
	assert_int_equal(lb_config_load_buffer(&cfg, "c.conf",
	    "[api]\nmax_limit = 5\n", 20, NULL, NULL), 0);
	assert_int_equal(cfg.api_port, 8000);
	assert_int_equal(cfg.api_max_limit, 5);
	lb_config_release(&cfg);
}

static void
test_secret_values_hidden(void **state)
{
	struct lb_config cfg;
	char *problems = NULL;
	struct lb_err err;

	(void)state;
	expect_problems("[conductor]\n"
	    "rescue_password_hash_algorithm = hunter2\n",
	    "t.conf:2: [conductor] rescue_password_hash_algorithm: value is "
	    "not one of sha256, sha512");
	/* a database URL may carry a password */
	expect_problems("[database]\nconnection = mysql://u:hunter2@db/x\n",
	    "t.conf:2: [database] connection: value is not usable: not a "
	    "sqlite:///PATH URL (the stores built in: " DB_BUILT_IN ")");
#ifndef LB_HAVE_POSTGRESQL
	/* start-up would refuse a store that is not built in: so does --check */
	expect_problems("[database]\nconnection = postgresql://u:hunter2@db/x\n",
	    "t.conf:2: [database] connection: value is not usable: the "
	    "PostgreSQL store is known but not built into this lifeboatd");
#else
	expect_problems("[database]\nconnection = postgresql://u:hunter2@db/"
	    "x?sslmode=off\n", "t.conf:2: [database] connection: value is not "
	    "usable: PostgreSQL URL parameters other than host and port are not "
	    "supported");
#endif
	assert_int_equal(load(&cfg, "[database]\nconnection = "
	    "mysql://u:hunter2@db/x\n[conductor]\n"
	    "rescue_password_hash_algorithm = hunter2\n", &problems, &err),
	    -EINVAL);
	assert_null(strstr(problems, "hunter2"));
	assert_null(strstr(err.msg, "hunter2"));
	free(problems);
	lb_config_release(&cfg);
}

static void
test_validators(void **state)
{
	struct lb_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[api]\nhost_ip = api.example.com\n"
	    "public_endpoint = https://lb.example.com:6385\n[database]\n"
	    "connection = sqlite:////srv/lb/x.db\n", NULL, NULL), 0);
	assert_string_equal(cfg.api_host_ip, "api.example.com");
	assert_string_equal(cfg.api_public_endpoint,
	    "https://lb.example.com:6385");
	assert_string_equal(cfg.database_connection, "sqlite:////srv/lb/x.db");
	lb_config_release(&cfg);
	expect_problems("[api]\nhost_ip = not an ip\n"
	    "public_endpoint = ftp://x\npublic_endpoint = http://\n",
	    "t.conf:2: [api] host_ip: 'not an ip' is not an IP address or "
	    "host name\n"
	    "t.conf:3: [api] public_endpoint: 'ftp://x' is not an http:// or "
	    "https:// URL\n"
	    "t.conf:4: [api] public_endpoint: 'http://' is not an http:// or "
	    "https:// URL");
}

static void
test_console_options(void **state)
{
	struct lb_config cfg;
	unsigned int start, stop;

	(void)state;
	lb_config_init(&cfg);
	assert_null(cfg.console_port_range);
	assert_string_equal(cfg.console_socat_address, "127.0.0.1");
	assert_int_equal(cfg.console_terminal_timeout, 600);
	assert_int_equal(cfg.console_subprocess_timeout, 10);
	assert_true(cfg.console_capture_during_rescue);
	assert_int_equal(cfg.console_capture_max_size, 1048576);
	assert_int_equal(cfg.console_capture_error_lines, 10);
	lb_config_release(&cfg);

	assert_int_equal(load(&cfg, "[console]\nport_range = 10000:10010\n"
	    "socat_address = ::1\nterminal_timeout = 0\n"
	    "subprocess_timeout = 3\ncapture_during_rescue = false\n"
	    "capture_max_size = 64K\ncapture_error_lines = 0\n", NULL,
	    NULL), 0);
	assert_string_equal(cfg.console_port_range, "10000:10010");
	assert_string_equal(cfg.console_socat_address, "::1");
	assert_int_equal(cfg.console_terminal_timeout, 0);
	assert_int_equal(cfg.console_subprocess_timeout, 3);
	assert_false(cfg.console_capture_during_rescue);
	assert_int_equal(cfg.console_capture_max_size, 65536);
	assert_int_equal(cfg.console_capture_error_lines, 0);
	lb_config_release(&cfg);

	expect_problems("[console]\nport_range = 10000-10010\n"
	    "port_range = 20:10\nport_range = 1:65537\n"
	    "socat_address = console.example\nsubprocess_timeout = 0\n",
	    "t.conf:2: [console] port_range: '10000-10010' should be in the "
	    "format <start>:<stop>\n"
	    "t.conf:3: [console] port_range: '20:10' should be in the format "
	    "<start>:<stop> and start < stop, ports from 1 to 65535\n"
	    "t.conf:4: [console] port_range: '1:65537' should be in the "
	    "format <start>:<stop> and start < stop, ports from 1 to 65535\n"
	    "t.conf:5: [console] socat_address: 'console.example' is not an "
	    "IPv4 or IPv6 address\n"
	    "t.conf:6: [console] subprocess_timeout: '0' is out of range "
	    "1..600");

	/* the one parser, as the console calls it */
	assert_int_equal(lb_config_port_range("1:2", &start, &stop), 0);
	assert_int_equal(start, 1);
	assert_int_equal(stop, 2);
	assert_int_equal(lb_config_port_range("65535:65536", &start, &stop),
	    0);
	assert_int_equal(lb_config_port_range("0:5", &start, &stop), -ERANGE);
	assert_int_equal(lb_config_port_range("5:5", &start, &stop), -ERANGE);
	assert_int_equal(lb_config_port_range(" 1:5", &start, &stop),
	    -EINVAL);
	assert_int_equal(lb_config_port_range("1:5 ", &start, &stop),
	    -EINVAL);
	assert_int_equal(lb_config_port_range("1:+5", &start, &stop),
	    -EINVAL);
	assert_int_equal(lb_config_port_range("1:", &start, &stop), -EINVAL);
	assert_int_equal(lb_config_port_range("99999999999999999999:1",
	    &start, &stop), -EINVAL);
}

static void
test_long_value_cut_in_problem(void **state)
{
	char text[300], expected[300];

	(void)state;
	snprintf(text, sizeof(text), "[redfish]\nauth_type = %0200d\n", 7);
	snprintf(expected, sizeof(expected), "t.conf:2: [redfish] auth_type: "
	    "'%074d...' is not one of basic, session, auto", 0);
	expect_problems(text, expected);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/lb-test-config-XXXXXX";
	struct lb_config cfg;
	struct lb_err err;
	char *problems = NULL, *big;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("[api]\nport = 9999\nmax_limit = -5\n", f);
	fclose(f);
	lb_config_init(&cfg);
	assert_int_equal(lb_config_load_file(&cfg, path, &problems, &err),
	    -EINVAL);
	assert_int_equal(strncmp(problems, path, strlen(path)), 0);
	assert_string_equal(problems + strlen(path),
	    ":3: [api] max_limit: '-5' is out of range 1..100000");
	free(problems);
	assert_int_equal(cfg.api_port, 6385);

	/* larger than 1 MiB */
	big = malloc(LB_CONFIG_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '#', LB_CONFIG_FILE_MAX + 1);
	for (size_t i = 99; i < LB_CONFIG_FILE_MAX; i += 100)
		big[i] = '\n';
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, LB_CONFIG_FILE_MAX + 1, f),
	    LB_CONFIG_FILE_MAX + 1);
	fclose(f);
	assert_int_equal(lb_config_load_file(&cfg, path, &problems, &err),
	    -EINVAL);
	assert_string_equal(problems + strlen(path), ": larger than 1048576 "
	    "bytes");
	free(problems);
	/* exactly 1 MiB of comments is fine */
	assert_int_equal(truncate(path, LB_CONFIG_FILE_MAX), 0);
	assert_int_equal(lb_config_load_file(&cfg, path, &problems, &err), 0);
	assert_null(problems);
	assert_int_equal(lb_config_load_buffer(&cfg, "mem", big,
	    LB_CONFIG_FILE_MAX + 1, &problems, &err), -EINVAL);
	assert_string_equal(problems, "mem: larger than 1048576 bytes");
	free(problems);
	free(big);
	unlink(path);

	assert_int_equal(lb_config_load_file(&cfg, path, &problems, &err),
	    -ENOENT);
	assert_string_equal(problems + strlen(path), ": cannot open: No such "
	    "file or directory");
	assert_string_equal(err.msg, problems);
	free(problems);
	lb_config_release(&cfg);
}

static void
test_check_defaults_pass(void **state)
{
	struct lb_config cfg;
	char *problems = (char *)"junk";

	(void)state;
	lb_config_init(&cfg);
	assert_int_equal(lb_config_check(&cfg, &test_names, &problems, NULL), 0);
	assert_null(problems);
	lb_config_release(&cfg);
}

static void
test_check_http_basic(void **state)
{
	char path[] = "/tmp/lb-test-htpasswd-XXXXXX";
	char text[200], expected[300];
	struct lb_config cfg;
	struct lb_err err;
	char *problems = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(text, sizeof(text), "[DEFAULT]\nauth_strategy = http_basic\n"
	    "http_basic_auth_user_file = %s\n", path);
	assert_int_equal(load(&cfg, text, NULL, NULL), 0);
	assert_int_equal(lb_config_check(&cfg, &test_names, &problems, &err), 0);
	unlink(path);
	assert_int_equal(lb_config_check(&cfg, &test_names, &problems, &err), -EINVAL);
	snprintf(expected, sizeof(expected), "[DEFAULT] "
	    "http_basic_auth_user_file: cannot read '%s': No such file or "
	    "directory", path);
	assert_string_equal(problems, expected);
	assert_string_equal(err.msg, expected);
	free(problems);
	lb_config_release(&cfg);
}

static void
test_check_interfaces(void **state)
{
	struct lb_config cfg;
	struct lb_err err;
	char *problems = NULL;

	(void)state;
	assert_int_equal(load(&cfg, "[DEFAULT]\n"
	    "enabled_hardware_types = ipmi, idrac, ipmi\n"
	    "enabled_boot_interfaces = pxe, http\n"
	    "default_boot_interface = ipxe\n"
	    "enabled_raid_interfaces =\n"
	    "default_power_interface = redfish\n"
	    "enabled_power_interfaces = redfish,fake\n"
	    "default_deploy_interface = fake\n", NULL, NULL), 0);
	assert_int_equal(lb_config_check(&cfg, &test_names, &problems, &err), -EINVAL);
	assert_string_equal(problems,
	    "[DEFAULT] enabled_hardware_types: 'idrac' is not a known hardware "
	    "type (ipmi, redfish, fake-hardware)\n"
	    "[DEFAULT] enabled_hardware_types: 'ipmi' is listed twice\n"
	    "[DEFAULT] enabled_boot_interfaces: 'http' is not a known boot "
	    "interface (ipxe, pxe, redfish-virtual-media, fake)\n"
	    "[DEFAULT] default_boot_interface: 'ipxe' is not in "
	    "enabled_boot_interfaces\n"
	    "[DEFAULT] enabled_raid_interfaces: must not be empty");
	assert_string_equal(err.msg, "[DEFAULT] enabled_hardware_types: "
	    "'idrac' is not a known hardware type (ipmi, redfish, "
	    "fake-hardware)");
	free(problems);
	lb_config_release(&cfg);
}

static void
test_database_connection(void **state)
{
	struct lb_config cfg;
	char buf[128], small[20];

	(void)state;
	lb_config_init(&cfg);
	assert_string_equal(lb_config_database_connection(&cfg, buf,
	    sizeof(buf)), "sqlite:////var/lib/lifeboat/lifeboat.sqlite");
	assert_null(lb_config_database_connection(&cfg, small,
	    sizeof(small)));
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[DEFAULT]\nstate_path = /srv/lb//\n",
	    NULL, NULL), 0);
	assert_string_equal(lb_config_database_connection(&cfg, buf,
	    sizeof(buf)), "sqlite:////srv/lb/lifeboat.sqlite");
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[DEFAULT]\nstate_path = /\n", NULL,
	    NULL), 0);
	assert_string_equal(lb_config_database_connection(&cfg, buf,
	    sizeof(buf)), "sqlite:////lifeboat.sqlite");
	lb_config_release(&cfg);
	assert_int_equal(load(&cfg, "[database]\n"
	    "connection = sqlite:////tmp/x.db\n", NULL, NULL), 0);
	assert_string_equal(lb_config_database_connection(&cfg, small,
	    sizeof(small)), "sqlite:////tmp/x.db");
	lb_config_release(&cfg);
}

static void
expect_db_url(const char *url, int want_r, const char *want)
{
	struct lb_db_url u;
	struct lb_err err = { "" };
	int r;

	memset(&u, 0x5a, sizeof(u));
	r = lb_db_url_parse(url, &u, &err);
	assert_int_equal(r, want_r);
	if (r == 0) {
		assert_int_equal(u.kind, LB_DB_SQLITE);
		assert_string_equal(u.path, want);
	} else {
		assert_string_equal(err.msg, want);
	}
}

#ifdef LB_HAVE_POSTGRESQL

/* A PostgreSQL URL: its parts, or the reason (never the password). */
static void
expect_pg_url(const char *url, const char *want_err, const char *host,
    const char *port, const char *user, const char *password,
    const char *dbname)
{
	struct lb_db_url u;
	struct lb_err err = { "" };
	int r;

	memset(&u, 0x5a, sizeof(u));
	r = lb_db_url_parse(url, &u, &err);
	if (want_err != NULL) {
		assert_int_equal(r, -EINVAL);
		assert_string_equal(err.msg, want_err);
		assert_null(strstr(err.msg, "s3cret"));
		return;
	}
	assert_int_equal(r, 0);
	assert_int_equal(u.kind, LB_DB_POSTGRESQL);
	assert_string_equal(u.host, host);
	assert_string_equal(u.port, port);
	assert_string_equal(u.user, user);
	assert_string_equal(u.password, password);
	assert_string_equal(u.dbname, dbname);
}

static void
test_db_url_postgresql(void **state)
{
	const char *nodb = "a PostgreSQL URL names a database: "
	    "postgresql://USER:PASSWORD@HOST[:PORT]/DB";

	(void)state;
	expect_pg_url("postgresql://lb:s3cret@db.example:6543/lifeboat", NULL,
	    "db.example", "6543", "lb", "s3cret", "lifeboat");
	expect_pg_url("postgresql+psycopg2://lb:p%40ss%3Aw@db/ironic", NULL,
	    "db", "", "lb", "p@ss:w", "ironic");
	expect_pg_url("postgresql://lb@/lb?host=/run/pg%20x&port=5433", NULL,
	    "/run/pg x", "5433", "lb", "", "lb");
	expect_pg_url("postgresql://[::1]:5432/x", NULL, "::1", "5432", "",
	    "", "x");
	expect_pg_url("postgresql://lb:s3cret@db", nodb, "", "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret@db/", nodb, "", "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret@db:0/x", "the PostgreSQL port "
	    "must be a number from 1 to 65535", "", "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret@db:99999/x", "the PostgreSQL "
	    "port must be a number from 1 to 65535", "", "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret%4@db/x", "the PostgreSQL "
	    "password is not usable (longer than 255 bytes, or a bad %XX)",
	    "", "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret@db/x?sslmode=off", "PostgreSQL "
	    "URL parameters other than host and port are not supported", "",
	    "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret@db/x?host", "a PostgreSQL URL "
	    "parameter needs a value", "", "", "", "", "");
	expect_pg_url("postgresql://lb:s3cret@db/x#f", "a PostgreSQL URL "
	    "takes no #fragment", "", "", "", "", "");
}
#endif

/* One parser for --check and the store: every spelling either way. */
static void
test_db_url_parse(void **state)
{
	(void)state;
	expect_db_url("sqlite:////var/lib/lb/x.db", 0, "/var/lib/lb/x.db");
	expect_db_url("sqlite:///var/lib/lb/x.db", 0, "/var/lib/lb/x.db");
	expect_db_url("SQLite:///tmp/x.db", 0, "/tmp/x.db");
	expect_db_url("sqlite:///", -EINVAL, "the SQLite path must name a "
	    "file, not a directory");
	expect_db_url("sqlite:///tmp/", -EINVAL, "the SQLite path must name "
	    "a file, not a directory");
	expect_db_url("sqlite:///tmp/..", -EINVAL, "the SQLite path must name "
	    "a file, not a directory");
	expect_db_url("sqlite://", -EINVAL, "a SQLite URL names a file: "
	    "sqlite:///PATH (no host)");
	expect_db_url("sqlite://host/x.db", -EINVAL, "a SQLite URL names a "
	    "file: sqlite:///PATH (no host)");
	expect_db_url("sqlite:///:memory:", -EINVAL, "an in-memory database "
	    "would lose every node at restart; name a file");
	expect_db_url("sqlite:////tmp/x.db?mode=ro", -EINVAL, "SQLite URL "
	    "parameters are not supported");
	expect_db_url("sqlite:////tmp/x\tdb", -EINVAL, "the SQLite path "
	    "holds a control character");
	expect_db_url("sqlite:/tmp/x.db", -EINVAL, "not a sqlite:///PATH URL "
	    "(the stores built in: " DB_BUILT_IN ")");
#ifndef LB_HAVE_POSTGRESQL
	expect_db_url("postgresql://lb:s3cret@db/lifeboat", -ENOTSUP, "the "
	    "PostgreSQL store is known but not built into this lifeboatd");
#endif
	expect_db_url("mysql+pymysql://lb:s3cret@db/x", -EINVAL, "not a "
	    "sqlite:///PATH URL (the stores built in: " DB_BUILT_IN ")");
	expect_db_url("", -EINVAL, "no database URL");
}

/* Parses 'url'; on success, its host and port and whether it binds every
 * address, else the predicate. */
static void
expect_http_url(const char *url, int want, const char *host,
    const char *port, bool any)
{
	struct lb_http_url u = { .host = "untouched" };
	struct lb_err err = { "" };

	assert_int_equal(lb_http_url_parse(url, &u, &err), want);
	if (want < 0) {
		assert_string_equal(err.msg, host);
		assert_true(strlen(err.msg) <= 100);
		assert_string_equal(u.host, "untouched");
		return;
	}
	assert_string_equal(u.host, host);
	assert_string_equal(u.port, port);
	assert_int_equal(u.any, any);
}

static void
test_http_url_parse(void **state)
{
	struct lb_http_url a, b;
	char long_url[300];

	(void)state;
	expect_http_url("http://10.0.0.1:8088", 0, "10.0.0.1", "8088", false);
	expect_http_url("HTTP://10.0.0.1:08088//", 0, "10.0.0.1", "8088",
	    false);
	expect_http_url("http://10.0.0.1", 0, "10.0.0.1", "80", false);
	expect_http_url("http://[fd00::1]:8089/", 0, "fd00::1", "8089", false);
	expect_http_url("http://[::]:8089", 0, "::", "8089", true);
	expect_http_url("http://0.0.0.0:1", 0, "0.0.0.0", "1", true);
	expect_http_url("http://boot.example.com:65535", 0,
	    "boot.example.com", "65535", true);
	expect_http_url("http://127.0.0.1:0", 0, "127.0.0.1", "0", false);
	expect_http_url("https://10.0.0.1:8088", -EINVAL, "is an https:// "
	    "URL: lifeboatd serves http_root itself, over plain http:// only",
	    NULL, false);
	expect_http_url("ftp://10.0.0.1", -EINVAL, "is not an http:// URL",
	    NULL, false);
	expect_http_url("http://", -EINVAL, "has no host", NULL, false);
	expect_http_url("http://:8088", -EINVAL, "has no host", NULL, false);
	expect_http_url("http://10.0.0.1:", -EINVAL, "has a bad port", NULL,
	    false);
	expect_http_url("http://10.0.0.1:65536", -EINVAL, "has a bad port",
	    NULL, false);
	expect_http_url("http://10.0.0.1:80a", -EINVAL, "has a bad port",
	    NULL, false);
	expect_http_url("http://10.0.0.1:-1", -EINVAL, "has a bad port", NULL,
	    false);
	expect_http_url("http://10.0.0.300:80", -EINVAL, "has a bad host",
	    NULL, false);
	expect_http_url("http://bad_name:80", -EINVAL, "has a bad host", NULL,
	    false);
	expect_http_url("http://fd00::1:8088", -EINVAL, "has an IPv6 host "
	    "without [brackets]", NULL, false);
	expect_http_url("http://[fd00::1:8088", -EINVAL, "has a bad [IPv6] "
	    "host", NULL, false);
	expect_http_url("http://[fd00::g]:8088", -EINVAL, "has a bad [IPv6] "
	    "host", NULL, false);
	expect_http_url("http://[10.0.0.1]:8088", -EINVAL, "has a bad [IPv6] "
	    "host", NULL, false);
	expect_http_url("http://u:pw@10.0.0.1:8088", -EINVAL, "holds a user "
	    "name: the HTTP boot root takes no credentials", NULL, false);
	expect_http_url("http://10.0.0.1:8088/boot", -EINVAL, "has a path, "
	    "query or fragment: lifeboatd serves http_root at the URL's root",
	    NULL, false);
	expect_http_url("http://10.0.0.1:8088?x", -EINVAL, "has a path, "
	    "query or fragment: lifeboatd serves http_root at the URL's root",
	    NULL, false);
	expect_http_url("http://10.0.0.1:8088 ", -EINVAL, "holds a space or a "
	    "control character", NULL, false);
	snprintf(long_url, sizeof(long_url), "http://%0250d.example", 1);
	expect_http_url(long_url, -EINVAL, "is longer than 255 bytes", NULL,
	    false);

	/* one socket, two sockets, or two that cannot both be bound */
	assert_int_equal(lb_http_url_parse("http://10.0.0.1:8088", &a, NULL),
	    0);
	assert_int_equal(lb_http_url_parse("http://10.0.0.1:8088/", &b, NULL),
	    0);
	assert_true(lb_http_url_same_listener(&a, &b));
	assert_int_equal(lb_http_url_parse("http://[fd00::1]:8088", &a, NULL),
	    0);
	assert_int_equal(lb_http_url_parse("http://[fd00:0::1]:8088", &b,
	    NULL), 0);
	assert_true(lb_http_url_same_listener(&a, &b));
	assert_int_equal(lb_http_url_parse("http://10.0.0.2:8088", &b, NULL),
	    0);
	assert_false(lb_http_url_same_listener(&a, &b));
	assert_false(lb_http_url_clash(&a, &b));
	assert_int_equal(lb_http_url_parse("http://boot.example:8088", &a,
	    NULL), 0);
	assert_false(lb_http_url_same_listener(&a, &b));
	assert_true(lb_http_url_clash(&a, &b));
	assert_int_equal(lb_http_url_parse("http://0.0.0.0:8088", &b, NULL),
	    0);
	assert_true(lb_http_url_same_listener(&a, &b));
	assert_false(lb_http_url_clash(&a, &b));
	assert_int_equal(lb_http_url_parse("http://10.0.0.2:8089", &b, NULL),
	    0);
	assert_false(lb_http_url_clash(&a, &b));
}

static void
test_external_http_url(void **state)
{
	struct lb_config cfg;
	struct lb_err err;
	char *problems = NULL;

	(void)state;
	assert_int_equal(load(&cfg, "[deploy]\n"
	    "http_url = http://10.0.0.1:8088\n"
	    "external_http_url = http://192.168.0.1:8088/\n", NULL, NULL), 0);
	assert_string_equal(cfg.deploy_external_http_url,
	    "http://192.168.0.1:8088/");
	assert_int_equal(lb_config_check(&cfg, &test_names, &problems, &err),
	    0);
	lb_config_release(&cfg);
	expect_problems("[deploy]\nexternal_http_url = https://bmc.example\n"
	    "http_url = http://10.0.0.1:8088/ipxe\n",
	    "t.conf:2: [deploy] external_http_url: 'https://bmc.example' is an "
	    "https:// URL: lifeboatd serves http_root itself, over plain "
	    "http:// only\n"
	    "t.conf:3: [deploy] http_url: 'http://10.0.0.1:8088/ipxe' has a "
	    "path, query or fragment: lifeboatd serves http_root at the URL's "
	    "root");
	/* a name is served on every address: the other URL's port clashes */
	assert_int_equal(load(&cfg, "[deploy]\n"
	    "http_url = http://10.0.0.1:8088\n"
	    "external_http_url = http://lifeboat.mgmt:8088\n", NULL, NULL), 0);
	assert_int_equal(lb_config_check(&cfg, &test_names, &problems, &err),
	    -EINVAL);
	assert_string_equal(problems, "[deploy] external_http_url: lifeboatd "
	    "cannot listen on port 8088 of 10.0.0.1 and of every address at "
	    "once; use two IP addresses, two ports or one URL");
	free(problems);
	lb_config_release(&cfg);
}

static void
test_example_matches_committed_file(void **state)
{
	const char *root = getenv("LB_SOURCE_ROOT");
	char path[4096];
	char *want, *got;
	size_t want_len = 0, got_len = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/etc/lifeboat.conf.example",
	    root != NULL ? root : ".");
	want = read_all(path, &want_len);
	if (want == NULL)
		fail_msg("cannot read '%s' (set LB_SOURCE_ROOT)", path);
	got = example_text(&got_len);
	if (got_len != want_len || memcmp(got, want, got_len) != 0)
		fail_msg("'%s' differs from lb_config_write_example(); "
		    "regenerate it", path);
	free(want);
	free(got);
}

/* Every commented-out default, uncommented, loads back to the defaults. */
static void
test_example_defaults_load(void **state)
{
	struct lb_config def, cfg;
	char *text, *line, *save = NULL, *out;
	size_t len, n = 0, options = 0;
	char *problems = NULL;

	(void)state;
	text = example_text(&len);
	out = calloc(1, len + 1);
	assert_non_null(out);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '[') {
			n += snprintf(out + n, len + 1 - n, "%s\n", line);
		} else if (line[0] == '#' && line[1] != ' ' &&
		    line[1] != '\0' && strstr(line, " = <None>") == NULL &&
		    strncmp(line, "#host = ", 8) != 0) {
			n += snprintf(out + n, len + 1 - n, "%s\n", line + 1);
			options++;
		}
	}
	assert_int_equal(options, 88);
	lb_config_init(&def);
	assert_int_equal(load(&cfg, out, &problems, NULL), 0);
	assert_null(problems);
	assert_int_equal(cfg.api_port, def.api_port);
	assert_int_equal(cfg.max_request_body_size, def.max_request_body_size);
	assert_int_equal(cfg.log_level, def.log_level);
	assert_string_equal(cfg.redfish_auth_type, def.redfish_auth_type);
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		assert_int_equal(cfg.enabled_interfaces[k].n,
		    def.enabled_interfaces[k].n);
		for (size_t i = 0; i < def.enabled_interfaces[k].n; i++)
			assert_string_equal(cfg.enabled_interfaces[k].items[i],
			    def.enabled_interfaces[k].items[i]);
	}
	lb_config_release(&def);
	lb_config_release(&cfg);
	free(out);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_and_comments),
		cmocka_unit_test(test_string_values_trimmed),
		cmocka_unit_test(test_empty_string_value),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_bool_bad),
		cmocka_unit_test(test_int_range_edges),
		cmocka_unit_test(test_int_out_of_range),
		cmocka_unit_test(test_int_not_a_number),
		cmocka_unit_test(test_float),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_default_boot_mode),
		cmocka_unit_test(test_debug_forces_log_level),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_interface_options),
		cmocka_unit_test(test_sections_case_insensitive),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_missing_equals),
		cmocka_unit_test(test_option_before_section),
		cmocka_unit_test(test_bad_section_headers),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_duplicate_last_wins),
		cmocka_unit_test(test_multiple_errors_collected),
		cmocka_unit_test(test_many_problems_capped),
		cmocka_unit_test(test_failed_load_changes_nothing),
		cmocka_unit_test(test_secret_values_hidden),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_console_options),
		cmocka_unit_test(test_long_value_cut_in_problem),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_check_defaults_pass),
		cmocka_unit_test(test_check_http_basic),
		cmocka_unit_test(test_check_interfaces),
		cmocka_unit_test(test_database_connection),
		cmocka_unit_test(test_db_url_parse),
#ifdef LB_HAVE_POSTGRESQL
		cmocka_unit_test(test_db_url_postgresql),
#endif
		cmocka_unit_test(test_http_url_parse),
		cmocka_unit_test(test_external_http_url),
		cmocka_unit_test(test_conductor_group_and_ring),
		cmocka_unit_test(test_example_matches_committed_file),
		cmocka_unit_test(test_example_defaults_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
