"""End to end: a machine whose NIC the rescue ramdisk has no driver for.

The image carries no driver for the 8390 family (NE2000 clones), so a
QEMU ``ne2k_pci`` NIC (PCI 10ec:8029) stays unclaimed: the ramdisk cannot
reach lifeboat and never looks up.  The lab is the Redfish virtual-media
lab (conftest.py ``lab`` with ``LAB_OPTIONS`` below: OVMF, the ISO on the
BMC's virtual CD) because the ramdisk then needs no network to boot; the
NIC has no option ROM (``romfile=``), there is no instance disk (no
instance needs to run for this), and lifeboatd waits for the
ramdisk's callback only ``CALLBACK_TIMEOUT`` seconds.

``test_rescue_unclaimed_nic``: enroll and adopt; ``rescue --wait`` fails
within the callback timeout: provision state ``rescue failed``,
``last_error`` is Ironic's "Timeout reached while waiting for rescue
ramdisk callback for node ..." and says that the ramdisk never looked up;
the serial console shows ``lifeboat-ramdisk: no driver for PCI`` naming
10ec:8029.  Then ``unrescue --wait`` brings the node back to ``active``.
"""

import time

import lab as L

CALLBACK_TIMEOUT = 90     # [conductor] rescue_callback_timeout
CHECK_INTERVAL = 2        # [conductor] check_rescue_state_interval
LAB_OPTIONS = {'name': 'nodriver', 'bmc': 'redfish', 'firmware': 'uefi',
               'pxe': False,
               'machine': {'memory': 1024, 'nic': 'ne2k_pci',
                           'nic_romfile': '', 'instance_disk': False},
               'conductor': {'rescue_callback_timeout': CALLBACK_TIMEOUT,
                             'check_rescue_state_interval': CHECK_INTERVAL}}

NODE_NAME = 'e2e-nodriver'
RESCUE_PASSWORD = 'Lifeboat-nodrv-pw1'
TIMEOUT_MSG = ('Timeout reached while waiting for rescue ramdisk callback '
               'for node')
NO_DRIVER = r'lifeboat-ramdisk: no driver for PCI\b.*\b10ec:8029\b'
UNRESCUE_TIMEOUT = 180


def node_show(lab, uuid):
    return lab.cli_json('node', 'show', uuid)


def enroll(lab):
    return lab.enroll(NODE_NAME, 'redfish', 'redfish-virtual-media', 'uefi',
                      pxe=False)


def test_rescue_unclaimed_nic(rescue_ready, lab, timings):
    uuid = enroll(lab)
    mark = lab.events.mark()
    t0 = time.monotonic()
    limit = CALLBACK_TIMEOUT + 120
    p = lab.cli('node', 'rescue', uuid, '--rescue-password', RESCUE_PASSWORD,
                '--wait', str(limit), timeout=limit + 30, check=False)
    t_cli = time.monotonic()
    node = node_show(lab, uuid)
    try:
        assert p.returncode != 0, 'rescue --wait succeeded without a NIC'
        assert node['provision_state'] == 'rescue failed', node
        err = node['last_error'] or ''
        assert err.startswith(TIMEOUT_MSG), err
        assert RESCUE_PASSWORD not in err
        t_wait, _ = lab.events.wait(r'node %s: rescue: powered on, waiting'
                                    % uuid, 'lifeboatd', mark, 1)
        t_fail, _ = lab.events.wait(r'node %s: .*-> rescue failed' % uuid,
                                    'lifeboatd', mark, 1)
        waited = t_fail - t_wait
        assert CALLBACK_TIMEOUT - 1 <= waited <= \
            CALLBACK_TIMEOUT + 2 * CHECK_INTERVAL + 5, waited
        t_line, line = lab.events.wait(NO_DRIVER, 'console', mark, 1,
                                       what='the unclaimed NIC on the '
                                       'console')
        assert t_line < t_fail
        # the ramdisk never reached lifeboat
        assert not lab.events.find(r'node %s: agent token issued' % uuid,
                                   'lifeboatd', mark)
        # and last_error says so (after the checks above, which hold
        # whatever the wording)
        assert 'never looked up' in err, err
    except AssertionError as e:
        raise AssertionError('%s\nlifeboatd:\n%s\nconsole:\n%s' % (
            e, lab.events.tail('lifeboatd', 30),
            lab.events.tail('console', 60))) from None
    finally:
        # leave the node clean: rescue failed -> unrescue -> active
        if node_show(lab, uuid)['provision_state'] == 'rescue failed':
            lab.cli('node', 'unrescue', uuid, '--wait',
                    str(UNRESCUE_TIMEOUT), timeout=UNRESCUE_TIMEOUT + 30)
    t_clean = time.monotonic()
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'active', node
    timings('rescue of a machine whose NIC (ne2k_pci) has no driver', [
        ('power on, waiting for the agent', t_wait - t0, t_wait - t0),
        ('console: no driver for PCI ... 10ec:8029', t_line - t_wait,
         t_line - t0),
        ('rescue failed (callback timeout %d s)' % CALLBACK_TIMEOUT,
         t_fail - t_line, t_fail - t0),
        ('rescue --wait returned', t_cli - t_fail, t_cli - t0),
        ('unrescue --wait: active', t_clean - t_cli, t_clean - t0)])
