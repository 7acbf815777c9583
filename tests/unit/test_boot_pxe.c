/*
 * test_boot_pxe.c - the pxe and ipxe boot interfaces against a temporary
 * directory: the staged layout and contents (golden files under
 * tests/unit/golden/boot/, via $LB_SOURCE_ROOT), links, hard links,
 * dnsmasq files, clean-up, idempotency and refusal of bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_pxe.h"
#include "boot/registry.h"
#include "conductor/util/config.h"
#include "conductor/util/banned.h"

#define UUID "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
#define OTHER_UUID "0f6e4b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define MAC1 "52:54:00:12:34:56"
#define MAC2 "52:54:00:ab:cd:ef"
#define REQ "req-5c1e0b7e-8f5d-4e0e-9a0c-3b1c2d3e4f50"

struct fixture {
	char top[PATH_MAX];
	char kernel[PATH_MAX];
	char ramdisk[PATH_MAX];
	struct lb_config cfg;
	struct lb_boot_env env;
	struct lb_boot_images images;
	struct lb_task task;
	const char *macs[2];
	json_t *driver_info;
	json_t *instance_info;
	json_t *properties;
	struct lb_err err;
};

static void
set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
	assert_true(value == NULL || *field != NULL);
}

static void
sub(const struct fixture *f, const char *rel, char *out)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", f->top, rel) >= PATH_MAX)
		fail_msg("path too long: '%s'", rel);
}

static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static char *
read_path(const char *path)
{
	struct stat st;
	char *data;
	FILE *fp;

	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot read '%s'", path);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)st.st_size, fp),
	    (size_t)st.st_size);
	data[st.st_size] = '\0';
	fclose(fp);
	return data;
}

static void
assert_golden(const struct fixture *f, const char *rel, const char *golden)
{
	const char *root = getenv("LB_SOURCE_ROOT");
	char path[PATH_MAX], gpath[PATH_MAX];
	char *got, *want;

	sub(f, rel, path);
	snprintf(gpath, sizeof(gpath), "%s/tests/unit/golden/boot/%s",
	    root ? root : ".", golden);
	got = read_path(path);
	want = read_path(gpath);
	if (strcmp(got, want) != 0)
		fail_msg("'%s' differs from '%s':\n%s", rel, golden, got);
	free(got);
	free(want);
}

static void
mkdir_sub(const struct fixture *f, const char *rel)
{
	char path[PATH_MAX];

	sub(f, rel, path);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[PATH_MAX];

	assert_non_null(f);
	snprintf(f->top, sizeof(f->top), "%s/lb-boot-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->top));
	mkdir_sub(f, "tftp");
	mkdir_sub(f, "http");
	mkdir_sub(f, "hosts");
	mkdir_sub(f, "opts");
	mkdir_sub(f, "images");
	sub(f, "images/kernel", f->kernel);
	sub(f, "images/ramdisk", f->ramdisk);
	write_text(f->kernel, "KERNEL\n");
	write_text(f->ramdisk, "RAMDISK\n");

	lb_config_init(&f->cfg);
	sub(f, "tftp", path);
	set_str(&f->cfg.pxe_tftp_root, path);
	sub(f, "http", path);
	set_str(&f->cfg.deploy_http_root, path);
	sub(f, "hosts", path);
	set_str(&f->cfg.dnsmasq_hostsdir, path);
	sub(f, "opts", path);
	set_str(&f->cfg.dnsmasq_optsdir, path);

	f->env.cfg = &f->cfg;
	f->env.api_url = "http://10.99.0.1:6385";
	f->env.http_url = "http://10.99.0.1:8088";
	f->env.tftp_server = "10.99.0.1";
	f->images.kernel = f->kernel;
	f->images.ramdisk = f->ramdisk;
	f->driver_info = json_object();
	f->instance_info = json_object();
	f->properties = json_object();
	f->macs[0] = MAC1;
	f->macs[1] = "52-54-00-AB-CD-EF";	/* normalised to MAC2 */
	f->task.node_uuid = UUID;
	f->task.driver = "ipmi";
	f->task.driver_info = f->driver_info;
	f->task.instance_info = f->instance_info;
	f->task.properties = f->properties;
	f->task.port_macs = f->macs;
	f->task.nports = 2;
	*state = f;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(f->driver_info);
	json_decref(f->instance_info);
	json_decref(f->properties);
	lb_config_release(&f->cfg);
	free(f);
	return 0;
}

static void
set_bios(struct fixture *f)
{
	json_object_set_new(f->properties, "capabilities",
	    json_string("boot_mode:bios"));
}

static void
set_uefi(struct fixture *f)
{
	json_object_set_new(f->properties, "capabilities",
	    json_pack("{s:s}", "boot_mode", "uefi"));
}

static void
use_dnsmasq(struct fixture *f)
{
	set_str(&f->cfg.dhcp_provider, "dnsmasq");
}

static int
prepare(struct fixture *f, const struct lb_boot_ops *ops)
{
	return ops->prepare_ramdisk(&f->env, &f->task, &f->images, REQ, NULL,
	    &f->err);
}

static int
clean(struct fixture *f, const struct lb_boot_ops *ops)
{
	return ops->clean_up_ramdisk(&f->env, &f->task, &f->err);
}

static void
assert_ok(struct fixture *f, int r)
{
	if (r != 0)
		fail_msg("failed (%d): %s", r, f->err.msg);
}

/* ---- the tree below the fixture, as one sorted string ---- */

static char *tree_buf;
static size_t tree_len, tree_skip;

static int
tree_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	const char *rel = path + tree_skip;
	size_t len;
	char *p;

	(void)ftw;
	if (*rel == '\0' || strncmp(rel, "/images", 7) == 0)
		return 0;
	len = strlen(rel) + 3;
	p = realloc(tree_buf, tree_len + len + 1);
	assert_non_null(p);
	tree_buf = p;
	tree_len += (size_t)snprintf(tree_buf + tree_len, len + 1, "%s%s\n",
	    rel + 1, flag == FTW_SL ? "@" : S_ISDIR(st->st_mode) ? "/" : "");
	return 0;
}

static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of 'text' sorted; takes ownership of 'text'. */
static char *
sorted_lines(char *text)
{
	char *lines[256], *out, *line, *save = NULL;
	size_t n = 0, i, len = 0, size = strlen(text) + 1;

	for (line = strtok_r(text, "\n", &save); line != NULL && n < 256;
	    line = strtok_r(NULL, "\n", &save))
		lines[n++] = line;
	qsort(lines, n, sizeof(lines[0]), cmp_lines);
	out = malloc(size);
	assert_non_null(out);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%s\n",
		    lines[i]);
	free(text);
	return out;
}

/* Every path below top except images/, sorted, '/' after dirs, '@' links. */
static char *
tree(const struct fixture *f)
{
	char *text;

	tree_buf = NULL;
	tree_len = 0;
	tree_skip = strlen(f->top);
	assert_int_equal(nftw(f->top, tree_entry, 16, FTW_PHYS), 0);
	text = tree_buf ? tree_buf : strdup("");
	tree_buf = NULL;
	return sorted_lines(text);
}

static void
assert_tree(const struct fixture *f, const char *want)
{
	char *got = tree(f);
	char *w = sorted_lines(strdup(want));

	if (strcmp(got, w) != 0)
		fail_msg("tree differs:\n--- got\n%s--- want\n%s", got, w);
	free(got);
	free(w);
}

#define EMPTY_TREE "hosts/\nhttp/\nopts/\ntftp/\n"

/* 'rel' is a symlink to 'target' and resolves to 'resolved'. */
static void
assert_link(const struct fixture *f, const char *rel, const char *target,
    const char *resolved)
{
	char path[PATH_MAX], buf[PATH_MAX], real[PATH_MAX], want[PATH_MAX];
	char wreal[PATH_MAX];
	ssize_t n;

	sub(f, rel, path);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		fail_msg("'%s' is not a symlink", rel);
	buf[n] = '\0';
	assert_string_equal(buf, target);
	assert_non_null(realpath(path, real));
	sub(f, resolved, want);
	assert_non_null(realpath(want, wreal));
	assert_string_equal(real, wreal);
}

static void
assert_same_inode(const char *a, const char *b)
{
	struct stat sa, sb;

	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_true(sa.st_dev == sb.st_dev);
	assert_true(sa.st_ino == sb.st_ino);
}

static void
assert_mode(const struct fixture *f, const char *rel, mode_t mode)
{
	char path[PATH_MAX];
	struct stat st;

	sub(f, rel, path);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
}

/* ---- pxe ---- */

static void
test_pxe_bios_layout(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	set_bios(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE
	    "tftp/" UUID "/\n"
	    "tftp/" UUID "/config\n"
	    "tftp/" UUID "/rescue_kernel\n"
	    "tftp/" UUID "/rescue_ramdisk\n"
	    "tftp/pxelinux.cfg/\n"
	    "tftp/pxelinux.cfg/01-52-54-00-12-34-56@\n"
	    "tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef@\n");
	assert_golden(f, "tftp/" UUID "/config", "pxelinux.cfg");
	assert_link(f, "tftp/pxelinux.cfg/01-52-54-00-12-34-56",
	    "../" UUID "/config", "tftp/" UUID "/config");
	assert_link(f, "tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef",
	    "../" UUID "/config", "tftp/" UUID "/config");
	sub(f, "tftp/" UUID "/rescue_kernel", path);
	assert_same_inode(path, f->kernel);
	sub(f, "tftp/" UUID "/rescue_ramdisk", path);
	assert_same_inode(path, f->ramdisk);
}

static void
test_pxe_uefi_layout(void **state)
{
	struct fixture *f = *state;

	set_uefi(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE
	    "tftp/" UUID "/\n"
	    "tftp/" UUID "/config\n"
	    "tftp/" UUID "/rescue_kernel\n"
	    "tftp/" UUID "/rescue_ramdisk\n"
	    "tftp/52:54:00:12:34:56.conf@\n"
	    "tftp/52:54:00:ab:cd:ef.conf@\n"
	    "tftp/grub.cfg-01-52-54-00-12-34-56@\n"
	    "tftp/grub.cfg-01-52-54-00-ab-cd-ef@\n"
	    "tftp/grub/\n"
	    "tftp/grub/grub.cfg\n");
	assert_golden(f, "tftp/" UUID "/config", "grub.cfg");
	assert_golden(f, "tftp/grub/grub.cfg", "grub_master.cfg");
	assert_link(f, "tftp/grub.cfg-01-52-54-00-12-34-56", UUID "/config",
	    "tftp/" UUID "/config");
	assert_link(f, "tftp/52:54:00:ab:cd:ef.conf", UUID "/config",
	    "tftp/" UUID "/config");
}

/*
 * No boot_mode: pxelinux's config and links as for BIOS, grub's config
 * beside it in <uuid>/grub.cfg with grub's links to that, whatever
 * default_boot_mode says.
 */
static void
test_pxe_unset_layout(void **state)
{
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < 2; i++) {
		f->cfg.deploy_default_boot_mode = (enum lb_default_boot_mode)i;
		assert_ok(f, prepare(f, &lb_boot_pxe));
		assert_tree(f, EMPTY_TREE
		    "tftp/" UUID "/\n"
		    "tftp/" UUID "/config\n"
		    "tftp/" UUID "/grub.cfg\n"
		    "tftp/" UUID "/rescue_kernel\n"
		    "tftp/" UUID "/rescue_ramdisk\n"
		    "tftp/52:54:00:12:34:56.conf@\n"
		    "tftp/52:54:00:ab:cd:ef.conf@\n"
		    "tftp/grub.cfg-01-52-54-00-12-34-56@\n"
		    "tftp/grub.cfg-01-52-54-00-ab-cd-ef@\n"
		    "tftp/grub/\n"
		    "tftp/grub/grub.cfg\n"
		    "tftp/pxelinux.cfg/\n"
		    "tftp/pxelinux.cfg/01-52-54-00-12-34-56@\n"
		    "tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef@\n");
		assert_golden(f, "tftp/" UUID "/config", "pxelinux.cfg");
		assert_golden(f, "tftp/" UUID "/grub.cfg", "grub.cfg");
		assert_golden(f, "tftp/grub/grub.cfg", "grub_master.cfg");
		assert_link(f, "tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef",
		    "../" UUID "/config", "tftp/" UUID "/config");
		assert_link(f, "tftp/grub.cfg-01-52-54-00-12-34-56",
		    UUID "/grub.cfg", "tftp/" UUID "/grub.cfg");
		assert_link(f, "tftp/52:54:00:ab:cd:ef.conf", UUID "/grub.cfg",
		    "tftp/" UUID "/grub.cfg");
		assert_ok(f, clean(f, &lb_boot_pxe));
		assert_tree(f, EMPTY_TREE "tftp/grub/\ntftp/grub/grub.cfg\n"
		    "tftp/pxelinux.cfg/\n");
	}
}

/* The bios and uefi files for the boot_mode × default_boot_mode table. */
static void
test_dnsmasq_modes_table(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *caps;		/* NULL: no capabilities */
		enum lb_default_boot_mode def;
		const char *pxe, *ipxe;		/* golden options files */
	} rows[] = {
		{ "boot_mode:bios", LB_DEFAULT_BOOT_UEFI,
		  "dnsmasq_opts_pxe_bios.conf", "dnsmasq_opts_ipxe_bios.conf" },
		{ "boot_mode:bios", LB_DEFAULT_BOOT_BIOS,
		  "dnsmasq_opts_pxe_bios.conf", "dnsmasq_opts_ipxe_bios.conf" },
		{ "boot_mode:uefi", LB_DEFAULT_BOOT_UEFI,
		  "dnsmasq_opts_pxe_uefi.conf", "dnsmasq_opts_ipxe_uefi.conf" },
		{ "boot_mode:uefi", LB_DEFAULT_BOOT_BIOS,
		  "dnsmasq_opts_pxe_uefi.conf", "dnsmasq_opts_ipxe_uefi.conf" },
		{ NULL, LB_DEFAULT_BOOT_UEFI,
		  "dnsmasq_opts_pxe_both.conf", "dnsmasq_opts_ipxe_both.conf" },
		{ NULL, LB_DEFAULT_BOOT_BIOS, "dnsmasq_opts_pxe_both_bios.conf",
		  "dnsmasq_opts_ipxe_both_bios.conf" },
		{ "secure_boot:false", LB_DEFAULT_BOOT_BIOS,
		  "dnsmasq_opts_pxe_both_bios.conf",
		  "dnsmasq_opts_ipxe_both_bios.conf" },
	};
	size_t i;

	use_dnsmasq(f);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].caps != NULL)
			json_object_set_new(f->properties, "capabilities",
			    json_string(rows[i].caps));
		else
			json_object_del(f->properties, "capabilities");
		f->cfg.deploy_default_boot_mode = rows[i].def;
		assert_ok(f, prepare(f, &lb_boot_pxe));
		assert_golden(f, "opts/ironic-" UUID ".conf", rows[i].pxe);
		assert_golden(f, "hosts/ironic-" MAC1 ".conf",
		    "dnsmasq_host.conf");
		assert_ok(f, clean(f, &lb_boot_pxe));
		assert_ok(f, prepare(f, &lb_boot_ipxe));
		assert_golden(f, "opts/ironic-" UUID ".conf", rows[i].ipxe);
		assert_ok(f, clean(f, &lb_boot_ipxe));
	}
}

/* A configured loader name that would split dnsmasq's fields is refused. */
static void
test_unset_checks_both_loaders(void **state)
{
	struct fixture *f = *state;

	use_dnsmasq(f);
	set_str(&f->cfg.pxe_bootfile_name, "pxelinux.0,evil");
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "pxelinux.0,evil"));
	set_uefi(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
}

static void
test_grub_master_kept(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	char *text;

	mkdir_sub(f, "tftp/grub");
	sub(f, "tftp/grub/grub.cfg", path);
	write_text(path, "# the operator's own\n");
	assert_ok(f, prepare(f, &lb_boot_pxe));
	text = read_path(path);
	assert_string_equal(text, "# the operator's own\n");
	free(text);
}

static void
test_pxe_dnsmasq_bios(void **state)
{
	struct fixture *f = *state;

	set_bios(f);
	use_dnsmasq(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "hosts/ironic-" MAC1 ".conf", "dnsmasq_host.conf");
	assert_golden(f, "opts/ironic-" UUID ".conf",
	    "dnsmasq_opts_pxe_bios.conf");
	assert_mode(f, "opts/ironic-" UUID ".conf", 0644);
}

static void
test_pxe_dnsmasq_uefi(void **state)
{
	struct fixture *f = *state;

	set_uefi(f);
	use_dnsmasq(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "hosts/ironic-" MAC1 ".conf", "dnsmasq_host.conf");
	assert_golden(f, "opts/ironic-" UUID ".conf",
	    "dnsmasq_opts_pxe_uefi.conf");
}

/* Both boot modes, with dnsmasq: only the shared files stay. */
static void
test_pxe_clean_up_leaves_nothing(void **state)
{
	struct fixture *f = *state;

	use_dnsmasq(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	set_uefi(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	set_bios(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, "hosts/\n"
	    "hosts/ironic-" MAC1 ".conf\n"
	    "hosts/ironic-" MAC2 ".conf\n"
	    "http/\nopts/\ntftp/\n"
	    "tftp/grub/\n"
	    "tftp/grub/grub.cfg\n"
	    "tftp/pxelinux.cfg/\n");
	assert_golden(f, "hosts/ironic-" MAC1 ".conf", "dnsmasq_known.conf");
}

/*
 * The host file after clean-up, per network kind: on one flat network
 * (noop, flat) lifeboat's dnsmasq keeps answering the MAC with no tag,
 * so no boot options; where a tenant DHCP takes over (switch) it ignores
 * the MAC, as Ironic does.  The options file goes either way.
 */
static void
clean_up_host_file(void **state, const struct lb_boot_ops *ops,
    bool tenant_dhcp, const char *golden)
{
	struct fixture *f = *state;
	char path[PATH_MAX], *text;

	use_dnsmasq(f);
	set_bios(f);
	f->env.tenant_dhcp = tenant_dhcp;
	assert_ok(f, prepare(f, ops));
	assert_golden(f, "hosts/ironic-" MAC1 ".conf", "dnsmasq_host.conf");
	assert_ok(f, clean(f, ops));
	assert_golden(f, "hosts/ironic-" MAC1 ".conf", golden);
	sub(f, "hosts/ironic-" MAC2 ".conf", path);
	text = read_path(path);
	assert_string_equal(text, tenant_dhcp ? MAC2 ",ignore\n" :
	    MAC2 "\n");
	free(text);
	sub(f, "opts/ironic-" UUID ".conf", path);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_pxe_clean_up_flat_keeps_serving(void **state)
{
	clean_up_host_file(state, &lb_boot_pxe, false, "dnsmasq_known.conf");
}

static void
test_pxe_clean_up_tenant_dhcp_ignores(void **state)
{
	clean_up_host_file(state, &lb_boot_pxe, true, "dnsmasq_ignore.conf");
}

static void
test_ipxe_clean_up_flat_keeps_serving(void **state)
{
	clean_up_host_file(state, &lb_boot_ipxe, false, "dnsmasq_known.conf");
}

static void
test_ipxe_clean_up_tenant_dhcp_ignores(void **state)
{
	clean_up_host_file(state, &lb_boot_ipxe, true, "dnsmasq_ignore.conf");
}

static void
test_pxe_idempotent(void **state)
{
	struct fixture *f = *state;
	char *first, *second, path[PATH_MAX];

	set_bios(f);
	use_dnsmasq(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	first = tree(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	second = tree(f);
	assert_string_equal(first, second);
	free(first);
	free(second);
	sub(f, "tftp/" UUID "/rescue_kernel", path);
	assert_same_inode(path, f->kernel);
	assert_golden(f, "tftp/" UUID "/config", "pxelinux.cfg");
	assert_ok(f, clean(f, &lb_boot_pxe));
	first = tree(f);
	assert_ok(f, clean(f, &lb_boot_pxe));
	second = tree(f);
	assert_string_equal(first, second);
	free(first);
	free(second);
}

static void
test_clean_up_without_prepare(void **state)
{
	struct fixture *f = *state;

	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_ok(f, clean(f, &lb_boot_ipxe));
	assert_tree(f, EMPTY_TREE);
}

/* A port deleted after prepare: its link still goes at clean-up. */
static void
test_clean_up_finds_links_by_target(void **state)
{
	struct fixture *f = *state;

	set_bios(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	f->task.nports = 1;
	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE "tftp/pxelinux.cfg/\n");
}

static void
test_clean_up_keeps_other_nodes(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	set_bios(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	mkdir_sub(f, "tftp/" OTHER_UUID);
	sub(f, "tftp/" OTHER_UUID "/config", path);
	write_text(path, "other\n");
	sub(f, "tftp/pxelinux.cfg/01-52-54-00-00-00-99", path);
	assert_int_equal(symlink("../" OTHER_UUID "/config", path), 0);
	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE
	    "tftp/" OTHER_UUID "/\n"
	    "tftp/" OTHER_UUID "/config\n"
	    "tftp/pxelinux.cfg/\n"
	    "tftp/pxelinux.cfg/01-52-54-00-00-00-99@\n");
}

/* ---- pxe with lpxelinux over HTTP ---- */

static void
use_lpxelinux(struct fixture *f)
{
	set_str(&f->cfg.pxe_bootfile_name, "bios/lpxelinux.0");
}

#define HTTP_TREE EMPTY_TREE \
	"http/" UUID "/\n" \
	"http/" UUID "/rescue_kernel\n" \
	"http/" UUID "/rescue_ramdisk\n" \
	"tftp/" UUID "/\n" \
	"tftp/" UUID "/config\n" \
	"tftp/pxelinux.cfg/\n" \
	"tftp/pxelinux.cfg/01-52-54-00-12-34-56@\n" \
	"tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef@\n"

/* auto + lpxelinux.0: images below http_root, the config names them. */
static void
test_pxe_http_layout(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	set_bios(f);
	use_lpxelinux(f);
	use_dnsmasq(f);
	f->env.http_url = "http://10.99.0.1:8088/";	/* slash dropped */
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_tree(f, HTTP_TREE
	    "hosts/ironic-" MAC1 ".conf\n"
	    "hosts/ironic-" MAC2 ".conf\n"
	    "opts/ironic-" UUID ".conf\n");
	assert_golden(f, "tftp/" UUID "/config", "pxelinux_http.cfg");
	assert_link(f, "tftp/pxelinux.cfg/01-52-54-00-12-34-56",
	    "../" UUID "/config", "tftp/" UUID "/config");
	sub(f, "http/" UUID "/rescue_kernel", path);
	assert_same_inode(path, f->kernel);
	sub(f, "http/" UUID "/rescue_ramdisk", path);
	assert_same_inode(path, f->ramdisk);
	assert_mode(f, "http/" UUID, 0755);
	/* TFTP still hands out the loader the operator named */
	assert_golden(f, "opts/ironic-" UUID ".conf",
	    "dnsmasq_opts_lpxelinux.conf");
}

/*
 * No boot_mode + lpxelinux.0: pxelinux names the images by URL, grub
 * (UEFI clients) still fetches them over TFTP, so both roots hold them.
 */
static void
test_pxe_http_without_boot_mode(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	use_lpxelinux(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "tftp/" UUID "/config", "pxelinux_http.cfg");
	sub(f, "tftp/" UUID "/rescue_kernel", path);
	assert_same_inode(path, f->kernel);
	sub(f, "http/" UUID "/rescue_kernel", path);
	assert_same_inode(path, f->kernel);
	sub(f, "http/" UUID "/rescue_ramdisk", path);
	assert_same_inode(path, f->ramdisk);
	sub(f, "tftp/" UUID "/grub.cfg", path);
	assert_int_equal(access(path, F_OK), 0);
	assert_ok(f, clean(f, &lb_boot_pxe));
	/* grub's master config stays, as Ironic's does */
	assert_tree(f, EMPTY_TREE "tftp/grub/\n" "tftp/grub/grub.cfg\n"
	    "tftp/pxelinux.cfg/\n");
}

static void
test_pxe_http_clean_up_leaves_nothing(void **state)
{
	struct fixture *f = *state;

	set_bios(f);
	use_lpxelinux(f);
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE "tftp/pxelinux.cfg/\n");
	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE "tftp/pxelinux.cfg/\n");
}

/* The option beats the file name, both ways. */
static void
test_pxe_http_option(void **state)
{
	struct fixture *f = *state;

	set_bios(f);
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_HTTP;
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_tree(f, HTTP_TREE);
	assert_golden(f, "tftp/" UUID "/config", "pxelinux_http.cfg");
	assert_ok(f, clean(f, &lb_boot_pxe));

	use_lpxelinux(f);
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_TFTP;
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "tftp/" UUID "/config", "pxelinux.cfg");
	assert_tree(f, EMPTY_TREE
	    "tftp/" UUID "/\n"
	    "tftp/" UUID "/config\n"
	    "tftp/" UUID "/rescue_kernel\n"
	    "tftp/" UUID "/rescue_ramdisk\n"
	    "tftp/pxelinux.cfg/\n"
	    "tftp/pxelinux.cfg/01-52-54-00-12-34-56@\n"
	    "tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef@\n");
}

/* auto without http_url: TFTP; always without it: refused, nothing made. */
static void
test_pxe_http_needs_http_url(void **state)
{
	struct fixture *f = *state;

	set_bios(f);
	use_lpxelinux(f);
	f->env.http_url = "";
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "tftp/" UUID "/config", "pxelinux.cfg");
	assert_ok(f, clean(f, &lb_boot_pxe));
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_HTTP;
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "http_url"));
	assert_tree(f, EMPTY_TREE "tftp/pxelinux.cfg/\n");
}

/* UEFI nodes keep grub over TFTP whatever the BIOS loader is. */
static void
test_pxe_http_not_for_uefi(void **state)
{
	struct fixture *f = *state;

	use_lpxelinux(f);
	set_uefi(f);
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_HTTP;
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "tftp/" UUID "/config", "grub.cfg");
	assert_tree(f, EMPTY_TREE
	    "tftp/" UUID "/\n"
	    "tftp/" UUID "/config\n"
	    "tftp/" UUID "/rescue_kernel\n"
	    "tftp/" UUID "/rescue_ramdisk\n"
	    "tftp/52:54:00:12:34:56.conf@\n"
	    "tftp/52:54:00:ab:cd:ef.conf@\n"
	    "tftp/grub.cfg-01-52-54-00-12-34-56@\n"
	    "tftp/grub.cfg-01-52-54-00-ab-cd-ef@\n"
	    "tftp/grub/\n"
	    "tftp/grub/grub.cfg\n");
}

/* ---- pxe: pxelinux boots iPXE, which fetches over HTTP ---- */

static void
use_ipxe_chain(struct fixture *f)
{
	set_bios(f);
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_IPXE;
}

/* Images below http_root as for lpxelinux; the config boots ipxe.lkrn. */
static void
test_pxe_ipxe_chain_layout(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	use_ipxe_chain(f);
	use_lpxelinux(f);	/* the option beats auto's choice */
	use_dnsmasq(f);
	f->env.http_url = "http://10.99.0.1:8088/";
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_tree(f, HTTP_TREE
	    "hosts/ironic-" MAC1 ".conf\n"
	    "hosts/ironic-" MAC2 ".conf\n"
	    "opts/ironic-" UUID ".conf\n");
	assert_golden(f, "tftp/" UUID "/config", "pxelinux_ipxe.cfg");
	assert_link(f, "tftp/pxelinux.cfg/01-52-54-00-ab-cd-ef",
	    "../" UUID "/config", "tftp/" UUID "/config");
	sub(f, "http/" UUID "/rescue_kernel", path);
	assert_same_inode(path, f->kernel);
	sub(f, "http/" UUID "/rescue_ramdisk", path);
	assert_same_inode(path, f->ramdisk);
	/* DHCP still hands out pxelinux, which loads iPXE */
	assert_golden(f, "opts/ironic-" UUID ".conf",
	    "dnsmasq_opts_lpxelinux.conf");

	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE "tftp/pxelinux.cfg/\n"
	    "hosts/ironic-" MAC1 ".conf\n"
	    "hosts/ironic-" MAC2 ".conf\n");
}

/* ipxe_kernel_name and ipxe_timeout reach the config. */
static void
test_pxe_ipxe_chain_options(void **state)
{
	struct fixture *f = *state;

	use_ipxe_chain(f);
	set_str(&f->cfg.pxe_ipxe_kernel_name, "ipxe/ipxe.lkrn");
	f->cfg.pxe_ipxe_timeout = 30;
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "tftp/" UUID "/config", "pxelinux_ipxe_timeout.cfg");
}

/*
 * Without http_url or ipxe_kernel_name, or with parameters iPXE would cut,
 * nothing is staged.
 */
static void
test_pxe_ipxe_chain_refusals(void **state)
{
	struct fixture *f = *state;

	use_ipxe_chain(f);
	f->env.http_url = "";
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "http_url"));
	f->env.http_url = "http://10.99.0.1:8088";
	set_str(&f->cfg.pxe_ipxe_kernel_name, "");
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "ipxe_kernel_name"));
	set_str(&f->cfg.pxe_ipxe_kernel_name, "ipxe.lkrn");
	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("rd.initrd=/x quiet"));
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "initrd="));
	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("BOOT_IMAGE=/x"));
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_tree(f, EMPTY_TREE);
	/* the same parameters are fine over plain TFTP */
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_TFTP;
	assert_ok(f, prepare(f, &lb_boot_pxe));
}

/* UEFI nodes keep grub over TFTP. */
static void
test_pxe_ipxe_chain_not_for_uefi(void **state)
{
	struct fixture *f = *state;

	set_uefi(f);
	f->cfg.pxe_pxelinux_fetch = LB_PXELINUX_FETCH_IPXE;
	assert_ok(f, prepare(f, &lb_boot_pxe));
	assert_golden(f, "tftp/" UUID "/config", "grub.cfg");
}

/* ---- ipxe ---- */

static void
test_ipxe_layout(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_tree(f, EMPTY_TREE
	    "http/" UUID "/\n"
	    "http/" UUID "/config\n"
	    "http/" UUID "/rescue_kernel\n"
	    "http/" UUID "/rescue_ramdisk\n"
	    "http/boot.ipxe\n"
	    "http/pxelinux.cfg/\n"
	    "http/pxelinux.cfg/52-54-00-12-34-56@\n"
	    "http/pxelinux.cfg/52-54-00-ab-cd-ef@\n");
	assert_golden(f, "http/" UUID "/config", "ipxe.cfg");
	assert_golden(f, "http/boot.ipxe", "boot.ipxe");
	assert_link(f, "http/pxelinux.cfg/52-54-00-12-34-56",
	    "../" UUID "/config", "http/" UUID "/config");
	sub(f, "http/" UUID "/rescue_ramdisk", path);
	assert_same_inode(path, f->ramdisk);
}

static void
test_ipxe_timeout(void **state)
{
	struct fixture *f = *state;

	f->cfg.pxe_ipxe_timeout = 30;
	f->env.http_url = "http://10.99.0.1:8088/";	/* slash dropped */
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_golden(f, "http/" UUID "/config", "ipxe_timeout.cfg");
}

static void
test_ipxe_boot_script_rewritten(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	sub(f, "http/boot.ipxe", path);
	write_text(path, "#!ipxe\nexit 1\n");
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_golden(f, "http/boot.ipxe", "boot.ipxe");
}

static void
test_ipxe_dnsmasq(void **state)
{
	struct fixture *f = *state;

	set_uefi(f);
	use_dnsmasq(f);
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_golden(f, "opts/ironic-" UUID ".conf",
	    "dnsmasq_opts_ipxe_uefi.conf");
	assert_golden(f, "hosts/ironic-" MAC1 ".conf", "dnsmasq_host.conf");
	set_bios(f);
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_golden(f, "opts/ironic-" UUID ".conf",
	    "dnsmasq_opts_ipxe_bios.conf");
}

static void
test_ipxe_clean_up_leaves_nothing(void **state)
{
	struct fixture *f = *state;

	use_dnsmasq(f);
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_ok(f, clean(f, &lb_boot_ipxe));
	assert_ok(f, clean(f, &lb_boot_ipxe));
	assert_tree(f, "hosts/\n"
	    "hosts/ironic-" MAC1 ".conf\n"
	    "hosts/ironic-" MAC2 ".conf\n"
	    "http/\n"
	    "http/boot.ipxe\n"
	    "http/pxelinux.cfg/\n"
	    "opts/\ntftp/\n");
}

static void
test_ipxe_needs_http_url(void **state)
{
	struct fixture *f = *state;

	f->env.http_url = NULL;
	assert_int_equal(prepare(f, &lb_boot_ipxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "http_url"));
	assert_tree(f, EMPTY_TREE);
}

/* ---- refusals and safety ---- */

static void
test_refuses_bad_uuid(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"../../etc",
		"",
		"1be26c0b-03f2-4d2e-ae87-c02d7f33c12",
		"1be26c0b/03f2-4d2e-ae87-c02d7f33c123",
		"1be26c0b-03f2-4d2e-ae87-c02d7f33c123/..",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->task.node_uuid = bad[i];
		assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
		assert_non_null(strstr(f->err.msg, "invalid node uuid"));
		assert_int_equal(clean(f, &lb_boot_ipxe), -EINVAL);
	}
	f->task.node_uuid = NULL;
	assert_int_equal(prepare(f, &lb_boot_ipxe), -EINVAL);
	assert_tree(f, EMPTY_TREE);
}

static void
test_refuses_bad_mac(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "52:54:00:12:34:5g", "../../x",
	    "52:54:00:12:34:56:", "52:54-00:12:34:56" };
	size_t i;

	use_dnsmasq(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->macs[1] = bad[i];
		assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
		assert_non_null(strstr(f->err.msg, "invalid port mac"));
		assert_int_equal(prepare(f, &lb_boot_ipxe), -EINVAL);
		assert_int_equal(clean(f, &lb_boot_pxe), -EINVAL);
	}
	f->macs[1] = NULL;
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_tree(f, EMPTY_TREE);
}

static void
test_refuses_no_ports(void **state)
{
	struct fixture *f = *state;

	f->task.nports = 0;
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_string_equal(f->err.msg, "Node " UUID " does not have any "
	    "port associated with it.");
	assert_int_equal(prepare(f, &lb_boot_ipxe), -EINVAL);
	assert_tree(f, EMPTY_TREE);
}

static void
test_refuses_control_characters(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->driver_info, "kernel_append_params",
	    json_string("quiet\nkernel http://evil/x"));
	assert_int_equal(prepare(f, &lb_boot_ipxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "invalid kernel parameters"));
	json_object_del(f->driver_info, "kernel_append_params");
	use_dnsmasq(f);
	f->env.tftp_server = "10.99.0.1,10.0.0.2";
	assert_int_equal(prepare(f, &lb_boot_pxe), -EINVAL);
	assert_non_null(strstr(f->err.msg, "tftp_server"));
	assert_tree(f, EMPTY_TREE);
}

/* A symlink planted where the node directory goes is never followed. */
static void
test_never_writes_through_symlink(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], outside[PATH_MAX];

	mkdir_sub(f, "outside");
	sub(f, "outside/keep", path);
	write_text(path, "keep\n");
	sub(f, "outside", outside);
	sub(f, "tftp/" UUID, path);
	assert_int_equal(symlink(outside, path), 0);
	set_bios(f);
	assert_int_equal(prepare(f, &lb_boot_pxe), -ENOTDIR);
	assert_non_null(strstr(f->err.msg, "cannot open directory"));
	assert_ok(f, clean(f, &lb_boot_pxe));
	assert_tree(f, EMPTY_TREE "outside/\noutside/keep\n");

	/*
	 * Nor a symlinked pxelinux.cfg: clean-up says so, and still removes
	 * the node's directory.
	 */
	sub(f, "tftp/pxelinux.cfg", path);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(prepare(f, &lb_boot_pxe), -ENOTDIR);
	assert_int_equal(clean(f, &lb_boot_pxe), -ENOTDIR);
	assert_non_null(strstr(f->err.msg, "pxelinux.cfg"));
	assert_tree(f, EMPTY_TREE "outside/\noutside/keep\n"
	    "tftp/pxelinux.cfg@\n");
}

static void
test_missing_root(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	sub(f, "tftp", path);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(prepare(f, &lb_boot_pxe), -ENOENT);
	assert_non_null(strstr(f->err.msg, "cannot open tftp root"));
	assert_ok(f, clean(f, &lb_boot_pxe));
}

static void
test_modes_despite_umask(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(077);
	int r;

	r = prepare(f, &lb_boot_pxe);
	umask(old);
	assert_ok(f, r);
	assert_mode(f, "tftp/" UUID, 0755);
	assert_mode(f, "tftp/" UUID "/config", 0644);
	assert_mode(f, "tftp/grub", 0755);
	assert_mode(f, "tftp/grub/grub.cfg", 0644);
}

/* Images on another file system are copied (EXDEV). */
static void
test_copy_across_file_systems(void **state)
{
	struct fixture *f = *state;
	char kernel[] = "/dev/shm/lb-boot-kernel-XXXXXX";
	char path[PATH_MAX];
	struct stat a, b;
	char *text;
	int fd;

	fd = mkstemp(kernel);
	if (fd < 0)
		skip();
	assert_int_equal(write(fd, "SHM\n", 4), 4);
	close(fd);
	assert_int_equal(stat(kernel, &a), 0);
	assert_int_equal(stat(f->top, &b), 0);
	if (a.st_dev == b.st_dev) {
		unlink(kernel);
		skip();
	}
	f->images.kernel = kernel;
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	assert_ok(f, prepare(f, &lb_boot_ipxe));
	unlink(kernel);
	sub(f, "http/" UUID "/rescue_kernel", path);
	text = read_path(path);
	assert_string_equal(text, "SHM\n");
	free(text);
	assert_mode(f, "http/" UUID "/rescue_kernel", 0644);
}

static void
test_registry_rows(void **state)
{
	struct fixture *f = *state;
	const struct lb_iface_impl *pxe = NULL, *ipxe = NULL;
	const struct lb_boot_ops *ops;
	size_t i;

	for (i = 0; i < lb_boot_nimpls; i++) {
		if (strcmp(lb_boot_impls[i].name, "pxe") == 0)
			pxe = &lb_boot_impls[i];
		if (strcmp(lb_boot_impls[i].name, "ipxe") == 0)
			ipxe = &lb_boot_impls[i];
	}
	assert_non_null(pxe);
	assert_non_null(ipxe);
	assert_true(pxe->flags & LB_IMPL_BUILT);
	assert_true(ipxe->flags & LB_IMPL_BUILT);
	assert_ptr_equal(pxe->ops, &lb_boot_pxe);
	assert_ptr_equal(ipxe->ops, &lb_boot_ipxe);
	ops = ipxe->ops;
	assert_string_equal(ops->name, "ipxe");
	assert_int_equal(ops->device, LB_BOOT_DEV_PXE);
	assert_string_equal(lb_boot_pxe.name, "pxe");
	assert_int_equal(lb_boot_pxe.device, LB_BOOT_DEV_PXE);
	assert_int_equal(pxe->validate(&f->task, &f->err), 0);
	assert_int_equal(ipxe->validate(&f->task, &f->err), 0);
	f->task.nports = 0;
	assert_int_equal(pxe->validate(&f->task, &f->err), -EINVAL);
	assert_int_equal(ipxe->validate(&f->task, &f->err), -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pxe_bios_layout),
		T(test_pxe_uefi_layout),
		T(test_pxe_unset_layout),
		T(test_dnsmasq_modes_table),
		T(test_unset_checks_both_loaders),
		T(test_grub_master_kept),
		T(test_pxe_dnsmasq_bios),
		T(test_pxe_dnsmasq_uefi),
		T(test_pxe_clean_up_leaves_nothing),
		T(test_pxe_clean_up_flat_keeps_serving),
		T(test_pxe_clean_up_tenant_dhcp_ignores),
		T(test_ipxe_clean_up_flat_keeps_serving),
		T(test_ipxe_clean_up_tenant_dhcp_ignores),
		T(test_pxe_idempotent),
		T(test_clean_up_without_prepare),
		T(test_clean_up_finds_links_by_target),
		T(test_clean_up_keeps_other_nodes),
		T(test_pxe_http_layout),
		T(test_pxe_http_clean_up_leaves_nothing),
		T(test_pxe_http_option),
		T(test_pxe_http_needs_http_url),
		T(test_pxe_http_not_for_uefi),
		T(test_pxe_http_without_boot_mode),
		T(test_pxe_ipxe_chain_layout),
		T(test_pxe_ipxe_chain_options),
		T(test_pxe_ipxe_chain_refusals),
		T(test_pxe_ipxe_chain_not_for_uefi),
		T(test_ipxe_layout),
		T(test_ipxe_timeout),
		T(test_ipxe_boot_script_rewritten),
		T(test_ipxe_dnsmasq),
		T(test_ipxe_clean_up_leaves_nothing),
		T(test_ipxe_needs_http_url),
		T(test_refuses_bad_uuid),
		T(test_refuses_bad_mac),
		T(test_refuses_no_ports),
		T(test_refuses_control_characters),
		T(test_never_writes_through_symlink),
		T(test_missing_root),
		T(test_modes_despite_umask),
		T(test_copy_across_file_systems),
		T(test_registry_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
