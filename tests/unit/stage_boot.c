/*
 * stage_boot.c - a test helper, not a test: runs the pxe or ipxe boot
 * interface's prepare_ramdisk or clean_up_ramdisk for one node from the
 * command line, so flow tests (tests/flow/test_tftp.py) can serve what it
 * stages with real tftp-hpa and dnsmasq.  Single-threaded.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/boot_pxe.h"
#include "conductor/util/config.h"
#include "conductor/util/banned.h"

#define MAX_MACS 16

static void
usage(void)
{
	fprintf(stderr, "usage: stage_boot prepare|clean --iface pxe|ipxe "
	    "--uuid UUID --mac MAC [--mac MAC...]\n"
	    "  [--tftp-root DIR] [--http-root DIR] [--kernel FILE] "
	    "[--ramdisk FILE] [--bios | --uefi]\n"
	    "  [--default-boot-mode uefi|bios]\n"
	    "  [--api-url URL] [--http-url URL] [--tftp-server ADDR] "
	    "[--request-id ID]\n"
	    "  [--append PARAMS] [--ipxe-timeout S] [--debug]\n"
	    "  [--hostsdir DIR --optsdir DIR]   (dhcp_provider dnsmasq)\n"
	    "  [--tenant-dhcp]   (clean: a tenant DHCP serves the node next)\n");
	exit(2);
}

static void
set_str(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	if (*field == NULL) {
		fprintf(stderr, "stage_boot: out of memory\n");
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "mac", required_argument, NULL, 'm' },
		{ "tftp-root", required_argument, NULL, 't' },
		{ "http-root", required_argument, NULL, 'H' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "ramdisk", required_argument, NULL, 'r' },
		{ "bios", no_argument, NULL, 'b' },
		{ "uefi", no_argument, NULL, 'e' },
		{ "default-boot-mode", required_argument, NULL, 'D' },
		{ "api-url", required_argument, NULL, 'a' },
		{ "http-url", required_argument, NULL, 'U' },
		{ "tftp-server", required_argument, NULL, 's' },
		{ "request-id", required_argument, NULL, 'q' },
		{ "append", required_argument, NULL, 'p' },
		{ "ipxe-timeout", required_argument, NULL, 'T' },
		{ "debug", no_argument, NULL, 'd' },
		{ "hostsdir", required_argument, NULL, 'h' },
		{ "optsdir", required_argument, NULL, 'o' },
		{ "tenant-dhcp", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	const char *macs[MAX_MACS], *iface = NULL, *request_id = NULL;
	const struct lb_boot_ops *ops;
	struct lb_boot_images images = { NULL, NULL, NULL };
	struct lb_boot_env env = { .api_url = "http://127.0.0.1:6385",
	    .http_url = "http://127.0.0.1:8088", .tftp_server = "127.0.0.1" };
	struct lb_task task;
	struct lb_config cfg;
	struct lb_err err = { "" };
	json_t *driver_info, *properties, *instance_info;
	bool prepare;
	size_t nmacs = 0;
	int c, r;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "prepare") == 0)
		prepare = true;
	else if (strcmp(argv[1], "clean") == 0)
		prepare = false;
	else
		usage();
	lb_config_init(&cfg);
	memset(&task, 0, sizeof(task));
	driver_info = json_object();
	properties = json_object();
	instance_info = json_object();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			iface = optarg;
			break;
		case 'u':
			task.node_uuid = optarg;
			break;
		case 'm':
			if (nmacs == MAX_MACS)
				usage();
			macs[nmacs++] = optarg;
			break;
		case 't':
			set_str(&cfg.pxe_tftp_root, optarg);
			break;
		case 'H':
			set_str(&cfg.deploy_http_root, optarg);
			break;
		case 'k':
			images.kernel = optarg;
			break;
		case 'r':
			images.ramdisk = optarg;
			break;
		case 'b':
			json_object_set_new(properties, "capabilities",
			    json_string("boot_mode:bios"));
			break;
		case 'e':
			json_object_set_new(properties, "capabilities",
			    json_string("boot_mode:uefi"));
			break;
		case 'D':
			if (strcmp(optarg, "bios") == 0)
				cfg.deploy_default_boot_mode =
				    LB_DEFAULT_BOOT_BIOS;
			else if (strcmp(optarg, "uefi") == 0)
				cfg.deploy_default_boot_mode =
				    LB_DEFAULT_BOOT_UEFI;
			else
				usage();
			break;
		case 'a':
			env.api_url = optarg;
			break;
		case 'U':
			env.http_url = optarg;
			break;
		case 's':
			env.tftp_server = optarg;
			break;
		case 'q':
			request_id = optarg;
			break;
		case 'p':
			json_object_set_new(driver_info,
			    "kernel_append_params", json_string(optarg));
			break;
		case 'T':
			cfg.pxe_ipxe_timeout = (int)strtol(optarg, NULL, 10);
			break;
		case 'd':
			cfg.debug = true;
			break;
		case 'h':
			set_str(&cfg.dnsmasq_hostsdir, optarg);
			set_str(&cfg.dhcp_provider, "dnsmasq");
			break;
		case 'o':
			set_str(&cfg.dnsmasq_optsdir, optarg);
			set_str(&cfg.dhcp_provider, "dnsmasq");
			break;
		case 'N':
			env.tenant_dhcp = true;
			break;
		default:
			usage();
		}
	}
	if (iface == NULL || optind != argc)
		usage();
	if (strcmp(iface, "pxe") == 0)
		ops = &lb_boot_pxe;
	else if (strcmp(iface, "ipxe") == 0)
		ops = &lb_boot_ipxe;
	else
		usage();

	env.cfg = &cfg;
	task.driver = "stage_boot";
	task.driver_info = driver_info;
	task.instance_info = instance_info;
	task.properties = properties;
	task.port_macs = macs;
	task.nports = nmacs;
	if (prepare)
		r = ops->prepare_ramdisk(&env, &task, &images, request_id, NULL,
		    &err);
	else
		r = ops->clean_up_ramdisk(&env, &task, &err);
	if (r < 0)
		fprintf(stderr, "stage_boot: %s\n", err.msg);
	json_decref(driver_info);
	json_decref(properties);
	json_decref(instance_info);
	lb_config_release(&cfg);
	return r < 0 ? 1 : 0;
}
