"""rescue_interface=fake: Ironic's fake rescue, through the real CLI.

The fake rescue interface touches nothing (no power, boot or network call,
no agent): rescue goes to "rescue" and unrescue back to "active" as soon
as the job runs, which is what lab set-ups and Nova's functional tests use
it for.
"""

from conftest import unique, unique_mac
from rescue_helpers import end_state, put_verb


def active_node(d, rescue):
    node = d.create_node(name=unique('fake-rsc'), rescue_interface=rescue,
                         power_interface='fake', management_interface='fake')
    d.create_port(node['uuid'], unique_mac())
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        r = put_verb(d, node['uuid'], verb)
        assert r.status_code == 202, (verb, r.text)
        node = end_state(d, node['uuid'], {final, 'adopt failed'})
        assert node['provision_state'] == final, node
    return node


def test_fake_rescue_and_unrescue_through_the_cli(daemon):
    d = daemon
    node = active_node(d, 'fake')
    power = node['power_state']
    rc, out, err = d.cli('node', 'rescue', node['name'], '--rescue-password',
                         'Fake-Resc-PW1', '--wait', '30')
    assert rc == 0, (out, err)
    after = end_state(d, node['uuid'], {'rescue', 'rescue failed'})
    assert after['provision_state'] == 'rescue', after
    assert after['target_provision_state'] is None
    assert after['last_error'] is None
    # Nothing was powered: the fake machine is as it was.
    assert after['power_state'] == power
    # The password never shows, in any form.
    text = d.get('/v1/nodes/%s' % node['uuid']).text
    assert 'Fake-Resc-PW1' not in text
    assert 'Fake-Resc-PW1' not in d.log_text()
    log = d.log_text()
    assert 'rescue: powered off' not in log
    assert 'waiting for the agent' not in log

    rc, out, err = d.cli('node', 'unrescue', node['name'], '--wait', '30')
    assert rc == 0, (out, err)
    after = end_state(d, node['uuid'], {'active', 'unrescue failed'})
    assert after['provision_state'] == 'active', after
    assert after['power_state'] == power

