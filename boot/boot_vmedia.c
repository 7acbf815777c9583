/*
 * boot_vmedia.c - the `redfish-virtual-media` boot interface: the rescue
 * ramdisk goes onto an ISO (built by [redfish] iso_builder from the
 * kernel and ramdisk with the parameters baked in, or driver_info
 * rescue_iso as it is), published at http_root/redfish/<uuid>/<random>.iso
 * and inserted through the BMC's virtual media.  The random name keeps the
 * ISO, whose kernel parameters hold the agent token, from anyone who only
 * knows the node; the node's directory goes at clean-up.  Worker threads.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define ISO_DIR "redfish"

/*
 * Runs argv and waits for it (bounded).  Its output is discarded: the
 * arguments carry the agent token, which must not reach the log.
 */
static int
run(char *const argv[], int timeout_s, struct lb_err *err)
{
	struct timespec start, now;
	int status, fd;
	pid_t pid, w;

	pid = fork();
	if (pid < 0)
		return lb_err_set(err, -errno, "cannot start '%s': %s",
		    argv[0], strerror(errno));
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
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
		    "exited with status %d", argv[0],
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
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
	free(params);
	if (!lb_boot_text_is_safe(append, NULL)) {
		free(append);
		return lb_err_set(err, -EINVAL, "kernel parameters for the "
		    "rescue ISO contain control characters");
	}
	{
		char *argv[] = {
			env->cfg->redfish_iso_builder, (char *)images->kernel,
			(char *)images->ramdisk, (char *)path, "--append",
			append, NULL,
		};

		r = run(argv, ISO_BUILD_TIMEOUT_S, err);
	}
	free(append);
	return r;
}

static int
vmedia_prepare(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err)
{
	struct lb_boot_dir root, isos, dir;
	char token[32], name[64], tmp[80], path[LB_BOOT_PATH_MAX + 128];
	char url[1024];
	int r;

	if (env->management == NULL || env->management->insert_cd == NULL)
		return lb_err_set(err, -ENOTSUP, "the management interface "
		    "of node %s has no virtual media", task->node_uuid);
	if (env->http_url == NULL || env->http_url[0] == '\0')
		return lb_err_set(err, -EINVAL, "virtual media needs "
		    "[deploy] http_url");
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
	if (images->iso != NULL) {
		/* A prebuilt ISO is used as it is, no parameters injected. */
		r = lb_boot_link_image(&dir, name, images->iso, err);
	} else {
		snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
		snprintf(path, sizeof(path), "%s/%s", dir.path, tmp);
		r = build_iso(env, task, images, request_id, extra_params,
		    path, err);
		if (r == 0 && (chmod(path, 0644) < 0 ||
		    renameat(dir.fd, tmp, dir.fd, name) < 0))
			r = lb_err_set(err, -errno, "cannot publish the rescue "
			    "ISO '%s/%s': %s", dir.path, name,
			    strerror(errno));
		if (r < 0)
			unlinkat(dir.fd, tmp, 0);
	}
	if (r < 0)
		goto out;
	snprintf(url, sizeof(url), "%s/%s/%s/%s", env->http_url, ISO_DIR,
	    task->node_uuid, name);
	r = env->management->insert_cd(task, url, err);
	if (r < 0 && err != NULL) {
		struct lb_err why = *err;

		lb_err_set(err, r, "the rescue ISO could not be inserted: %s "
		    "(the BMC downloads it from [deploy] http_url %s)", why.msg,
		    env->http_url);
	}
out:
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
	if (env->management != NULL && env->management->eject_cd != NULL)
		r2 = env->management->eject_cd(task, err);
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

const struct lb_boot_ops lb_boot_vmedia = {
	.name = "redfish-virtual-media",
	.device = LB_BOOT_DEV_CDROM,
	.prepare_ramdisk = vmedia_prepare,
	.clean_up_ramdisk = vmedia_clean_up,
};
