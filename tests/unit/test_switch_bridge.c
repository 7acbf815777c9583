/*
 * test_switch_bridge.c - the linux-bridge switch backend against a real
 * bridge, in a network namespace of this process's own: the kernel
 * removes it and everything in it when the process exits, however it
 * exits.  Needs root (exits 77 otherwise) and iproute2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "network/network.h"
#include "network/switch_backend.h"
#include "conductor/util/config.h"
#include "conductor/util/banned.h"

#define MAC1 "52:54:00:12:34:56"

extern const struct lb_network_ops lb_network_switch;

static const struct lb_switch_backend *be = &lb_switch_linux_bridge;
/* Whether this kernel has CONFIG_BRIDGE_VLAN_FILTERING. */
static bool vlan_filtering;

static const char *
tool(const char *name, char *buf, size_t len)
{
	static const char *const dirs[] = {
		"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, len, "%s%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/*
 * Runs argv (argv[0] found in the usual bin directories) and returns its
 * exit status; its stdout goes to 'out' if given, stderr to ours unless
 * 'quiet'.
 */
static int
run(const char *const *argv, char *out, size_t outlen, bool quiet)
{
	char path[64];
	size_t got = 0;
	int pfd[2], status;
	pid_t pid;

	if (tool(argv[0], path, sizeof(path)) == NULL)
		return 127;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(out ? pfd[1] : nul, STDOUT_FILENO);
		if (quiet)
			dup2(nul, STDERR_FILENO);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], out ? out + got : path,
		    out ? outlen - 1 - got : sizeof(path));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out != NULL)
			got += (size_t)n;
		if (out != NULL && got == outlen - 1)
			break;
	}
	if (out != NULL)
		out[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#define RUN(...) do {							\
	const char *const argv_[] = { __VA_ARGS__, NULL };		\
									\
	assert_int_equal(run(argv_, NULL, 0, false), 0);		\
} while (0)

/*
 * The port's VLANs as `bridge -j vlan show` sees them, independently of
 * the backend: "10PU,30" is VLAN 10 PVID untagged and VLAN 30 tagged.
 */
static void
vlans_of(const char *port, char *buf, size_t len)
{
	const char *const argv[] = { "bridge", "-j", "vlan", "show", "dev",
	    port, NULL };
	char out[8192];
	json_t *doc, *vlans, *v;
	size_t i, used = 0;

	buf[0] = '\0';
	assert_int_equal(run(argv, out, sizeof(out), false), 0);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	vlans = json_object_get(json_array_get(doc, 0), "vlans");
	json_array_foreach(vlans, i, v) {
		json_t *flags = json_object_get(v, "flags"), *f;
		json_int_t end = json_integer_value(json_object_get(v,
		    "vlanEnd"));
		bool pvid = false, untagged = false;
		size_t j;

		json_array_foreach(flags, j, f) {
			const char *s = json_string_value(f);

			pvid |= s && strcmp(s, "PVID") == 0;
			untagged |= s && strcmp(s, "Egress Untagged") == 0;
		}
		used += (size_t)snprintf(buf + used, len - used, "%s%"
		    JSON_INTEGER_FORMAT, used ? "," : "",
		    json_integer_value(json_object_get(v, "vlan")));
		if (end != 0)
			used += (size_t)snprintf(buf + used, len - used, "-%"
			    JSON_INTEGER_FORMAT, end);
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    pvid ? "P" : "", untagged ? "U" : "");
		assert_true(used < len);
	}
	json_decref(doc);
}

static void
assert_vlans(const char *port, const char *want)
{
	char got[256];

	vlans_of(port, got, sizeof(got));
	assert_string_equal(got, want);
}

/*
 * br0 filters VLANs (where the kernel can); veth1 is its port on
 * access VLAN 10 with VLAN 30 tagged, veth2 its port with no PVID, veth3
 * no bridge's port; brplain does not filter.
 */
static int
setup(void **state)
{
	const char *const filter[] = { "ip", "link", "set", "br0", "type",
	    "bridge", "vlan_filtering", "1", NULL };

	(void)state;
	RUN("ip", "link", "add", "br0", "type", "bridge");
	RUN("ip", "link", "add", "brplain", "type", "bridge");
	for (int i = 1; i <= 3; i++) {
		char name[8], peer[8];

		snprintf(name, sizeof(name), "veth%d", i);
		snprintf(peer, sizeof(peer), "peer%d", i);
		RUN("ip", "link", "add", name, "type", "veth", "peer", "name",
		    peer);
	}
	RUN("ip", "link", "set", "veth1", "master", "br0");
	RUN("ip", "link", "set", "veth2", "master", "br0");
	vlan_filtering = run(filter, NULL, 0, true) == 0;
	if (!vlan_filtering) {
		fprintf(stderr, "# this kernel's bridges cannot filter "
		    "vlans (CONFIG_BRIDGE_VLAN_FILTERING): only the refusals "
		    "run\n");
		return 0;
	}
	RUN("bridge", "vlan", "add", "dev", "veth1", "vid", "10", "pvid",
	    "untagged");
	RUN("bridge", "vlan", "add", "dev", "veth1", "vid", "30");
	RUN("bridge", "vlan", "del", "dev", "veth1", "vid", "1");
	RUN("bridge", "vlan", "del", "dev", "veth2", "vid", "1");
	return 0;
}

static void
test_refusals(void **state)
{
	struct lb_err err;
	unsigned vid = 0;

	(void)state;
	assert_int_equal(be->get_access_vlan("nosuchbr", "veth1", &vid,
	    &err), -ENOENT);
	assert_string_equal(err.msg, "bridge 'nosuchbr' does not exist");
	assert_int_equal(be->get_access_vlan("veth3", "veth1", &vid, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "interface 'veth3' is not a bridge");
	assert_int_equal(be->set_access_vlan("brplain", "veth1", 20, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "bridge 'brplain' does not filter vlans "
	    "(vlan_filtering is 0)");
	assert_int_equal(be->set_access_vlan("br0", "veth1", 4095, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "vlan 4095 is not a vlan id (1..4094)");
	assert_int_equal(be->get_access_vlan("br0", "veth1;reboot", &vid,
	    &err), -EINVAL);
	assert_int_equal(be->get_access_vlan("br0/..", "veth1", &vid, &err),
	    -EINVAL);
	assert_int_equal(vid, 0);
}

static void
test_ports(void **state)
{
	struct lb_err err;
	unsigned vid = 0;

	(void)state;
	if (!vlan_filtering)
		skip();
	assert_int_equal(be->get_access_vlan("br0", "veth3", &vid, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "interface 'veth3' is not a port of "
	    "bridge 'br0'");
	assert_int_equal(be->get_access_vlan("br0", "nope", &vid, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "bridge port 'nope' does not exist");
	assert_int_equal(be->get_access_vlan("br0", "veth2", &vid, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "port 'veth2' of bridge 'br0' has no "
	    "pvid (access vlan)");
	assert_int_equal(vid, 0);
}

static void
test_move_and_back(void **state)
{
	struct lb_err err = { "" };
	unsigned vid = 0;

	(void)state;
	if (!vlan_filtering)
		skip();
	assert_vlans("veth1", "10PU,30");
	assert_int_equal(be->get_access_vlan("br0", "veth1", &vid, &err), 0);
	assert_int_equal(vid, 10);

	assert_int_equal(be->set_access_vlan("br0", "veth1", 20, &err), 0);
	assert_vlans("veth1", "20PU,30");
	assert_int_equal(be->get_access_vlan("br0", "veth1", &vid, &err), 0);
	assert_int_equal(vid, 20);
	/* Again: nothing changes. */
	assert_int_equal(be->set_access_vlan("br0", "veth1", 20, &err), 0);
	assert_vlans("veth1", "20PU,30");

	assert_int_equal(be->set_access_vlan("br0", "veth1", 10, &err), 0);
	assert_vlans("veth1", "10PU,30");

	/* A tagged VLAN becomes the access VLAN. */
	assert_int_equal(be->set_access_vlan("br0", "veth1", 30, &err), 0);
	assert_vlans("veth1", "30PU");
	assert_int_equal(be->set_access_vlan("br0", "veth1", 10, &err), 0);
	assert_vlans("veth1", "10PU");
	RUN("bridge", "vlan", "add", "dev", "veth1", "vid", "30");

	/* A port without a PVID gets one. */
	assert_int_equal(be->set_access_vlan("br0", "veth2", 4094, &err), 0);
	assert_vlans("veth2", "4094PU");
}

/* Through the `switch` network interface, as a rescue runs it. */
static void
test_rescue_flow(void **state)
{
	struct lb_config cfg;
	struct lb_task task;
	struct lb_err err = { "" };
	const char *macs[] = { MAC1 };
	json_t *llc = json_pack("{s:s, s:s}", "switch_info", "br0", "port_id",
	    "veth1");
	const json_t *llcs[] = { llc };
	json_t *dii = json_object(), *di = json_object();

	(void)state;
	if (!vlan_filtering) {
		json_decref(llc);
		json_decref(dii);
		json_decref(di);
		skip();
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.switch_backend = (char *)"linux-bridge";
	cfg.switch_rescuing_network = (char *)"20";
	memset(&task, 0, sizeof(task));
	task.node_uuid = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123";
	task.driver_info = di;
	task.driver_internal_info = dii;
	task.port_macs = macs;
	task.port_llcs = llcs;
	task.nports = 1;

	assert_int_equal(lb_network_switch.validate_rescue(&cfg, &task,
	    &err), 0);
	assert_int_equal(lb_network_switch.unconfigure_tenant(&cfg, &task,
	    &err), 0);
	assert_int_equal(lb_network_switch.add_rescuing(&cfg, &task, &err), 0);
	assert_vlans("veth1", "20PU,30");
	assert_int_equal(lb_network_switch.add_rescuing(&cfg, &task, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    dii, "switch_tenant_vlans"), MAC1)), 10);
	assert_int_equal(lb_network_switch.remove_rescuing(&cfg, &task, &err),
	    0);
	assert_vlans("veth1", "10PU,30");
	assert_int_equal(lb_network_switch.configure_tenant(&cfg, &task,
	    &err), 0);
	assert_vlans("veth1", "10PU,30");
	assert_null(json_object_get(dii, "switch_tenant_vlans"));
	json_decref(llc);
	json_decref(dii);
	json_decref(di);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_move_and_back),
		cmocka_unit_test(test_rescue_flow),
	};
	char path[64];

	if (geteuid() != 0) {
		fprintf(stderr, "# skipped: needs root\n");
		return 77;
	}
	if (tool("ip", path, sizeof(path)) == NULL ||
	    tool("bridge", path, sizeof(path)) == NULL) {
		fprintf(stderr, "# skipped: needs iproute2's ip and bridge\n");
		return 77;
	}
	/* Nothing below touches the host's network. */
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "# skipped: cannot make a network namespace: "
		    "%s\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, NULL);
}
