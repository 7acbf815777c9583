/*
 * test_network_switch.c - the `switch` network interface: what
 * validate_rescue refuses and why, and the VLAN moves through a fake
 * switch: tenant VLANs recorded once, restored exactly, records dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "network/network.h"
#include "network/registry.h"
#include "network/switch_backend.h"
#include "conductor/util/config.h"
#include "conductor/util/banned.h"

#define UUID "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
#define MAC1 "52:54:00:12:34:56"
#define MAC2 "52:54:00:ab:cd:ef"
#define NPORTS 2

extern const struct lb_network_ops lb_network_switch;

/* ---- a fake switch: two ports on bridge "br0" ---- */

struct fake_port {
	const char *name;
	unsigned vid;
	bool fail_get;
	bool fail_set;
};

static struct fake_port fake_ports[NPORTS];
static int fake_gets, fake_sets;

static struct fake_port *
fake_find(const char *sw, const char *port)
{
	for (size_t i = 0; strcmp(sw, "br0") == 0 && i < NPORTS; i++) {
		if (strcmp(fake_ports[i].name, port) == 0)
			return &fake_ports[i];
	}
	return NULL;
}

static int
fake_check_port(const char *sw, const char *port, struct lb_err *err)
{
	(void)err;
	(void)sw;
	(void)port;
	return 0;
}

static int
fake_get(const char *sw, const char *port, unsigned *ret_vid,
    struct lb_err *err)
{
	struct fake_port *p = fake_find(sw, port);

	fake_gets++;
	if (p == NULL || p->fail_get)
		return lb_err_set(err, -EIO, "cannot read port '%s'", port);
	*ret_vid = p->vid;
	return 0;
}

static int
fake_set(const char *sw, const char *port, unsigned vid, struct lb_err *err)
{
	struct fake_port *p = fake_find(sw, port);

	fake_sets++;
	if (p == NULL || p->fail_set)
		return lb_err_set(err, -EIO, "cannot set port '%s'", port);
	p->vid = vid;
	return 0;
}

static const struct lb_switch_backend fake = {
	.name = "fake",
	.check_port = fake_check_port,
	.get_access_vlan = fake_get,
	.set_access_vlan = fake_set,
};

/* ---- a node with two pxe-enabled ports ---- */

struct fixture {
	struct lb_config cfg;
	struct lb_task task;
	json_t *driver_info;
	json_t *dii;
	const char *macs[NPORTS];
	json_t *llcs[NPORTS];
	struct lb_err err;
};

static int
setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	/* The hooks read only the [switch] options. */
	f.cfg.switch_backend = (char *)"linux-bridge";
	f.cfg.switch_rescuing_network = (char *)"99";
	f.driver_info = json_object();
	f.dii = json_object();
	f.macs[0] = MAC1;
	f.macs[1] = MAC2;
	f.llcs[0] = json_pack("{s:s, s:s, s:s}", "switch_id",
	    "aa:bb:cc:dd:ee:ff", "switch_info", "br0", "port_id", "veth1");
	f.llcs[1] = json_pack("{s:s, s:s}", "switch_info", "br0",
	    "port_id", "veth2");
	f.task.node_uuid = UUID;
	f.task.driver = "ipmi";
	f.task.driver_info = f.driver_info;
	f.task.driver_internal_info = f.dii;
	f.task.port_macs = f.macs;
	f.task.port_llcs = (const json_t *const *)f.llcs;
	f.task.nports = NPORTS;
	memset(fake_ports, 0, sizeof(fake_ports));
	fake_ports[0].name = "veth1";
	fake_ports[0].vid = 10;
	fake_ports[1].name = "veth2";
	fake_ports[1].vid = 11;
	fake_gets = fake_sets = 0;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->driver_info);
	json_decref(f->dii);
	for (size_t i = 0; i < NPORTS; i++)
		json_decref(f->llcs[i]);
	return 0;
}

static void
assert_msg_has(const struct lb_err *err, const char *what)
{
	if (strstr(err->msg, what) == NULL)
		fail_msg("message '%s' does not say '%s'", err->msg, what);
}

static int
validate(struct fixture *f)
{
	f->err.msg[0] = '\0';
	return lb_network_switch.validate_rescue(&f->cfg, &f->task, &f->err);
}

static long
recorded(const struct fixture *f, const char *mac)
{
	json_t *rec = json_object_get(f->dii, "switch_tenant_vlans");
	json_t *v = json_object_get(rec, mac);

	return v ? (long)json_integer_value(v) : -1;
}

/* ---- validation ---- */

/*
 * Only the switch moves the node to a tenant network with its own DHCP;
 * noop and flat leave it on the one network lifeboat's dnsmasq serves.
 */
static void
test_registry_tenant_dhcp(void **state)
{
	bool seen_flat = false;

	(void)state;
	for (size_t i = 0; i < lb_network_nimpls; i++) {
		const struct lb_iface_impl *impl = &lb_network_impls[i];
		const struct lb_network_ops *ops = impl->ops;

		if (strcmp(impl->name, "neutron") == 0) {
			assert_false(impl->flags & LB_IMPL_BUILT);
			continue;
		}
		assert_true(impl->flags & LB_IMPL_BUILT);
		assert_string_equal(ops->name, impl->name);
		assert_int_equal(ops->tenant_dhcp,
		    strcmp(impl->name, "switch") == 0);
		seen_flat |= strcmp(impl->name, "flat") == 0;
	}
	assert_true(seen_flat);
}

static void
test_registry_row(void **state)
{
	(void)state;
	for (size_t i = 0; i < lb_network_nimpls; i++) {
		if (strcmp(lb_network_impls[i].name, "switch") != 0)
			continue;
		assert_ptr_equal(lb_network_impls[i].ops, &lb_network_switch);
		assert_true(lb_network_impls[i].flags & LB_IMPL_BUILT);
		return;
	}
	fail_msg("no switch row");
}

static void
test_backend_find(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(lb_switch_backend_find(NULL),
	    &lb_switch_linux_bridge);
	assert_ptr_equal(lb_switch_backend_find("linux-bridge"),
	    &lb_switch_linux_bridge);
	assert_null(lb_switch_backend_find("cisco"));
	f->cfg.switch_backend = (char *)"cisco";
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "unknown [switch] backend 'cisco'");
}

static void
test_valid(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(validate(f), 0);
	/* No I/O, no change. */
	assert_int_equal(json_object_size(f->dii), 0);
}

static void
test_no_ports(void **state)
{
	struct fixture *f = *state;

	f->task.nports = 0;
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "node '" UUID "' has no pxe-enabled "
	    "port to move to the rescuing network");
}

static void
test_missing_llc(void **state)
{
	struct fixture *f = *state;

	json_decref(f->llcs[1]);
	f->llcs[1] = json_object();
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "port '" MAC2 "' has no "
	    "local_link_connection: the switch network interface needs its "
	    "switch_info and port_id");
	json_decref(f->llcs[1]);
	f->llcs[1] = NULL;
	assert_int_equal(validate(f), -EINVAL);
	assert_msg_has(&f->err, "port '" MAC2 "' has no local_link_connection");
	/* The API's validate gives no local_link_connections at all. */
	f->task.port_llcs = NULL;
	assert_int_equal(validate(f), -EINVAL);
	assert_msg_has(&f->err, "port '" MAC1 "' has no local_link_connection");
}

static void
test_missing_port_id_or_switch_info(void **state)
{
	struct fixture *f = *state;

	json_object_del(f->llcs[0], "port_id");
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "local_link_connection of port '"
	    MAC1 "' has no port_id (the switch port)");
	json_object_set_new(f->llcs[0], "port_id", json_string(""));
	assert_int_equal(validate(f), -EINVAL);
	assert_msg_has(&f->err, "has no port_id");
	json_object_set_new(f->llcs[0], "port_id", json_string("veth1"));
	json_object_set_new(f->llcs[0], "switch_info", json_integer(3));
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "local_link_connection of port '"
	    MAC1 "' has no switch_info (the switch)");
}

static void
test_bad_interface_names(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->llcs[1], "switch_info", json_string("br 0"));
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "local_link_connection of port '"
	    MAC2 "': bridge (switch_info) 'br 0' is not an interface name "
	    "(only A-Z a-z 0-9 . _ -)");
	json_object_set_new(f->llcs[1], "switch_info", json_string("br0"));
	json_object_set_new(f->llcs[1], "port_id",
	    json_string("a-very-long-port-name"));
	assert_int_equal(validate(f), -EINVAL);
	assert_msg_has(&f->err, "bridge port (port_id) 'a-very-long-port-name' "
	    "is not an interface name (1 to 15 characters)");
	json_object_set_new(f->llcs[1], "port_id", json_string(".."));
	assert_int_equal(validate(f), -EINVAL);
	json_object_set_new(f->llcs[1], "port_id", json_string("../x"));
	assert_int_equal(validate(f), -EINVAL);
	json_object_set_new(f->llcs[1], "port_id",
	    json_string("enp1s0f1.100_x"));
	assert_int_equal(validate(f), 0);
}

static void
test_vlan_ids(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"0", "4095", "65536", "", "abc", "10a", " 10", "+10", "0x10",
		"-1", "00010",
	};
	char want[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object_set_new(f->driver_info, "rescuing_network",
		    json_string(bad[i]));
		assert_int_equal(validate(f), -EINVAL);
		snprintf(want, sizeof(want), "driver_info rescuing_network "
		    "'%s' is not a vlan id (1..4094)", bad[i]);
		assert_string_equal(f->err.msg, want);
	}
	json_object_set_new(f->driver_info, "rescuing_network",
	    json_integer(5000));
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "driver_info rescuing_network '5000' "
	    "is not a vlan id (1..4094)");
	json_object_set_new(f->driver_info, "rescuing_network", json_true());
	assert_int_equal(validate(f), -EINVAL);
	assert_msg_has(&f->err, "is not a vlan id");
	json_object_set_new(f->driver_info, "rescuing_network",
	    json_string("4094"));
	assert_int_equal(validate(f), 0);
	json_object_set_new(f->driver_info, "rescuing_network",
	    json_integer(1));
	assert_int_equal(validate(f), 0);
	json_object_set_new(f->driver_info, "rescuing_network",
	    json_string("0100"));
	assert_int_equal(validate(f), 0);
	/* driver_info wins over a bad configuration. */
	f->cfg.switch_rescuing_network = (char *)"x";
	assert_int_equal(validate(f), 0);
	json_object_del(f->driver_info, "rescuing_network");
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, "[switch] rescuing_network 'x' is not "
	    "a vlan id (1..4094)");
}

static void
test_no_rescuing_network(void **state)
{
	struct fixture *f = *state;
	const char *want = "no rescuing network for node '" UUID "': set "
	    "driver_info rescuing_network or [switch] rescuing_network to a "
	    "vlan id";

	f->cfg.switch_rescuing_network = NULL;
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, want);
	f->cfg.switch_rescuing_network = (char *)"";
	json_object_set_new(f->driver_info, "rescuing_network", json_null());
	assert_int_equal(validate(f), -EINVAL);
	assert_string_equal(f->err.msg, want);
	/* add_rescuing checks too, before it touches anything. */
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), -EINVAL);
	assert_string_equal(f->err.msg, want);
	assert_int_equal(fake_gets + fake_sets, 0);
}

/* ---- the moves ---- */

static void
test_flow(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lb_network_switch.unconfigure_tenant(&f->cfg,
	    &f->task, &f->err), 0);
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	assert_int_equal(recorded(f, MAC1), 10);
	assert_int_equal(recorded(f, MAC2), 11);
	assert_int_equal(fake_ports[0].vid, 99);
	assert_int_equal(fake_ports[1].vid, 99);

	/* Twice: the rescuing VLAN is not taken for the tenant's. */
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	assert_int_equal(recorded(f, MAC1), 10);
	assert_int_equal(recorded(f, MAC2), 11);
	assert_int_equal(fake_gets, 2);

	/* remove_rescuing restores and keeps the record... */
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, false,
	    &f->err), 0);
	assert_int_equal(fake_ports[0].vid, 10);
	assert_int_equal(fake_ports[1].vid, 11);
	assert_int_equal(recorded(f, MAC1), 10);

	/* ...configure_tenant restores again and drops it. */
	fake_ports[0].vid = 99;
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), 0);
	assert_int_equal(fake_ports[0].vid, 10);
	assert_int_equal(fake_ports[1].vid, 11);
	assert_null(json_object_get(f->dii, "switch_tenant_vlans"));

	/* Nothing recorded: nothing to do. */
	fake_sets = 0;
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), 0);
	assert_int_equal(fake_sets, 0);
}

static void
test_rescuing_network_from_driver_info(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->driver_info, "rescuing_network",
	    json_string("300"));
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	assert_int_equal(fake_ports[0].vid, 300);
	assert_int_equal(fake_ports[1].vid, 300);
	assert_int_equal(recorded(f, MAC1), 10);
}

static void
test_other_records_kept(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->dii, "agent_url", json_string("http://x"));
	json_object_set_new(f->dii, "switch_tenant_vlans",
	    json_pack("{s:i}", "52:54:00:00:00:01", 7));
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), 0);
	/* A port that is not the node's any more keeps its record. */
	assert_int_equal(recorded(f, "52:54:00:00:00:01"), 7);
	assert_int_equal(recorded(f, MAC1), -1);
	assert_non_null(json_object_get(f->dii, "agent_url"));
}

static void
test_add_fails_half_way(void **state)
{
	struct fixture *f = *state;

	fake_ports[1].fail_set = true;
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), -EIO);
	assert_string_equal(f->err.msg, "cannot set port 'veth2'");
	assert_int_equal(fake_ports[0].vid, 99);
	assert_int_equal(fake_ports[1].vid, 11);
	/* Recorded before the move, so clean-up can restore both. */
	assert_int_equal(recorded(f, MAC1), 10);
	assert_int_equal(recorded(f, MAC2), 11);
	fake_ports[1].fail_set = false;
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), 0);
	assert_int_equal(fake_ports[0].vid, 10);
	assert_int_equal(fake_ports[1].vid, 11);
	assert_null(json_object_get(f->dii, "switch_tenant_vlans"));
}

/* What the store would hold when the save hook runs. */
static int saves, sets_at_save, save_result;
static json_t *saved;

static int
fake_save(const struct lb_task *task, struct lb_err *err)
{
	saves++;
	sets_at_save = fake_sets;
	json_decref(saved);
	saved = json_deep_copy(task->driver_internal_info);
	if (save_result < 0)
		return lb_err_set(err, save_result, "cannot save");
	return 0;
}

/* Issue 10 item 8: every tenant VLAN is saved before any port moves. */
static void
test_saved_before_moved(void **state)
{
	struct fixture *f = *state;
	json_t *rec;

	saves = 0;
	save_result = 0;
	f->task.save = fake_save;
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	assert_int_equal(saves, 1);
	assert_int_equal(sets_at_save, 0);
	rec = json_object_get(saved, "switch_tenant_vlans");
	assert_int_equal(json_integer_value(json_object_get(rec, MAC1)), 10);
	assert_int_equal(json_integer_value(json_object_get(rec, MAC2)), 11);
	assert_int_equal(fake_ports[0].vid, 99);
	/* Recorded already: nothing new to save, the move is repeated. */
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	assert_int_equal(saves, 1);

	/* A record that cannot be saved moves nothing. */
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), 0);
	fake_sets = 0;
	save_result = -EIO;
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), -EIO);
	assert_string_equal(f->err.msg, "cannot save");
	assert_int_equal(fake_sets, 0);
	assert_int_equal(fake_ports[0].vid, 10);
	assert_int_equal(fake_ports[1].vid, 11);
	json_decref(saved);
	saved = NULL;
}

static void
test_add_cannot_read(void **state)
{
	struct fixture *f = *state;

	fake_ports[0].fail_get = true;
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), -EIO);
	assert_string_equal(f->err.msg, "cannot read port 'veth1'");
	assert_int_equal(fake_ports[0].vid, 10);
	assert_int_equal(fake_sets, 0);
	assert_null(json_object_get(f->dii, "switch_tenant_vlans"));
}

static void
test_restore_best_effort(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), 0);
	fake_ports[0].fail_set = true;
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), -EIO);
	assert_string_equal(f->err.msg, "cannot set port 'veth1'");
	/* The other port still goes back; only the failed one is kept. */
	assert_int_equal(fake_ports[1].vid, 11);
	assert_int_equal(recorded(f, MAC1), 10);
	assert_int_equal(recorded(f, MAC2), -1);
	fake_ports[0].fail_set = false;
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), 0);
	assert_int_equal(fake_ports[0].vid, 10);
	assert_null(json_object_get(f->dii, "switch_tenant_vlans"));
}

static void
test_bad_record(void **state)
{
	struct fixture *f = *state;

	json_object_set_new(f->dii, "switch_tenant_vlans",
	    json_pack("{s:s}", MAC1, "ten"));
	assert_int_equal(lb_switch_add_rescuing(&fake, &f->cfg, &f->task,
	    &f->err), -EINVAL);
	assert_string_equal(f->err.msg, "the tenant vlan recorded for port '"
	    MAC1 "' is not a vlan id");
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, true,
	    &f->err), -EINVAL);
	assert_int_equal(fake_sets, 0);
	json_object_set_new(f->dii, "switch_tenant_vlans", json_integer(3));
	assert_int_equal(lb_switch_restore_tenant(&fake, &f->task, false,
	    &f->err), -EINVAL);
	assert_string_equal(f->err.msg, "driver_internal_info "
	    "switch_tenant_vlans of node '" UUID "' is not an object");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_tenant_dhcp),
		cmocka_unit_test_setup_teardown(test_registry_row, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backend_find, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_ports, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_llc, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_missing_port_id_or_switch_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_interface_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlan_ids, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_rescuing_network,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rescuing_network_from_driver_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_records_kept,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_fails_half_way,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_cannot_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_saved_before_moved, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_best_effort,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_record, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
