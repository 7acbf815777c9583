/*
 * boot_render.h - the text of every file the PXE and iPXE boot interfaces
 * stage: pxelinux, grub and iPXE configs, the static boot.ipxe and grub
 * master config, and dnsmasq host and option lines.  Pure: no I/O, no
 * validation (callers pass checked values).  Any thread.
 *
 * Every function returns a malloc'd NUL-terminated string the caller frees,
 * or NULL when memory runs out.
 */
#ifndef LB_BOOT_RENDER_H
#define LB_BOOT_RENDER_H

/*
 * pxelinux (BIOS) config for <tftp_root>/<uuid>/config.  With 'http_url'
 * NULL the kernel and ramdisk paths are relative to the TFTP root; else
 * they are <http_url>/<uuid>/rescue_kernel and rescue_ramdisk, which an
 * HTTP-capable pxelinux (lpxelinux.0) fetches over HTTP.
 */
char *lb_render_pxelinux(const char *uuid, const char *params,
    const char *http_url);

/*
 * pxelinux (BIOS) config for <tftp_root>/<uuid>/config that boots iPXE
 * ('ipxe_kernel', relative to the TFTP root) as a Linux kernel.  iPXE runs
 * its command line as a script: DHCP with its own NIC driver, fetch
 * <http_url>/<uuid>/rescue_ramdisk, then chain rescue_kernel with
 * 'params', to which pxelinux's "ipappend 2" adds BOOTIF of the booting
 * NIC.  'params' must not hold "initrd=" or "BOOT_IMAGE=", which iPXE
 * strips from its command line.
 */
char *lb_render_pxelinux_ipxe(const char *uuid, const char *params,
    const char *http_url, const char *ipxe_kernel, long timeout_ms);

/* grub (UEFI) config for <tftp_root>/<uuid>/config. */
char *lb_render_grub(const char *uuid, const char *params,
    const char *tftp_server);

/*
 * <tftp_root>/grub/grub.cfg: the config grub finds first, which hands over
 * to the per-MAC link /<aa:bb:cc:dd:ee:ff>.conf.
 */
char *lb_render_grub_master(void);

/*
 * iPXE script for <http_root>/<uuid>/config: fetches kernel and ramdisk
 * from <http_url>/<uuid>/, retrying ten times before powering off.
 * 'timeout_ms' > 0 adds --timeout to both fetches.
 */
char *lb_render_ipxe(const char *http_url, const char *uuid,
    const char *params, long timeout_ms);

/* <http_root>/boot.ipxe: chains pxelinux.cfg/<mac> for each NIC in turn. */
char *lb_render_boot_ipxe(void);

/* A dhcp-hostsdir file: "<mac>,set:<tag>,set:ironic\n". */
char *lb_render_dnsmasq_host(const char *mac, const char *tag);

/*
 * The dhcp-hostsdir file after clean-up where a tenant DHCP takes over:
 * "<mac>,ignore\n".
 */
char *lb_render_dnsmasq_ignore(const char *mac);

/*
 * The dhcp-hostsdir file after clean-up where lifeboat's dnsmasq keeps
 * serving the MAC: "<mac>\n" (known, no tag, so no boot options).
 */
char *lb_render_dnsmasq_known(const char *mac);

/*
 * The tags dnsmasq.conf's dhcp-match lines set from the client's
 * architecture (option 93): 0 is BIOS x86, 7 and 9 are x86-64 UEFI.
 */
#define LB_DHCP_TAG_BIOS "bios"
#define LB_DHCP_TAG_UEFI "efi64"

/* What goes into a node's dhcp-optsdir file. */
struct lb_render_dhcp {
	const char *tag;		/* the node's dnsmasq tag */
	const char *bootfile;		/* option 67; for iPXE, its binary */
	/*
	 * Non-NULL: clients with tag 'arch_tag' get 'arch_bootfile' and only
	 * the others (tag:!arch_tag) 'bootfile', so exactly one applies.
	 */
	const char *arch_tag;
	const char *arch_bootfile;
	const char *ipxe_script_url;	/* NULL: plain PXE */
	const char *tftp_server;	/* options 66, 150 and 255 */
};

/*
 * "tag:<tag>,<opt>,<value>" lines in Ironic's order: 67 (or tag:!ipxe,67
 * and tag:ipxe,67 for iPXE; each 67 for a loader split in two by
 * arch_tag), then 66, 150 and 255 (dnsmasq's siaddr).
 */
char *lb_render_dnsmasq_opts(const struct lb_render_dhcp *dhcp);

#endif
