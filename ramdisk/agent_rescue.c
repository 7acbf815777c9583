/*
 * agent_rescue.c - the rescue user, IPA's rescue files and the processes
 * the agent starts.  An API thread runs ra_rescue_finalize() (commands are
 * serialised by the API); programs are spawned by the thread that needs
 * them: udhcpc by the DHCP round's thread or the main thread, the SSH
 * server by agent_main.c's start_sshd (a thread of its own, or main).
 */
#include "agent_rescue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conductor/util/buf.h"
#include "conductor/util/banned.h"

#define FILE_MAX (1024 * 1024)
#define FIRST_UID 1000
#define MAX_IDS 4096

int
ra_rescue_check_hash(const char *hash, struct lb_err *err)
{
	size_t n = strlen(hash);

	if (n == 0)
		return lb_err_set(err, -EINVAL, "the rescue password is "
		    "empty");
	if (n >= RA_HASH_MAX)
		return lb_err_set(err, -EINVAL, "the rescue password hash is "
		    "longer than %d bytes", RA_HASH_MAX - 1);
	for (const char *c = hash; *c; c++) {
		/* A ':' or a newline would forge shadow fields or lines. */
		if (*c <= ' ' || *c >= 0x7f || *c == ':')
			return lb_err_set(err, -EINVAL, "the rescue password "
			    "hash has a character a shadow entry cannot "
			    "hold");
	}
	return 0;
}

static int
join(char *out, size_t size, const char *root, const char *rel)
{
	size_t rl = strlen(root);

	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	if ((size_t)snprintf(out, size, "%.*s%s", (int)rl, root, rel) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The whole file, NUL-terminated; an empty string when it is missing. */
static int
read_text(const char *path, char **ret)
{
	struct lb_buf b;
	char chunk[4096];
	ssize_t n;
	int fd;

	lb_buf_init(&b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return -errno;
	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + n > FILE_MAX) {
			close(fd);
			lb_buf_release(&b);
			return n < 0 ? -EIO : -EFBIG;
		}
		lb_buf_add(&b, chunk, n);
	}
	if (fd >= 0)
		close(fd);
	lb_buf_addc(&b, '\0');
	if (lb_buf_failed(&b)) {
		lb_buf_release(&b);
		return -ENOMEM;
	}
	*ret = lb_buf_steal(&b, NULL);
	return 0;
}

/* Replaces 'path' with 'data' through a temporary file and rename(2). */
static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	ssize_t n;
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.lifeboat-new", path) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		r = -errno;
	while (r == 0 && len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		data += n;
		len -= n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int
mkdir_under(const char *root, const char *rel, mode_t mode)
{
	char path[PATH_MAX];

	if (join(path, sizeof(path), root, rel) < 0)
		return -ENAMETOOLONG;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct ids {
	unsigned int v[MAX_IDS];
	size_t n;
};

static bool
ids_has(const struct ids *ids, unsigned int id)
{
	for (size_t i = 0; i < ids->n; i++) {
		if (ids->v[i] == id)
			return true;
	}
	return false;
}

/* Field 'idx' (0-based) of a colon-separated line, as a number. */
static bool
field_id(const char *line, size_t len, int idx, unsigned int *ret)
{
	const char *p = line, *end = line + len;
	char *e;
	unsigned long v;

	for (int i = 0; i < idx; i++) {
		p = memchr(p, ':', end - p);
		if (p == NULL)
			return false;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return false;
	v = strtoul(p, &e, 10);
	if (e > end || (e < end && *e != ':') || v > 0x7fffffffUL)
		return false;
	*ret = (unsigned int)v;
	return true;
}

/*
 * Copies 'text' without the lines of user/group "rescue" into 'out',
 * collecting the ids in column 'idx' of the other lines and the old
 * rescue ids (columns 2 and 3) when there was one.
 */
static void
drop_rescue(const char *text, struct lb_buf *out, int idx,
    struct ids *used, unsigned int old[2], bool *had)
{
	const char *p = text, *nl;
	size_t len;
	const size_t ul = strlen(RA_RESCUE_USER);

	while (*p) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > ul && strncmp(p, RA_RESCUE_USER, ul) == 0 &&
		    p[ul] == ':') {
			if (old != NULL && field_id(p, len, 2, &old[0]) &&
			    field_id(p, len, 3, &old[1]))
				*had = true;
		} else if (len > 0) {
			unsigned int id;

			if (used != NULL && used->n < MAX_IDS &&
			    field_id(p, len, idx, &id))
				used->v[used->n++] = id;
			lb_buf_add(out, p, len);
			lb_buf_addc(out, '\n');
		}
		p += len + (nl ? 1 : 0);
	}
}

static int
update_file(const char *root, const char *rel, const char *line,
    mode_t mode, bool only_if_present)
{
	char path[PATH_MAX], *text = NULL;
	struct lb_buf b;
	int r;

	if (join(path, sizeof(path), root, rel) < 0)
		return -ENAMETOOLONG;
	if (only_if_present && access(path, F_OK) < 0)
		return 0;
	r = read_text(path, &text);
	if (r < 0)
		return r;
	lb_buf_init(&b);
	drop_rescue(text, &b, 0, NULL, NULL, NULL);
	lb_buf_adds(&b, line);
	free(text);
	if (lb_buf_failed(&b))
		r = -ENOMEM;
	else
		r = write_atomic(path, b.data, b.len, mode);
	/* The shadow copy held the hash: do not leave it in freed memory. */
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	lb_buf_release(&b);
	return r;
}

/* Picks the rescue uid and gid: kept if the user exists, else free ones. */
static int
pick_ids(const char *root, unsigned int *ret_uid, unsigned int *ret_gid)
{
	char path[PATH_MAX], *text = NULL;
	struct ids *uids = calloc(1, sizeof(*uids));
	struct ids *gids = calloc(1, sizeof(*gids));
	unsigned int old[2] = { 0, 0 }, uid, gid;
	struct lb_buf scratch;
	bool had = false;
	int r = -ENOMEM;

	lb_buf_init(&scratch);
	if (uids == NULL || gids == NULL)
		goto out;
	r = join(path, sizeof(path), root, "/etc/passwd");
	if (r == 0)
		r = read_text(path, &text);
	if (r < 0)
		goto out;
	drop_rescue(text, &scratch, 2, uids, old, &had);
	free(text);
	text = NULL;
	r = join(path, sizeof(path), root, "/etc/group");
	if (r == 0)
		r = read_text(path, &text);
	if (r < 0)
		goto out;
	drop_rescue(text, &scratch, 2, gids, NULL, NULL);
	if (had) {
		uid = old[0];
		gid = old[1];
	} else {
		for (uid = FIRST_UID; ids_has(uids, uid); uid++)
			;
		gid = uid;
		while (ids_has(gids, gid))
			gid++;
	}
	*ret_uid = uid;
	*ret_gid = gid;
out:
	free(text);
	free(uids);
	free(gids);
	lb_buf_release(&scratch);
	return r;
}

static int
make_home(const char *root, unsigned int uid, unsigned int gid)
{
	char path[PATH_MAX];
	int r;

	r = mkdir_under(root, "/home", 0755);
	if (r == 0)
		r = mkdir_under(root, RA_RESCUE_HOME, 0700);
	if (r == 0)
		r = join(path, sizeof(path), root, RA_RESCUE_HOME);
	/* Not root (the tests): the home stays ours, which is harmless. */
	if (r == 0 && chown(path, uid, gid) < 0 && errno != EPERM)
		r = -errno;
	return r;
}

static int
write_user(const char *root, const char *hash)
{
	unsigned int uid, gid;
	char line[RA_HASH_MAX + 256], path[PATH_MAX];
	const char *shell = RA_RESCUE_SHELL_FALLBACK;
	long days = (long)(time(NULL) / 86400);
	struct stat st;
	int r;

	r = pick_ids(root, &uid, &gid);
	if (r < 0)
		return r;
	/*
	 * bash, not busybox sh: with busybox's applets preferred, "mount"
	 * in sh would be busybox's, not util-linux's that the image carries.
	 */
	if (join(path, sizeof(path), root, RA_RESCUE_SHELL) == 0 &&
	    access(path, X_OK) == 0)
		shell = RA_RESCUE_SHELL;
	snprintf(line, sizeof(line), "%s:x:%u:%u:%s:%s:%s\n", RA_RESCUE_USER,
	    uid, gid, RA_RESCUE_USER, RA_RESCUE_HOME, shell);
	r = update_file(root, "/etc/passwd", line, 0644, false);
	if (r < 0)
		return r;
	snprintf(line, sizeof(line), "%s:x:%u:\n", RA_RESCUE_USER, gid);
	r = update_file(root, "/etc/group", line, 0644, true);
	if (r < 0)
		return r;
	snprintf(line, sizeof(line), "%s:%s:%ld:0:99999:7:::\n",
	    RA_RESCUE_USER, hash, days);
	r = update_file(root, "/etc/shadow", line, 0600, false);
	explicit_bzero(line, sizeof(line));
	if (r < 0)
		return r;
	r = make_home(root, uid, gid);
	if (r < 0)
		return r;
	/* As IPA's rescue element: the user may become root. */
	if (join(path, sizeof(path), root, "/etc/sudoers.d") == 0 &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(line, sizeof(line), "%s ALL=(ALL) NOPASSWD: ALL\n",
		    RA_RESCUE_USER);
		r = join(path, sizeof(path), root, "/etc/sudoers.d/rescue");
		if (r == 0)
			r = write_atomic(path, line, strlen(line), 0440);
	}
	return r;
}

int
ra_rescue_finalize(const char *root, const char *hash, struct lb_err *err)
{
	char path[PATH_MAX];
	int r;

	r = ra_rescue_check_hash(hash, err);
	if (r < 0)
		return r;
	r = mkdir_under(root, "/etc", 0755);
	if (r == 0)
		r = mkdir_under(root, "/etc/ipa-rescue-config", 0755);
	if (r == 0)
		r = join(path, sizeof(path), root, RA_PASSWORD_FILE);
	if (r == 0)
		r = write_atomic(path, hash, strlen(hash), 0600);
	if (r < 0)
		return lb_err_set(err, -EIO, "Rescue Operation failed when "
		    "writing the hashed rescue password to the password "
		    "file. Error %s: '%s'", strerror(-r), RA_PASSWORD_FILE);
	r = write_user(root, hash);
	if (r < 0)
		return lb_err_set(err, -EIO, "cannot create the rescue user: "
		    "%s", strerror(-r));
	r = join(path, sizeof(path), root, RA_RESCUED_MARKER);
	if (r == 0)
		r = write_atomic(path, "", 0, 0644);
	if (r < 0)
		return lb_err_set(err, -EIO, "cannot create '%s': %s",
		    RA_RESCUED_MARKER, strerror(-r));
	return 0;
}

/* ---- processes ---- */

int
ra_split_words(char *cmd, char **argv, int max)
{
	int n = 0;
	char *p = cmd;

	while (*p && n < max - 1) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		argv[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	argv[n] = NULL;
	return n;
}

int
ra_spawn(char *const argv[], bool detach, pid_t *ret_pid, struct lb_err *err)
{
	return ra_spawn_env(argv, NULL, detach, ret_pid, err);
}

int
ra_spawn_env(char *const argv[], const char *extra_env, bool detach,
    pid_t *ret_pid, struct lb_err *err)
{
	char **envp = environ;
	sigset_t all;
	size_t n = 0;
	pid_t pid;
	int fd;

	/* Built before fork: the child of a threaded process must not
	 * allocate. */
	if (extra_env != NULL) {
		while (environ[n] != NULL)
			n++;
		envp = calloc(n + 2, sizeof(*envp));
		if (envp == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		memcpy(envp, environ, n * sizeof(*envp));
		envp[n] = (char *)extra_env;
	}
	pid = fork();
	if (pid < 0) {
		if (envp != environ)
			free(envp);
		return lb_err_set(err, -errno, "cannot start '%s': %s",
		    argv[0], strerror(errno));
	}
	if (pid == 0) {
		/* The agent ignores SIGPIPE and blocks signals in threads. */
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (detach)
			setsid();
		fd = open("/dev/null", O_RDONLY);
		if (fd > 0) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	if (envp != environ)
		free(envp);
	if (ret_pid != NULL)
		*ret_pid = pid;
	return 0;
}

int
ra_rescue_start_sshd(const char *sshd, int wait_ms, struct lb_err *err)
{
	char *argv[16], *cmd = strdup(sshd);
	int n, r, status;
	pid_t pid, w;

	if (cmd == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	n = ra_split_words(cmd, argv, 12);
	if (n == 0) {
		free(cmd);
		return lb_err_set(err, -EINVAL, "no SSH server command");
	}
	argv[n++] = "-R";
	argv[n++] = "-E";
	argv[n++] = "-p";
	argv[n++] = "22";
	argv[n] = NULL;
	r = ra_spawn(argv, true, &pid, err);
	free(cmd);
	if (r < 0)
		return r;
	for (int waited = 0; waited < wait_ms; waited += 50) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			return lb_err_set(err, -EIO, "the SSH server '%s' "
			    "failed (%s %d)", sshd, WIFEXITED(status) ?
			    "exit status" : "signal", WIFEXITED(status) ?
			    WEXITSTATUS(status) : WTERMSIG(status));
		}
		usleep(50 * 1000);
	}
	return 0;
}
