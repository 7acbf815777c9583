/*
 * console_fake.c - the `fake` console interface, as Ironic's: start and
 * stop do nothing, console_info is {}, and there is nothing to capture.
 * Any worker thread; no state.
 */
#include "console/console.h"
#include "conductor/util/banned.h"

static int
fake_start(const struct lb_task *task, struct lb_err *err)
{
	return 0;
}

static int
fake_stop(const struct lb_task *task, struct lb_err *err)
{
	return 0;
}

static int
fake_info(const struct lb_task *task, json_t **ret, struct lb_err *err)
{
	*ret = json_object();
	return *ret != NULL ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

const struct lb_console_ops lb_console_fake = {
	.name = "fake",
	.start = fake_start,
	.stop = fake_stop,
	.info = fake_info,
};
