/*
 * boot_tmp.c - the temporary names the boot files' atomic writes
 * (boot_common.c) stage under before the rename that publishes them, and
 * the sweep that removes the ones a conductor killed between the two left
 * behind.  Names: any worker thread; the sweep: the main thread at start
 * (recovery.c), before any job runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "boot/boot_common.h"
#include "boot/boot_tmp.h"
#include "conductor/util/banned.h"

static const char hex[] = "0123456789abcdef";

void
lb_boot_tmp_name(char *buf, size_t size, const char *name)
{
	unsigned char rnd[LB_BOOT_TMP_RANDOM / 2];
	char suffix[LB_BOOT_TMP_RANDOM + 1];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* No entropy yet: unique is enough, O_EXCL does the rest. */
		static unsigned long counter;
		unsigned long v = __atomic_fetch_add(&counter, 1,
		    __ATOMIC_RELAXED) ^ ((unsigned long)getpid() << 20);

		for (i = 0; i < sizeof(rnd); i++, v >>= 8)
			rnd[i] = (unsigned char)v;
	}
	for (i = 0; i < sizeof(rnd); i++) {
		suffix[2 * i] = hex[rnd[i] >> 4];
		suffix[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	suffix[sizeof(suffix) - 1] = '\0';
	snprintf(buf, size, ".%.200s.%s", name, suffix);
}

bool
lb_boot_is_tmp_name(const char *name)
{
	size_t len = strlen(name);
	const char *rnd;

	/* '.', at least one character of the name, '.', the digits */
	if (name[0] != '.' || len < LB_BOOT_TMP_RANDOM + 3)
		return false;
	rnd = name + len - LB_BOOT_TMP_RANDOM;
	if (rnd[-1] != '.')
		return false;
	for (; *rnd != '\0'; rnd++)
		if (strchr(hex, *rnd) == NULL)
			return false;
	return true;
}

/* Removes the temporaries in 'fd'; into subdirectories while depth > 0. */
static int
sweep_at(int fd, int depth, int *removed)
{
	int lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
	struct dirent *de;
	DIR *d;

	if (lfd < 0 || (d = fdopendir(lfd)) == NULL) {
		r = -errno;
		if (lfd >= 0)
			close(lfd);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		int sub;

		if (lb_boot_is_tmp_name(de->d_name)) {
			if (unlinkat(fd, de->d_name, 0) == 0)
				(*removed)++;
			else if (errno != ENOENT && errno != EISDIR && r == 0)
				r = -errno;
			continue;
		}
		if (depth == 0 || !lb_boot_name_is_safe(de->d_name) ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;	/* not a directory, or a symlink */
		if (sweep_at(sub, depth - 1, removed) < 0 && r == 0)
			r = -EIO;
		close(sub);
	}
	closedir(d);
	return r;
}

int
lb_boot_sweep_tmp(const char *root, const char *what, struct lb_err *err)
{
	struct lb_boot_dir dir;
	int removed = 0, r;

	r = lb_boot_dir_open_root(&dir, root, what, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = sweep_at(dir.fd, 1, &removed);
	lb_boot_dir_close(&dir);
	if (r < 0)
		return lb_err_set(err, r, "cannot remove the temporary files "
		    "in %s '%s': %s", what, root, strerror(-r));
	return removed;
}
