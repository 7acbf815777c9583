/*
 * boot_common.c - what every boot implementation shares: the node's boot
 * mode, the rescue kernel command line, and file helpers that write
 * atomically and only below the configured roots.  Conductor worker
 * threads, several nodes at once; nothing here keeps state.
 */
#include "boot/boot.h"
#include "boot/boot_common.h"
#include "boot/boot_tmp.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor/util/buf.h"
#include "conductor/util/banned.h"

#define FILE_MODE 0644
#define DIR_MODE 0755
#define COPY_CHUNK (256 * 1024)
#define TREE_DEPTH_MAX 16

/* ---- boot mode and kernel parameters ---- */

/* "bios" or "uefi" (any case, blanks around); UNSET for anything else. */
static enum lb_boot_mode
mode_of_value(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 4 && strncasecmp(s, "bios", 4) == 0)
		return LB_BOOT_MODE_BIOS;
	if (len == 4 && strncasecmp(s, "uefi", 4) == 0)
		return LB_BOOT_MODE_UEFI;
	return LB_BOOT_MODE_UNSET;
}

/* "k:v,k:v" as Ironic's capabilities string: the boot_mode value's mode. */
static enum lb_boot_mode
caps_string_mode(const char *caps)
{
	const char *p = caps;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		const char *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		colon = memchr(p, ':', len);
		if (colon != NULL) {
			const char *k = p;
			size_t klen = (size_t)(colon - p);

			while (klen > 0 && (*k == ' ' || *k == '\t')) {
				k++;
				klen--;
			}
			while (klen > 0 && (k[klen - 1] == ' ' ||
			    k[klen - 1] == '\t'))
				klen--;
			if (klen == 9 && strncmp(k, "boot_mode", 9) == 0)
				return mode_of_value(colon + 1,
				    len - (size_t)(colon + 1 - p));
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return LB_BOOT_MODE_UNSET;
}

enum lb_boot_mode
lb_boot_mode_of(const struct lb_task *task)
{
	const json_t *caps, *mode;

	if (task == NULL || task->properties == NULL)
		return LB_BOOT_MODE_UNSET;
	caps = json_object_get(task->properties, "capabilities");
	if (json_is_string(caps))
		return caps_string_mode(json_string_value(caps));
	if (json_is_object(caps)) {
		mode = json_object_get(caps, "boot_mode");
		if (json_is_string(mode))
			return mode_of_value(json_string_value(mode),
			    json_string_length(mode));
	}
	return LB_BOOT_MODE_UNSET;
}

const char *
lb_boot_mode_label(enum lb_boot_mode mode)
{
	return mode == LB_BOOT_MODE_BIOS ? "BIOS" :
	    mode == LB_BOOT_MODE_UEFI ? "UEFI" : "";
}

enum lb_boot_mode
lb_boot_mode_default(const struct lb_config *cfg)
{
	return cfg->deploy_default_boot_mode == LB_DEFAULT_BOOT_BIOS ?
	    LB_BOOT_MODE_BIOS : LB_BOOT_MODE_UEFI;
}

/* Appends " <part>" without the part's outer blanks; nothing if blank. */
static void
add_part(struct lb_buf *b, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	lb_buf_addc(b, ' ');
	lb_buf_add(b, s, len);
}

/* The node's own kernel_append_params: instance_info wins (contract 4.3). */
static const char *
node_append_params(const struct lb_task *task)
{
	const json_t *v;

	v = json_object_get(task->instance_info, "kernel_append_params");
	if (json_is_string(v))
		return json_string_value(v);
	v = json_object_get(task->driver_info, "kernel_append_params");
	if (json_is_string(v))
		return json_string_value(v);
	return NULL;
}

char *
lb_boot_kernel_params(const struct lb_boot_env *env,
    const struct lb_task *task, const char *request_id,
    const char *extra_params)
{
	static const char marker[] = "%default%";
	const char *def = env->cfg->pxe_kernel_append_params;
	const char *own = node_append_params(task);
	struct lb_buf b, ex;
	char *expanded;
	size_t len;

	if (def == NULL)
		def = "";
	lb_buf_init(&b);
	lb_buf_adds(&b, "selinux=0 troubleshoot=0 text");
	if (own == NULL) {
		add_part(&b, def, strlen(def));
	} else {
		const char *p = own, *hit;

		lb_buf_init(&ex);
		while ((hit = strstr(p, marker)) != NULL) {
			/* Adding 0 bytes to an empty lb_buf is memcpy(NULL). */
			if (hit > p)
				lb_buf_add(&ex, p, (size_t)(hit - p));
			lb_buf_adds(&ex, def);
			p = hit + sizeof(marker) - 1;
		}
		lb_buf_adds(&ex, p);
		expanded = lb_buf_steal(&ex, &len);
		if (expanded == NULL) {
			lb_buf_release(&b);
			return NULL;
		}
		add_part(&b, expanded, len);
		free(expanded);
	}
	if (env->cfg->debug)
		lb_buf_adds(&b, " ipa-debug=1");
	if (env->api_url != NULL)
		lb_buf_addf(&b, " ipa-api-url=%s", env->api_url);
	if (request_id != NULL && *request_id != '\0')
		lb_buf_addf(&b, " ipa-global-request-id=%s", request_id);
	if (extra_params != NULL)
		add_part(&b, extra_params, strlen(extra_params));
	return lb_buf_steal(&b, NULL);
}

/* ---- names and text ---- */

bool
lb_boot_name_is_safe(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > NAME_MAX || strchr(name, '/') != NULL)
		return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

bool
lb_boot_text_is_safe(const char *s, const char *reject)
{
	const unsigned char *p;

	if (s == NULL)
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (reject != NULL && strchr(reject, *p) != NULL)
			return false;
	}
	return true;
}

/* ---- directories ---- */

void
lb_boot_dir_init(struct lb_boot_dir *dir)
{
	dir->fd = -1;
	dir->path[0] = '\0';
}

void
lb_boot_dir_close(struct lb_boot_dir *dir)
{
	if (dir->fd >= 0)
		close(dir->fd);
	lb_boot_dir_init(dir);
}

int
lb_boot_dir_open_root(struct lb_boot_dir *ret, const char *root,
    const char *what, struct lb_err *err)
{
	int fd;

	lb_boot_dir_init(ret);
	if (root == NULL || *root == '\0')
		return lb_err_set(err, -EINVAL, "no %s configured", what);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lb_err_set(err, -errno, "cannot open %s '%s': %s", what,
		    root, strerror(errno));
	ret->fd = fd;
	snprintf(ret->path, sizeof(ret->path), "%s", root);
	return 0;
}

/* One component below 'at' (an fd this function may not close). */
static int
open_component(int at, const char *name, bool create, bool *ret_created)
{
	int fd;

	*ret_created = false;
	if (create) {
		if (mkdirat(at, name, DIR_MODE) == 0)
			*ret_created = true;
		else if (errno != EEXIST)
			return -errno;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	/* The umask must not hide the files from tftpd or the web server. */
	if (*ret_created)
		(void)fchmod(fd, DIR_MODE);
	return fd;
}

int
lb_boot_dir_open(struct lb_boot_dir *ret, const struct lb_boot_dir *parent,
    const char *name, bool create, struct lb_err *err)
{
	char comp[NAME_MAX + 1];
	const char *p = name, *slash;
	int cur = parent->fd, fd;
	bool created;
	size_t len;

	lb_boot_dir_init(ret);
	len = (size_t)snprintf(ret->path, sizeof(ret->path), "%s/%s",
	    parent->path, name ? name : "");
	if (len >= sizeof(ret->path))
		return lb_err_set(err, -ENAMETOOLONG, "cannot open directory "
		    "'%s': name too long", ret->path);
	if (name == NULL || *name == '\0')
		return lb_err_set(err, -EINVAL, "invalid directory name '%s'",
		    ret->path);
	for (;;) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len >= sizeof(comp))
			goto bad_name;
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (!lb_boot_name_is_safe(comp))
			goto bad_name;
		fd = open_component(cur, comp, create, &created);
		if (cur != parent->fd)
			close(cur);
		if (fd < 0)
			return lb_err_set(err, fd, "cannot open directory "
			    "'%s': %s", ret->path, strerror(-fd));
		cur = fd;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	ret->fd = cur;
	return 0;

bad_name:
	if (cur != parent->fd)
		close(cur);
	return lb_err_set(err, -EINVAL, "invalid directory name '%s'",
	    ret->path);
}

/* ---- temporary names, atomic writes ---- */

/* mkstemp() in 'dir', mode 0644 whatever the umask.  fd or -errno. */
static int
open_tmp(const struct lb_boot_dir *dir, const char *name, char *tmp,
    size_t size)
{
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		lb_boot_tmp_name(tmp, size, name);
		fd = openat(dir->fd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, FILE_MODE);
		if (fd >= 0) {
			if (fchmod(fd, FILE_MODE) < 0) {
				int e = -errno;

				close(fd);
				unlinkat(dir->fd, tmp, 0);
				return e;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int
lb_boot_write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync + close + rename over 'name'; the temporary is gone afterwards. */
static int
commit_tmp(const struct lb_boot_dir *dir, int fd, const char *tmp,
    const char *name)
{
	int r = 0;

	if (fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dir->fd, tmp, dir->fd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dir->fd, tmp, 0);
	return r;
}

int
lb_boot_write_file(const struct lb_boot_dir *dir, const char *name,
    const char *data, size_t len, const char *what, struct lb_err *err)
{
	char tmp[NAME_MAX + 1];
	int fd, r;

	if (!lb_boot_name_is_safe(name))
		return lb_err_set(err, -EINVAL, "cannot write %s '%s/%s': "
		    "invalid name", what, dir->path, name ? name : "");
	fd = open_tmp(dir, name, tmp, sizeof(tmp));
	if (fd < 0)
		return lb_err_set(err, fd, "cannot write %s '%s/%s': %s", what,
		    dir->path, name, strerror(-fd));
	r = lb_boot_write_all(fd, data, len);
	if (r < 0) {
		close(fd);
		unlinkat(dir->fd, tmp, 0);
	} else {
		r = commit_tmp(dir, fd, tmp, name);
	}
	if (r < 0)
		return lb_err_set(err, r, "cannot write %s '%s/%s': %s", what,
		    dir->path, name, strerror(-r));
	return 0;
}

/* 1 when 'name' is a regular file holding exactly data[0..len). */
static int
file_holds(const struct lb_boot_dir *dir, const char *name, const char *data,
    size_t len)
{
	char buf[4096];
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd, same = 1;

	fd = openat(dir->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uintmax_t)st.st_size != (uintmax_t)len) {
		close(fd);
		return 0;
	}
	while (same && off < len) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > len - off ||
		    memcmp(buf, data + off, (size_t)n) != 0)
			same = 0;
		else
			off += (size_t)n;
	}
	close(fd);
	return same;
}

int
lb_boot_write_file_if_changed(const struct lb_boot_dir *dir,
    const char *name, const char *data, size_t len, bool only_if_missing,
    const char *what, struct lb_err *err)
{
	int held, r;

	if (!lb_boot_name_is_safe(name))
		return lb_err_set(err, -EINVAL, "cannot write %s '%s/%s': "
		    "invalid name", what, dir->path, name ? name : "");
	held = file_holds(dir, name, data, len);
	if (held == 1 || (held == 0 && only_if_missing))
		return 0;
	r = lb_boot_write_file(dir, name, data, len, what, err);
	return r < 0 ? r : 1;
}

/* ---- images ---- */

int
lb_boot_copy_fd(int in, int out, unsigned long long cap,
    void (*each)(void *arg, const char *buf, size_t n), void *arg)
{
	unsigned long long total = 0;
	char *buf = malloc(COPY_CHUNK);
	ssize_t n;
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		n = read(in, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		total += (unsigned long long)n;
		if (cap > 0 && total > cap) {
			r = -E2BIG;
			break;
		}
		if (each != NULL)
			each(arg, buf, (size_t)n);
		if ((r = lb_boot_write_all(out, buf, (size_t)n)) < 0)
			break;
	}
	free(buf);
	return r;
}

/* The EXDEV fallback: a private 0644 copy, renamed into place. */
static int
copy_image(const struct lb_boot_dir *dir, const char *name, const char *src)
{
	char tmp[NAME_MAX + 1];
	int in, out, r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open_tmp(dir, name, tmp, sizeof(tmp));
	if (out < 0) {
		close(in);
		return out;
	}
	r = lb_boot_copy_fd(in, out, 0, NULL, NULL);
	close(in);
	if (r < 0) {
		close(out);
		unlinkat(dir->fd, tmp, 0);
		return r;
	}
	return commit_tmp(dir, out, tmp, name);
}

int
lb_boot_link_image(const struct lb_boot_dir *dir, const char *name,
    const char *src, struct lb_err *err)
{
	char tmp[NAME_MAX + 1];
	struct stat sst, dst;
	bool linked = false;
	int tries, r = 0;

	if (!lb_boot_name_is_safe(name))
		return lb_err_set(err, -EINVAL, "cannot stage image '%s/%s': "
		    "invalid name", dir->path, name ? name : "");
	if (src == NULL || stat(src, &sst) < 0)
		return lb_err_set(err, src ? -errno : -EINVAL, "cannot read "
		    "image '%s': %s", src ? src : "", strerror(src ? errno :
		    EINVAL));
	if (!S_ISREG(sst.st_mode))
		return lb_err_set(err, -EINVAL, "cannot read image '%s': not "
		    "a regular file", src);
	/* Already linked: rename() of one inode over itself does nothing. */
	if (fstatat(dir->fd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    dst.st_dev == sst.st_dev && dst.st_ino == sst.st_ino)
		return 0;

	for (tries = 0; tries < 100; tries++) {
		lb_boot_tmp_name(tmp, sizeof(tmp), name);
		if (linkat(AT_FDCWD, src, dir->fd, tmp,
		    AT_SYMLINK_FOLLOW) == 0) {
			linked = true;
			break;
		}
		if (errno != EEXIST) {
			r = -errno;
			break;
		}
	}
	if (!linked && r == 0)
		r = -EEXIST;
	if (r == -EXDEV) {
		r = copy_image(dir, name, src);
	} else if (linked) {
		if (renameat(dir->fd, tmp, dir->fd, name) < 0)
			r = -errno;
		/* Left behind if 'name' became the same inode meanwhile. */
		unlinkat(dir->fd, tmp, 0);
	}
	if (r < 0)
		return lb_err_set(err, r, "cannot stage image '%s' as "
		    "'%s/%s': %s", src, dir->path, name, strerror(-r));
	return 0;
}

/* ---- symlinks and removal ---- */

/* The symlink's target into 'buf'; -EINVAL when 'name' is no symlink. */
static int
read_link(const struct lb_boot_dir *dir, const char *name, char *buf,
    size_t size)
{
	ssize_t n = readlinkat(dir->fd, name, buf, size - 1);

	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

int
lb_boot_symlink(const struct lb_boot_dir *dir, const char *name,
    const char *target, struct lb_err *err)
{
	char tmp[NAME_MAX + 1], cur[LB_BOOT_PATH_MAX];
	int tries, r = 0;

	if (!lb_boot_name_is_safe(name) || target == NULL || *target == '\0')
		return lb_err_set(err, -EINVAL, "cannot link '%s/%s': invalid "
		    "name", dir->path, name ? name : "");
	if (read_link(dir, name, cur, sizeof(cur)) == 0 &&
	    strcmp(cur, target) == 0)
		return 0;
	for (tries = 0; tries < 100; tries++) {
		lb_boot_tmp_name(tmp, sizeof(tmp), name);
		if (symlinkat(target, dir->fd, tmp) == 0)
			break;
		if (errno != EEXIST) {
			r = -errno;
			break;
		}
	}
	if (r == 0 && tries == 100)
		r = -EEXIST;
	if (r == 0 && renameat(dir->fd, tmp, dir->fd, name) < 0) {
		r = -errno;
		unlinkat(dir->fd, tmp, 0);
	}
	if (r < 0)
		return lb_err_set(err, r, "cannot link '%s/%s' to '%s': %s",
		    dir->path, name, target, strerror(-r));
	return 0;
}

int
lb_boot_unlink(const struct lb_boot_dir *dir, const char *name,
    struct lb_err *err)
{
	if (!lb_boot_name_is_safe(name))
		return lb_err_set(err, -EINVAL, "cannot remove '%s/%s': "
		    "invalid name", dir->path, name ? name : "");
	if (unlinkat(dir->fd, name, 0) < 0 && errno != ENOENT)
		return lb_err_set(err, -errno, "cannot remove '%s/%s': %s",
		    dir->path, name, strerror(errno));
	return 0;
}

static bool
target_matches(const char *target, const char *suffix)
{
	size_t tlen = strlen(target), slen = strlen(suffix);

	if (tlen < slen || strcmp(target + tlen - slen, suffix) != 0)
		return false;
	return tlen == slen || target[tlen - slen - 1] == '/';
}

/* A second fd on 'fd' for readdir, so that closedir() leaves 'fd' open. */
static DIR *
open_listing(int fd)
{
	int lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (lfd < 0)
		return NULL;
	d = fdopendir(lfd);
	if (d == NULL)
		close(lfd);
	return d;
}

int
lb_boot_unlink_links_to(const struct lb_boot_dir *dir, const char *suffix,
    struct lb_err *err)
{
	char target[LB_BOOT_PATH_MAX];
	struct dirent *de;
	int n = 0, r = 0;
	DIR *d;

	d = open_listing(dir->fd);
	if (d == NULL)
		return lb_err_set(err, -errno, "cannot list '%s': %s",
		    dir->path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
		if (read_link(dir, de->d_name, target, sizeof(target)) < 0 ||
		    !target_matches(target, suffix))
			continue;
		if (unlinkat(dir->fd, de->d_name, 0) == 0)
			n++;
		else if (errno != ENOENT && r == 0)
			r = lb_err_set(err, -errno, "cannot remove '%s/%s': "
			    "%s", dir->path, de->d_name, strerror(errno));
	}
	closedir(d);
	return r < 0 ? r : n;
}

static int
remove_tree_at(int at, const char *name, int depth)
{
	struct dirent *de;
	struct stat st;
	int fd, r = 0, e;
	DIR *d;

	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ELOOP && errno != ENOTDIR)
			return -errno;
		/* A symlink or a file where the directory was: only it goes. */
		if (unlinkat(at, name, 0) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (depth >= TREE_DEPTH_MAX) {
		close(fd);
		return -ELOOP;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		e = -errno;
		close(fd);
		return e;
	}
	while ((de = readdir(d)) != NULL) {
		bool isdir;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			isdir = fstatat(fd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		if (isdir)
			e = remove_tree_at(fd, de->d_name, depth + 1);
		else
			e = unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT ?
			    -errno : 0;
		if (e < 0 && r == 0)
			r = e;
	}
	closedir(d);
	if (r == 0 && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int
lb_boot_remove_tree(const struct lb_boot_dir *dir, const char *name,
    struct lb_err *err)
{
	int r;

	if (!lb_boot_name_is_safe(name))
		return lb_err_set(err, -EINVAL, "cannot remove '%s/%s': "
		    "invalid name", dir->path, name ? name : "");
	r = remove_tree_at(dir->fd, name, 0);
	if (r < 0)
		return lb_err_set(err, r, "cannot remove '%s/%s': %s",
		    dir->path, name, strerror(-r));
	return 0;
}
