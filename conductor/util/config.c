/*
 * config.c - the option table and the INI parser, checker and example-file
 * writer it drives: one row per option.  Main thread, at start-up; the
 * struct lb_config it fills is read-only afterwards.
 */
#include "conductor/util/config.h"
#include "conductor/util/dburl.h"
#include "conductor/util/ownfile.h"
#include "conductor/util/httpurl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/util/banned.h"

enum cfg_type {
	CFG_STRING,	/* char * */
	CFG_PATH,	/* char *, absolute */
	CFG_BOOL,	/* bool */
	CFG_INT,	/* int, min..max */
	CFG_FLOAT,	/* double, min..max */
	CFG_SIZE,	/* long bytes, min..max, K/M/G suffixes */
	CFG_ENUM,	/* char * one of 'allowed', or int with CFG_INDEX */
	CFG_LIST,	/* struct lb_strlist */
};

#define CFG_SECRET 0x1	/* never show the value (names with password, ...) */
#define CFG_INDEX 0x2	/* CFG_ENUM kept as the index into 'allowed' */

struct cfg_option {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;		/* the default as text, NULL: unset */
	const char *help;
	const char *const *allowed;	/* CFG_ENUM, NULL-terminated */
	long min, max;			/* CFG_INT, CFG_SIZE, CFG_FLOAT */
	/* extra check of a string value, writes what is wrong into 'why' */
	int (*validate)(const char *value, char *why, size_t size);
	char *(*compute_default)(void);	/* a default only known at run time */
	const char *sample;		/* shown for it in the example file */
	unsigned int flags;
};

static int validate_host(const char *value, char *why, size_t size);
static int validate_http_url(const char *value, char *why, size_t size);
static int validate_served_url(const char *value, char *why, size_t size);
static int validate_db_url(const char *value, char *why, size_t size);
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
	OPT("DEFAULT", "enabled_hardware_types", LIST, enabled_hardware_types,
	    "ipmi,redfish,fake-hardware",
	    "Hardware types nodes may use."),
	IFACE("bios", LB_IFACE_BIOS, "no-bios,fake"),
	IFACE("boot", LB_IFACE_BOOT, "ipxe,pxe,redfish-virtual-media,fake"),
	IFACE("console", LB_IFACE_CONSOLE, "no-console,fake"),
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

	OPT("oslo_middleware", "max_request_body_size", SIZE,
	    max_request_body_size, "1048576",
	    "Largest request body accepted, in bytes (a K, M or G suffix "
	    "multiplies by 1024, 1024^2, 1024^3).",
	    .min = 1024, .max = 1024L * 1024 * 1024),

	OPT("database", "connection", STRING, database_connection, NULL,
	    "Database URL: sqlite:///PATH, PATH absolute (Ironic's "
	    "sqlite:////PATH names the same file); its directory is "
	    "created at start-up.  postgresql:// is known but not built "
	    "in yet.  Unset: sqlite:///<state_path>/lifeboat.sqlite.",
	    .validate = validate_db_url, .flags = CFG_SECRET),

	OPT("conductor", "allow_deleting_available_nodes", BOOL,
	    allow_deleting_available_nodes, "true",
	    "Allow deleting nodes whose provision state is available."),
	OPT("conductor", "workers_pool_size", INT, workers_pool_size, "16",
	    "Worker threads running driver actions.", .min = 1, .max = 1024),
	OPT("conductor", "sync_power_state_interval", INT,
	    sync_power_state_interval, "60",
	    "Seconds between reading every node's power state from its "
	    "BMC; 0 disables.", .min = 0, .max = 86400),
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

	OPT("conductor", "file_url_allowed_paths", LIST,
	    file_url_allowed_paths,
	    "/var/lib/lifeboat,/usr/share/lifeboat,/srv/lifeboat",
	    "Directories file:// image hrefs may point into (anything else "
	    "is refused, so driver_info cannot publish arbitrary files over "
	    "TFTP or HTTP)."),

	OPT("ipmi", "min_command_interval", INT, ipmi_min_command_interval,
	    "5", "Least seconds between two IPMI commands to one BMC.",
	    .min = 0, .max = 60),
	OPT("ipmi", "max_concurrent_per_bmc", INT, ipmi_max_concurrent_per_bmc,
	    "1", "Most IPMI commands in flight to one BMC (a lifeboat "
	    "option).", .min = 1, .max = 16),
	OPT("ipmi", "command_retry_timeout", INT, ipmi_command_retry_timeout,
	    "60", "Seconds to keep retrying an IPMI command that fails.",
	    .min = 1, .max = 3600),

	OPT("conductor", "api_url", STRING, conductor_api_url, NULL,
	    "URL of this API as rescue ramdisks reach it (ipa-api-url).  "
	    "Unset: http://[api]host_ip:[api]port.",
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
	    "Attempts to connect to a Redfish BMC before giving up.",
	    .min = 1, .max = 100),
	OPT("redfish", "connection_retry_interval", INT,
	    redfish_connection_retry_interval, "4",
	    "Seconds between attempts to connect to a Redfish BMC.",
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


/* Problems are collected, not returned one by one. */
#define PROBLEMS_MAX 100
#define PROBLEM_LINE_MAX 512

struct problems {
	char *buf;
	size_t len, cap;
	unsigned int count;
	bool oom;
	char first[LB_ERR_MSG_MAX];
};

static void
problem_append(struct problems *pb, const char *line)
{
	size_t n = strlen(line);
	char *nbuf;

	if (pb->oom)
		return;
	if (pb->len + n + 2 > pb->cap) {
		size_t ncap = pb->cap ? pb->cap * 2 : 1024;

		while (ncap < pb->len + n + 2)
			ncap *= 2;
		nbuf = realloc(pb->buf, ncap);
		if (nbuf == NULL) {
			pb->oom = true;
			return;
		}
		pb->buf = nbuf;
		pb->cap = ncap;
	}
	if (pb->len > 0)
		pb->buf[pb->len++] = '\n';
	memcpy(pb->buf + pb->len, line, n + 1);
	pb->len += n;
}

static void
problem_add(struct problems *pb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
problem_add(struct problems *pb, const char *fmt, ...)
{
	char line[PROBLEM_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pb->count++ == 0)
		snprintf(pb->first, sizeof(pb->first), "%s", line);
	if (pb->count <= PROBLEMS_MAX)
		problem_append(pb, line);
}

/* Hands the problems over; returns 0, 'rc' if there were any, or -ENOMEM. */
static int
problems_finish(struct problems *pb, int rc, char **ret_problems,
    struct lb_err *err)
{
	unsigned int count = pb->count;
	char line[64];

	if (count > PROBLEMS_MAX) {
		snprintf(line, sizeof(line), "... and %u more problems",
		    count - PROBLEMS_MAX);
		problem_append(pb, line);
	}
	if (pb->oom) {
		free(pb->buf);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	if (ret_problems != NULL)
		*ret_problems = count ? pb->buf : NULL;
	else
		free(pb->buf);
	if (count == 0)
		return 0;
	return lb_err_set(err, rc, "%s", pb->first);
}

static bool
opt_is_secret(const struct cfg_option *o)
{
	return (o->flags & CFG_SECRET) || strstr(o->name, "password") ||
	    strstr(o->name, "secret") || strstr(o->name, "token");
}

/*
 * Makes text fit for a problem line: bounded by 'size' (which must be more
 * than 6), "..." when cut, control and non-ASCII bytes made '?'.  quote()
 * also puts it in single quotes.
 */
static const char *
clean(const char *s, char *buf, size_t size)
{
	size_t i, n = 0, max = size - 4;

	for (i = 0; s[i] != '\0' && n < max; i++)
		buf[n++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static const char *
quote(const char *s, char *buf, size_t size)
{
	size_t n;

	buf[0] = '\'';
	clean(s, buf + 1, size - 2);
	n = strlen(buf);
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* The value as a problem line may show it. */
static const char *
show_value(const struct cfg_option *o, const char *value, char *buf,
    size_t size)
{
	if (opt_is_secret(o)) {
		snprintf(buf, size, "value");
		return buf;
	}
	return quote(value, buf, size);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void
strlist_clear(struct lb_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Splits at commas, trims each item and drops empty ones. */
static int
strlist_parse(const char *value, struct lb_strlist *ret)
{
	struct lb_strlist l = { NULL, 0 };
	size_t n = 1;
	const char *p, *q, *e;

	for (p = value; *p != '\0'; p++)
		n += *p == ',';
	l.items = calloc(n, sizeof(*l.items));
	if (l.items == NULL)
		return -ENOMEM;
	for (p = value;; p = e + 1) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		while (p < e && isspace((unsigned char)*p))
			p++;
		q = e;
		while (q > p && isspace((unsigned char)q[-1]))
			q--;
		if (q > p) {
			l.items[l.n] = strndup(p, q - p);
			if (l.items[l.n] == NULL) {
				strlist_clear(&l);
				return -ENOMEM;
			}
			l.n++;
		}
		if (*e == '\0')
			break;
	}
	*ret = l;
	return 0;
}

static int
strlist_copy(const struct lb_strlist *src, struct lb_strlist *ret)
{
	struct lb_strlist l = { NULL, 0 };

	l.items = calloc(src->n ? src->n : 1, sizeof(*l.items));
	if (l.items == NULL)
		return -ENOMEM;
	for (; l.n < src->n; l.n++) {
		l.items[l.n] = strdup(src->items[l.n]);
		if (l.items[l.n] == NULL) {
			strlist_clear(&l);
			return -ENOMEM;
		}
	}
	*ret = l;
	return 0;
}

static int
parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Decimal, with an optional K, M or G multiplier if 'suffixes'. */
static int
parse_long(const char *s, bool suffixes, long *ret)
{
	long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s) && *s != '-' && *s != '+')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno != 0)
		return -EINVAL;
	if (suffixes && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K':
			mult = 1024;
			break;
		case 'm': case 'M':
			mult = 1024L * 1024;
			break;
		case 'g': case 'G':
			mult = 1024L * 1024 * 1024;
			break;
		default:
			return -EINVAL;
		}
		end++;
	}
	if (*end != '\0' || v > LONG_MAX / mult || v < LONG_MIN / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

/* A decimal number (1, 0.5, 2.25) within the option's min..max. */
static int
set_float(double *field, const struct cfg_option *o, const char *value,
    const char *shown, char *why, size_t size)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (*value == '\0' || strchr("+-.0123456789", *value) == NULL ||
	    end == value || *end != '\0' || errno != 0 || !isfinite(v)) {
		snprintf(why, size, "%s is not a number", shown);
		return -EINVAL;
	}
	if (v < (double)o->min || v > (double)o->max) {
		snprintf(why, size, "%s is out of range %ld..%ld", shown,
		    o->min, o->max);
		return -EINVAL;
	}
	*field = v;
	return 0;
}

static void
opt_clear(struct lb_config *cfg, const struct cfg_option *o)
{
	void *field = (char *)cfg + o->offset;

	switch (o->type) {
	case CFG_STRING:
	case CFG_PATH:
		free(*(char **)field);
		*(char **)field = NULL;
		break;
	case CFG_ENUM:
		if (!(o->flags & CFG_INDEX)) {
			free(*(char **)field);
			*(char **)field = NULL;
		}
		break;
	case CFG_LIST:
		strlist_clear(field);
		break;
	default:
		break;
	}
}

static int
set_string(char **field, const char *value)
{
	char *s = NULL;

	if (value != NULL && (s = strdup(value)) == NULL)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

/*
 * Converts 'value' and stores it.  Returns 0, -ENOMEM, or -EINVAL with what
 * is wrong in 'why' (naming the value only as 'shown').
 */
static int
opt_set(struct lb_config *cfg, const struct cfg_option *o, const char *value,
    const char *shown, char *why, size_t size)
{
	void *field = (char *)cfg + o->offset;
	struct lb_strlist l;
	char pred[128];
	size_t i, n;
	long v;
	bool b;

	switch (o->type) {
	case CFG_STRING:
	case CFG_PATH:
		if (*value == '\0' && o->def == NULL)
			return set_string(field, NULL);
		if (*value == '\0') {
			snprintf(why, size, "value is empty");
			return -EINVAL;
		}
		if (o->type == CFG_PATH && *value != '/') {
			snprintf(why, size, "%s is not an absolute path", shown);
			return -EINVAL;
		}
		if (o->validate != NULL &&
		    o->validate(value, pred, sizeof(pred)) != 0) {
			snprintf(why, size, "%s %s", shown, pred);
			return -EINVAL;
		}
		return set_string(field, value);
	case CFG_BOOL:
		if (parse_bool(value, &b) != 0) {
			snprintf(why, size, "%s is not a boolean (true/false, "
			    "yes/no, on/off, 1/0)", shown);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	case CFG_INT:
	case CFG_SIZE:
		if (parse_long(value, o->type == CFG_SIZE, &v) != 0) {
			snprintf(why, size, "%s is not %s", shown,
			    o->type == CFG_SIZE ? "a size in bytes" :
			    "an integer");
			return -EINVAL;
		}
		if (v < o->min || v > o->max) {
			snprintf(why, size, "%s is out of range %ld..%ld", shown,
			    o->min, o->max);
			return -EINVAL;
		}
		if (o->type == CFG_INT)
			*(int *)field = (int)v;
		else
			*(long *)field = v;
		return 0;
	case CFG_FLOAT:
		return set_float(field, o, value, shown, why, size);
	case CFG_ENUM:
		for (i = 0; o->allowed[i] != NULL; i++)
			if (strcasecmp(value, o->allowed[i]) == 0)
				break;
		if (o->allowed[i] == NULL) {
			n = (size_t)snprintf(why, size, "%s is not one of", shown);
			for (i = 0; o->allowed[i] != NULL && n < size; i++)
				n += snprintf(why + n, size - n, "%s %s",
				    i ? "," : "", o->allowed[i]);
			return -EINVAL;
		}
		if (o->flags & CFG_INDEX) {
			*(int *)field = (int)i;
			return 0;
		}
		return set_string(field, o->allowed[i]);
	case CFG_LIST:
		if (strlist_parse(value, &l) != 0)
			return -ENOMEM;
		strlist_clear(field);
		*(struct lb_strlist *)field = l;
		return 0;
	}
	return -EINVAL;
}

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

void
lb_config_init(struct lb_config *cfg)
{
	char why[PROBLEM_LINE_MAX];
	const struct cfg_option *o;

	memset(cfg, 0, sizeof(*cfg));
	for (o = options; o < options + N_OPTIONS; o++) {
		if (o->compute_default != NULL) {
			char **field = (char **)((char *)cfg + o->offset);

			*field = o->compute_default();
			if (*field == NULL)
				abort();
		} else if (o->def != NULL &&
		    opt_set(cfg, o, o->def, o->def, why, sizeof(why)) != 0) {
			/* out of memory, or a bad row in the table */
			abort();
		}
	}
}

void
lb_config_release(struct lb_config *cfg)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		opt_clear(cfg, &options[i]);
	memset(cfg, 0, sizeof(*cfg));
}

/* Whether the option's field holds memory that 'cfg' owns. */
static bool
opt_owns_memory(const struct cfg_option *o)
{
	return o->type == CFG_STRING || o->type == CFG_PATH ||
	    o->type == CFG_LIST ||
	    (o->type == CFG_ENUM && !(o->flags & CFG_INDEX));
}

/* A deep copy, so that a failed load leaves the original untouched. */
static int
config_copy(const struct lb_config *src, struct lb_config *dst)
{
	const struct cfg_option *o;

	memcpy(dst, src, sizeof(*dst));
	for (o = options; o < options + N_OPTIONS; o++) {
		void *df = (char *)dst + o->offset;

		if (o->type == CFG_LIST)
			memset(df, 0, sizeof(struct lb_strlist));
		else if (opt_owns_memory(o))
			*(char **)df = NULL;
	}
	for (o = options; o < options + N_OPTIONS; o++) {
		const void *sf = (const char *)src + o->offset;
		void *df = (char *)dst + o->offset;
		const char *s;

		if (o->type == CFG_LIST) {
			if (strlist_copy(sf, df) != 0)
				goto fail;
		} else if (opt_owns_memory(o)) {
			s = *(char *const *)sf;
			if (s != NULL && (*(char **)df = strdup(s)) == NULL)
				goto fail;
		}
	}
	return 0;
fail:
	lb_config_release(dst);
	return -ENOMEM;
}

static const struct cfg_option *
find_option(const char *section, const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strcmp(options[i].section, section) == 0 &&
		    strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* The table's spelling of a section ("DEFAULT", "api", ...), or NULL. */
static const char *
find_section(const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strcasecmp(options[i].section, name) == 0)
			return options[i].section;
	return NULL;
}

struct parser {
	struct lb_config *cfg;
	struct problems pb;
	const char *name;
	unsigned int line;
	const char *section;	/* NULL before the first header */
	bool skip;		/* in an unknown section, already reported */
};

#define PROBLEM(p, fmt, ...)						\
	problem_add(&(p)->pb, "%s:%u: " fmt, (p)->name, (p)->line,	\
	    ##__VA_ARGS__)

static void
parse_header(struct parser *p, char *s)
{
	char q[80];
	char *close = strchr(s, ']');
	const char *section;

	if (close == NULL) {
		PROBLEM(p, "missing ']' in section header");
		goto bad;
	}
	if (close[1] != '\0') {
		PROBLEM(p, "unexpected text after section header");
		goto bad;
	}
	*close = '\0';
	s = trim(s + 1);
	if (*s == '\0') {
		PROBLEM(p, "empty section name");
		goto bad;
	}
	section = find_section(s);
	if (section == NULL) {
		PROBLEM(p, "unknown section [%s]", clean(s, q, sizeof(q)));
		goto bad;
	}
	p->section = section;
	p->skip = false;
	return;
bad:
	/* what follows would only add noise */
	p->section = NULL;
	p->skip = true;
}

static int
parse_line(struct parser *p, char *s)
{
	char q[80], shown[80], why[PROBLEM_LINE_MAX];
	const struct cfg_option *o;
	char *eq, *name, *value;
	int r;

	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		parse_header(p, s);
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		PROBLEM(p, "missing '=' (expected 'name = value')");
		return 0;
	}
	*eq = '\0';
	name = trim(s);
	value = trim(eq + 1);
	if (*name == '\0') {
		PROBLEM(p, "missing option name before '='");
		return 0;
	}
	if (p->skip)
		return 0;
	if (p->section == NULL) {
		PROBLEM(p, "option %s before any [section]",
		    quote(name, q, sizeof(q)));
		return 0;
	}
	o = find_option(p->section, name);
	if (o == NULL) {
		PROBLEM(p, "unknown option [%s] %s", p->section,
		    clean(name, q, sizeof(q)));
		return 0;
	}
	r = opt_set(p->cfg, o, value, show_value(o, value, shown,
	    sizeof(shown)), why, sizeof(why));
	if (r == -EINVAL)
		PROBLEM(p, "[%s] %s: %s", o->section, o->name, why);
	return r == -ENOMEM ? r : 0;
}

int
lb_config_load_buffer(struct lb_config *cfg, const char *name,
    const char *buf, size_t len, char **ret_problems, struct lb_err *err)
{
	struct parser p = { .name = name };
	struct lb_config tmp;
	char line[LB_CONFIG_LINE_MAX + 1];
	const char *s = buf, *end = buf + len, *nl;
	size_t n;
	int r = 0;

	if (len > LB_CONFIG_FILE_MAX) {
		problem_add(&p.pb, "%s: larger than %d bytes", name,
		    LB_CONFIG_FILE_MAX);
		return problems_finish(&p.pb, -EINVAL, ret_problems, err);
	}
	if (config_copy(cfg, &tmp) != 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	p.cfg = &tmp;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (s < end && r == 0) {
		nl = memchr(s, '\n', end - s);
		n = (nl != NULL ? nl : end) - s;
		p.line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > LB_CONFIG_LINE_MAX)
			PROBLEM(&p, "line too long (more than %d bytes)",
			    LB_CONFIG_LINE_MAX);
		else if (memchr(s, '\0', n) != NULL)
			PROBLEM(&p, "line contains a NUL byte");
		else {
			memcpy(line, s, n);
			line[n] = '\0';
			r = parse_line(&p, line);
		}
		s = nl != NULL ? nl + 1 : end;
	}
	explicit_bzero(line, sizeof(line));
	if (r == -ENOMEM)
		p.pb.oom = true;
	r = problems_finish(&p.pb, -EINVAL, ret_problems, err);
	if (r != 0) {
		lb_config_release(&tmp);
		return r;
	}
	if (tmp.debug)
		tmp.log_level = LB_LOG_DEBUG;
	lb_config_release(cfg);
	*cfg = tmp;
	return 0;
}

int
lb_config_load_file(struct lb_config *cfg, const char *path,
    char **ret_problems, struct lb_err *err)
{
	struct problems pb = { 0 };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t got;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		problem_add(&pb, "%s: cannot open: %s", path, strerror(-r));
		return problems_finish(&pb, r, ret_problems, err);
	}
	/* read at most one byte past the limit, to tell that it is over */
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nbuf;

			if (ncap > LB_CONFIG_FILE_MAX + 1)
				ncap = LB_CONFIG_FILE_MAX + 1;
			if (ncap == cap)
				break;
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				r = lb_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			problem_add(&pb, "%s: cannot read: %s", path,
			    strerror(-r));
			r = problems_finish(&pb, r, ret_problems, err);
			goto out;
		}
		if (got == 0)
			break;
		len += got;
	}
	r = lb_config_load_buffer(cfg, path, buf, len, ret_problems, err);
out:
	close(fd);
	if (buf != NULL)
		explicit_bzero(buf, cap);
	free(buf);
	return r;
}

static bool
name_in(const char *name, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcmp(name, *names) == 0)
			return true;
	return false;
}

/* Writes "a, b, c" into 'buf'. */
static const char *
join(const char *const *names, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && n < size; i++)
		n += snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
		    names[i]);
	return buf;
}

static void
check_list(struct problems *pb, const char *option,
    const struct lb_strlist *l, const char *const *known, const char *what)
{
	char q[80], names[200];

	if (l->n == 0)
		problem_add(pb, "[DEFAULT] %s: must not be empty", option);
	for (size_t i = 0; i < l->n; i++) {
		if (known != NULL && !name_in(l->items[i], known))
			problem_add(pb, "[DEFAULT] %s: %s is not a known %s "
			    "(%s)", option, quote(l->items[i], q, sizeof(q)),
			    what, join(known, names, sizeof(names)));
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->items[i], l->items[j]) == 0) {
				problem_add(pb, "[DEFAULT] %s: %s is listed "
				    "twice", option,
				    quote(l->items[i], q, sizeof(q)));
				break;
			}
	}
}

/* Both HTTP boot URLs must be served at once: one port on every address
 * and the same port on one address cannot both be bound. */
static void
check_http_urls(struct problems *pb, const struct lb_config *cfg)
{
	struct lb_http_url a, b;

	if (cfg->deploy_http_url == NULL ||
	    cfg->deploy_external_http_url == NULL ||
	    lb_http_url_parse(cfg->deploy_http_url, &a, NULL) < 0 ||
	    lb_http_url_parse(cfg->deploy_external_http_url, &b, NULL) < 0 ||
	    !lb_http_url_clash(&a, &b))
		return;
	problem_add(pb, "[deploy] external_http_url: lifeboatd cannot listen "
	    "on port %s of %s and of %s at once; use two IP addresses, "
	    "two ports or one URL", a.port,
	    a.any ? "every address" : a.host,
	    b.any ? "every address" : b.host);
}

int
lb_config_check(const struct lb_config *cfg,
    const struct lb_config_names *names, char **ret_problems,
    struct lb_err *err)
{
	struct problems pb = { 0 };
	char option[64], what[64], q[80];
	const char *path = cfg->http_basic_auth_user_file;

	if (cfg->auth_strategy != NULL &&
	    strcmp(cfg->auth_strategy, "http_basic") == 0) {
		if (path == NULL)
			problem_add(&pb, "[DEFAULT] http_basic_auth_user_file: "
			    "must be set when auth_strategy is http_basic");
		else if (access(path, R_OK) != 0)
			problem_add(&pb, "[DEFAULT] http_basic_auth_user_file: "
			    "cannot read %s: %s", quote(path, q, sizeof(q)),
			    strerror(errno));
	}
	check_list(&pb, "enabled_hardware_types",
	    &cfg->enabled_hardware_types,
	    names ? names->hardware_types : NULL, "hardware type");
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		const char *kind = lb_iface_kind_name(k);
		const struct lb_strlist *l = &cfg->enabled_interfaces[k];
		const char *def = cfg->default_interface[k];
		size_t i;

		snprintf(option, sizeof(option), "enabled_%s_interfaces", kind);
		snprintf(what, sizeof(what), "%s interface", kind);
		check_list(&pb, option, l, names ? names->interfaces[k] : NULL,
		    what);
		if (def == NULL)
			continue;
		for (i = 0; i < l->n; i++)
			if (strcmp(def, l->items[i]) == 0)
				break;
		if (i == l->n)
			problem_add(&pb, "[DEFAULT] default_%s_interface: %s is "
			    "not in enabled_%s_interfaces", kind,
			    quote(def, q, sizeof(q)), kind);
	}
	check_http_urls(&pb, cfg);
	return problems_finish(&pb, -EINVAL, ret_problems, err);
}

const char *
lb_config_database_connection(const struct lb_config *cfg, char *buf,
    size_t size)
{
	size_t n;
	int r;

	if (cfg->database_connection != NULL)
		return cfg->database_connection;
	n = strlen(cfg->state_path);
	while (n > 1 && cfg->state_path[n - 1] == '/')
		n--;
	if (n == 1)
		n = 0;	/* "/" */
	r = snprintf(buf, size, "sqlite:///%.*s/lifeboat.sqlite", (int)n,
	    cfg->state_path);
	if (r < 0 || (size_t)r >= size)
		return NULL;
	return buf;
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
		    join(o->allowed, names, sizeof(names)));
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
