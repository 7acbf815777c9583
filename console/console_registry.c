/*
 * console_registry.c - names every console implementation; the only
 * place that does.  "ipmitool-socat" without libipmiconsole at build time
 * keeps its row with NULL ops ("known, not built").  Read-only; any
 * thread.
 */
#include "console/console.h"
#include "console/registry.h"
#include "conductor/util/banned.h"

extern const struct lb_console_ops lb_console_fake;
#ifdef LB_HAVE_IPMICONSOLE
#include "console/console_ipmi.h"
#define IPMI_CONSOLE &lb_console_ipmitool
#define IPMI_CONSOLE_VALIDATE lb_console_ipmitool_validate
#define IPMI_CONSOLE_BUILT LB_IMPL_BUILT
#else
#define IPMI_CONSOLE NULL
#define IPMI_CONSOLE_VALIDATE NULL
#define IPMI_CONSOLE_BUILT 0
#endif

/*
 * What GET /v1/drivers/{name}/properties says of the console's own key;
 * the credentials are the IPMI power driver's rows.  (Ironic calls it a
 * "UDP port": it is the TCP port the console is served on.)
 */
static const struct lb_property ipmi_console_properties[] = {
	{ "ipmi_terminal_port", "TCP port the node's console is served on, "
	  "at [console] socat_address. Optional: unset, a free port of "
	  "[console] port_range is used." },
	{ NULL, NULL },
};

const struct lb_iface_impl lb_console_impls[] = {
	{ "no-console", NULL, NULL, LB_IMPL_BUILT | LB_IMPL_NONE, NULL },
	{ "fake", &lb_console_fake, NULL, LB_IMPL_BUILT, NULL },
	{ "ipmitool-socat", IPMI_CONSOLE, IPMI_CONSOLE_VALIDATE,
	  IPMI_CONSOLE_BUILT, ipmi_console_properties },
	/* Ironic's web console: known, so configs naming it say why. */
	{ "ipmitool-shellinabox", NULL, NULL, 0, NULL },
};
const size_t lb_console_nimpls = sizeof(lb_console_impls) /
    sizeof(lb_console_impls[0]);

void
lb_console_shutdown(void)
{
#ifdef LB_HAVE_IPMICONSOLE
	lb_console_ipmitool_shutdown();
#endif
}
