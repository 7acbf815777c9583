/*
 * boot_vmedia.c - the `redfish-virtual-media` boot interface: the rescue
 * ramdisk goes onto an ISO (built by [redfish] iso_builder from the
 * kernel and ramdisk with the parameters baked in, or driver_info
 * rescue_iso as it is), published at http_root/redfish/<uuid>/<random>.iso
 * and inserted through the BMC's virtual media from [deploy]
 * external_http_url (the BMC's network), else http_url.  The random name
 * keeps the ISO, whose kernel parameters hold the agent token, from anyone
 * who only knows the node; the node's directory goes at clean-up.  Worker
 * threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_common.h"
#include "boot/boot_vmedia.h"
#include "conductor/util/ident.h"
#include "conductor/util/banned.h"

#define ISO_BUILD_TIMEOUT_S 300
#define ISO_DIR LB_VMEDIA_DIR

/*
 * Writes all of 'data' to the pipe 'fd'; false when the reader went away.
 * SIGPIPE is held back on this thread meanwhile and a pending one taken,
 * so a builder that exits early cannot kill the caller.
 */
static bool
feed(int fd, const char *data, size_t len)
{
	const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old;
	bool ok = true;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = false;
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	if (!ok && !sigismember(&old, SIGPIPE))
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ok;
}

/*
 * Runs argv with 'input' on its standard input and waits for it (bounded).
 * The input, not argv, carries the kernel parameters with the agent
 * token: argv is readable by every local user in /proc/<pid>/cmdline.  Its
 * output is discarded, so that nothing it echoes reaches the log.
 */
static int
run(char *const argv[], const char *input, int timeout_s, struct lb_err *err)
{
	struct timespec start, now;
	int status, fd, in[2];
	pid_t pid, w, parent = getpid();
	sigset_t none;
	bool fed;

	if (pipe2(in, O_CLOEXEC) < 0)
		return lb_err_set(err, -errno, "cannot start '%s': %s",
		    argv[0], strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return lb_err_set(err, -errno, "cannot start '%s': %s",
		    argv[0], strerror(errno));
	}
	if (pid == 0) {
		/* Dies with lifeboatd: a kill -9 leaves no builder behind
		 * writing into http_root. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() != parent)
			_exit(127);
		/* The daemon's blocked and ignored signals are not its. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		fd = open("/dev/null", O_RDWR);
		dup2(in[0], STDIN_FILENO);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	/* SIGPIPE is ignored by the daemon; a builder may not read it all. */
	fed = feed(in[1], input, strlen(input));
	close(in[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (w < 0 || now.tv_sec - start.tv_sec > timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return lb_err_set(err, -ETIMEDOUT, "'%s' did not finish "
			    "within %d s", argv[0], timeout_s);
		}
		usleep(50000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return lb_err_set(err, -EIO, "cannot build the rescue ISO: '%s' "
		    "exited with status %d%s", argv[0],
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    fed ? "" : " (it did not read the kernel parameters from "
		    "its standard input: --append-file -)");
	return 0;
}

/* The node's directory under http_root/redfish: its UUID. */
static int
node_dir_name(const struct lb_task *task, struct lb_err *err)
{
	if (!lb_uuid_is_valid(task->node_uuid))
		return lb_err_set(err, -EINVAL, "invalid node UUID '%s'",
		    task->node_uuid);
	return 0;
}

/* Builds the ISO into 'path' (inside http_root/redfish). */
static int
build_iso(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, const char *path, struct lb_err *err)
{
	char *params, *append = NULL;
	size_t n;
	int r;

	params = lb_boot_kernel_params(env, task, request_id, extra_params);
	if (params == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	n = strlen(params) + 64 + LB_MAC_LEN;
	append = malloc(n);
	if (append == NULL) {
		free(params);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	/* BOOTIF only when it is unambiguous: exactly one port. */
	if (task->nports == 1)
		snprintf(append, n, "%s boot_method=vmedia BOOTIF=%s", params,
		    task->port_macs[0]);
	else
		snprintf(append, n, "%s boot_method=vmedia", params);
	explicit_bzero(params, strlen(params));
	free(params);
	if (!lb_boot_text_is_safe(append, NULL)) {
		free(append);
		return lb_err_set(err, -EINVAL, "kernel parameters for the "
		    "rescue ISO contain control characters");
	}
	{
		char *argv[] = {
			env->cfg->redfish_iso_builder, (char *)images->kernel,
			(char *)images->ramdisk, (char *)path, "--append-file",
			"-", NULL,
		};

		r = run(argv, append, ISO_BUILD_TIMEOUT_S, err);
	}
	explicit_bzero(append, strlen(append));
	free(append);
	return r;
}

/*
 * Replaces every occurrence of 'secret' (the random part of the ISO name)
 * in err's message by "…": last_error and the log then show
 * ".../redfish/<node>/….iso".  A message cut short inside the name
 * loses the cut part as well.
 */
static void
redact(struct lb_err *err, const char *secret)
{
	char out[sizeof(err->msg)];
	size_t slen = strlen(secret), o = 0;
	const char *p, *hit;

	if (err == NULL || slen == 0)
		return;
	for (p = err->msg; (hit = strstr(p, secret)) != NULL; p = hit + slen) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s\u2026",
		    (int)(hit - p), p);
		if (o >= sizeof(out)) {
			o = sizeof(out) - 1;
			break;
		}
	}
	snprintf(out + o, sizeof(out) - o, "%s", p);
	o = strlen(out);
	for (size_t k = slen - 1; k >= 4; k--) {
		if (o >= k && memcmp(out + o - k, secret, k) == 0) {
			snprintf(out + o - k, sizeof(out) - (o - k), "\u2026");
			break;
		}
	}
	memcpy(err->msg, out, sizeof(out));
	explicit_bzero(out, sizeof(out));
}

/*
 * The ISO as 'name' in 'dir': a prebuilt one linked as it is (no
 * parameters injected), else one built for this rescue.
 */
static int
place_iso(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, const struct lb_boot_dir *dir,
    const char *name, struct lb_err *err)
{
	char tmp[80], path[LB_BOOT_PATH_MAX + 128], other[32];
	int r;

	if (images->iso != NULL)
		return lb_boot_link_image(dir, name, images->iso, err);
	/*
	 * The builder's argv shows the output path to every local user, so
	 * it writes under a name of its own, renamed away.
	 */
	r = lb_random_token(other, sizeof(other), 16);
	if (r < 0)
		return lb_err_set(err, r, "cannot name the rescue ISO: no "
		    "random numbers");
	snprintf(tmp, sizeof(tmp), ".build-%s.tmp", other);
	snprintf(path, sizeof(path), "%s/%s", dir->path, tmp);
	r = build_iso(env, task, images, request_id, extra_params, path,
	    err);
	if (r == 0 && (chmod(path, 0644) < 0 ||
	    renameat(dir->fd, tmp, dir->fd, name) < 0))
		r = lb_err_set(err, -errno, "cannot publish the rescue ISO "
		    "'%s/%s': %s", dir->path, name, strerror(errno));
	if (r < 0)
		unlinkat(dir->fd, tmp, 0);
	return r;
}

static int
vmedia_prepare(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err)
{
	struct lb_boot_dir root, isos, dir;
	char token[32], name[64], url[1024];
	const char *base = env->http_url, *option = "http_url";
	int r;

	if (env->media_insert == NULL)
		return lb_err_set(err, -ENOTSUP, "the management interface "
		    "of node %s has no virtual media", task->node_uuid);
	/* The BMC's own URL when it has one: it may not reach http_url. */
	if (env->external_http_url != NULL &&
	    env->external_http_url[0] != '\0') {
		base = env->external_http_url;
		option = "external_http_url";
	}
	if (base == NULL || base[0] == '\0')
		return lb_err_set(err, -EINVAL, "virtual media needs "
		    "[deploy] external_http_url or http_url");
	r = node_dir_name(task, err);
	if (r < 0)
		return r;
	/* URL-safe base64: no '?' or '=' (some BMCs choke on those). */
	r = lb_random_token(token, sizeof(token), 16);
	if (r < 0)
		return lb_err_set(err, r, "cannot name the rescue ISO: no "
		    "random numbers");
	snprintf(name, sizeof(name), "%s.iso", token);
	lb_boot_dir_init(&root);
	lb_boot_dir_init(&isos);
	lb_boot_dir_init(&dir);
	r = lb_boot_dir_open_root(&root, env->cfg->deploy_http_root,
	    "http root", err);
	if (r == 0)
		r = lb_boot_dir_open(&isos, &root, ISO_DIR, true, err);
	/* Whatever an earlier rescue of the node left goes first. */
	if (r == 0)
		r = lb_boot_remove_tree(&isos, task->node_uuid, err);
	if (r == 0)
		r = lb_boot_dir_open(&dir, &isos, task->node_uuid, true, err);
	if (r < 0)
		goto out;
	r = place_iso(env, task, images, request_id, extra_params, &dir,
	    name, err);
	if (r < 0)
		goto out;
	snprintf(url, sizeof(url), "%s/%s/%s/%s", base, ISO_DIR,
	    task->node_uuid, name);
	r = env->media_insert(env->media_arg, url, err);
	if (r < 0 && err != NULL) {
		struct lb_err why = *err;

		lb_err_set(err, r, "the rescue ISO could not be inserted: %s "
		    "(the BMC downloads it from [deploy] %s %s)", why.msg,
		    option, base);
	}
out:
	/* Whatever said it (a BMC may echo the URL), the name stays secret. */
	if (r < 0)
		redact(err, token);
	explicit_bzero(token, sizeof(token));
	explicit_bzero(name, sizeof(name));
	explicit_bzero(url, sizeof(url));
	lb_boot_dir_close(&dir);
	lb_boot_dir_close(&isos);
	lb_boot_dir_close(&root);
	return r;
}

static int
vmedia_clean_up(const struct lb_boot_env *env, const struct lb_task *task,
    struct lb_err *err)
{
	struct lb_boot_dir root, isos;
	int r, r2 = 0;

	r = node_dir_name(task, err);
	if (r < 0)
		return r;
	/* Eject first: a BMC may still be reading the file. */
	if (env->media_eject != NULL)
		r2 = env->media_eject(env->media_arg, err);
	lb_boot_dir_init(&root);
	lb_boot_dir_init(&isos);
	r = lb_boot_dir_open_root(&root, env->cfg->deploy_http_root,
	    "http root", err);
	if (r == 0)
		r = lb_boot_dir_open(&isos, &root, ISO_DIR, false, err);
	if (r == 0)
		r = lb_boot_remove_tree(&isos, task->node_uuid, err);
	if (r == -ENOENT)
		r = 0;		/* nothing was published */
	lb_boot_dir_close(&isos);
	lb_boot_dir_close(&root);
	return r < 0 ? r : r2;
}

/*
 * Without a boot_mode capability the BMC is sent the CD without a
 * BootSourceOverrideMode, so the machine boots the ISO (mkiso's is hybrid:
 * isolinux and GRUB) in whatever mode its firmware is in.
 */
static void
vmedia_describe(const struct lb_config *cfg, const struct lb_task *task,
    char *buf, size_t size)
{
	enum lb_boot_mode mode = lb_boot_mode_of(task);

	(void)cfg;
	if (mode != LB_BOOT_MODE_UNSET)
		snprintf(buf, size, "boots the ISO in %s (boot_mode "
		    "capability)", lb_boot_mode_label(mode));
	else
		snprintf(buf, size, "boots the ISO (BIOS and UEFI) in the "
		    "mode the BMC is in (no boot_mode capability)");
}

const struct lb_boot_ops lb_boot_vmedia = {
	.name = "redfish-virtual-media",
	.flags = LB_BOOT_MEDIA,
	.device = LB_BOOT_DEV_CDROM,
	.prepare_ramdisk = vmedia_prepare,
	.clean_up_ramdisk = vmedia_clean_up,
	.describe = vmedia_describe,
};
