/*
 * fuzz_http_boot.c - the HTTP boot root's request path -> file mapping and
 * its Range header parser.  Input: the URL path (unescaped as MHD does), a
 * newline, the Range header value.  The root holds plain files, hidden
 * names, a symlink that stays inside and symlinks that leave; only the two
 * plain files may ever be served, and a range always lies inside the
 * file.  Single-threaded.
 */
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor/http_boot.h"
#include "tests/fuzz/fuzz_util.h"

#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[512], root[PATH_MAX];
static int root_fd = -1;
static ino_t allowed[2];

static void
cleanup(void)
{
	close(root_fd);
	fuzz_rm_tree(top);
}

static void
put(const char *rel, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void
link_at(const char *target, const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if (symlink(target, path) < 0)
		abort();
}

static ino_t
inode(const char *rel)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if (stat(path, &st) < 0)
		abort();
	return st.st_ino;
}

static void
init(void)
{
	char path[PATH_MAX + 64];

	fuzz_mkdtemp(top, sizeof(top), "lb-fuzz-http");
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/root", top);
	if (mkdir(path, 0755) < 0 || realpath(path, root) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/root/sub", top);
	if (mkdir(path, 0755) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/outside", top);
	if (mkdir(path, 0755) < 0)
		abort();
	put("root/boot.ipxe", "#!ipxe\nchain http://x/kernel\n");
	put("root/sub/kernel", "KERNEL");
	put("root/.hidden", "hidden");
	put("root/sub/.token", "token");
	put("outside/secret", "secret");
	link_at("sub/kernel", "root/link-in");
	link_at("../outside/secret", "root/link-out");
	link_at("../outside", "root/dir-out");
	allowed[0] = inode("root/boot.ipxe");
	allowed[1] = inode("root/sub/kernel");
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		abort();
}

/* A ".." or hidden component is never served, whatever it leads to. */
static bool
has_dot_component(const char *path)
{
	for (const char *p = path; *p != '\0'; p++)
		if (*p == '.' && (p == path || p[-1] == '/'))
			return true;
	return false;
}

static void
fuzz_path(char *path)
{
	struct stat st;
	int fd;

	MHD_http_unescape(path);
	fd = lb_http_boot_resolve(root, root_fd, path);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_ino != allowed[0] && st.st_ino != allowed[1]) ||
	    has_dot_component(path) || strchr(path, '\\') != NULL)
		abort();
	close(fd);
}

static void
fuzz_range(const char *h)
{
	static const off_t sizes[] = { 0, 1, 29, 4096, (off_t)1 << 40,
	    INT64_MAX };
	off_t from, len;
	int r;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		from = len = -7;
		r = lb_http_boot_parse_range(h, sizes[i], &from, &len);
		if (r < -1 || r > 1)
			abort();
		if (r == 1 && (from < 0 || len < 1 || from >= sizes[i] ||
		    len > sizes[i] - from))
			abort();
		if (r != 1 && (from != -7 || len != -7))
			abort();
		if (strncmp(h, "bytes=", 6) != 0 && r != 0)
			abort();
	}
	if (lb_http_boot_parse_range(NULL, 10, &from, &len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *nl;

	if (size > 8192)
		return 0;
	if (root_fd < 0)
		init();
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	if (nl != NULL)
		*nl = '\0';
	fuzz_range(nl != NULL ? nl + 1 : "");
	fuzz_path(buf);
	free(buf);
	return 0;
}
