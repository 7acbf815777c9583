/*
 * boot_pxe.c - the `pxe` and `ipxe` boot interfaces: stage the rescue
 * kernel, ramdisk, boot config and per-MAC links below tftp_root (pxe) or
 * http_root (ipxe) in Ironic's layout (contract §6), and dnsmasq's
 * per-node files when [dhcp] dhcp_provider is dnsmasq.  A node without a
 * boot_mode capability gets both BIOS and UEFI files, the DHCP client's
 * architecture choosing.  A node whose pxelinux fetches over HTTP, itself
 * or by booting iPXE ([pxe] pxelinux_fetch), gets its kernel and ramdisk
 * below http_root too.
 * Conductor worker threads, different nodes at once.
 */
#include "boot/boot_pxe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot_common.h"
#include "boot/boot_render.h"
#include "conductor/util/ident.h"
#include "conductor/util/banned.h"

/* "01-" + dashed MAC, "grub.cfg-01-" + ..., ".conf", "ironic-" + ... */
#define LINK_NAME_MAX 64

/* The only strings file names are made of: the validated UUID and MACs. */
struct node_names {
	char uuid[LB_UUID_LEN + 1];
	char (*macs)[LB_MAC_LEN + 1];
	size_t nmacs;
	char config[LB_UUID_LEN + 8];		/* "<uuid>/config" */
	char up_config[LB_UUID_LEN + 11];	/* "../<uuid>/config" */
	/* grub's "<uuid>/grub.cfg" when both modes share the node's dir */
	char grub_config[LB_UUID_LEN + 10];
};

static void
names_release(struct node_names *n)
{
	free(n->macs);
	n->macs = NULL;
	n->nmacs = 0;
}

static int
names_init(struct node_names *n, const struct lb_task *task,
    struct lb_err *err)
{
	size_t i;

	memset(n, 0, sizeof(*n));
	if (lb_uuid_normalize(task->node_uuid, n->uuid) < 0)
		return lb_err_set(err, -EINVAL, "invalid node uuid '%s'",
		    task->node_uuid ? task->node_uuid : "");
	snprintf(n->config, sizeof(n->config), "%s/config", n->uuid);
	snprintf(n->up_config, sizeof(n->up_config), "../%s", n->config);
	snprintf(n->grub_config, sizeof(n->grub_config), "%s/grub.cfg",
	    n->uuid);
	if (task->nports == 0)
		return 0;
	n->macs = calloc(task->nports, sizeof(*n->macs));
	if (n->macs == NULL)
		return lb_err_set(err, -ENOMEM, "cannot stage boot files for "
		    "node '%s': out of memory", n->uuid);
	for (i = 0; i < task->nports; i++) {
		if (task->port_macs[i] == NULL ||
		    lb_mac_normalize(task->port_macs[i], n->macs[i]) < 0) {
			names_release(n);
			return lb_err_set(err, -EINVAL, "invalid port mac "
			    "address '%s' of node '%s'", task->port_macs[i] ?
			    task->port_macs[i] : "", n->uuid);
		}
	}
	n->nmacs = task->nports;
	return 0;
}

/* aa:bb:cc:dd:ee:ff -> aa-bb-cc-dd-ee-ff */
static void
mac_dashed(const char *mac, char out[LB_MAC_LEN + 1])
{
	size_t i;

	for (i = 0; i <= LB_MAC_LEN; i++)
		out[i] = mac[i] == ':' ? '-' : mac[i];
}

static bool
use_dnsmasq(const struct lb_config *cfg)
{
	return cfg->dhcp_provider != NULL &&
	    strcmp(cfg->dhcp_provider, "dnsmasq") == 0;
}

/*
 * Values from the configuration end up inside config lines and dnsmasq's
 * comma-separated options; a newline or comma there would add lines or
 * fields of its own.
 */
static int
check_value(const char *what, const char *value, const char *reject,
    struct lb_err *err)
{
	if (value == NULL || *value == '\0')
		return lb_err_set(err, -EINVAL, "missing %s", what);
	if (!lb_boot_text_is_safe(value, reject))
		return lb_err_set(err, -EINVAL, "invalid %s '%s'", what, value);
	return 0;
}

/* What every prepare_ramdisk checks before touching a file. */
static int
prepare_check(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, struct node_names *n,
    struct lb_err *err)
{
	int r;

	r = names_init(n, task, err);
	if (r < 0)
		return r;
	if (n->nmacs == 0)
		r = lb_err_set(err, -EINVAL, "Node %s does not have any port "
		    "associated with it.", n->uuid);
	else if (images == NULL || images->kernel == NULL ||
	    images->ramdisk == NULL)
		r = lb_err_set(err, -EINVAL, "no rescue kernel and ramdisk "
		    "to stage for node '%s'", n->uuid);
	else
		r = check_value("api url (ipa-api-url)", env->api_url, " ",
		    err);
	if (r == 0 && use_dnsmasq(env->cfg))
		r = check_value("[pxe] tftp_server", env->tftp_server, " ,",
		    err);
	if (r < 0)
		names_release(n);
	return r;
}

static int
kernel_params(const struct lb_boot_env *env, const struct lb_task *task,
    const char *request_id, const char *extra_params, char **ret_params,
    struct lb_err *err)
{
	char *params;

	params = lb_boot_kernel_params(env, task, request_id, extra_params);
	if (params == NULL)
		return lb_err_set(err, -ENOMEM, "cannot build kernel "
		    "parameters: out of memory");
	if (!lb_boot_text_is_safe(params, NULL)) {
		free(params);
		return lb_err_set(err, -EINVAL, "invalid kernel parameters: "
		    "they hold a control character");
	}
	*ret_params = params;
	return 0;
}

/*
 * <root>/<uuid>/rescue_kernel, rescue_ramdisk and config; only the config
 * when 'images' is NULL (they are served from elsewhere), only the images
 * when 'config' is NULL.
 */
static int
stage_node_dir(const struct lb_boot_dir *root, const struct node_names *n,
    const struct lb_boot_images *images, const char *config,
    const char *what, struct lb_err *err)
{
	struct lb_boot_dir dir;
	int r;

	r = lb_boot_dir_open(&dir, root, n->uuid, true, err);
	if (r < 0)
		return r;
	if (images != NULL) {
		r = lb_boot_link_image(&dir, "rescue_kernel", images->kernel,
		    err);
		if (r == 0)
			r = lb_boot_link_image(&dir, "rescue_ramdisk",
			    images->ramdisk, err);
	}
	if (r == 0 && config != NULL)
		r = lb_boot_write_file(&dir, "config", config, strlen(config),
		    what, err);
	lb_boot_dir_close(&dir);
	return r;
}

/*
 * How a node's pxelinux gets kernel and ramdisk: [pxe] pxelinux_fetch,
 * where auto means "http when the boot file is lpxelinux.0 (the pxelinux
 * build with an HTTP client) and http_root is served, else tftp".
 */
static enum lb_pxelinux_fetch
pxelinux_fetch(const struct lb_boot_env *env)
{
	const struct lb_config *cfg = env->cfg;
	const char *file, *slash;

	if (cfg->pxe_pxelinux_fetch != LB_PXELINUX_FETCH_AUTO)
		return cfg->pxe_pxelinux_fetch;
	if (env->http_url == NULL || env->http_url[0] == '\0' ||
	    cfg->pxe_bootfile_name == NULL)
		return LB_PXELINUX_FETCH_TFTP;
	slash = strrchr(cfg->pxe_bootfile_name, '/');
	file = slash != NULL ? slash + 1 : cfg->pxe_bootfile_name;
	return strcmp(file, "lpxelinux.0") == 0 ? LB_PXELINUX_FETCH_HTTP :
	    LB_PXELINUX_FETCH_TFTP;
}

/*
 * ipxe.lkrn takes its command line as a script after dropping the first
 * word starting "initrd=" and "BOOT_IMAGE=" anywhere in it; parameters
 * holding them would come out cut.
 */
static int
check_ipxe_params(const char *params, struct lb_err *err)
{
	if (strstr(params, "initrd=") != NULL ||
	    strstr(params, "BOOT_IMAGE=") != NULL)
		return lb_err_set(err, -EINVAL, "invalid kernel parameters "
		    "for [pxe] pxelinux_fetch = ipxe: iPXE strips 'initrd=' "
		    "and 'BOOT_IMAGE=' from its command line");
	return 0;
}

/* http_url without trailing slashes, malloc'd. */
static char *
base_url(const char *url)
{
	size_t len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	return strndup(url, len);
}

/* <http_root>/<uuid>/rescue_kernel and rescue_ramdisk, as for iPXE. */
static int
stage_http_images(const struct lb_config *cfg, const struct node_names *n,
    const struct lb_boot_images *images, struct lb_err *err)
{
	struct lb_boot_dir root;
	int r;

	r = lb_boot_dir_open_root(&root, cfg->deploy_http_root, "http root",
	    err);
	if (r == 0)
		r = stage_node_dir(&root, n, images, NULL, NULL, err);
	lb_boot_dir_close(&root);
	return r;
}

/* pxelinux.cfg/<prefix><aa-bb-cc-dd-ee-ff> -> ../<uuid>/config per MAC. */
static int
link_pxelinux_cfg(const struct lb_boot_dir *root, const struct node_names *n,
    const char *prefix, struct lb_err *err)
{
	char dashed[LB_MAC_LEN + 1], name[LINK_NAME_MAX];
	struct lb_boot_dir dir;
	size_t i;
	int r;

	r = lb_boot_dir_open(&dir, root, "pxelinux.cfg", true, err);
	for (i = 0; r == 0 && i < n->nmacs; i++) {
		mac_dashed(n->macs[i], dashed);
		snprintf(name, sizeof(name), "%s%s", prefix, dashed);
		r = lb_boot_symlink(&dir, name, n->up_config, err);
	}
	lb_boot_dir_close(&dir);
	return r;
}

/* grub.cfg-01-<aa-bb-...> and <aa:bb:...>.conf -> 'target'. */
static int
link_grub_cfg(const struct lb_boot_dir *root, const struct node_names *n,
    const char *target, struct lb_err *err)
{
	char dashed[LB_MAC_LEN + 1], name[LINK_NAME_MAX];
	struct lb_boot_dir dir;
	char *master;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < n->nmacs; i++) {
		mac_dashed(n->macs[i], dashed);
		snprintf(name, sizeof(name), "grub.cfg-01-%s", dashed);
		r = lb_boot_symlink(root, name, target, err);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "%s.conf", n->macs[i]);
		r = lb_boot_symlink(root, name, target, err);
	}
	if (r < 0)
		return r;
	/* Ironic writes it at start; an operator's own one is left alone. */
	master = lb_render_grub_master();
	if (master == NULL)
		return lb_err_set(err, -ENOMEM, "cannot render grub master "
		    "config: out of memory");
	r = lb_boot_dir_open(&dir, root, "grub", true, err);
	if (r == 0)
		r = lb_boot_write_file_if_changed(&dir, "grub.cfg", master,
		    strlen(master), true, "grub master config", err);
	lb_boot_dir_close(&dir);
	free(master);
	return r < 0 ? r : 0;
}

/*
 * The options file first, then the host files that tag the MACs with the
 * node's UUID: dnsmasq applies the options from the moment a host file
 * names the tag.
 */
static int
dnsmasq_stage(const struct lb_config *cfg, const struct node_names *n,
    const struct lb_render_dhcp *dhcp, struct lb_err *err)
{
	char name[LINK_NAME_MAX];
	struct lb_boot_dir dir;
	char *text;
	size_t i;
	int r;

	r = check_value("dhcp boot file name", dhcp->bootfile, " ,", err);
	if (r == 0 && dhcp->arch_tag != NULL)
		r = check_value("dhcp boot file name", dhcp->arch_bootfile,
		    " ,", err);
	if (r == 0 && dhcp->ipxe_script_url != NULL)
		r = check_value("ipxe script url", dhcp->ipxe_script_url, " ,",
		    err);
	if (r < 0)
		return r;
	text = lb_render_dnsmasq_opts(dhcp);
	if (text == NULL)
		return lb_err_set(err, -ENOMEM, "cannot render dnsmasq "
		    "options: out of memory");
	r = lb_boot_dir_open_root(&dir, cfg->dnsmasq_optsdir,
	    "dnsmasq dhcp_optsdir", err);
	if (r == 0) {
		snprintf(name, sizeof(name), "ironic-%s.conf", n->uuid);
		r = lb_boot_write_file(&dir, name, text, strlen(text),
		    "dnsmasq options", err);
	}
	lb_boot_dir_close(&dir);
	free(text);
	if (r < 0)
		return r;

	r = lb_boot_dir_open_root(&dir, cfg->dnsmasq_hostsdir,
	    "dnsmasq dhcp_hostsdir", err);
	for (i = 0; r == 0 && i < n->nmacs; i++) {
		text = lb_render_dnsmasq_host(n->macs[i], dhcp->tag);
		if (text == NULL) {
			r = lb_err_set(err, -ENOMEM, "cannot render dnsmasq "
			    "host: out of memory");
			break;
		}
		snprintf(name, sizeof(name), "ironic-%s.conf", n->macs[i]);
		r = lb_boot_write_file(&dir, name, text, strlen(text),
		    "dnsmasq host", err);
		free(text);
	}
	lb_boot_dir_close(&dir);
	return r;
}

/* Clean-up goes on after a failure and reports the first one. */
static struct lb_err *
err_slot(int first, struct lb_err *err, struct lb_err *scratch)
{
	return first < 0 ? scratch : err;
}

static void
keep_first(int *first, int r)
{
	if (r < 0 && *first == 0)
		*first = r;
}

/*
 * dnsmasq reads new host files but never forgets old ones, so each MAC's
 * file is rewritten and the options go.  Where a tenant DHCP serves the
 * node next, the file becomes "<mac>,ignore" (as Ironic does); where
 * this dnsmasq still serves it (one flat network), a bare "<mac>": the
 * newer record wins, the machine keeps its lease and the node's tag,
 * and with it the boot options, is no longer set.
 */
static int
dnsmasq_clean(const struct lb_config *cfg, const struct node_names *n,
    bool tenant_dhcp, struct lb_err *err)
{
	char name[LINK_NAME_MAX];
	struct lb_err scratch;
	struct lb_boot_dir dir;
	int first = 0, r;
	char *text;
	size_t i;

	if (n->nmacs > 0) {
		r = lb_boot_dir_open_root(&dir, cfg->dnsmasq_hostsdir,
		    "dnsmasq dhcp_hostsdir", err);
		keep_first(&first, r);
		for (i = 0; r == 0 && i < n->nmacs; i++) {
			text = tenant_dhcp ?
			    lb_render_dnsmasq_ignore(n->macs[i]) :
			    lb_render_dnsmasq_known(n->macs[i]);
			if (text == NULL) {
				keep_first(&first, lb_err_set(err_slot(first,
				    err, &scratch), -ENOMEM, "cannot render "
				    "dnsmasq host: out of memory"));
				continue;
			}
			snprintf(name, sizeof(name), "ironic-%s.conf",
			    n->macs[i]);
			keep_first(&first, lb_boot_write_file(&dir, name, text,
			    strlen(text), "dnsmasq host", err_slot(first, err,
			    &scratch)));
			free(text);
		}
		lb_boot_dir_close(&dir);
	}
	r = lb_boot_dir_open_root(&dir, cfg->dnsmasq_optsdir,
	    "dnsmasq dhcp_optsdir", err_slot(first, err, &scratch));
	if (r == 0) {
		snprintf(name, sizeof(name), "ironic-%s.conf", n->uuid);
		r = lb_boot_unlink(&dir, name, err_slot(first, err, &scratch));
	} else if (r == -ENOENT) {
		r = 0;
	}
	keep_first(&first, r);
	lb_boot_dir_close(&dir);
	return first;
}

/*
 * Removes the node's links in <root>/pxelinux.cfg (and, with 'root_links',
 * in <root> itself: grub's, to <uuid>/config or <uuid>/grub.cfg) and
 * <root>/<uuid>.  Links are found by their target, so those of MACs the
 * node no longer has go too.  A missing root means nothing was staged.
 */
static int
clean_root(const char *path, const char *what, const struct node_names *n,
    bool root_links, struct lb_err *err)
{
	struct lb_boot_dir root, dir;
	struct lb_err scratch;
	int first = 0, r;

	r = lb_boot_dir_open_root(&root, path, what, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = lb_boot_dir_open(&dir, &root, "pxelinux.cfg", false, err);
	if (r == 0)
		r = lb_boot_unlink_links_to(&dir, n->config, err);
	keep_first(&first, r == -ENOENT ? 0 : r);
	lb_boot_dir_close(&dir);
	if (root_links) {
		keep_first(&first, lb_boot_unlink_links_to(&root, n->config,
		    err_slot(first, err, &scratch)));
		keep_first(&first, lb_boot_unlink_links_to(&root,
		    n->grub_config, err_slot(first, err, &scratch)));
	}
	keep_first(&first, lb_boot_remove_tree(&root, n->uuid,
	    err_slot(first, err, &scratch)));
	lb_boot_dir_close(&root);
	return first;
}

static int
clean_up(const struct lb_boot_env *env, const struct lb_task *task,
    const char *root, const char *what, bool root_links, struct lb_err *err)
{
	struct node_names n;
	struct lb_err scratch;
	int first = 0;

	first = names_init(&n, task, err);
	if (first < 0)
		return first;
	keep_first(&first, clean_root(root, what, &n, root_links, err));
	if (use_dnsmasq(env->cfg))
		keep_first(&first, dnsmasq_clean(env->cfg, &n,
		    env->tenant_dhcp, err_slot(first, err, &scratch)));
	names_release(&n);
	return first;
}

/* ---- pxe ---- */

/*
 * The DHCP options for a node in 'mode'.  UNSET serves both: the
 * loader of the mode that is not [deploy] default_boot_mode to its
 * architecture tag, the default one to every other client (those that
 * send no option 93 too, or when dnsmasq.conf lacks the dhcp-match lines).
 */
static void
dhcp_loaders(struct lb_render_dhcp *dhcp, const struct lb_config *cfg,
    enum lb_boot_mode mode, const char *bios, const char *uefi)
{
	dhcp->arch_tag = NULL;
	dhcp->arch_bootfile = NULL;
	if (mode == LB_BOOT_MODE_UNSET) {
		mode = lb_boot_mode_default(cfg);
		dhcp->arch_tag = mode == LB_BOOT_MODE_BIOS ? LB_DHCP_TAG_UEFI :
		    LB_DHCP_TAG_BIOS;
		dhcp->arch_bootfile = mode == LB_BOOT_MODE_BIOS ? uefi : bios;
	}
	dhcp->bootfile = mode == LB_BOOT_MODE_BIOS ? bios : uefi;
}

/*
 * <uuid>/config and the links to it, as Ironic stages them for the one
 * mode; for UNSET, pxelinux's there and grub's in <uuid>/grub.cfg.
 */
static int
pxe_stage_configs(const struct lb_boot_dir *root, const struct node_names *n,
    const struct lb_boot_images *images, enum lb_boot_mode mode,
    const char *pxelinux, const char *grub, struct lb_err *err)
{
	struct lb_boot_dir dir;
	int r;

	/* Config before links, links before DHCP: nothing dangles. */
	if (mode == LB_BOOT_MODE_UEFI) {
		r = stage_node_dir(root, n, images, grub, "grub config", err);
		return r < 0 ? r : link_grub_cfg(root, n, n->config, err);
	}
	r = stage_node_dir(root, n, images, pxelinux, "pxe config", err);
	if (r == 0)
		r = link_pxelinux_cfg(root, n, "01-", err);
	if (r < 0 || mode == LB_BOOT_MODE_BIOS)
		return r;
	r = lb_boot_dir_open(&dir, root, n->uuid, false, err);
	if (r == 0)
		r = lb_boot_write_file(&dir, "grub.cfg", grub, strlen(grub),
		    "grub config", err);
	lb_boot_dir_close(&dir);
	return r < 0 ? r : link_grub_cfg(root, n, n->grub_config, err);
}

/* pxelinux's config; 'url' is http_url without trailing slash, or NULL. */
static char *
render_pxelinux(const struct lb_config *cfg, enum lb_pxelinux_fetch fetch,
    const char *uuid, const char *params, const char *url)
{
	if (fetch == LB_PXELINUX_FETCH_IPXE)
		return lb_render_pxelinux_ipxe(uuid, params, url,
		    cfg->pxe_ipxe_kernel_name, cfg->pxe_ipxe_timeout > 0 ?
		    (long)cfg->pxe_ipxe_timeout * 1000 : 0);
	return lb_render_pxelinux(uuid, params, url);
}

/*
 * How pxelinux fetches the rest for a node of this mode, and whether the
 * configuration has what that needs (grub, for UEFI and nodes without a
 * boot_mode, needs the TFTP server's address).
 */
static int
check_fetch(const struct lb_boot_env *env, enum lb_boot_mode mode,
    enum lb_pxelinux_fetch *ret_fetch, struct lb_err *err)
{
	enum lb_pxelinux_fetch fetch;
	int r = 0;

	if (mode != LB_BOOT_MODE_BIOS)
		r = check_value("[pxe] tftp_server", env->tftp_server, " ",
		    err);
	/* pxelinux serves BIOS nodes and those without a boot_mode. */
	fetch = mode != LB_BOOT_MODE_UEFI ? pxelinux_fetch(env) :
	    LB_PXELINUX_FETCH_TFTP;
	if (r == 0 && (fetch == LB_PXELINUX_FETCH_HTTP ||
	    fetch == LB_PXELINUX_FETCH_IPXE))
		r = check_value("[deploy] http_url (for [pxe] pxelinux_fetch)",
		    env->http_url, " ", err);
	if (r == 0 && fetch == LB_PXELINUX_FETCH_IPXE)
		r = check_value("[pxe] ipxe_kernel_name",
		    env->cfg->pxe_ipxe_kernel_name, " ", err);
	*ret_fetch = fetch;
	return r;
}

static int
pxe_prepare_ramdisk(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err)
{
	const struct lb_config *cfg = env->cfg;
	struct lb_render_dhcp dhcp;
	struct lb_boot_dir root;
	enum lb_boot_mode mode;
	char *params = NULL, *pxelinux = NULL, *grub = NULL, *url = NULL;
	const struct lb_boot_images *tftp_images = images;
	enum lb_pxelinux_fetch fetch;
	struct node_names n;
	bool http;
	int r;

	r = prepare_check(env, task, images, &n, err);
	if (r < 0)
		return r;
	lb_boot_dir_init(&root);
	mode = lb_boot_mode_of(task);
	r = check_fetch(env, mode, &fetch, err);
	if (r < 0)
		goto out;
	http = fetch == LB_PXELINUX_FETCH_HTTP ||
	    fetch == LB_PXELINUX_FETCH_IPXE;
	r = kernel_params(env, task, request_id, extra_params, &params, err);
	if (r == 0 && fetch == LB_PXELINUX_FETCH_IPXE)
		r = check_ipxe_params(params, err);
	if (r < 0)
		goto out;
	if (http)
		url = base_url(env->http_url);
	if (mode != LB_BOOT_MODE_UEFI && (!http || url != NULL))
		pxelinux = render_pxelinux(cfg, fetch, n.uuid, params, url);
	if (mode != LB_BOOT_MODE_BIOS)
		grub = lb_render_grub(n.uuid, params, env->tftp_server);
	if ((mode != LB_BOOT_MODE_UEFI && pxelinux == NULL) ||
	    (mode != LB_BOOT_MODE_BIOS && grub == NULL)) {
		r = lb_err_set(err, -ENOMEM, "cannot render pxe config: out "
		    "of memory");
		goto out;
	}
	r = lb_boot_dir_open_root(&root, cfg->pxe_tftp_root, "tftp root", err);
	/*
	 * Images before config, config before links, links before DHCP.
	 * Over HTTP a BIOS node needs no images on TFTP; grub (no boot_mode)
	 * still fetches them there.
	 */
	if (r == 0 && http) {
		r = stage_http_images(cfg, &n, images, err);
		if (mode == LB_BOOT_MODE_BIOS)
			tftp_images = NULL;
	}
	if (r == 0)
		r = pxe_stage_configs(&root, &n, tftp_images, mode, pxelinux,
		    grub, err);
	if (r < 0 || !use_dnsmasq(cfg))
		goto out;
	dhcp.tag = n.uuid;
	dhcp_loaders(&dhcp, cfg, mode, cfg->pxe_bootfile_name,
	    cfg->pxe_uefi_bootfile_name);
	dhcp.ipxe_script_url = NULL;
	dhcp.tftp_server = env->tftp_server;
	r = dnsmasq_stage(cfg, &n, &dhcp, err);
out:
	lb_boot_dir_close(&root);
	free(url);
	free(grub);
	free(pxelinux);
	free(params);
	names_release(&n);
	return r;
}

/* pxe and ipxe: node validate's word on the boot mode(s) served. */
static void
pxe_describe(const struct lb_config *cfg, const struct lb_task *task,
    char *buf, size_t size)
{
	enum lb_boot_mode mode = lb_boot_mode_of(task);

	if (mode != LB_BOOT_MODE_UNSET)
		snprintf(buf, size, "serves %s (boot_mode capability)",
		    lb_boot_mode_label(mode));
	else if (use_dnsmasq(cfg))
		snprintf(buf, size, "serves BIOS and UEFI by the DHCP client "
		    "architecture (default: %s)", lb_boot_mode_default(cfg) ==
		    LB_BOOT_MODE_BIOS ? "bios" : "uefi");
	else
		snprintf(buf, size, "stages BIOS and UEFI boot files; the "
		    "DHCP server ([dhcp] dhcp_provider none) picks the loader");
}

/* The TFTP staging, and the HTTP copies whichever way it was staged. */
static int
pxe_clean_up_ramdisk(const struct lb_boot_env *env, const struct lb_task *task,
    struct lb_err *err)
{
	struct lb_boot_dir root;
	struct node_names n;
	struct lb_err scratch;
	int first, r;

	first = clean_up(env, task, env->cfg->pxe_tftp_root, "tftp root",
	    true, err);
	if (env->cfg->deploy_http_root == NULL ||
	    env->cfg->deploy_http_root[0] == '\0')
		return first;
	r = names_init(&n, task, err_slot(first, err, &scratch));
	if (r < 0)
		return first < 0 ? first : r;
	r = lb_boot_dir_open_root(&root, env->cfg->deploy_http_root,
	    "http root", err_slot(first, err, &scratch));
	if (r == 0)
		r = lb_boot_remove_tree(&root, n.uuid, err_slot(first, err,
		    &scratch));
	keep_first(&first, r == -ENOENT ? 0 : r);
	lb_boot_dir_close(&root);
	names_release(&n);
	return first;
}

const struct lb_boot_ops lb_boot_pxe = {
	.name = "pxe",
	.device = LB_BOOT_DEV_PXE,
	.prepare_ramdisk = pxe_prepare_ramdisk,
	.clean_up_ramdisk = pxe_clean_up_ramdisk,
	.describe = pxe_describe,
};

/* ---- ipxe ---- */

static int
ipxe_prepare_ramdisk(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err)
{
	const struct lb_config *cfg = env->cfg;
	char *params = NULL, *config = NULL, *boot = NULL, *url = NULL;
	char *script_url = NULL;
	struct lb_render_dhcp dhcp;
	struct lb_boot_dir root;
	struct node_names n;
	int r;

	r = prepare_check(env, task, images, &n, err);
	if (r < 0)
		return r;
	lb_boot_dir_init(&root);
	r = check_value("[deploy] http_url", env->http_url, " ", err);
	if (r < 0)
		goto out;
	r = kernel_params(env, task, request_id, extra_params, &params, err);
	if (r < 0)
		goto out;
	url = base_url(env->http_url);
	if (url != NULL && asprintf(&script_url, "%s/boot.ipxe", url) < 0)
		script_url = NULL;
	if (script_url != NULL)
		config = lb_render_ipxe(url, n.uuid, params,
		    cfg->pxe_ipxe_timeout > 0 ?
		    (long)cfg->pxe_ipxe_timeout * 1000 : 0);
	if (config != NULL)
		boot = lb_render_boot_ipxe();
	if (boot == NULL) {
		r = lb_err_set(err, -ENOMEM, "cannot render ipxe config: out "
		    "of memory");
		goto out;
	}
	r = lb_boot_dir_open_root(&root, cfg->deploy_http_root, "http root",
	    err);
	if (r < 0)
		goto out;
	r = stage_node_dir(&root, &n, images, config, "ipxe config", err);
	if (r == 0)
		r = link_pxelinux_cfg(&root, &n, "", err);
	if (r == 0)
		r = lb_boot_write_file_if_changed(&root, "boot.ipxe", boot,
		    strlen(boot), false, "ipxe boot script", err);
	if (r < 0 || !use_dnsmasq(cfg)) {
		r = r < 0 ? r : 0;
		goto out;
	}
	dhcp.tag = n.uuid;
	dhcp_loaders(&dhcp, cfg, lb_boot_mode_of(task),
	    cfg->pxe_ipxe_bootfile_name, cfg->pxe_uefi_ipxe_bootfile_name);
	dhcp.ipxe_script_url = script_url;
	dhcp.tftp_server = env->tftp_server;
	r = dnsmasq_stage(cfg, &n, &dhcp, err);
out:
	lb_boot_dir_close(&root);
	free(script_url);
	free(url);
	free(boot);
	free(config);
	free(params);
	names_release(&n);
	return r;
}

static int
ipxe_clean_up_ramdisk(const struct lb_boot_env *env,
    const struct lb_task *task, struct lb_err *err)
{
	return clean_up(env, task, env->cfg->deploy_http_root, "http root",
	    false, err);
}

const struct lb_boot_ops lb_boot_ipxe = {
	.name = "ipxe", .flags = LB_BOOT_NEEDS_HTTP,
	.device = LB_BOOT_DEV_PXE,
	.prepare_ramdisk = ipxe_prepare_ramdisk,
	.clean_up_ramdisk = ipxe_clean_up_ramdisk,
	.describe = pxe_describe,
};
