/*
 * test_boot_render.c - every file the pxe and ipxe boot interfaces render,
 * byte for byte against tests/unit/golden/boot/ (found via
 * $LB_SOURCE_ROOT, default "."), and the kernel command line and boot mode
 * they are rendered from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/boot_common.h"
#include "boot/boot_render.h"
#include "conductor/util/config.h"
#include "conductor/util/banned.h"

#define UUID "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
#define MAC "52:54:00:12:34:56"
#define API_URL "http://10.99.0.1:6385"
#define HTTP_URL "http://10.99.0.1:8088"
#define TFTP "10.99.0.1"
#define REQ "req-5c1e0b7e-8f5d-4e0e-9a0c-3b1c2d3e4f50"
#define BASE "selinux=0 troubleshoot=0 text"
#define PARAMS BASE " nofb vga=normal ipa-api-url=" API_URL \
	" ipa-global-request-id=" REQ

static char *
read_golden(const char *name)
{
	const char *root = getenv("LB_SOURCE_ROOT");
	char path[4096];
	char *data;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/unit/golden/boot/%s",
	    root ? root : ".", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot read golden file '%s' (set LB_SOURCE_ROOT)",
		    path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	fclose(f);
	return data;
}

/* Takes ownership of 'got'. */
static void
assert_golden(char *got, const char *name)
{
	char *want = read_golden(name);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("'%s' differs from its golden file:\n--- got\n%s"
		    "--- want\n%s", name, got, want);
	free(want);
	free(got);
}

static void
test_pxelinux_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_pxelinux(UUID, PARAMS, NULL), "pxelinux.cfg");
}

/* lpxelinux.0 fetches both by URL; the config itself comes over TFTP. */
static void
test_pxelinux_http_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_pxelinux(UUID, PARAMS, HTTP_URL),
	    "pxelinux_http.cfg");
}

/* pxelinux boots iPXE, whose one-line command line fetches both. */
static void
test_pxelinux_ipxe_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_pxelinux_ipxe(UUID, PARAMS, HTTP_URL,
	    "ipxe.lkrn", 0), "pxelinux_ipxe.cfg");
	assert_golden(lb_render_pxelinux_ipxe(UUID, PARAMS, HTTP_URL,
	    "ipxe/ipxe.lkrn", 30000), "pxelinux_ipxe_timeout.cfg");
}

static void
test_grub_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_grub(UUID, PARAMS, TFTP), "grub.cfg");
}

static void
test_grub_master_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_grub_master(), "grub_master.cfg");
}

static void
test_ipxe_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_ipxe(HTTP_URL, UUID, PARAMS, 0), "ipxe.cfg");
}

static void
test_ipxe_timeout_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_ipxe(HTTP_URL, UUID, PARAMS, 30000),
	    "ipxe_timeout.cfg");
}

static void
test_boot_ipxe_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_boot_ipxe(), "boot.ipxe");
}

static void
test_dnsmasq_host_golden(void **state)
{
	(void)state;
	assert_golden(lb_render_dnsmasq_host(MAC, UUID), "dnsmasq_host.conf");
	assert_golden(lb_render_dnsmasq_ignore(MAC), "dnsmasq_ignore.conf");
	assert_golden(lb_render_dnsmasq_known(MAC), "dnsmasq_known.conf");
}

static void
test_dnsmasq_opts_pxe_golden(void **state)
{
	struct lb_render_dhcp dhcp = { .tag = UUID, .bootfile = "pxelinux.0",
	    .tftp_server = TFTP };

	(void)state;
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_pxe_bios.conf");
	dhcp.bootfile = "bootx64.efi";
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_pxe_uefi.conf");
	/* Both: the arch tag's loader, and the other to everyone else. */
	dhcp.arch_tag = LB_DHCP_TAG_BIOS;
	dhcp.arch_bootfile = "pxelinux.0";
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_pxe_both.conf");
	dhcp.arch_tag = LB_DHCP_TAG_UEFI;
	dhcp.arch_bootfile = "bootx64.efi";
	dhcp.bootfile = "pxelinux.0";
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_pxe_both_bios.conf");
}

static void
test_dnsmasq_opts_ipxe_golden(void **state)
{
	struct lb_render_dhcp dhcp = { .tag = UUID,
	    .bootfile = "undionly.kpxe",
	    .ipxe_script_url = HTTP_URL "/boot.ipxe", .tftp_server = TFTP };

	(void)state;
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_ipxe_bios.conf");
	dhcp.bootfile = "snponly.efi";
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_ipxe_uefi.conf");
	dhcp.arch_tag = LB_DHCP_TAG_BIOS;
	dhcp.arch_bootfile = "undionly.kpxe";
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_ipxe_both.conf");
	dhcp.arch_tag = LB_DHCP_TAG_UEFI;
	dhcp.arch_bootfile = "snponly.efi";
	dhcp.bootfile = "undionly.kpxe";
	assert_golden(lb_render_dnsmasq_opts(&dhcp),
	    "dnsmasq_opts_ipxe_both_bios.conf");
}

/* ---- kernel parameters ---- */

struct fixture {
	struct lb_config cfg;
	struct lb_boot_env env;
	struct lb_task task;
	json_t *driver_info;
	json_t *instance_info;
	json_t *properties;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	lb_config_init(&f->cfg);
	f->env.cfg = &f->cfg;
	f->env.api_url = API_URL;
	f->env.http_url = HTTP_URL;
	f->env.tftp_server = TFTP;
	f->driver_info = json_object();
	f->instance_info = json_object();
	f->properties = json_object();
	f->task.node_uuid = UUID;
	f->task.driver_info = f->driver_info;
	f->task.instance_info = f->instance_info;
	f->task.properties = f->properties;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->driver_info);
	json_decref(f->instance_info);
	json_decref(f->properties);
	lb_config_release(&f->cfg);
	free(f);
	return 0;
}

static void
assert_params(struct fixture *f, const char *req, const char *extra,
    const char *want)
{
	char *got = lb_boot_kernel_params(&f->env, &f->task, req, extra);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_params_default(void **state)
{
	struct fixture *f = *state;

	assert_params(f, REQ, NULL, PARAMS);
}

static void
test_params_override(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("console=ttyS0"));
	assert_params(f, REQ, NULL, BASE " console=ttyS0 ipa-api-url=" API_URL
	    " ipa-global-request-id=" REQ);
}

static void
test_params_default_expanded(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("%default% console=ttyS0 %default%"));
	assert_params(f, NULL, NULL, BASE " nofb vga=normal console=ttyS0 "
	    "nofb vga=normal ipa-api-url=" API_URL);
}

static void
test_params_default_of_config(void **state)
{
	struct fixture *f = *state;

	free(f->cfg.pxe_kernel_append_params);
	f->cfg.pxe_kernel_append_params = strdup("quiet");
	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("console=ttyS0 %default%"));
	assert_params(f, NULL, NULL, BASE " console=ttyS0 quiet ipa-api-url="
	    API_URL);
}

static void
test_params_debug(void **state)
{
	struct fixture *f = *state;

	f->cfg.debug = true;
	assert_params(f, REQ, NULL, BASE " nofb vga=normal ipa-debug=1 "
	    "ipa-api-url=" API_URL " ipa-global-request-id=" REQ);
}

static void
test_params_instance_info_wins(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("from_driver_info"));
	json_object_set_new(f->instance_info, "kernel_append_params",
	    json_string("from_instance_info"));
	assert_params(f, NULL, NULL, BASE " from_instance_info ipa-api-url="
	    API_URL);
}

static void
test_params_empty_and_extra(void **state)
{
	struct fixture *f = *state;

	/* An empty override drops the default; blanks do not pile up. */
	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("  "));
	json_object_set_new(f->instance_info, "kernel_append_params",
	    json_integer(3));
	assert_params(f, "", " ipa-agent-token=abc ", BASE " ipa-api-url="
	    API_URL " ipa-agent-token=abc");
}

/* ---- boot mode ---- */

static void
test_boot_mode_string(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UNSET);
	json_object_set_new(f->properties, "capabilities",
	    json_string("secure_boot:true"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UNSET);
	json_object_set_new(f->properties, "capabilities",
	    json_string("boot_mode:bios"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_BIOS);
	json_object_set_new(f->properties, "capabilities",
	    json_string("secure_boot:false, boot_mode : BIOS ,x:y"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_BIOS);
	json_object_set_new(f->properties, "capabilities",
	    json_string("boot_mode:uefi"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UEFI);
	json_object_set_new(f->properties, "capabilities",
	    json_string("x:y, boot_mode: Uefi "));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UEFI);
	/* Neither bios nor uefi: served both, like an unset one. */
	json_object_set_new(f->properties, "capabilities",
	    json_string("not_boot_mode:bios,boot_mode:biosx"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UNSET);
}

static void
test_boot_mode_dict(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->properties, "capabilities",
	    json_pack("{s:s}", "boot_mode", "bios"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_BIOS);
	json_object_set_new(f->properties, "capabilities",
	    json_pack("{s:s}", "boot_mode", "uefi"));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UEFI);
	json_object_set_new(f->properties, "capabilities",
	    json_pack("{s:i}", "boot_mode", 1));
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UNSET);
	json_object_set_new(f->properties, "capabilities", json_object());
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UNSET);
	f->task.properties = NULL;
	assert_int_equal(lb_boot_mode_of(&f->task), LB_BOOT_MODE_UNSET);
}

/* ---- name and text checks ---- */

static void
test_names_and_text(void **state)
{
	(void)state;
	assert_true(lb_boot_name_is_safe("01-52-54-00-12-34-56"));
	assert_true(lb_boot_name_is_safe("52:54:00:12:34:56.conf"));
	assert_false(lb_boot_name_is_safe(""));
	assert_false(lb_boot_name_is_safe("."));
	assert_false(lb_boot_name_is_safe(".."));
	assert_false(lb_boot_name_is_safe("a/b"));
	assert_false(lb_boot_name_is_safe(NULL));
	assert_true(lb_boot_text_is_safe("nofb vga=normal", NULL));
	assert_false(lb_boot_text_is_safe("a\nkernel x", NULL));
	assert_false(lb_boot_text_is_safe("a\rb", NULL));
	assert_false(lb_boot_text_is_safe("a\tb", NULL));
	assert_false(lb_boot_text_is_safe("10.0.0.1,1", " ,"));
	assert_true(lb_boot_text_is_safe("10.0.0.1", " ,"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pxelinux_golden),
		cmocka_unit_test(test_pxelinux_http_golden),
		cmocka_unit_test(test_pxelinux_ipxe_golden),
		cmocka_unit_test(test_grub_golden),
		cmocka_unit_test(test_grub_master_golden),
		cmocka_unit_test(test_ipxe_golden),
		cmocka_unit_test(test_ipxe_timeout_golden),
		cmocka_unit_test(test_boot_ipxe_golden),
		cmocka_unit_test(test_dnsmasq_host_golden),
		cmocka_unit_test(test_dnsmasq_opts_pxe_golden),
		cmocka_unit_test(test_dnsmasq_opts_ipxe_golden),
		cmocka_unit_test_setup_teardown(test_params_default, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_params_override, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_params_default_expanded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_default_of_config,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_debug, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_params_instance_info_wins,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_empty_and_extra,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_mode_string, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_boot_mode_dict, setup,
		    teardown),
		cmocka_unit_test(test_names_and_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
