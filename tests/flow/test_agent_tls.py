"""``[agent] require_tls``: with it set, a ramdisk that heartbeats from a
plain http:// callback URL is refused (400, Ironic's message) and nothing
changes, so the rescue password never goes out in clear; an agent that
speaks TLS (auto-TLS, its certificate pinned from the heartbeat) is served
and the rescue finishes."""

from conftest import wait_for
from power_helpers import bmcs  # noqa: F401 (a fixture)
from power_helpers import get_node
from rescue_helpers import RescueLab, end_state, ironic_error, to_rescue_wait
from rescue_helpers import agents  # noqa: F401 (a fixture)


def test_require_tls(launcher, tmp_path, bmcs, agents):
    emu = bmcs.ipmi(2)
    emu.set_power(0, 'on')
    emu.set_power(1, 'on')
    lab = RescueLab(launcher, tmp_path / 'lab',
                    agent={'require_tls': 'true'})
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)

    plain = agents.start(lab.api_url, mac, '--tls', 'off',
                         '--heartbeat-error-interval', '0.2')
    plain.wait_heartbeats(1)            # after lookup, which issues a token
    before = lab.d.snapshot()
    beats = plain.wait_heartbeats(4)
    assert lab.d.snapshot() == before
    for hb in beats:
        assert hb['sent']['callback_url'].startswith('http://'), hb
        assert hb['status'] == 400, hb
        assert ironic_error(hb.get('body_text') or '') == \
            'TLS is required by configuration', hb
    assert plain.commands_in() == []
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert 'agent_url' not in node['driver_internal_info'], node

    # Another node's ramdisk, speaking TLS (the first has its token).
    node, mac = lab.node(emu, 1)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    secure = agents.start(lab.api_url, mac, '--tls', 'on')
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    assert node['provision_state'] == 'rescue', node
    assert node['driver_internal_info']['agent_url'].startswith('https://')
    wait_for(lambda: secure.rescued(), 30, what='the agent to be rescued')
    calls = secure.commands_in()
    assert [c['body']['name'] for c in calls] == ['rescue.finalize_rescue']
