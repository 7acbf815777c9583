"""``openstack baremetal driver property list NAME``: the driver_info keys
a hardware type takes are the union of what its interfaces document
(Ironic's HardwareType.get_properties), here over every interface the type
supports and the configuration enables.  Nothing compares driver names:
the answer follows the interface registries and the configuration.
"""

from conftest import assert_error

PXE_KEYS = {'rescue_kernel', 'rescue_ramdisk', 'kernel_append_params'}
IPMI_KEYS = {'ipmi_address', 'ipmi_username', 'ipmi_password', 'ipmi_port',
             'ipmi_priv_level', 'ipmi_protocol_version', 'ipmi_cipher_suite',
             'ipmi_workarounds'}
# The fake power interface's test knobs (power/power_fake.h).
FAKE_KEYS = {'fake_bmc', 'fake_fail', 'fake_fail_rate', 'fake_delay',
             'fake_delay_jitter', 'fake_soft_off'}
REDFISH_KEYS = {'redfish_address', 'redfish_system_id', 'redfish_username',
                'redfish_password', 'redfish_verify_ca', 'redfish_auth_type'}
# Kept word for word from before the tables moved beside the drivers.
DOCS = {
    'ipmi_address': "IP address or hostname of the node's BMC. Required.",
    'redfish_address': 'The URL address to the Redfish controller. '
                       'Required.',
    'rescue_kernel': 'URL (file://, http://, https://) of the rescue '
                     'kernel. Required for rescue over PXE/iPXE.',
    'rescue_iso': 'URL of a prebuilt rescue ISO for virtual media. '
                  'Optional.',
    'rescuing_network': 'Network (VLAN) the node is moved to while it '
                        'boots the rescue ramdisk. Optional.',
}


def cli_props(d, driver):
    rows = d.cli_json('driver', 'property', 'list', driver)
    return {r['Property']: r['Description'] for r in rows}


def api_props(d, driver):
    r = d.get('/v1/drivers/%s/properties' % driver)
    assert r.status_code == 200, r.text
    return r.json()


def assert_docs(props):
    for key, doc in DOCS.items():
        if key in props:
            assert props[key] == doc, (key, props[key])


def test_ipmi_and_redfish(daemon):
    ipmi = cli_props(daemon, 'ipmi')
    assert IPMI_KEYS | PXE_KEYS <= set(ipmi), ipmi
    # ipmi boots over PXE/iPXE only: no ISO, nothing of Redfish's.
    assert 'rescue_iso' not in ipmi, ipmi
    assert not REDFISH_KEYS & set(ipmi), ipmi
    redfish = cli_props(daemon, 'redfish')
    assert REDFISH_KEYS | PXE_KEYS | {'rescue_iso'} <= set(redfish), redfish
    assert not IPMI_KEYS & set(redfish), redfish
    # The rescue and switch network keys belong to neither BMC.
    for props in (ipmi, redfish):
        assert {'rescuing_network', 'rescue_soft_power_off_timeout'} <= \
            set(props), props
        assert_docs(props)
    # The CLI shows exactly what the API answers.
    assert ipmi == api_props(daemon, 'ipmi')
    assert redfish == api_props(daemon, 'redfish')
    # fake-hardware has no BMC keys but every boot interface's.
    fake = api_props(daemon, 'fake-hardware')
    assert PXE_KEYS | {'rescue_iso'} | FAKE_KEYS <= set(fake), fake
    assert not (IPMI_KEYS | REDFISH_KEYS) & set(fake), fake
    assert not FAKE_KEYS & (set(ipmi) | set(redfish))
    assert fake['fake_fail_rate'].startswith('Test aid: '), fake


def test_follows_enabled_interfaces(launcher):
    # Without virtual media or the switch network enabled, their keys go:
    # the union is over what the configuration enables, not over names.
    d = launcher.start(DEFAULT={
        'enabled_boot_interfaces': 'ipxe,pxe,fake',
        'enabled_network_interfaces': 'noop,flat',
        'enabled_rescue_interfaces': 'no-rescue,fake',
    })
    redfish = cli_props(d, 'redfish')
    assert REDFISH_KEYS | PXE_KEYS <= set(redfish), redfish
    for key in ('rescue_iso', 'rescuing_network',
                'rescue_soft_power_off_timeout'):
        assert key not in redfish, (key, redfish)
    assert_docs(redfish)
    fake = api_props(d, 'fake-hardware')
    assert set(fake) == PXE_KEYS | FAKE_KEYS, fake


def test_unknown_driver(daemon):
    r = daemon.get('/v1/drivers/nosuch/properties')
    assert_error(r, 404, 'Could not find the following driver(s) or '
                 'hardware type(s): nosuch.')
    rc, out, err = daemon.cli('driver', 'property', 'list', 'nosuch')
    assert rc != 0 and 'nosuch' in err, (rc, out, err)
