/*
 * console_fake.c - Ironic's "fake" console: starts and stops at once,
 * serves nothing, says {} as its console_info, captures nothing.  Any
 * thread.
 */
#include "console/console.h"
#include "conductor/util/banned.h"

static int
fake_start(const struct lb_task *task, struct lb_err *err)
{
	(void)task;
	(void)err;
	return 0;
}

static int
fake_info(const struct lb_task *task, json_t **ret, struct lb_err *err)
{
	(void)task;
	*ret = json_object();
	return *ret != NULL ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

const struct lb_console_ops lb_console_fake = {
	.name = "fake",
	.start = fake_start,
	.stop = fake_start,
	.info = fake_info,
};
