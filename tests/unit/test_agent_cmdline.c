/*
 * test_agent_cmdline.c - the rescue agent's kernel command line: IPA's
 * keys and defaults, BOOTIF forms, ipa-api-url lists, quoting, bad values;
 * and the URL parser ipa-api-url goes through.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ramdisk/agent_cmdline.h"
#include "ramdisk/agent_http.h"
#include "conductor/util/banned.h"

static void
test_defaults(void **state)
{
	struct ra_cmdline c;
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(ra_cmdline_parse("BOOT_IMAGE=/vmlinuz nofb "
	    "ipa-api-url=http://192.0.2.1:6385\n", &c, &err), 0);
	assert_string_equal(c.api_url, "http://192.0.2.1:6385");
	assert_string_equal(c.bootif, "");
	assert_false(c.bootif_unusable);
	assert_null(c.agent_token);
	assert_null(c.global_request_id);
	assert_null(c.listen_host);
	assert_null(c.advertise_host);
	assert_int_equal(c.listen_port, 9999);
	assert_int_equal(c.advertise_port, -1);
	assert_string_equal(c.advertise_protocol, "http");
	assert_true(c.lookup_timeout == 600);
	assert_true(c.lookup_interval == 1);
	assert_int_equal(c.api_minor, 0);
	assert_false(c.insecure);
	assert_false(c.debug);
	assert_true(c.auto_tls);
	assert_null(c.boot_method);
	ra_cmdline_release(&c);
}

static void
test_everything(void **state)
{
	struct ra_cmdline c;
	struct lb_err err = { "" };
	const char *text = "selinux=0 troubleshoot=0 text nofb vga=normal "
	    "ipa-debug=1 ipa-api-url=https://ironic.example:6385/baremetal "
	    "ipa-global-request-id=req-3b9f2a43-1a04-4a84-9a3c-0d5b5f4f1d11 "
	    "BOOTIF=01-52-54-00-AB-cd-0E ipa-agent-token=Y4aOHahPC8aA9WKKXGF"
	    "roPBw9WS4Yg9-l02smy6qan8 ipa-listen-port=19999 "
	    "ipa-advertise-port=443 ipa-advertise-host=192.0.2.10 "
	    "ipa-advertise-protocol=https ipa-lookup-timeout=30.5 "
	    "ipa-lookup-interval=0.25 ipa-ironic-api-version=1.68 "
	    "ipa-insecure=true ipa-listen-host=::1 boot_method=vmedia "
	    "ipa-enable-auto-tls=0";

	(void)state;
	assert_int_equal(ra_cmdline_parse(text, &c, &err), 0);
	assert_string_equal(c.api_url, "https://ironic.example:6385/baremetal");
	assert_string_equal(c.bootif, "52:54:00:ab:cd:0e");
	assert_string_equal(c.agent_token,
	    "Y4aOHahPC8aA9WKKXGFroPBw9WS4Yg9-l02smy6qan8");
	assert_string_equal(c.global_request_id,
	    "req-3b9f2a43-1a04-4a84-9a3c-0d5b5f4f1d11");
	assert_int_equal(c.listen_port, 19999);
	assert_int_equal(c.advertise_port, 443);
	assert_string_equal(c.advertise_host, "192.0.2.10");
	assert_string_equal(c.advertise_protocol, "https");
	assert_true(c.lookup_timeout == 30.5);
	assert_true(c.lookup_interval == 0.25);
	assert_int_equal(c.api_minor, 68);
	assert_true(c.insecure);
	assert_true(c.debug);
	assert_false(c.auto_tls);
	assert_string_equal(c.listen_host, "::1");
	assert_string_equal(c.boot_method, "vmedia");
	ra_cmdline_release(&c);
}

static void
test_quotes_duplicates_underscores(void **state)
{
	struct ra_cmdline c;
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(ra_cmdline_parse("foo=\"a b c\" "
	    "ipa-api-url=http://10.0.0.1 \"ipa_api_url=http://10.0.0.2:80\" "
	    "BOOTIF=52:54:00:00:00:01 BOOTIF=52-54-00-00-00-02 ipa-debug "
	    "ipa_lookup_timeout=\"5\"", &c, &err), 0);
	/* Later wins, as in IPA's dict of parameters. */
	assert_string_equal(c.api_url, "http://10.0.0.2:80");
	assert_string_equal(c.bootif, "52:54:00:00:00:02");
	assert_true(c.debug);		/* a bare flag is true */
	assert_true(c.lookup_timeout == 5);
	ra_cmdline_release(&c);
}

static void
test_api_url_list(void **state)
{
	struct ra_cmdline c;
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(ra_cmdline_parse("ipa-api-url=mdns,ftp://x/,"
	    "http://[2001:db8::1]:6385,http://10.0.0.9", &c, &err), 0);
	assert_string_equal(c.api_url, "http://[2001:db8::1]:6385");
	assert_int_equal(c.skipped_urls, 2);
	ra_cmdline_release(&c);

	assert_int_equal(ra_cmdline_parse("ipa-api-url=mdns", &c, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "ipa-api-url: no usable http:// or "
	    "https:// URL in 'mdns'");
	assert_int_equal(ra_cmdline_parse("root=/dev/ram0 quiet", &c, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "ipa-api-url is missing from the kernel "
	    "command line");
}

static void
test_bad_values(void **state)
{
	struct ra_cmdline c;
	struct lb_err err = { "" };
	const char *base = "ipa-api-url=http://10.0.0.1 ";
	char text[512];
	static const struct {
		const char *arg;
		const char *msg;
	} cases[] = {
		{ "ipa-listen-port=99999", "ipa-listen-port: '99999' is not a "
		    "number from 0 to 65535" },
		{ "ipa-advertise-port=0", "ipa-advertise-port: '0' is not a "
		    "number from 1 to 65535" },
		{ "ipa-lookup-timeout=soon", "ipa-lookup-timeout: 'soon' is "
		    "not a number of seconds" },
		{ "ipa-lookup-interval=0", "ipa-lookup-interval: '0' is not a "
		    "number of seconds" },
		{ "ipa-ironic-api-version=2.0", "ipa-ironic-api-version: '2.0' "
		    "is not a version like 1.68" },
		{ "ipa-advertise-protocol=ftp", "ipa-advertise-protocol: 'ftp' "
		    "is neither http nor https" },
		{ "ipa-advertise-host=a/b", "ipa-advertise-host: 'a/b' is not "
		    "a host name or address" },
		{ "ipa-global-request-id=req/x", "ipa-global-request-id: "
		    "'req/x' is not a request id" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base, cases[i].arg);
		err.msg[0] = '\0';
		assert_int_equal(ra_cmdline_parse(text, &c, &err), -EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
	}
	/* A bad token is refused without being quoted. */
	assert_int_equal(ra_cmdline_parse("ipa-api-url=http://10.0.0.1 "
	    "\"ipa-agent-token=sec ret\"", &c, &err), -EINVAL);
	assert_null(strstr(err.msg, "sec"));
}

static void
test_bootif(void **state)
{
	struct ra_cmdline c;
	struct lb_err err = { "" };
	char mac[RA_MAC_LEN];

	(void)state;
	assert_int_equal(ra_mac_normalize("01-aa-bb-cc-dd-ee-ff", mac), 0);
	assert_string_equal(mac, "aa:bb:cc:dd:ee:ff");
	assert_int_equal(ra_mac_normalize("AA:BB:CC:DD:EE:0F", mac), 0);
	assert_string_equal(mac, "aa:bb:cc:dd:ee:0f");
	assert_int_equal(ra_mac_normalize("aa-bb-cc-dd-ee-ff", mac), 0);
	assert_int_equal(ra_mac_normalize("aa:bb-cc:dd:ee:ff", mac), -EINVAL);
	assert_int_equal(ra_mac_normalize("aa:bb:cc:dd:ee", mac), -EINVAL);
	assert_int_equal(ra_mac_normalize("gg:bb:cc:dd:ee:ff", mac), -EINVAL);
	/* InfiniBand (20-...) is not Ethernet. */
	assert_int_equal(ra_mac_normalize("20-aa-bb-cc-dd-ee-ff", mac),
	    -EINVAL);

	assert_int_equal(ra_cmdline_parse("ipa-api-url=http://10.0.0.1 "
	    "BOOTIF=20-80-00-02-08-fe-80-00-00-00-00-00-00-00-02-c9-03-00-0f",
	    &c, &err), 0);
	assert_string_equal(c.bootif, "");
	assert_true(c.bootif_unusable);
	ra_cmdline_release(&c);
}

static void
test_url_parse(void **state)
{
	struct ra_url u;
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(ra_url_parse("http://10.0.0.1", &u, &err), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "10.0.0.1");
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "");
	assert_int_equal(ra_url_parse("HTTPS://h.example/x/y?a=1#f", &u,
	    &err), 0);
	assert_true(u.tls);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/x/y?a=1");
	assert_int_equal(ra_url_parse("http://[fe80::1]:8080/", &u, &err), 0);
	assert_string_equal(u.host, "fe80::1");
	assert_int_equal(u.port, 8080);
	assert_int_equal(ra_url_parse("http://h?q", &u, &err), 0);
	assert_string_equal(u.path, "/?q");

	assert_int_equal(ra_url_parse("ftp://h", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://u:p@h/", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://h:0", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://h:65536", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://h:", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://[zz]/", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://h/a b", &u, &err), -EINVAL);
	assert_int_equal(ra_url_parse("http://h\r\nX: y/", &u, &err),
	    -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_quotes_duplicates_underscores),
		cmocka_unit_test(test_api_url_list),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bootif),
		cmocka_unit_test(test_url_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
