/*
 * boot_render.c - renders the PXE, grub, iPXE and dnsmasq files the boot
 * interfaces stage, in the layout of Ironic's templates (contract §6) so
 * that nodes, tftp-hpa and dnsmasq see what they would see from Ironic.
 * Pure string building; any thread.
 */
#include "boot/boot_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/buf.h"
#include "conductor/util/banned.h"

char *
lb_render_pxelinux(const char *uuid, const char *params, const char *http_url)
{
	const char *base = http_url ? http_url : "", *sep = http_url ? "/" : "";
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_adds(&b, "default deploy\n\nlabel deploy\n");
	lb_buf_addf(&b, "kernel %s%s%s/rescue_kernel\n", base, sep, uuid);
	lb_buf_addf(&b, "append initrd=%s%s%s/rescue_ramdisk %s\n", base, sep,
	    uuid, params);
	lb_buf_adds(&b, "ipappend 2\n");
	return lb_buf_steal(&b, NULL);
}

char *
lb_render_pxelinux_ipxe(const char *uuid, const char *params,
    const char *http_url, const char *ipxe_kernel, long timeout_ms)
{
	char timeout[64] = "";
	struct lb_buf b;

	if (timeout_ms > 0)
		snprintf(timeout, sizeof(timeout), "--timeout %ld ",
		    timeout_ms);
	/*
	 * One line, because iPXE runs the command line before any script
	 * passed as initrd and stops there, and BOOTIF is only known to
	 * pxelinux, which appends it last: it becomes the last argument of
	 * chain, that is of the rescue kernel's command line.
	 */
	lb_buf_init(&b);
	lb_buf_adds(&b, "default deploy\n\nlabel deploy\n");
	lb_buf_addf(&b, "kernel %s\n", ipxe_kernel);
	lb_buf_addf(&b, "append dhcp && initrd %s%s/%s/rescue_ramdisk && "
	    "chain %s%s/%s/rescue_kernel %s\n", timeout, http_url, uuid,
	    timeout, http_url, uuid, params);
	lb_buf_adds(&b, "ipappend 2\n");
	return lb_buf_steal(&b, NULL);
}

char *
lb_render_grub(const char *uuid, const char *params, const char *tftp_server)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_adds(&b, "set default=deploy\n"
	    "set timeout=5\n"
	    "set hidden_timeout_quiet=false\n"
	    "\n"
	    "menuentry \"deploy\"  {\n");
	lb_buf_addf(&b, "    linux %s/rescue_kernel %s boot_server=%s\n", uuid,
	    params, tftp_server);
	lb_buf_addf(&b, "    initrd %s/rescue_ramdisk\n", uuid);
	lb_buf_adds(&b, "}\n");
	return lb_buf_steal(&b, NULL);
}

char *
lb_render_grub_master(void)
{
	/* $net_default_mac is colon-separated lower case, as our links. */
	return strdup("set default=master\n"
	    "set timeout=5\n"
	    "set hidden_timeout_quiet=false\n"
	    "\n"
	    "menuentry \"master\"  {\n"
	    "configfile /$net_default_mac.conf\n"
	    "}\n");
}

char *
lb_render_ipxe(const char *http_url, const char *uuid, const char *params,
    long timeout_ms)
{
	struct lb_buf b;
	char timeout[64] = "";

	if (timeout_ms > 0)
		snprintf(timeout, sizeof(timeout), "--timeout %ld ",
		    timeout_ms);
	lb_buf_init(&b);
	lb_buf_adds(&b, "#!ipxe\n"
	    "\n"
	    "set attempts:int32 10\n"
	    "set i:int32 0\n"
	    "\n"
	    "goto deploy\n"
	    "\n"
	    ":deploy\n"
	    "imgfree\n");
	lb_buf_addf(&b, "kernel %s%s/%s/rescue_kernel %s BOOTIF=${mac} "
	    "initrd=rescue_ramdisk || goto retry\n", timeout, http_url, uuid,
	    params);
	lb_buf_addc(&b, '\n');
	lb_buf_addf(&b, "initrd %s%s/%s/rescue_ramdisk || goto retry\n",
	    timeout, http_url, uuid);
	lb_buf_adds(&b, "boot\n"
	    "\n"
	    ":retry\n"
	    "iseq ${i} ${attempts} && goto fail ||\n"
	    "inc i\n"
	    "echo No response, retrying in ${i} seconds.\n"
	    "sleep ${i}\n"
	    "goto deploy\n"
	    "\n"
	    ":fail\n"
	    "echo Failed to get a response after ${attempts} attempts\n"
	    "echo Powering off in 30 seconds.\n"
	    "sleep 30\n"
	    "poweroff\n");
	return lb_buf_steal(&b, NULL);
}

char *
lb_render_boot_ipxe(void)
{
	/*
	 * netid -1 first tries ${mac} for old ROMs that lack net<N>
	 * settings; then each NIC in turn.  A chained config that returns
	 * (a failed sanboot) means "boot the next device", hence exit 0.
	 */
	return strdup("#!ipxe\n"
	    "\n"
	    "# Boot from the first network device that has a configuration:\n"
	    "# pxelinux.cfg/<mac with dashes> next to this script.\n"
	    "set netid:int32 -1\n"
	    ":loop\n"
	    "inc netid || chain pxelinux.cfg/${mac:hexhyp} || goto old_rom\n"
	    "isset ${net${netid}/mac} || goto loop_done\n"
	    "echo Attempting to boot from MAC ${net${netid}/mac:hexhyp}\n"
	    "chain pxelinux.cfg/${net${netid}/mac:hexhyp} || goto loop\n"
	    "\n"
	    "# The chained configuration returned: let the firmware go on to\n"
	    "# the next boot device.\n"
	    "echo Exiting pxe config to allow boot to continue on next "
	    "device\n"
	    "exit 0\n"
	    "\n"
	    ":loop_done\n"
	    "echo PXE boot failed! No configuration found for any of the "
	    "present NICs.\n"
	    "echo Press any key to reboot...\n"
	    "prompt --timeout 180\n"
	    "reboot\n"
	    "\n"
	    ":old_rom\n"
	    "echo PXE boot failed! No configuration found for NIC "
	    "${mac:hexhyp}.\n"
	    "echo Please update your iPXE ROM and retry.\n"
	    "echo Press any key to reboot...\n"
	    "prompt --timeout 180\n"
	    "reboot\n");
}

char *
lb_render_dnsmasq_host(const char *mac, const char *tag)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, "%s,set:%s,set:ironic\n", mac, tag);
	return lb_buf_steal(&b, NULL);
}

char *
lb_render_dnsmasq_ignore(const char *mac)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, "%s,ignore\n", mac);
	return lb_buf_steal(&b, NULL);
}

/* Option 67 for the loader: one line, or one per side of arch_tag. */
static void
add_loader(struct lb_buf *b, const struct lb_render_dhcp *dhcp,
    const char *tags)
{
	if (dhcp->arch_tag != NULL) {
		lb_buf_addf(b, "tag:%s,%stag:%s,67,%s\n", dhcp->tag, tags,
		    dhcp->arch_tag, dhcp->arch_bootfile);
		lb_buf_addf(b, "tag:%s,%stag:!%s,67,%s\n", dhcp->tag, tags,
		    dhcp->arch_tag, dhcp->bootfile);
	} else {
		lb_buf_addf(b, "tag:%s,%s67,%s\n", dhcp->tag, tags,
		    dhcp->bootfile);
	}
}

char *
lb_render_dnsmasq_known(const char *mac)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, "%s\n", mac);
	return lb_buf_steal(&b, NULL);
}

char *
lb_render_dnsmasq_opts(const struct lb_render_dhcp *dhcp)
{
	struct lb_buf b;
	const char *tag = dhcp->tag;

	lb_buf_init(&b);
	if (dhcp->ipxe_script_url != NULL) {
		/* dhcp-match=set:ipxe,175 in dnsmasq.conf sets "ipxe". */
		add_loader(&b, dhcp, "tag:!ipxe,");
		lb_buf_addf(&b, "tag:%s,tag:ipxe,67,%s\n", tag,
		    dhcp->ipxe_script_url);
	} else {
		add_loader(&b, dhcp, "");
	}
	lb_buf_addf(&b, "tag:%s,66,%s\n", tag, dhcp->tftp_server);
	lb_buf_addf(&b, "tag:%s,150,%s\n", tag, dhcp->tftp_server);
	/*
	 * 255 is how dnsmasq spells siaddr (next-server); without it PXE
	 * ROMs fetch from dnsmasq's own address.  Ironic writes the name
	 * "server-ip-address", which dnsmasq 2.90 rejects without "option:".
	 */
	lb_buf_addf(&b, "tag:%s,255,%s\n", tag, dhcp->tftp_server);
	return lb_buf_steal(&b, NULL);
}
