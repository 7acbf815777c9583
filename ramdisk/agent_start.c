/*
 * agent_start.c - lifeboat-agent's start-up, on the main thread: the
 * kernel command line, the NICs and the first DHCP round, IPA's lookup
 * with its backoff, the agent token, and the address to advertise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ramdisk/agent_log.h"
#include "ramdisk/agent_main.h"
#include "conductor/util/banned.h"

#define LOOKUP_MAX_INTERVAL 60.0
/* udhcpc -t 5 -n gives up in about 15 s; this bounds a hung one. */
#define DHCP_ROUND_TIMEOUT_MS 90000


int
ra_agent_read_cmdline(struct ra_agent *a)
{
	struct lb_err err = { "" };
	char *text = calloc(1, RA_CMDLINE_MAX + 2);
	FILE *f = fopen(a->cmdline_file, "re");
	size_t n = 0;
	int r;

	if (text == NULL || f == NULL) {
		ra_error("cannot read '%s': %s", a->cmdline_file,
		    strerror(errno));
		if (f != NULL)
			fclose(f);
		free(text);
		return -EIO;
	}
	n = fread(text, 1, RA_CMDLINE_MAX + 1, f);
	fclose(f);
	text[n] = '\0';
	r = ra_cmdline_parse(text, &a->cmd, &err);
	explicit_bzero(text, n);
	free(text);
	if (r < 0) {
		ra_error("kernel command line: %s", err.msg);
		return r;
	}
	if (a->cmd.skipped_urls > 0)
		ra_warn("ipa-api-url: %d entr%s skipped (mdns is not "
		    "supported)", a->cmd.skipped_urls,
		    a->cmd.skipped_urls == 1 ? "y" : "ies");
	if (a->cmd.bootif_unusable)
		ra_warn("BOOTIF is not an Ethernet MAC address; using every "
		    "NIC");
	if (a->cmd.boot_method && strcmp(a->cmd.boot_method, "vmedia") == 0)
		ra_warn("boot_method=vmedia: the virtual media parameters "
		    "file is not read, the kernel command line is used");
	return 0;
}

/*
 * Which NIC the lookup goes out on: the one holding the address the route
 * to the API starts from.  Two leases may come within one poll, and the
 * one bound first holds the default route; else 'first', the first reaped.
 */
static int
route_nic(struct ra_agent *a, int first)
{
	char src[RA_HOST_MAX], have[RA_HOST_MAX];
	struct ra_url u;

	if (ra_url_parse(a->cmd.api_url, &u, NULL) < 0 ||
	    ra_net_route_source(u.host, u.port, src, sizeof(src)) < 0)
		return first;
	for (int i = 0; i < a->n_boot; i++) {
		if (ra_net_ipv4(a->boot[i].name, have, sizeof(have)) == 0 &&
		    strcmp(have, src) == 0)
			return i;
	}
	return first;
}

/*
 * The NICs up and DHCP; returns the MAC list for lookup in *macs.  With a
 * BOOTIF NIC, DHCP on it alone; else on every NIC that shows a link.  The
 * first lease is enough to look up: the other clients go on meanwhile.
 */
void
ra_agent_network(struct ra_agent *a, struct lb_buf *macs)
{
	struct ra_dhcp_round *dr = &a->dhcp_round;
	struct ra_nic nics[RA_MAX_NICS];
	struct lb_err err = { "" };
	int n, r;

	n = ra_net_list(a->sysfs, nics, RA_MAX_NICS, &err);
	if (n < 0) {
		ra_warn("cannot list the NICs: %s", err.msg);
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(nics[i].mac, a->cmd.bootif) == 0)
			a->boot[a->n_boot++] = nics[i];
	}
	if (a->n_boot == 0) {
		if (a->cmd.bootif[0] != '\0')
			ra_warn("no NIC has the BOOTIF address %s; using "
			    "every NIC", a->cmd.bootif);
		memcpy(a->boot, nics, n * sizeof(*nics));
		a->n_boot = n;
		dr->need_carrier = true;
	}
	if (a->cmd.bootif[0] != '\0')
		lb_buf_adds(macs, a->cmd.bootif);
	for (int i = 0; i < n; i++) {
		if (strcmp(nics[i].mac, a->cmd.bootif) == 0)
			continue;
		if (macs->len > 0)
			lb_buf_addc(macs, ',');
		lb_buf_adds(macs, nics[i].mac);
	}
	lb_buf_addc(macs, '\0');
	if (a->no_dhcp || a->n_boot == 0)
		return;
	for (int i = 0; i < a->n_boot; i++) {
		if (ra_net_link_up(a->boot[i].name, &err) < 0)
			ra_warn("%s", err.msg);
	}
	ra_info("DHCP on %d NIC%s%s", a->n_boot, a->n_boot == 1 ? "" : "s",
	    dr->need_carrier ? ", each once it shows a link" : "");
	dr->dhcp = &a->dhcp;
	dr->sysfs = a->sysfs;
	memcpy(dr->nics, a->boot, a->n_boot * sizeof(*a->boot));
	dr->n = a->n_boot;
	dr->carrier_ms = (int)(a->carrier_wait * 1000);
	dr->timeout_ms = DHCP_ROUND_TIMEOUT_MS;
	if (ra_dhcp_round_start(dr, &err) < 0) {
		ra_warn("DHCP: %s", err.msg);
		return;
	}
	r = ra_dhcp_round_first(dr, &ra_got_signal);
	if (r >= 0) {
		a->winner = route_nic(a, r);
		ra_info("DHCP: %s wins (the first lease), lookup starts",
		    a->boot[a->winner].name);
	} else if (r == -ENOENT)
		ra_warn("DHCP: no lease on any NIC; carrying on");
}

/*
 * After the round: the NICs that got a lease, for the lasting clients;
 * when none did (a lease that came some other way), those DHCP ran on.
 */
void
ra_agent_leased_nics(struct ra_agent *a)
{
	struct ra_dhcp_round *dr = &a->dhcp_round;
	struct ra_nic keep[RA_MAX_NICS];
	int n = 0;

	if (dr->n == 0)
		return;
	for (int i = 0; i < dr->n; i++) {
		if (ra_dhcp_round_state(dr, i) == RA_DHCP_LEASE)
			keep[n++] = dr->nics[i];
	}
	for (int i = 0; n == 0 && i < dr->n; i++) {
		if (ra_dhcp_round_state(dr, i) != RA_DHCP_SKIPPED)
			keep[n++] = dr->nics[i];
	}
	if (n == 0)
		return;
	memcpy(a->boot, keep, n * sizeof(*keep));
	a->n_boot = n;
}

/* IPA's lookup: random exponential backoff until ipa-lookup-timeout. */
int
ra_agent_lookup(struct ra_agent *a, const char *macs)
{
	static const double conflict_pauses[] = { 5, 10, 30 };
	int64_t start = ra_now_ms();
	double lo = a->cmd.lookup_interval, hi;
	struct lb_err err;
	int attempt = 0, conflicts = 0, r;

	ra_info("looking up the node at %s with %s", a->ic.api_url,
	    *macs ? macs : "no MAC address");
	for (;;) {
		attempt++;
		err.msg[0] = '\0';
		r = ra_ironic_lookup(&a->ic, macs, NULL, &a->lk, &err);
		if (r == 0)
			return 0;
		if (r == -EINVAL) {
			ra_error("lookup: %s", err.msg);
			return r;
		}
		ra_warn("lookup failed, retrying: %s", err.msg);
		if (r == -EBUSY) {
			double pause = conflict_pauses[conflicts < 2 ?
			    conflicts : 2];

			conflicts++;
			if (!ra_agent_nap(pause))
				return -EINTR;
		}
		if (ra_now_ms() - start >= a->cmd.lookup_timeout * 1000) {
			ra_error("Could not look up node info. Check logs for "
			    "details.");
			return -ETIMEDOUT;
		}
		/* tenacity's wait_random_exponential(min, max=60) */
		hi = attempt > 7 ? LOOKUP_MAX_INTERVAL :
		    (double)(1 << (attempt - 1));
		if (hi > LOOKUP_MAX_INTERVAL)
			hi = LOOKUP_MAX_INTERVAL;
		if (!ra_agent_nap(ra_agent_uniform(lo, hi > lo ? hi : lo)))
			return -EINTR;
	}
}

/* IPA's token rules: >= 32 characters replaces, "******" keeps. */
void
ra_agent_take_token(struct ra_agent *a)
{
	const char *t = a->lk.token;

	a->token = a->cmd.agent_token;
	if (t == NULL) {
		ra_info("no agent token in the lookup reply%s", a->token ?
		    "; using the one from the command line" : "");
	} else if (strlen(t) >= 32) {
		a->token = t;
		ra_info("agent token received at lookup");
	} else if (strcmp(t, "******") == 0) {
		ra_warn("The agent token has already been retrieved.");
		if (a->token == NULL && a->lk.token_required)
			ra_error("Ironic is signaling that agent tokens are "
			    "required, however we do not have a token on file. "
			    "This is likely **FATAL**.");
	} else {
		ra_info("An invalid token was received.");
	}
}

int
ra_agent_advertise(struct ra_agent *a)
{
	struct ra_url u;

	if (a->cmd.advertise_host != NULL) {
		snprintf(a->advertise, sizeof(a->advertise), "%s",
		    a->cmd.advertise_host);
		return 0;
	}
	if (ra_url_parse(a->ic.api_url, &u, NULL) == 0 &&
	    ra_net_route_source(u.host, u.port, a->advertise,
	    sizeof(a->advertise)) == 0)
		return 0;
	if (a->winner >= 0 && ra_net_ipv4(a->boot[a->winner].name,
	    a->advertise, sizeof(a->advertise)) == 0)
		return 0;
	for (int i = 0; i < a->n_boot; i++) {
		if (ra_net_ipv4(a->boot[i].name, a->advertise,
		    sizeof(a->advertise)) == 0)
			return 0;
	}
	ra_error("no address to advertise: set ipa-advertise-host");
	return -EADDRNOTAVAIL;
}
