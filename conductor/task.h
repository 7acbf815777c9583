/*
 * task.h - the node task: a node loaded for a job with its ports and every
 * interface's ops resolved once, and the only way to call a driver.  Each
 * wrapper that reaches the BMC takes the BMC's slot in the engine's
 * limiter (in flight and spacing per the power driver's policy), so every
 * BMC command of every job is spaced alike.  Worker threads (and the API
 * thread for the boot-device calls and the rescue checks).
 */
#ifndef LB_TASK_NODE_H
#define LB_TASK_NODE_H

#include <jansson.h>
#include <stdbool.h>

#include "boot/boot.h"
#include "conductor/node.h"
#include "conductor/util/bmclimit.h"
#include "conductor/util/task.h"
#include "network/network.h"
#include "power/power.h"

struct lb_engine;
struct lb_finish;
struct lb_rescue_ops;
struct lb_deploy_ops;
struct lb_console_ops;

struct lb_node_task {
	struct lb_engine *engine;
	struct lb_node *node;
	struct lb_task task;		/* the drivers' view; task.save stores */
	const char **macs;
	const json_t **llcs;		/* ports' local_link_connection */
	json_t *dii_before;		/* driver_internal_info as loaded */
	const struct lb_power_ops *power;
	const struct lb_management_ops *management;
	const struct lb_boot_ops *boot;		/* NULL: not built */
	const struct lb_network_ops *net;	/* NULL: not built */
	const struct lb_rescue_ops *rescue;	/* NULL: none */
	const struct lb_deploy_ops *deploy;	/* NULL: does not deploy */
	const struct lb_console_ops *console;	/* NULL: none, not built */
	struct lb_bmc_policy policy;
	char bmc_key[256];
	const char *user;		/* the job's, for history; or NULL */
};

/*
 * Loads the node 'uuid' (or name) with its pxe-enabled ports and ops.
 * The power and management interfaces must be built and the power
 * driver's checks pass; -ENOENT, -ENOTSUP or the driver's error.
 */
int lb_task_load(struct lb_engine *e, const char *uuid,
    struct lb_node_task *t, struct lb_err *err);
/* Frees what lb_task_load() made; also on a zeroed or failed task. */
void lb_task_release(struct lb_node_task *t);
/*
 * What the drivers changed in the task's driver_internal_info, applied
 * key by key to 'node' as stored now (for a store update callback).
 */
void lb_task_apply_driver_changes(struct lb_node *node,
    const struct lb_node_task *t);

/* Power, through the BMC's slot (the wait bounded by timeout_s). */
int lb_task_power_get(struct lb_node_task *t, int timeout_s,
    enum lb_power_state *ret, struct lb_err *err);
/* A read that gives way (-EAGAIN) when the BMC is busy: for the sync. */
int lb_task_power_get_nowait(struct lb_node_task *t,
    enum lb_power_state *ret, struct lb_err *err);
/* The wait for a slot counts against the action's timeout_s. */
int lb_task_power_set(struct lb_node_task *t, enum lb_power_action action,
    int timeout_s, struct lb_err *err);
/*
 * The same, with the wait for a BMC slot (up to slot_s) not counted in the
 * action's timeout_s: a soft power-off gives the OS all of its time.
 */
int lb_task_power_set_for(struct lb_node_task *t,
    enum lb_power_action action, int slot_s, int timeout_s,
    struct lb_err *err);

/* The management interface's own checks (no BMC traffic). */
int lb_task_management_validate(struct lb_node_task *t, struct lb_err *err);
int lb_task_boot_device_set(struct lb_node_task *t,
    enum lb_boot_device device, bool persistent, struct lb_err *err);
int lb_task_boot_device_get(struct lb_node_task *t,
    enum lb_boot_device *ret_device, bool *ret_persistent,
    struct lb_err *err);
/* The one-time boot device the boot interface stages for. */
int lb_task_boot_device_staged(struct lb_node_task *t, struct lb_err *err);

/* Virtual media through the BMC's slot; -ENOTSUP where there is none. */
int lb_task_media_insert(struct lb_node_task *t, const char *url,
    struct lb_err *err);
int lb_task_media_eject(struct lb_node_task *t, struct lb_err *err);

/* The boot interface: its registry row's checks, flags, staging. */
bool lb_task_has_boot(const struct lb_node_task *t);
unsigned lb_task_boot_flags(const struct lb_node_task *t);
const char *lb_task_boot_name(const struct lb_node_task *t);
int lb_task_boot_validate(struct lb_node_task *t, struct lb_err *err);
int lb_task_boot_prepare(struct lb_node_task *t,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err);
int lb_task_boot_clean_up(struct lb_node_task *t, struct lb_err *err);

/*
 * What a boot implementation says of a node whose boot interface is valid
 * (`node validate`, on the API thread, without a loaded task); "" when it
 * has nothing to say.
 */
void lb_task_boot_describe(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const struct lb_task *task, char *buf,
    size_t size);

/* The network interface's hooks. */
bool lb_task_has_net(const struct lb_node_task *t);
bool lb_task_net_tenant_dhcp(const struct lb_node_task *t);
int lb_task_net_validate_rescue(struct lb_node_task *t, struct lb_err *err);
int lb_task_net_unconfigure_tenant(struct lb_node_task *t,
    struct lb_err *err);
int lb_task_net_add_rescuing(struct lb_node_task *t, struct lb_err *err);
int lb_task_net_remove_rescuing(struct lb_node_task *t, struct lb_err *err);
int lb_task_net_configure_tenant(struct lb_node_task *t, struct lb_err *err);

/* The rescue interface (NULL ops: the node has none). */
bool lb_task_has_rescue(const struct lb_node_task *t);
int lb_task_rescue_validate(struct lb_node_task *t, struct lb_err *err);
void lb_task_rescue(struct lb_node_task *t, struct lb_finish *f, char *msg,
    size_t msgsize);
void lb_task_unrescue(struct lb_node_task *t, struct lb_finish *f,
    char *msg, size_t msgsize);
void lb_task_rescue_leave(struct lb_node_task *t, bool power_off,
    struct lb_finish *f);
/* A rescue wait taken over from a dead conductor: staged again here. */
int lb_task_rescue_take_over(struct lb_node_task *t, struct lb_err *err);

/* The deploy interface: -ENOTSUP when it does not deploy. */
int lb_task_deploy(struct lb_node_task *t, struct lb_err *err);

/*
 * The console interface (console/console.h).  start fails with
 * -ENOTSUP where the node has none built; stop and the capture calls do
 * nothing then.
 */
int lb_task_console_start(struct lb_node_task *t, struct lb_err *err);
int lb_task_console_stop(struct lb_node_task *t, struct lb_err *err);
bool lb_task_console_captures(const struct lb_node_task *t);
int lb_task_console_capture_start(struct lb_node_task *t, bool resume,
    struct lb_err *err);
void lb_task_console_capture_stop(struct lb_node_task *t);

/*
 * The drivers' view of a node read outside a job (no ports, no save), for
 * the calls below and the registry rows' validate (API threads).
 */
void lb_task_of_node(struct lb_task *task, const struct lb_config *cfg,
    const struct lb_node *node);
/* console_info of a started console of implementation 'impl'. */
int lb_task_console_describe(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const struct lb_node *node, json_t **ret,
    struct lb_err *err);
/* capture_tail of a node read outside a job; *ret NULL: none. */
int lb_task_console_tail_node(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const struct lb_node *node,
    unsigned int lines, char **ret, struct lb_err *err);
/*
 * Node 'uuid' is gone: its console stops, its capture log is removed (the
 * task the implementation sees has only node_uuid and cfg).
 */
void lb_task_console_forget_node(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const char *uuid);

#endif
