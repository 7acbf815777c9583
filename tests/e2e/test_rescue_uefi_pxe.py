"""End to end: a UEFI (OVMF) machine enrolled without a boot_mode
capability is rescued over PXE and over iPXE, on the same lifeboat
configuration as the BIOS machine of test_rescue_qemu.py (no
default_boot_mode set).

The lab is the PXE lab with the Redfish BMC and OVMF: QEMU's virtio-net
ROM (efi-virtio.rom) is iPXE for UEFI, which asks with option 93 = 7 (and
175).  Lifeboat tells the BMC "Pxe, once" without a BootSourceOverrideMode,
the machine stays in UEFI (the BMC's log says ``boot from pxe (uefi)``),
and dnsmasq sends it by its architecture tag ``bootx64.efi``
(grubnetx64.efi, which reads lifeboat's grub/grub.cfg and the node's
<mac>.conf -> <uuid>/grub.cfg) for pxe, and ``boot.ipxe`` for ipxe
(snponly.efi, for a UEFI PXE ROM that is not iPXE, is test_dhcp_arch's).  The rest of each cycle (ssh, wrong token and
password refused, unrescue, instance back) is test_rescue_qemu's
``rescue_cycle``.
"""

from test_rescue_qemu import rescue_cycle

LAB_OPTIONS = {'name': 'uefipxe', 'bmc': 'redfish', 'firmware': 'uefi'}


def test_rescue_uefi_pxe(rescue_ready, lab, timings):
    rescue_cycle(lab, 'pxe', timings)


def test_rescue_uefi_ipxe(rescue_ready, lab, timings):
    rescue_cycle(lab, 'ipxe', timings)
