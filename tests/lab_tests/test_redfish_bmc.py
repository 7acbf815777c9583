"""redfish_bmc.py against real clients: sushy (what Ironic uses), curl and
requests."""

import gc
import json
import socket
import subprocess

import pytest
import requests
import sushy
from sushy import exceptions as sushy_exc

from conftest import LAB, PYTHON, wait_for

USER, PASSWORD = 'admin', 'secret'
AUTH = (USER, PASSWORD)


def curl(*args):
    """curl -s -i ...; returns (status, headers dict, body text)."""
    r = subprocess.run(['curl', '-s', '-i', '--max-time', '30', *args],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # bytes, not text=True: universal newlines would eat the \r\n
    head, _, body = r.stdout.decode().partition('\r\n\r\n')
    lines = head.split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def assert_redfish_error(body, message_id=None):
    """The Redfish error body shape, optionally with a given MessageId."""
    if isinstance(body, str):
        body = json.loads(body)
    err = body['error']
    assert err['code'] == 'Base.1.0.GeneralError'
    assert err['message']
    info = err['@Message.ExtendedInfo']
    assert info and info[0]['MessageId'].startswith('Base.')
    if message_id:
        assert info[0]['MessageId'].endswith('.' + message_id), info
    return info[0]


def connect(bmc, index=0, **kw):
    return sushy.Sushy(bmc.url(index) + '/redfish/v1', username=USER,
                       password=PASSWORD, **kw)


def test_help():
    r = subprocess.run([PYTHON, LAB / 'redfish_bmc.py', '--help'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for opt in ('--count', '--systems-per-bmc', '--session-limit', '--tls',
                '--quirk', 'power-on-409', 'sticky-inserted',
                'no-insert-action'):
        assert opt in r.stdout


def test_service_root_with_curl(redfish_bmc):
    bmc = redfish_bmc()
    status, headers, body = curl(bmc.url() + '/redfish/v1/')
    assert status == 200
    assert headers['odata-version'] == '4.0'
    root = json.loads(body)
    assert root['RedfishVersion'] == '1.11.0'
    assert len(root['UUID']) == 36
    assert root['Systems'] == {'@odata.id': '/redfish/v1/Systems'}
    assert root['Managers'] == {'@odata.id': '/redfish/v1/Managers'}
    assert root['SessionService'] == {
        '@odata.id': '/redfish/v1/SessionService'}
    status, _, body = curl(bmc.url() + '/redfish')
    assert json.loads(body) == {'v1': '/redfish/v1/'}


def test_auth_refused_with_error_body(redfish_bmc):
    bmc = redfish_bmc()
    url = bmc.url() + '/redfish/v1/Systems/1'
    status, headers, body = curl(url)
    assert status == 401
    assert_redfish_error(body, 'NoValidSession')
    status, _, body = curl('-u', 'admin:wrong', url)
    assert status == 401
    assert_redfish_error(body)
    status, _, body = curl('-H', 'X-Auth-Token: forged', url)
    assert status == 401
    status, _, body = curl('-u', '%s:%s' % AUTH, url)
    assert status == 200
    assert json.loads(body)['Id'] == '1'
    with pytest.raises(sushy_exc.AccessError):
        sushy.Sushy(bmc.url() + '/redfish/v1', username=USER,
                    password='wrong').get_system()


def test_sessions_lifecycle_and_limit(redfish_bmc):
    bmc = redfish_bmc()
    sessions = bmc.url() + '/redfish/v1/SessionService/Sessions'
    login = ['-X', 'POST', '-H', 'Content-Type: application/json', '-d',
             json.dumps({'UserName': USER, 'Password': PASSWORD}), sessions]
    status, headers, body = curl(*login)
    assert status == 201
    token, location = headers['x-auth-token'], headers['location']
    assert location == json.loads(body)['@odata.id']
    assert location.startswith('/redfish/v1/SessionService/Sessions/')
    status, _, body = curl('-H', 'X-Auth-Token: ' + token, sessions)
    assert status == 200 and json.loads(body)['Members@odata.count'] == 1
    status, _, _ = curl('-X', 'DELETE', '-H', 'X-Auth-Token: ' + token,
                        bmc.url() + location)
    assert status == 204
    status, _, _ = curl('-H', 'X-Auth-Token: ' + token, sessions)
    assert status == 401
    # four concurrent sessions are allowed, the fifth gets 503
    tokens = []
    for _ in range(4):
        status, headers, _ = curl(*login)
        assert status == 201
        tokens.append((headers['x-auth-token'], headers['location']))
    status, _, body = curl(*login)
    assert status == 503
    assert_redfish_error(body, 'SessionLimitExceeded')
    assert bmc.info()['sessions'] == {str(bmc.port): 4}
    curl('-X', 'DELETE', '-H', 'X-Auth-Token: ' + tokens[0][0],
         bmc.url() + tokens[0][1])
    assert curl(*login)[0] == 201
    # bad password, missing fields
    status, _, body = curl('-X', 'POST', '-d', json.dumps(
        {'UserName': USER, 'Password': 'x'}), sessions)
    assert status == 401
    status, _, body = curl('-X', 'POST', '-d', '{"UserName": "admin"}',
                           sessions)
    assert status == 400
    assert_redfish_error(body, 'CreateFailedMissingReqProperties')


def test_session_limit_setting_and_expiry(redfish_bmc):
    bmc = redfish_bmc('--session-limit', '1', '--session-timeout', '0.5')
    url = bmc.url() + '/redfish/v1/SessionService/Sessions'
    r = requests.post(url, json={'UserName': USER, 'Password': PASSWORD})
    assert r.status_code == 201
    r2 = requests.post(url, json={'UserName': USER, 'Password': PASSWORD})
    assert r2.status_code == 503
    # basic auth is an alternative; listing sessions expires idle ones
    wait_for(lambda: requests.get(url, auth=AUTH).json()[
        'Members@odata.count'] == 0, what='session expiry')
    r3 = requests.get(bmc.url() + '/redfish/v1/Systems',
                      headers={'X-Auth-Token': r.headers['X-Auth-Token']})
    assert r3.status_code == 401


def test_sushy_power(redfish_bmc):
    bmc = redfish_bmc()
    root = connect(bmc)
    system = root.get_system()          # the only system
    assert system.identity == '1'
    assert system.power_state == sushy.PowerState.OFF
    assert {v.value for v in system.get_allowed_reset_system_values()} == {
        'On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart',
        'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton'}
    system.reset_system(sushy.ResetType.ON)
    system.refresh()
    assert system.power_state == sushy.PowerState.ON
    system.reset_system(sushy.ResetType.FORCE_RESTART)
    system.reset_system(sushy.ResetType.NMI)
    system.reset_system(sushy.ResetType.FORCE_OFF)
    system.refresh()
    assert system.power_state == sushy.PowerState.OFF
    m = bmc.machine()
    assert m['boots'] == ['disk', 'disk']
    for line in ('redfish: power on', 'redfish: reset', 'redfish: NMI',
                 'redfish: power off'):
        assert line in m['log']
    # resets that need power fail with 409 while off
    with pytest.raises(sushy_exc.HTTPError) as e:
        system.reset_system(sushy.ResetType.FORCE_RESTART)
    assert e.value.status_code == 409
    system.reset_system(sushy.ResetType.PUSH_POWER_BUTTON)
    system.refresh()
    assert system.power_state == sushy.PowerState.ON
    system.reset_system(sushy.ResetType.PUSH_POWER_BUTTON)   # ACPI press
    system.refresh()
    assert system.power_state == sushy.PowerState.OFF


def test_graceful_shutdown(redfish_bmc):
    bmc = redfish_bmc('--soft-off-delay', '0.3')
    system = connect(bmc).get_system()
    system.reset_system(sushy.ResetType.ON)
    system.reset_system(sushy.ResetType.GRACEFUL_SHUTDOWN)
    system.refresh()
    assert system.power_state == sushy.PowerState.ON    # still shutting down

    def off():
        system.refresh()
        return system.power_state == sushy.PowerState.OFF
    wait_for(off, what='graceful shutdown')
    bmc.ctl(0, 'config', {'ignore_acpi': True})
    system.reset_system(sushy.ResetType.ON)
    system.reset_system(sushy.ResetType.GRACEFUL_SHUTDOWN)
    system.reset_system(sushy.ResetType.GRACEFUL_RESTART)
    assert 'redfish: soft off ignored by the OS' in bmc.machine()['log']
    assert bmc.machine()['power_state'] == 'on'


def test_sushy_boot_options(redfish_bmc):
    bmc = redfish_bmc()
    system = connect(bmc).get_system()
    assert system.boot.enabled == sushy.BootSourceOverrideEnabled.DISABLED
    assert system.boot.target == sushy.BootSource.NONE
    assert set(system.get_allowed_system_boot_source_values()) >= {
        sushy.BootSource.PXE, sushy.BootSource.CD, sushy.BootSource.HDD,
        sushy.BootSource.BIOS_SETUP}
    system.set_system_boot_options(
        sushy.BootSource.PXE,
        enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS,
        mode=sushy.BootSourceOverrideMode.LEGACY)
    system.refresh()
    assert system.boot.target == sushy.BootSource.PXE
    assert system.boot.enabled == sushy.BootSourceOverrideEnabled.CONTINUOUS
    assert system.boot.mode == sushy.BootSourceOverrideMode.LEGACY
    assert bmc.machine()['boot'] == {'device': 'pxe',
                                     'enabled': 'continuous',
                                     'mode': 'bios'}
    # Ironic's virtual media boot: Cd once, UEFI; next power-on uses it
    system.set_system_boot_options(
        sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE,
        mode=sushy.BootSourceOverrideMode.UEFI)
    system.reset_system(sushy.ResetType.ON)
    system.reset_system(sushy.ResetType.FORCE_RESTART)
    system.refresh()
    assert bmc.machine()['boots'] == ['cdrom', 'disk']
    assert system.boot.enabled == sushy.BootSourceOverrideEnabled.DISABLED
    assert system.boot.mode == sushy.BootSourceOverrideMode.UEFI


def test_patch_and_reset_validation(redfish_bmc):
    bmc = redfish_bmc()
    url = bmc.url() + '/redfish/v1/Systems/1'
    cases = [
        ({'Boot': {'BootSourceOverrideTarget': 'Floppy'}},
         'PropertyValueNotInList'),
        ({'Boot': {'BootSourceOverrideEnabled': 'Always'}},
         'PropertyValueNotInList'),
        ({'Boot': {'BootSourceOverrideMode': 'EFI'}},
         'PropertyValueNotInList'),
        ({'Boot': {'BootNext': 'x'}}, 'PropertyUnknown'),
        ({'PowerState': 'On'}, 'PropertyNotWritable'),
        ({'Colour': 'red'}, 'PropertyUnknown'),
        ({'Boot': 'Pxe'}, 'PropertyValueTypeError'),
    ]
    for body, message_id in cases:
        r = requests.patch(url, json=body, auth=AUTH)
        assert r.status_code == 400, body
        info = assert_redfish_error(r.json(), message_id)
        assert info.get('RelatedProperties'), info
    # nothing changed by the refused requests
    assert bmc.machine()['boot'] == {'device': 'none',
                                     'enabled': 'disabled', 'mode': 'bios'}
    r = requests.patch(url, data='{not json', auth=AUTH)
    assert r.status_code == 400
    assert_redfish_error(r.json(), 'MalformedJSON')
    reset = url + '/Actions/ComputerSystem.Reset'
    r = requests.post(reset, json={}, auth=AUTH)
    assert r.status_code == 400
    assert_redfish_error(r.json(), 'ActionParameterMissing')
    r = requests.post(reset, json={'ResetType': 'PowerCycle'}, auth=AUTH)
    assert r.status_code == 400
    assert_redfish_error(r.json(), 'ActionParameterValueNotInList')
    assert bmc.machine()['log'] == []


def test_etag_and_if_match(redfish_bmc):
    bmc = redfish_bmc()
    url = bmc.url() + '/redfish/v1/Systems/1'
    r = requests.get(url, auth=AUTH)
    etag = r.headers['ETag']
    assert etag.startswith('W/"') and r.json()['@odata.etag'] == etag
    body = {'Boot': {'BootSourceOverrideTarget': 'Pxe',
                     'BootSourceOverrideEnabled': 'Once'}}
    r = requests.patch(url, json=body, auth=AUTH,
                       headers={'If-Match': 'W/"0000"'})
    assert r.status_code == 412
    assert_redfish_error(r.json(), 'PreconditionFailed')
    r = requests.patch(url, json=body, auth=AUTH, headers={'If-Match': etag})
    assert r.status_code == 204
    assert requests.get(url, auth=AUTH).headers['ETag'] != etag


def test_not_found_and_method_not_allowed(redfish_bmc):
    bmc = redfish_bmc()
    r = requests.get(bmc.url() + '/redfish/v1/Systems/9', auth=AUTH)
    assert r.status_code == 404
    assert_redfish_error(r.json(), 'ResourceMissingAtURI')
    r = requests.get(bmc.url() + '/redfish/v1/Nowhere', auth=AUTH)
    assert r.status_code == 404
    r = requests.delete(bmc.url() + '/redfish/v1/Systems/1', auth=AUTH)
    assert r.status_code == 405
    assert 'PATCH' in r.headers['Allow']
    assert_redfish_error(r.json(), 'OperationNotAllowed')


def test_sushy_virtual_media(redfish_bmc, image_server):
    base, www = image_server
    (www / 'rescue.iso').write_bytes(b'ISO' * 5000)
    bmc = redfish_bmc()
    root = connect(bmc)
    system = root.get_system()
    manager = system.managers[0]
    assert manager.identity == '1'
    media = manager.virtual_media.get_members()
    assert [m.identity for m in media] == ['Cd']
    cd = media[0]
    assert cd.media_types == [sushy.VirtualMediaType.CD,
                              sushy.VirtualMediaType.DVD]
    assert cd.inserted is False and cd.image is None
    cd.insert_media(base + '/rescue.iso')
    cd.refresh()
    assert cd.inserted is True
    assert cd.image == base + '/rescue.iso'
    assert cd.image_name == 'rescue.iso'
    assert cd.connected_via == sushy.ConnectedVia.URI
    m = bmc.machine()
    assert m['media']['inserted'] is True
    with open(m['media']['path'], 'rb') as f:
        assert f.read() == b'ISO' * 5000     # really downloaded
    # a second insert without eject is refused
    with pytest.raises(sushy_exc.HTTPError) as e:
        cd.insert_media(base + '/rescue.iso')
    assert e.value.status_code == 409
    cd.eject_media()
    cd.refresh()
    assert cd.inserted is False and cd.image is None
    assert bmc.machine()['media']['inserted'] is False
    cd.eject_media()                          # ejecting nothing is fine


def test_insert_media_validation(redfish_bmc, image_server):
    base, www = image_server
    bmc = redfish_bmc()
    target = (bmc.url() + '/redfish/v1/Managers/1/VirtualMedia/Cd/Actions/'
              'VirtualMedia.InsertMedia')
    cases = [
        ({}, 'ActionParameterMissing'),
        ({'Image': 'https://127.0.0.1/x.iso'},
         'ActionParameterValueFormatError'),
        ({'Image': 'ftp://127.0.0.1/x.iso'},
         'ActionParameterValueFormatError'),
        # never contacted: names and non-local addresses are refused first
        ({'Image': 'http://images.example.invalid/x.iso'},
         'ActionParameterValueFormatError'),
        ({'Image': 'http://192.0.2.10/x.iso'},
         'ActionParameterValueFormatError'),
        ({'Image': base + '/x.iso', 'TransferProtocolType': 'NFS'},
         'ActionParameterValueNotInList'),
        ({'Image': base + '/x.iso', 'Inserted': 'yes'},
         'ActionParameterValueTypeError'),
        ({'Image': base + '/x.iso', 'Color': 'red'},
         'ActionParameterUnknown'),
        ({'Image': base + '/missing.iso'}, 'CouldNotEstablishConnection'),
    ]
    for body, message_id in cases:
        r = requests.post(target, json=body, auth=AUTH)
        assert r.status_code == 400, (body, r.text)
        assert_redfish_error(r.json(), message_id)
    assert bmc.machine()['media']['inserted'] is False
    (www / 'x.iso').write_bytes(b'x')
    r = requests.post(target, auth=AUTH, json={
        'Image': base + '/x.iso', 'TransferProtocolType': 'HTTP',
        'TransferMethod': 'Stream', 'Inserted': True,
        'WriteProtected': True, 'UserName': 'none', 'Password': 'none'})
    assert r.status_code == 204, r.text


def test_boot_from_inserted_cd_once(redfish_bmc, image_server):
    base, www = image_server
    (www / 'boot.iso').write_bytes(b'\0' * 4096)
    bmc = redfish_bmc()
    system = connect(bmc).get_system()
    cd = system.managers[0].virtual_media.get_member(
        '/redfish/v1/Managers/1/VirtualMedia/Cd')
    cd.insert_media(base + '/boot.iso')
    system.set_system_boot_options(
        sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE)
    system.reset_system(sushy.ResetType.ON)
    m = bmc.machine()
    assert m['boots'] == ['cdrom']
    assert m['boot']['enabled'] == 'disabled'


def test_quirk_power_on_409(redfish_bmc):
    bmc = redfish_bmc('--quirk', 'power-on-409=600', count=2)
    system = connect(bmc).get_system()
    system.reset_system(sushy.ResetType.ON)   # never off yet: fine
    system.reset_system(sushy.ResetType.FORCE_OFF)
    with pytest.raises(sushy_exc.HTTPError) as e:
        system.reset_system(sushy.ResetType.ON)
    assert e.value.status_code == 409
    assert 'not ready' in e.value.detail
    # a power off behind the BMC's back counts too
    other = connect(bmc, 1).get_system()
    other.reset_system(sushy.ResetType.FORCE_ON)
    bmc.ctl(1, 'power', {'state': 'off'})
    with pytest.raises(sushy_exc.HTTPError):
        other.reset_system(sushy.ResetType.FORCE_ON)


def test_quirk_power_on_409_expires(redfish_bmc):
    bmc = redfish_bmc('--quirk', 'power-on-409=0.5')
    url = bmc.url() + '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset'
    assert requests.post(url, json={'ResetType': 'On'},
                         auth=AUTH).status_code == 204
    assert requests.post(url, json={'ResetType': 'ForceOff'},
                         auth=AUTH).status_code == 204
    codes = []

    def power_on():
        codes.append(requests.post(url, json={'ResetType': 'On'},
                                   auth=AUTH).status_code)
        return codes[-1] == 204
    wait_for(power_on, timeout=10, interval=0.1, what='409 to end')
    assert codes[0] == 409
    assert bmc.machine()['power_state'] == 'on'


def test_quirk_sticky_inserted(redfish_bmc, image_server):
    base, www = image_server
    (www / 'a.iso').write_bytes(b'a')
    bmc = redfish_bmc('--quirk', 'sticky-inserted')
    cd = connect(bmc).get_system().managers[0].virtual_media.get_members()[0]
    cd.insert_media(base + '/a.iso')
    cd.eject_media()
    cd.refresh()
    assert cd.inserted is True              # the lie
    assert cd.image is None
    assert bmc.machine()['media']['inserted'] is False
    cd.eject_media()                        # ejecting again is accepted
    cd.insert_media(base + '/a.iso')        # and so is a new insert
    cd.refresh()
    assert cd.inserted is True and cd.image == base + '/a.iso'


def test_quirk_no_insert_action_uses_patch(redfish_bmc, image_server):
    base, www = image_server
    (www / 'p.iso').write_bytes(b'p')
    bmc = redfish_bmc('--quirk', 'no-insert-action')
    path = '/redfish/v1/Managers/1/VirtualMedia/Cd'
    r = requests.get(bmc.url() + path, auth=AUTH)
    assert 'Actions' not in r.json()
    assert 'PATCH' in r.headers['Allow']
    r = requests.post(bmc.url() + path + '/Actions/VirtualMedia.InsertMedia',
                      json={'Image': base + '/p.iso'}, auth=AUTH)
    assert r.status_code == 404
    # sushy falls back to PATCH (with If-Match) when there is no action
    cd = connect(bmc).get_system().managers[0].virtual_media.get_members()[0]
    cd.insert_media(base + '/p.iso')
    assert bmc.machine()['media']['image'] == base + '/p.iso'
    cd.refresh()
    cd.eject_media()
    assert bmc.machine()['media']['inserted'] is False
    assert any('PATCH ' + path in line and '-> 204' in line
               for line in bmc.proc.log().splitlines())


def test_tls(redfish_bmc, monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE override sushy's verify=...
    for var in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'):
        monkeypatch.delenv(var, raising=False)
    bmc = redfish_bmc(tls=True)
    cert = bmc.info()['tls_cert']
    status, _, body = curl('--cacert', cert, '-u', '%s:%s' % AUTH,
                           bmc.url() + '/redfish/v1/Systems/1')
    assert status == 200 and json.loads(body)['PowerState'] == 'Off'
    r = subprocess.run(['curl', '-s', bmc.url() + '/redfish/v1/'],
                       capture_output=True, timeout=30)
    assert r.returncode == 60                # untrusted without the CA
    system = connect(bmc, verify=cert).get_system()
    system.reset_system(sushy.ResetType.ON)
    assert bmc.machine()['power_state'] == 'on'


def test_many_bmcs_have_their_own_sessions(redfish_bmc):
    bmc = redfish_bmc('--session-limit', '1', count=3)
    roots = [connect(bmc, i) for i in range(3)]   # one session each: fine
    roots[2].get_system().reset_system(sushy.ResetType.ON)
    assert [bmc.machine(i)['power_state'] for i in range(3)] == [
        'off', 'off', 'on']
    assert bmc.info()['sessions'] == {str(bmc.port + i): 1
                                      for i in range(3)}
    # the BMC answers 503 to a second session; sushy's default "auto"
    # auth then falls back to HTTP Basic
    extra = connect(bmc, 2)
    extra.get_system().reset_system(sushy.ResetType.FORCE_OFF)
    assert bmc.machine(2)['power_state'] == 'off'
    assert ('POST /redfish/v1/SessionService/Sessions user=- -> 503'
            in bmc.proc.log())
    del roots, extra
    gc.collect()      # sushy deletes its sessions when collected


def test_systems_per_bmc(redfish_bmc):
    bmc = redfish_bmc('--systems-per-bmc', '2', count=2)
    r = requests.get(bmc.url(1) + '/redfish/v1/Systems', auth=AUTH).json()
    assert [m['@odata.id'] for m in r['Members']] == [
        '/redfish/v1/Systems/1', '/redfish/v1/Systems/2']
    root = connect(bmc, 1)
    with pytest.raises(sushy_exc.UnknownDefaultError):
        root.get_system()
    root.get_system('/redfish/v1/Systems/2').reset_system(
        sushy.ResetType.ON)
    # BMC 1, system 2 is machine 1 * 2 + 2 - 1 = 3
    assert [bmc.machine(i)['power_state'] for i in range(4)] == [
        'off', 'off', 'off', 'on']
    s = root.get_system('/redfish/v1/Systems/2')
    assert s.managers[0].identity == '2'


def test_sigterm_exits_cleanly(redfish_bmc):
    bmc = redfish_bmc(count=2)
    assert bmc.proc.stop() == 0
    assert 'stopped' in bmc.proc.log()


def test_bad_quirk_refused():
    r = subprocess.run([PYTHON, LAB / 'redfish_bmc.py', '--quirk', 'nope'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and 'unknown quirk' in r.stderr


def test_record(redfish_bmc, tmp_path):
    """--record FILE: one JSON line per request with its client (the
    connection), User-Agent and what it does."""
    path = tmp_path / 'record.jsonl'
    bmc = redfish_bmc('--record', path)
    base = 'http://127.0.0.1:%d/redfish/v1/Systems/1' % bmc.port
    with requests.Session() as s:
        s.auth = AUTH
        assert s.get(base, timeout=10).status_code == 200
        r = s.post(base + '/Actions/ComputerSystem.Reset',
                   json={'ResetType': 'On'}, timeout=10)
        assert r.status_code == 204, r.text
    status, _, _ = curl('-u', '%s:%s' % AUTH, '-X', 'PATCH', '-H',
                        'Content-Type: application/json', '-d',
                        '{"Boot": {"BootSourceOverrideTarget": "Pxe"}}',
                        base)
    assert status == 204
    recs = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert [(r['kind'], r['method'], r['status']) for r in recs] == [
        ('system get', 'GET', 200), ('power On', 'POST', 204),
        ('bootdev set', 'PATCH', 204)], recs
    assert recs[0]['client'] == recs[1]['client'] != recs[2]['client']
    assert recs[0]['user_agent'].startswith('python-requests')
    assert recs[2]['user_agent'].startswith('curl/')
    assert all(r['bmc'] == bmc.port and r['mono'] <= r['end'] for r in recs)


def test_emulator_starts_again_when_its_port_was_taken(spawn, monkeypatch):
    """tools/test's other lane may bind a port free_ports found free."""
    import conftest
    taken = socket.socket()
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    port = taken.getsockname()[1]
    real, calls = conftest.free_ports, []

    def first_taken(count=1, kind=socket.SOCK_STREAM):
        calls.append(kind)
        return port if len(calls) == 1 else real(count, kind)
    monkeypatch.setattr(conftest, 'free_ports', first_taken)
    try:
        bmc = conftest.start_emulator(spawn, 'redfish_bmc.py', 1,
                                      socket.SOCK_STREAM, (), 'http')
    finally:
        taken.close()
    assert len(calls) == 4 and bmc.port != port
    assert bmc.info()
