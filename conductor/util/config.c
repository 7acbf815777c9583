/*
 * config.c - the option table, one row per option with its type, default,
 * help text and checks, and the example-file writer it drives.  The parser
 * (config_parse.c) and the checker (config_check.c) follow the same table.
 * Main thread, at start-up; struct lb_config is read-only afterwards.
 */
#include "conductor/util/config_internal.h"
#include "conductor/util/dburl.h"
#include "conductor/util/ownfile.h"
#include "conductor/util/httpurl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/util/banned.h"

static int validate_host(const char *value, char *why, size_t size);
static int validate_conductor_group(const char *value, char *why,
    size_t size);
static int validate_http_url(const char *value, char *why, size_t size);
static int validate_served_url(const char *value, char *why, size_t size);
static int validate_db_url(const char *value, char *why, size_t size);
static int validate_port_range(const char *value, char *why, size_t size);
static int validate_ip(const char *value, char *why, size_t size);
static char *default_hostname(void);
static char *default_iso_builder(void);

static const char *const log_levels[] = {
	"debug", "info", "warning", "error", NULL
};
_Static_assert(LB_LOG_DEBUG == 0 && LB_LOG_INFO == 1 &&
    LB_LOG_WARNING == 2 && LB_LOG_ERROR == 3, "log_levels[] order");
static const char *const auth_strategies[] = { "noauth", "http_basic", NULL };
static const char *const hash_algorithms[] = { "sha256", "sha512", NULL };
static const char *const boot_modes[] = { "uefi", "bios", NULL };
_Static_assert(LB_DEFAULT_BOOT_UEFI == 0 && LB_DEFAULT_BOOT_BIOS == 1,
    "boot_modes[] order");
static const char *const dhcp_providers[] = { "none", "dnsmasq", NULL };
static const char *const pxelinux_fetch_modes[] = {
	"auto", "tftp", "http", "ipxe", NULL
};
_Static_assert(LB_PXELINUX_FETCH_AUTO == 0 && LB_PXELINUX_FETCH_TFTP == 1 &&
    LB_PXELINUX_FETCH_HTTP == 2 && LB_PXELINUX_FETCH_IPXE == 3,
    "pxelinux_fetch_modes[] order");
static const char *const switch_backends[] = {
	"linux-bridge", "linux-bridge-per-vlan", NULL
};
static const char *const redfish_auth_types[] = {
	"basic", "session", "auto", NULL
};

#define OPT(sec, nm, ty, field, dflt, hlp, ...)				\
	{ .section = sec, .name = nm, .type = CFG_##ty,			\
	  .offset = offsetof(struct lb_config, field), .def = dflt,	\
	  .help = hlp, __VA_ARGS__ }

#define IFACE(kind, k, enabled)						\
	OPT("DEFAULT", "enabled_" kind "_interfaces", LIST,		\
	    enabled_interfaces[k], enabled,				\
	    "Enabled " kind " interfaces, the first preferred when "	\
	    "neither the node nor default_" kind "_interface names "	\
	    "one."),							\
	OPT("DEFAULT", "default_" kind "_interface", STRING,		\
	    default_interface[k], NULL,					\
	    "The " kind " interface of new nodes that do not name one; "\
	    "it must be enabled.  Unset: the first enabled one that "	\
	    "the node's hardware type supports.")

static const struct cfg_option options[] = {
	OPT("DEFAULT", "host", STRING, host, NULL,
	    "Name of this conductor, as nodes and the API show it.  "
	    "Defaults to the machine's hostname.",
	    .compute_default = default_hostname, .sample = "localhost"),
	OPT("DEFAULT", "state_path", PATH, state_path, "/var/lib/lifeboat",
	    "Directory for lifeboat's state: the database, rendered boot "
	    "files and cached images."),
	OPT("DEFAULT", "hash_partition_exponent", INT,
	    hash_partition_exponent, "5",
	    "Each conductor has 2^exponent points on the hash ring that "
	    "maps nodes to conductors (Ironic's option; every conductor "
	    "sharing a database must use the same).", .min = 0, .max = 16),
	OPT("DEFAULT", "hash_ring_reset_interval", INT,
	    hash_ring_reset_interval, "15",
	    "Seconds between rebuilding the hash ring from the alive "
	    "conductors in the database.", .min = 1, .max = 86400),
	OPT("DEFAULT", "debug", BOOL, debug, "false",
	    "Log at debug level, whatever log_level says."),
	OPT("DEFAULT", "log_level", ENUM, log_level, "info",
	    "Lowest level of message logged.",
	    .allowed = log_levels, .flags = CFG_INDEX),
	OPT("DEFAULT", "auth_strategy", ENUM, auth_strategy, "noauth",
	    "How API clients authenticate: noauth (not at all) or "
	    "http_basic (HTTP basic authentication against "
	    "http_basic_auth_user_file).",
	    .allowed = auth_strategies),
	OPT("DEFAULT", "http_basic_auth_user_file", PATH,
	    http_basic_auth_user_file, "/etc/lifeboat/htpasswd",
	    "Apache htpasswd file with bcrypt entries (htpasswd -B) used "
	    "when auth_strategy is http_basic."),
	OPT("DEFAULT", "graceful_shutdown_timeout", INT,
	    graceful_shutdown_timeout, "60",
	    "Seconds SIGTERM or SIGINT waits for running jobs to end "
	    "before lifeboatd hands their nodes over to the next start and "
	    "exits 1; 0 waits for ever.", .min = 0, .max = 86400),
	OPT("DEFAULT", "enabled_hardware_types", LIST, enabled_hardware_types,
	    "ipmi,redfish,fake-hardware",
	    "Hardware types nodes may use."),
	IFACE("bios", LB_IFACE_BIOS, "no-bios,fake"),
	IFACE("boot", LB_IFACE_BOOT, "ipxe,pxe,redfish-virtual-media,fake"),
	IFACE("console", LB_IFACE_CONSOLE, "no-console,fake,ipmitool-socat"),
	IFACE("deploy", LB_IFACE_DEPLOY, "direct,fake"),
	IFACE("inspect", LB_IFACE_INSPECT, "no-inspect,fake"),
	IFACE("management", LB_IFACE_MANAGEMENT, "ipmitool,redfish,fake"),
	IFACE("network", LB_IFACE_NETWORK, "noop,flat,neutron,switch"),
	IFACE("power", LB_IFACE_POWER, "ipmitool,redfish,fake"),
	IFACE("raid", LB_IFACE_RAID, "no-raid,fake"),
	IFACE("rescue", LB_IFACE_RESCUE, "agent,no-rescue,fake"),
	IFACE("storage", LB_IFACE_STORAGE, "noop,fake"),
	IFACE("vendor", LB_IFACE_VENDOR, "no-vendor,fake"),

	OPT("api", "host_ip", STRING, api_host_ip, "127.0.0.1",
	    "IP address or host name the API listens on.",
	    .validate = validate_host),
	OPT("api", "port", INT, api_port, "6385",
	    "TCP port the API listens on.", .min = 1, .max = 65535),
	OPT("api", "api_workers", INT, api_workers, "0",
	    "Threads serving API requests; 0 means one per CPU.",
	    .min = 0, .max = 64),
	OPT("api", "max_limit", INT, api_max_limit, "1000",
	    "Most items one list request returns.", .min = 1, .max = 100000),
	OPT("api", "public_endpoint", STRING, api_public_endpoint, NULL,
	    "Base URL clients and agents reach the API at, such as "
	    "https://lifeboat.example.com:6385.  Unset: taken from each "
	    "request's Host header.",
	    .validate = validate_http_url),
	OPT("api", "restrict_lookup", BOOL, api_restrict_lookup, "true",
	    "Answer agent lookups only for nodes in a state that waits for "
	    "an agent."),
	OPT("api", "ramdisk_heartbeat_timeout", INT,
	    api_ramdisk_heartbeat_timeout, "300",
	    "Seconds after its last heartbeat that an agent is taken as "
	    "gone.", .min = 1, .max = 86400),
	OPT("api", "max_connections_per_ip", INT, api_max_conns_per_ip, "64",
	    "Most connections one client address may hold open to the API "
	    "at once (more are closed as they arrive); 0 means no limit.",
	    .min = 0, .max = 1000000),
	OPT("api", "request_head_timeout", INT, api_head_timeout, "10",
	    "Seconds a new API connection has to send its whole request "
	    "line and headers before it is closed.",
	    .min = 1, .max = 3600),

	OPT("metrics", "host_ip", STRING, metrics_host_ip, "127.0.0.1",
	    "IP address the Prometheus /metrics listener binds to.  It has "
	    "no authentication: bind it where only the scraper reaches.",
	    .validate = validate_ip),
	OPT("metrics", "port", INT, metrics_port, "0",
	    "TCP port of the Prometheus /metrics listener (text format "
	    "0.0.4); 0 means no listener.", .min = 0, .max = 65535),

	OPT("oslo_middleware", "max_request_body_size", SIZE,
	    max_request_body_size, "1048576",
	    "Largest request body accepted, in bytes (a K, M or G suffix "
	    "multiplies by 1024, 1024^2, 1024^3).",
	    .min = 1024, .max = 1024L * 1024 * 1024),

	OPT("database", "connection", STRING, database_connection, NULL,
	    "Database URL: sqlite:///PATH, PATH absolute (Ironic's "
	    "sqlite:////PATH names the same file); its directory is "
	    "created at start-up.  Or postgresql://USER:PASSWORD@HOST"
	    "[:PORT]/DB (?host=/socket/dir), when built with libpq.  "
	    "Unset: sqlite:///<state_path>/lifeboat.sqlite.",
	    .validate = validate_db_url, .flags = CFG_SECRET),

	OPT("conductor", "allow_deleting_available_nodes", BOOL,
	    allow_deleting_available_nodes, "true",
	    "Allow deleting nodes whose provision state is available."),
	OPT("conductor", "workers_pool_size", INT, workers_pool_size, "16",
	    "Worker threads running driver actions.", .min = 1, .max = 1024),
	OPT("conductor", "conductor_group", STRING, conductor_group, NULL,
	    "The conductor group this conductor serves (stored "
	    "lower-case): it manages only nodes of the same "
	    "conductor_group.  Letters, digits, '_', '-' and '.', at most "
	    "255.  Unset: the default group \"\".",
	    .validate = validate_conductor_group, .flags = CFG_LOWER,
	    .sample = "rack1"),
	OPT("conductor", "heartbeat_interval", INT, heartbeat_interval, "10",
	    "Seconds between this conductor's heartbeats: the updated_at of "
	    "its row in the conductors table.", .min = 1, .max = 3600),
	OPT("conductor", "heartbeat_timeout", INT, heartbeat_timeout, "60",
	    "Seconds after its last heartbeat a conductor is no longer "
	    "alive (conductor list) and manages no node (the node's "
	    "conductor field).", .min = 2, .max = 86400),
	OPT("conductor", "sync_power_state_interval", INT,
	    sync_power_state_interval, "60",
	    "Seconds between reading every node's power state from its "
	    "BMC; 0 disables.", .min = 0, .max = 86400),
	OPT("conductor", "power_state_sync_max_retries", INT,
	    power_state_sync_max_retries, "3",
	    "Consecutive failed power-state syncs a node may have; the "
	    "next one puts it into maintenance with fault \"power "
	    "failure\".", .min = 0, .max = 1000),
	OPT("conductor", "power_failure_recovery_interval", INT,
	    power_failure_recovery_interval, "300",
	    "Seconds between attempts to take nodes in maintenance with "
	    "fault \"power failure\" out of it once their BMC answers; 0 "
	    "disables.", .min = 0, .max = 86400),
	OPT("conductor", "power_state_change_timeout", INT,
	    power_state_change_timeout, "60",
	    "Seconds to wait for a node to reach a requested power state.",
	    .min = 2, .max = 3600),
	OPT("conductor", "rescue_callback_timeout", INT,
	    rescue_callback_timeout, "1800",
	    "Seconds to wait for the rescue ramdisk to call back before the "
	    "rescue fails; 0 disables.", .min = 0, .max = 604800),
	OPT("conductor", "rescue_soft_power_off_timeout", INT,
	    rescue_soft_power_off_timeout, "0",
	    "Seconds a rescue waits for a node that is on to shut down "
	    "after a soft power-off (ACPI) before it powers it off hard; 0 "
	    "powers off hard at once, as Ironic does.  A node's driver_info "
	    "rescue_soft_power_off_timeout overrides it.", .min = 0,
	    .max = LB_SOFT_OFF_TIMEOUT_MAX),
	OPT("conductor", "check_rescue_state_interval", INT,
	    check_rescue_state_interval, "60",
	    "Seconds between checks for rescues that timed out.",
	    .min = 1, .max = 86400),
	OPT("conductor", "rescue_password_hash_algorithm", ENUM,
	    rescue_password_hash_algorithm, "sha256",
	    "crypt(3) algorithm the rescue password is hashed with before "
	    "it is given to the agent.", .allowed = hash_algorithms),
	OPT("conductor", "rescue_kernel", STRING, rescue_kernel, NULL,
	    "Rescue kernel (image UUID, URL or file path) for nodes whose "
	    "driver_info has no rescue_kernel."),
	OPT("conductor", "rescue_ramdisk", STRING, rescue_ramdisk, NULL,
	    "Rescue ramdisk (image UUID, URL or file path) for nodes whose "
	    "driver_info has no rescue_ramdisk."),

	OPT("conductor", "node_history", BOOL, node_history, "true",
	    "Record node history events (every rescue and unrescue phase, "
	    "power actions, maintenance changes, failures); the purge still "
	    "runs when false."),
	OPT("conductor", "node_history_max_entries", INT,
	    node_history_max_entries, "300",
	    "History events kept per node by the purge; 0 disables the "
	    "purge (events are still recorded).", .min = 0, .max = 1000000),
	OPT("conductor", "node_history_cleanup_interval", INT,
	    node_history_cleanup_interval, "86400",
	    "Seconds between purges of node history; 0 disables.",
	    .min = 0, .max = 31536000),
	OPT("conductor", "node_history_cleanup_batch_count", INT,
	    node_history_cleanup_batch_count, "1000",
	    "History events one purge deletes at most (the node that "
	    "crosses it is purged whole); 0 disables the purge.",
	    .min = 0, .max = 1000000),
	OPT("conductor", "node_history_minimum_days", INT,
	    node_history_minimum_days, "0",
	    "Days a history event is kept whatever the count; such events "
	    "are not counted either.", .min = 0, .max = 36500),

	OPT("conductor", "file_url_allowed_paths", LIST,
	    file_url_allowed_paths,
	    "/var/lib/lifeboat,/usr/share/lifeboat,/srv/lifeboat",
	    "Directories file:// image hrefs may point into (anything else "
	    "is refused, so driver_info cannot publish arbitrary files over "
	    "TFTP or HTTP)."),

	OPT("console", "capture_during_rescue", BOOL,
	    console_capture_during_rescue, "true",
	    "Record what the node's console prints while it is rescuing "
	    "or in rescue wait (nodes whose console interface can, such "
	    "as ipmitool-socat), into state_path/console/<node>.log; a "
	    "failed rescue's last_error ends with its last lines."),
	OPT("console", "capture_error_lines", INT,
	    console_capture_error_lines, "10",
	    "Lines of the console capture a failed rescue's last_error "
	    "ends with; 0: none.", .min = 0, .max = 100),
	OPT("console", "port_range", STRING, console_port_range, NULL,
	    "TCP ports START:STOP (STOP excluded) the ipmitool-socat console "
	    "takes one from for each node whose driver_info has no "
	    "ipmi_terminal_port.  Unset: such nodes cannot have a console.",
	    .validate = validate_port_range),
	OPT("console", "socat_address", STRING, console_socat_address,
	    "127.0.0.1",
	    "IP address (IPv4 or IPv6) consoles listen on; clients connect "
	    "to the tcp://ADDRESS:PORT console show gives.  Ironic's default "
	    "is [DEFAULT] my_ip, which lifeboat does not have.",
	    .validate = validate_ip),
	OPT("console", "terminal_timeout", INT, console_terminal_timeout,
	    "600", "Seconds a console client may stay connected with no "
	    "byte moving either way before it is disconnected; 0: never.",
	    .min = 0, .max = 86400),
	OPT("console", "subprocess_timeout", INT, console_subprocess_timeout,
	    "10", "Seconds enabling a console waits for its Serial-over-LAN "
	    "session to come up (each reconnection attempt likewise).",
	    .min = 1, .max = 600),
	OPT("console", "capture_max_size", SIZE, console_capture_max_size,
	    "1048576", "Bytes a node's capture log grows to before it is "
	    "rotated to <node uuid>.log.1 (one old file is kept; a lifeboat "
	    "option).", .min = 4096, .max = 1024L * 1024 * 1024),

	OPT("ipmi", "min_command_interval", INT, ipmi_min_command_interval,
	    "5", "Least seconds between two IPMI commands to one BMC.",
	    .min = 0, .max = 60),
	OPT("ipmi", "max_concurrent_per_bmc", INT, ipmi_max_concurrent_per_bmc,
	    "1", "Most IPMI commands in flight to one BMC (a lifeboat "
	    "option).", .min = 1, .max = 16),
	OPT("ipmi", "command_retry_timeout", INT, ipmi_command_retry_timeout,
	    "60", "Seconds an unanswered IPMI command is retransmitted "
	    "before it fails, at most 9 s: a BMC silent for longer fails "
	    "the command (Ironic retries ipmitool for all of this time).",
	    .min = 1, .max = 3600),
	OPT("ipmi", "workarounds", STRING, ipmi_workarounds, NULL,
	    "FreeIPMI workaround flags for BMC bugs, comma-separated as "
	    "ipmipower and ipmiconsole -W take them (such as "
	    "opensesspriv,solpayloadsize), used by the IPMI power, "
	    "management and console sessions of nodes whose driver_info has "
	    "no ipmi_workarounds; a node's ipmi_workarounds replaces this "
	    "list, it does not add to it (none: no flag).  A lifeboat option."),

	OPT("conductor", "api_url", STRING, conductor_api_url, NULL,
	    "URL of this API as rescue ramdisks reach it (ipa-api-url).  "
	    "Unset: http://[api]host_ip:[api]port.",
	    .validate = validate_http_url),
	OPT("conductor", "rpc_url", STRING, conductor_rpc_url, NULL,
	    "URL of this API as the other conductors on the same database "
	    "reach it, to hand this conductor the requests for the nodes it "
	    "manages (a lifeboat option; Ironic's [json_rpc] carries these).  "
	    "Unset: [conductor] api_url, else http://[api]host_ip:[api]port.",
	    .validate = validate_http_url),

	OPT("pxe", "tftp_root", PATH, pxe_tftp_root, "/tftpboot",
	    "Directory tftp-hpa serves; per-node boot files go below it."),
	OPT("pxe", "tftp_server", STRING, pxe_tftp_server, NULL,
	    "Address of the TFTP server given to nodes over DHCP.  Unset: "
	    "[api]host_ip."),
	OPT("pxe", "kernel_append_params", STRING, pxe_kernel_append_params,
	    "nofb vga=normal",
	    "Kernel parameters for the rescue ramdisk; a node's driver_info "
	    "kernel_append_params overrides them (%default% expands to "
	    "these)."),
	OPT("pxe", "pxe_bootfile_name", STRING, pxe_bootfile_name,
	    "pxelinux.0", "Boot file for BIOS PXE clients."),
	OPT("pxe", "uefi_pxe_bootfile_name", STRING, pxe_uefi_bootfile_name,
	    "bootx64.efi", "Boot file for UEFI PXE clients."),
	OPT("pxe", "ipxe_bootfile_name", STRING, pxe_ipxe_bootfile_name,
	    "undionly.kpxe", "iPXE binary for BIOS PXE clients."),
	OPT("pxe", "uefi_ipxe_bootfile_name", STRING,
	    pxe_uefi_ipxe_bootfile_name, "snponly.efi",
	    "iPXE binary for UEFI PXE clients."),
	OPT("pxe", "ipxe_timeout", INT, pxe_ipxe_timeout, "0",
	    "Seconds iPXE waits for an HTTP transfer; 0: iPXE's default.",
	    .min = 0, .max = 3600),
	OPT("pxe", "pxelinux_fetch", ENUM, pxe_pxelinux_fetch, "auto",
	    "How BIOS nodes with the pxe boot interface fetch the rescue "
	    "kernel and ramdisk: tftp (pxelinux, from tftp_root), http "
	    "(pxelinux over HTTP: staged below [deploy] http_root and named "
	    "by [deploy] http_url in the pxelinux config, which needs an "
	    "HTTP-capable pxelinux such as lpxelinux.0), ipxe (pxelinux "
	    "boots ipxe_kernel_name, whose own NIC driver fetches them from "
	    "[deploy] http_url) or auto (http when pxe_bootfile_name is "
	    "lpxelinux.0 and [deploy] http_url is set, else tftp).  The "
	    "loader and its config always come over TFTP (a lifeboat "
	    "option).",
	    .allowed = pxelinux_fetch_modes, .flags = CFG_INDEX),
	OPT("pxe", "ipxe_kernel_name", STRING, pxe_ipxe_kernel_name,
	    "ipxe.lkrn",
	    "With pxelinux_fetch = ipxe: the iPXE build pxelinux loads as "
	    "a Linux kernel, relative to tftp_root (Debian's package ipxe "
	    "has /boot/ipxe.lkrn; a lifeboat option)."),
	OPT("pxe", "image_cache_path", PATH, pxe_image_cache, NULL,
	    "Where downloaded rescue images are cached (one copy per URL "
	    "and version, hard-linked into place).  Unset: "
	    "state_path/images.  Keep it on the file system of tftp_root "
	    "and http_root."),
	OPT("pxe", "image_cache_size", INT, pxe_image_cache_size, "20480",
	    "Most MiB the image cache may hold, copies in use included; "
	    "the least recently used copies that no staged node uses are "
	    "evicted beyond it.  0: no limit.", .min = 0, .max = 16777216),
	OPT("pxe", "image_cache_ttl", INT, pxe_image_cache_ttl, "10080",
	    "Minutes a cached image no staged node uses is kept after its "
	    "last use.  0: no limit.", .min = 0, .max = 5256000),

	OPT("deploy", "http_root", PATH, deploy_http_root, "/httpboot",
	    "Directory lifeboatd serves over HTTP for iPXE and virtual "
	    "media."),
	OPT("deploy", "http_url", STRING, deploy_http_url, NULL,
	    "URL nodes reach http_root at; lifeboatd serves it itself on "
	    "this URL's address and port.  Unset: no HTTP boot root (iPXE, "
	    "and virtual media without external_http_url, refuse to rescue).",
	    .validate = validate_served_url),
	OPT("deploy", "external_http_url", STRING, deploy_external_http_url,
	    NULL,
	    "URL BMCs fetch virtual media ISOs from, when they cannot reach "
	    "http_url (a management network); lifeboatd serves http_root's "
	    "redfish/ there too, on this URL's address and port.  Unset: "
	    "http_url.",
	    .validate = validate_served_url),
	OPT("deploy", "http_max_connections_per_ip", INT,
	    deploy_http_max_conns_per_ip, "64",
	    "Most connections one client address may hold open to the HTTP "
	    "boot root at once; 0 means no limit.",
	    .min = 0, .max = 1000000),
	OPT("deploy", "http_request_head_timeout", INT,
	    deploy_http_head_timeout, "10",
	    "Seconds a new HTTP boot root connection has to send its whole "
	    "request line and headers before it is closed.",
	    .min = 1, .max = 3600),
	OPT("deploy", "default_boot_mode", ENUM, deploy_default_boot_mode,
	    "uefi",
	    "Boot mode of nodes whose properties.capabilities has no "
	    "boot_mode: uefi or bios.  Their pxe and ipxe DHCP options "
	    "serve both modes by the client's architecture (option 93); "
	    "this one goes to clients that do not say theirs.",
	    .allowed = boot_modes, .flags = CFG_INDEX),

	OPT("dhcp", "dhcp_provider", ENUM, dhcp_provider, "none",
	    "none: DHCP is configured elsewhere; dnsmasq: lifeboat writes "
	    "per-node files into dnsmasq's dhcp-hostsdir and dhcp-optsdir.",
	    .allowed = dhcp_providers),
	OPT("dnsmasq", "dhcp_hostsdir", PATH, dnsmasq_hostsdir,
	    "/etc/dnsmasq.d/hostsdir.d", "dnsmasq's dhcp-hostsdir."),
	OPT("dnsmasq", "dhcp_optsdir", PATH, dnsmasq_optsdir,
	    "/etc/dnsmasq.d/optsdir.d", "dnsmasq's dhcp-optsdir."),

	OPT("switch", "rescuing_network", STRING, switch_rescuing_network,
	    NULL, "VLAN ID the `switch` network interface moves a node's "
	    "switch ports to while it boots the rescue ramdisk, unless the "
	    "node's driver_info rescuing_network names one."),
	OPT("switch", "backend", ENUM, switch_backend, "linux-bridge",
	    "How the `switch` network interface drives switches: "
	    "linux-bridge (a VLAN-filtering Linux bridge on this host; "
	    "local_link_connection switch_info names the bridge and port_id "
	    "its port) or linux-bridge-per-vlan (one bridge per VLAN, named "
	    "<switch_info>v<VLAN>, for kernels without bridge VLAN "
	    "filtering; the port moves between them).",
	    .allowed = switch_backends),

	OPT("agent", "require_tls", BOOL, agent_require_tls, "false",
	    "Refuse agents that call back over plain http://."),
	OPT("agent", "command_timeout", INT, agent_command_timeout, "60",
	    "Seconds one call to a rescue agent may take.",
	    .min = 1, .max = 3600),
	OPT("agent", "max_command_attempts", INT, agent_max_command_attempts,
	    "3", "Attempts of an agent call that cannot connect.",
	    .min = 1, .max = 20),
	OPT("agent", "certificates_path", PATH, agent_certificates_path, NULL,
	    "Where agents' TLS certificates are kept.  Unset: "
	    "state_path/certificates."),

	OPT("redfish", "iso_builder", PATH, redfish_iso_builder, NULL,
	    "The program that builds rescue ISOs for virtual media "
	    "(lifeboat's ramdisk/mkiso), run as BUILDER KERNEL INITRD "
	    "OUT.iso --append-file - with the kernel parameters (and the "
	    "agent token) on its standard input.  Unset: the mkiso of the "
	    "tree this lifeboatd runs from, found from its own location "
	    "(installed: <prefix>/lib/lifeboat/mkiso; the build tree: "
	    "build/ramdisk/mkiso); lifeboatd --help shows it.",
	    .compute_default = default_iso_builder,
	    .sample = "/usr/lib/lifeboat/mkiso"),
	OPT("redfish", "auth_type", ENUM, redfish_auth_type, "auto",
	    "Redfish authentication: basic, session, or auto (session, "
	    "falling back to basic).", .allowed = redfish_auth_types),
	OPT("redfish", "connection_attempts", INT,
	    redfish_connection_attempts, "5",
	    "Attempts of an idempotent Redfish request (GET) whose "
	    "connection dropped, that got no answer or a 5xx, within the "
	    "call's time ([conductor] power_state_change_timeout).",
	    .min = 1, .max = 100),
	OPT("redfish", "connection_retry_interval", INT,
	    redfish_connection_retry_interval, "4",
	    "Seconds between attempts of an idempotent Redfish request.",
	    .min = 1, .max = 600),
	OPT("redfish", "min_command_interval", FLOAT,
	    redfish_min_command_interval, "0",
	    "Least seconds (a fraction allowed) between two Redfish calls "
	    "to one BMC (a lifeboat option).", .min = 0, .max = 60),
	OPT("redfish", "max_concurrent_per_bmc", INT,
	    redfish_max_concurrent_per_bmc, "4",
	    "Most Redfish calls in flight to one BMC (a lifeboat option).",
	    .min = 1, .max = 16),
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))
const struct cfg_option *const lb_cfg_options = options;
const size_t lb_cfg_n_options = N_OPTIONS;

/* mkiso of the tree this lifeboatd runs from, installed or built. */
static char *
default_iso_builder(void)
{
	char *p = lb_own_file("mkiso", NULL);

	if (p == NULL)
		abort();
	return p;
}

static char *
default_hostname(void)
{
	char name[HOST_NAME_MAX + 1];

	if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
		return strdup("localhost");
	name[sizeof(name) - 1] = '\0';
	return strdup(name);
}

static int
validate_host(const char *value, char *why, size_t size)
{
	unsigned char addr[16];
	size_t n = strlen(value);

	if (inet_pton(AF_INET, value, addr) == 1 ||
	    inet_pton(AF_INET6, value, addr) == 1)
		return 0;
	if (n > 0 && n <= 253 && value[0] != '-' && value[0] != '.' &&
	    strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n)
		return 0;
	snprintf(why, size, "is not an IP address or host name");
	return -EINVAL;
}

/* Ironic's validate_conductor_group_name. */
static int
validate_conductor_group(const char *value, char *why, size_t size)
{
	size_t n = strlen(value);

	if (n <= 255 && strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n)
		return 0;
	snprintf(why, size, "is not a conductor group: only letters, digits, "
	    "'_', '-' and '.' are allowed, at most 255");
	return -EINVAL;
}

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool
is_url_text(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static int
validate_http_url(const char *value, char *why, size_t size)
{
	const char *rest = has_prefix(value, "http://") ? value + 7 :
	    has_prefix(value, "https://") ? value + 8 : NULL;

	if (rest != NULL && *rest != '\0' && *rest != '/' &&
	    is_url_text(value))
		return 0;
	snprintf(why, size, "is not an http:// or https:// URL");
	return -EINVAL;
}

/* A URL lifeboatd listens on itself: the HTTP boot server's parser. */
static int
validate_served_url(const char *value, char *why, size_t size)
{
	struct lb_http_url url;
	struct lb_err err;
	int r;

	r = lb_http_url_parse(value, &url, &err);
	if (r < 0)
		snprintf(why, size, "%s", err.msg);
	return r;
}

static int
validate_db_url(const char *value, char *why, size_t size)
{
	struct lb_db_url parsed;
	struct lb_err err;
	int r;

	/* The store's own parser: --check refuses what start-up would. */
	r = lb_db_url_parse(value, &parsed, &err);
	if (r < 0)
		snprintf(why, size, "is not usable: %s", err.msg);
	return r;
}

/* [console] port_range: Ironic's ^\d+:\d+$, with START < STOP <= 65536. */
int
lb_config_port_range(const char *value, unsigned int *ret_start,
    unsigned int *ret_stop)
{
	unsigned long n[2];
	const char *p = value;
	char *end;

	for (int i = 0; i < 2; i++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		n[i] = strtoul(p, &end, 10);
		if (errno != 0 || *end != (i == 0 ? ':' : '\0'))
			return -EINVAL;
		p = end + 1;
	}
	if (n[0] < 1 || n[0] >= n[1] || n[1] > 65536)
		return -ERANGE;
	*ret_start = (unsigned int)n[0];
	*ret_stop = (unsigned int)n[1];
	return 0;
}

static int
validate_port_range(const char *value, char *why, size_t size)
{
	unsigned int start, stop;
	int r = lb_config_port_range(value, &start, &stop);

	if (r == -EINVAL)
		snprintf(why, size, "should be in the format <start>:<stop>");
	else if (r < 0)
		snprintf(why, size, "should be in the format <start>:<stop> "
		    "and start < stop, ports from 1 to 65535");
	return r < 0 ? -EINVAL : 0;
}

static int
validate_ip(const char *value, char *why, size_t size)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, value, addr) == 1 ||
	    inet_pton(AF_INET6, value, addr) == 1)
		return 0;
	snprintf(why, size, "is not an IPv4 or IPv6 address");
	return -EINVAL;
}

/* Writes 'text' as "# " comment lines of at most 72 columns. */
static void
write_wrapped(FILE *out, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		const char *end = p, *brk = NULL;

		while (*end != '\0' && end - p < 70) {
			if (*end == ' ')
				brk = end;
			end++;
		}
		if (*end != '\0' && *end != ' ' && brk != NULL)
			end = brk;
		fprintf(out, "# %.*s\n", (int)(end - p), p);
		p = end;
		while (*p == ' ')
			p++;
	}
}

static void
write_option(FILE *out, const struct cfg_option *o)
{
	static const char *const type_names[] = {
		[CFG_STRING] = "string",
		[CFG_PATH] = "path",
		[CFG_BOOL] = "boolean",
		[CFG_INT] = "integer",
		[CFG_FLOAT] = "floating point",
		[CFG_SIZE] = "size in bytes",
		[CFG_ENUM] = "string",
		[CFG_LIST] = "comma-separated list",
	};
	char names[200];
	const char *value = o->sample != NULL ? o->sample :
	    o->def != NULL ? o->def : "<None>";

	write_wrapped(out, o->help);
	fprintf(out, "# Type: %s\n", type_names[o->type]);
	if (o->type == CFG_INT || o->type == CFG_SIZE ||
	    o->type == CFG_FLOAT)
		fprintf(out, "# Minimum value: %ld\n# Maximum value: %ld\n",
		    o->min, o->max);
	if (o->type == CFG_ENUM)
		fprintf(out, "# Allowed values: %s\n",
		    lb_cfg_join(o->allowed, names, sizeof(names)));
	fprintf(out, "#%s = %s\n\n", o->name, value);
}

int
lb_config_write_example(FILE *out)
{
	fputs("# lifeboat.conf - every option of lifeboatd with its default.\n"
	    "#\n"
	    "# Generated by lb_config_write_example() (conductor/util/config.c);"
	    "\n# tests/unit/test_config.c fails if this file and the code "
	    "differ.\n"
	    "# Uncomment and change what you need; names follow Ironic's.\n\n",
	    out);
	/* sections in the order they first appear in the table */
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *section = options[i].section;
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(options[j].section, section) == 0)
				break;
		if (j < i)
			continue;
		fprintf(out, "[%s]\n\n", section);
		for (j = i; j < N_OPTIONS; j++)
			if (strcmp(options[j].section, section) == 0)
				write_option(out, &options[j]);
	}
	return fflush(out) != 0 || ferror(out) ? -EIO : 0;
}
