/*
 * boot_fake.c - the `fake` boot interface: nothing is staged, so tests and
 * benchmarks can run the rescue flow against simulated agents.  Any
 * thread.
 */
#include "boot/boot.h"
#include "conductor/util/banned.h"

static int
fake_prepare(const struct lb_boot_env *env, const struct lb_task *task,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err)
{
	(void)env;
	(void)task;
	(void)images;
	(void)request_id;
	(void)extra_params;
	(void)err;
	return 0;
}

static int
fake_clean_up(const struct lb_boot_env *env, const struct lb_task *task,
    struct lb_err *err)
{
	(void)env;
	(void)task;
	(void)err;
	return 0;
}

const struct lb_boot_ops lb_boot_fake = {
	.name = "fake",
	.device = LB_BOOT_DEV_PXE,
	.prepare_ramdisk = fake_prepare,
	.clean_up_ramdisk = fake_clean_up,
};
