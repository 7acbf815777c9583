/*
 * config.h - lifeboat.conf: an oslo.config style INI file read once at start
 * (and by `lifeboatd -n`) on the main thread.  Option names are Ironic's
 * wherever Ironic has one.  After loading, struct lb_config is read-only and
 * may be shared by every thread.
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conductor/util/err.h"
#include "conductor/util/iface.h"
#include "conductor/util/log.h"

/* The longest soft power-off a rescue waits for, config and driver_info. */
#define LB_SOFT_OFF_TIMEOUT_MAX 3600

/* Longest line accepted, without its newline. */
#define LB_CONFIG_LINE_MAX 4096
/* Largest config file accepted. */
#define LB_CONFIG_FILE_MAX (1024 * 1024)

struct lb_strlist {
	char **items;
	size_t n;
};

/*
 * The hardware type and interface names lb_config_check() accepts.  They
 * live in the driver registries, above this layer, so the caller passes
 * them in (lb_hwtype_config_names()); a NULL list is not checked.
 */
struct lb_config_names {
	const char *const *hardware_types;
	const char *const *interfaces[LB_IFACE_COUNT];
	/* The IPMI driver's parser of [ipmi] workarounds (NULL: unchecked):
	 * 0, or -EINVAL with the reason in 'why'. */
	int (*ipmi_workarounds)(const char *value, char *why, size_t size);
};

/*
 * [pxe] pxelinux_fetch: how a BIOS `pxe` node's pxelinux gets the kernel
 * and ramdisk: by their TFTP paths, by http_url (they are then staged
 * below http_root), or by booting iPXE (ipxe_kernel_name) which fetches
 * them from http_url with its own NIC driver.
 */
enum lb_pxelinux_fetch {
	LB_PXELINUX_FETCH_AUTO,		/* http for lpxelinux.0, else tftp */
	LB_PXELINUX_FETCH_TFTP,
	LB_PXELINUX_FETCH_HTTP,
	LB_PXELINUX_FETCH_IPXE,
};

/* [deploy] default_boot_mode, the index into its allowed values. */
enum lb_default_boot_mode {
	LB_DEFAULT_BOOT_UEFI = 0,
	LB_DEFAULT_BOOT_BIOS = 1,
};

struct lb_config {
	/* [DEFAULT] */
	char *host;
	char *state_path;
	int hash_partition_exponent;	/* 2^this ring points a conductor */
	int hash_ring_reset_interval;	/* seconds between ring rebuilds */
	bool debug;			/* true forces log_level to debug */
	enum lb_log_level log_level;
	char *auth_strategy;		/* "noauth" or "http_basic" */
	char *http_basic_auth_user_file;
	int graceful_shutdown_timeout;	/* seconds, 0: for ever */
	struct lb_strlist enabled_hardware_types;
	/* enabled_<kind>_interfaces, the first is preferred */
	struct lb_strlist enabled_interfaces[LB_IFACE_COUNT];
	/* default_<kind>_interface, NULL: the hardware type's choice */
	char *default_interface[LB_IFACE_COUNT];

	/* [api] */
	char *api_host_ip;		/* host_ip */
	int api_port;			/* port */
	int api_workers;		/* api_workers, 0: one per CPU */
	int api_max_limit;		/* max_limit */
	char *api_public_endpoint;	/* public_endpoint, NULL: from Host */
	bool api_restrict_lookup;	/* restrict_lookup */
	int api_ramdisk_heartbeat_timeout; /* ramdisk_heartbeat_timeout */
	int api_max_conns_per_ip;	/* max_connections_per_ip, 0: no limit */
	int api_head_timeout;		/* request_head_timeout, seconds */

	/* [metrics] */
	char *metrics_host_ip;		/* host_ip */
	int metrics_port;		/* port, 0: no listener */

	/* [oslo_middleware] */
	long max_request_body_size;

	/* [database] */
	char *database_connection;	/* connection, NULL: SQLite in state_path */

	/* [conductor] */
	bool allow_deleting_available_nodes;
	int workers_pool_size;
	char *conductor_group;		/* NULL: the default group "" */
	int heartbeat_interval;
	int heartbeat_timeout;
	int sync_power_state_interval;	/* 0 disables */
	int power_state_sync_max_retries;
	int power_failure_recovery_interval; /* 0 disables */
	int power_state_change_timeout;
	int rescue_callback_timeout;	/* 0 disables */
	int rescue_soft_power_off_timeout; /* 0: hard power-off at once */
	int check_rescue_state_interval;
	char *rescue_password_hash_algorithm; /* "sha256" or "sha512" */
	char *rescue_kernel;
	char *rescue_ramdisk;
	struct lb_strlist file_url_allowed_paths; /* file_url_allowed_paths */
	bool node_history;
	int node_history_max_entries;	/* 0 disables the purge */
	int node_history_cleanup_interval; /* seconds, 0 disables */
	int node_history_cleanup_batch_count; /* 0 disables the purge */
	int node_history_minimum_days;

	/* [console] */
	bool console_capture_during_rescue;
	int console_capture_error_lines;
	char *console_port_range;	/* port_range "START:STOP", NULL: none */
	char *console_socat_address;	/* socat_address: an IP address */
	int console_terminal_timeout;	/* terminal_timeout, 0: never */
	int console_subprocess_timeout;	/* subprocess_timeout, seconds */
	long console_capture_max_size;	/* capture_max_size, bytes */

	/* [ipmi] */
	int ipmi_min_command_interval;	/* min_command_interval */
	int ipmi_max_concurrent_per_bmc; /* max_concurrent_per_bmc (lifeboat) */
	int ipmi_command_retry_timeout;	/* command_retry_timeout */
	char *ipmi_workarounds;		/* workarounds (lifeboat), NULL: none */
	/* [redfish] BMC spacing, next to [ipmi]'s (the table keeps them in
	 * its [redfish] rows) */
	double redfish_min_command_interval; /* min_command_interval */
	int redfish_max_concurrent_per_bmc; /* max_concurrent_per_bmc */

	/* [pxe] */
	char *pxe_tftp_root;		/* tftp_root */
	char *pxe_tftp_server;		/* tftp_server, NULL: [api] host_ip */
	char *pxe_kernel_append_params;	/* kernel_append_params */
	char *pxe_bootfile_name;	/* pxe_bootfile_name */
	char *pxe_uefi_bootfile_name;	/* uefi_pxe_bootfile_name */
	char *pxe_ipxe_bootfile_name;	/* ipxe_bootfile_name */
	char *pxe_uefi_ipxe_bootfile_name; /* uefi_ipxe_bootfile_name */
	int pxe_ipxe_timeout;		/* ipxe_timeout, seconds */
	enum lb_pxelinux_fetch pxe_pxelinux_fetch; /* pxelinux_fetch (lifeboat) */
	char *pxe_ipxe_kernel_name;	/* ipxe_kernel_name (lifeboat) */
	char *pxe_image_cache;		/* image_cache_path, NULL: state_path */
	int pxe_image_cache_size;	/* image_cache_size, MiB, 0: none */
	int pxe_image_cache_ttl;	/* image_cache_ttl, minutes, 0: none */

	/* [deploy] */
	char *deploy_http_root;		/* http_root */
	char *deploy_http_url;		/* http_url, NULL: host_ip:8088 */
	char *deploy_external_http_url;	/* external_http_url, NULL: http_url */
	int deploy_http_max_conns_per_ip; /* http_max_connections_per_ip */
	int deploy_http_head_timeout;	/* http_request_head_timeout */
	enum lb_default_boot_mode deploy_default_boot_mode; /* default_boot_mode */

	/* [dhcp], [dnsmasq] */
	char *dhcp_provider;		/* none or dnsmasq */
	char *dnsmasq_hostsdir;		/* dhcp_hostsdir */
	char *dnsmasq_optsdir;		/* dhcp_optsdir */

	/* [switch] */
	char *switch_rescuing_network;	/* rescuing_network: a VLAN ID */
	char *switch_backend;		/* backend: linux-bridge */

	/* [agent] */
	bool agent_require_tls;		/* require_tls */
	int agent_command_timeout;	/* command_timeout */
	int agent_max_command_attempts;	/* max_command_attempts */
	char *agent_certificates_path;	/* certificates_path */

	/* [conductor] again: where ramdisks reach the API */
	char *conductor_api_url;	/* api_url, NULL: from [api] */
	char *conductor_rpc_url;	/* rpc_url, NULL: as api_url */

	/* [redfish] */
	char *redfish_iso_builder;	/* iso_builder: ramdisk/mkiso */
	char *redfish_auth_type;	/* auth_type: basic, session or auto */
	int redfish_connection_attempts; /* connection_attempts */
	int redfish_connection_retry_interval; /* connection_retry_interval */
};

/*
 * Fills 'cfg' with every default.  Runs at start-up only, so it aborts if
 * memory runs out rather than hand back a half-filled config.
 */
void lb_config_init(struct lb_config *cfg);
/* Frees everything 'cfg' holds; 'cfg' may then be initialised again. */
void lb_config_release(struct lb_config *cfg);

/*
 * Parses a config file (or a buffer named 'name' in messages) over the values
 * already in 'cfg'.  Every problem is collected, one line each,
 * "NAME:LINE: message"; the values of options whose names hold "password",
 * "secret" or "token" (and of [database] connection) never appear in them.
 * A repeated option is not a problem: the last one wins.
 *
 * Returns 0, or -EINVAL with err->msg holding the first problem and, if
 * 'ret_problems' is not NULL, *ret_problems holding all of them (malloc'd,
 * newline-separated, the caller frees); -ENOENT, -EACCES, ... when the file
 * cannot be read (one problem, likewise); -ENOMEM.  On failure 'cfg' is left
 * as it was.  On success *ret_problems is set to NULL.
 */
int lb_config_load_file(struct lb_config *cfg, const char *path,
    char **ret_problems, struct lb_err *err);
int lb_config_load_buffer(struct lb_config *cfg, const char *name,
    const char *buf, size_t len, char **ret_problems, struct lb_err *err);

/*
 * Checks that need several options or the file system: the http_basic user
 * file is readable, enabled lists are not empty and name only known hardware
 * types and interfaces, each default_<kind>_interface is enabled.  Problems
 * are reported as by lb_config_load_buffer(), as "[section] option: message".
 */
int lb_config_check(const struct lb_config *cfg,
    const struct lb_config_names *names, char **ret_problems,
    struct lb_err *err);

/*
 * The effective database URL: [database] connection, or
 * sqlite:///<state_path>/lifeboat.sqlite written into 'buf'.  Returns NULL if
 * 'buf' is too small.
 */
const char *lb_config_database_connection(const struct lb_config *cfg,
    char *buf, size_t size);

/*
 * [console] port_range "START:STOP" (STOP excluded): 0, -EINVAL if it is
 * not two numbers with a colon between, -ERANGE unless 1 <= START < STOP
 * <= 65536.  The one parser of that option: the config check and the
 * console driver both call it.
 */
int lb_config_port_range(const char *value, unsigned int *ret_start,
    unsigned int *ret_stop);

/*
 * Writes etc/lifeboat.conf.example: every option grouped by section with its
 * help and its default, commented out ("#port = 6385").  Returns 0 or -EIO.
 */
int lb_config_write_example(FILE *out);

#endif
