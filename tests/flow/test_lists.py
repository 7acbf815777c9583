"""Node and port lists: paging, sorting, filters, fields (contract §1.4).

The module has its own daemon holding exactly the 25 nodes made below, so
every filter result can be compared with an exact expected set.
"""

import urllib.parse
import uuid as uuidlib

import pytest

from conftest import NODE_KEYS_1_78, assert_error

COUNT = 25

LIST_KEYS = {'uuid', 'name', 'instance_uuid', 'power_state',
             'provision_state', 'maintenance', 'links'}


def in_maintenance(i):
    return i % 5 == 0


def is_ipmi(i):
    return i % 3 == 0


def is_available(i):         # created at 1.10, hence 'available'
    return i % 4 == 0


def is_associated(i):
    return i % 7 == 0


@pytest.fixture(scope='module')
def nodes(module_daemon):
    """25 nodes ls-00..ls-24 with a known mix of properties.

    Created in a shuffled name order, so that sorting by name differs from
    creation order.
    """
    d = module_daemon
    order = [(i * 7) % COUNT for i in range(COUNT)]   # a permutation
    made = {}
    for i in order:
        fields = {'name': 'ls-%02d' % i,
                  'driver': 'ipmi' if is_ipmi(i) else 'fake-hardware'}
        if is_available(i):
            fields['_version'] = '1.10'
        node = d.create_node(**fields)
        if in_maintenance(i):
            assert d.put('/v1/nodes/%s/maintenance' % node['uuid'],
                         {'reason': 'ls'}).status_code == 202
        if is_associated(i):
            r = d.patch('/v1/nodes/' + node['uuid'],
                        [{'op': 'add', 'path': '/instance_uuid',
                          'value': str(uuidlib.uuid4())}])
            assert r.status_code == 200, r.text
        made[i] = node['uuid']
    return made


def names(items):
    return [n['name'] for n in items]


def expect(pred, nodes):
    return sorted('ls-%02d' % i for i in nodes if pred(i))


def get_nodes(d, query):
    r = d.get('/v1/nodes' + query)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_item_keys(module_daemon, nodes):
    body = get_nodes(module_daemon, '')
    assert set(body) == {'nodes'}          # no 'next': the page is not full
    assert len(body['nodes']) == COUNT
    for item in body['nodes']:
        assert set(item) == LIST_KEYS, item
        assert item['links'] == [
            {'href': '%s/v1/nodes/%s' % (module_daemon.url, item['uuid']),
             'rel': 'self'},
            {'href': '%s/nodes/%s' % (module_daemon.url, item['uuid']),
             'rel': 'bookmark'}]


def test_detail_has_full_documents(module_daemon, nodes):
    d = module_daemon
    body = d.get('/v1/nodes/detail').json()
    assert len(body['nodes']) == COUNT
    for item in body['nodes']:
        assert set(item) == NODE_KEYS_1_78, item['name']
        # Same document as GET /v1/nodes/<uuid>.
        assert item == d.get('/v1/nodes/' + item['uuid']).json()


def test_paging_with_next_links(module_daemon, nodes):
    d = module_daemon
    everything = [n['uuid'] for n in get_nodes(d, '')['nodes']]
    seen = []
    url = '/v1/nodes?limit=10'
    pages = []
    while url:
        body = d.get(url).json()
        pages.append(len(body['nodes']))
        seen.extend(n['uuid'] for n in body['nodes'])
        for item in body['nodes']:
            assert set(item) == LIST_KEYS
        url = body.get('next')
        if url:
            q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
            assert q['limit'] == ['10']
            assert q['marker'] == [body['nodes'][-1]['uuid']]
            assert url.startswith(d.url + '/v1/nodes?')
        assert len(pages) <= 5, 'paging does not end'
    assert pages == [10, 10, 5]
    assert len(set(seen)) == len(seen)              # no overlap
    assert seen == everything                       # same order, all of them


def test_full_last_page_has_next_and_then_empty(module_daemon, nodes):
    # 'next' appears whenever the page is full, even if nothing follows.
    d = module_daemon
    body = d.get('/v1/nodes?limit=%d' % COUNT).json()
    assert len(body['nodes']) == COUNT
    assert 'next' in body
    last = d.get(body['next']).json()
    assert last == {'nodes': []}


def test_detail_paging(module_daemon, nodes):
    d = module_daemon
    body = d.get('/v1/nodes/detail?limit=20').json()
    assert len(body['nodes']) == 20
    assert urllib.parse.urlparse(body['next']).path == '/v1/nodes/detail'
    rest = d.get(body['next']).json()
    assert len(rest['nodes']) == 5 and 'next' not in rest
    assert set(rest['nodes'][0]) == NODE_KEYS_1_78
    uuids = [n['uuid'] for n in body['nodes'] + rest['nodes']]
    assert sorted(uuids) == sorted(nodes.values())


@pytest.mark.parametrize('direction', ['asc', 'desc'])
def test_sort_by_name(module_daemon, nodes, direction):
    body = get_nodes(module_daemon, '?sort_key=name&sort_dir=' + direction)
    want = sorted('ls-%02d' % i for i in range(COUNT))
    if direction == 'desc':
        want.reverse()
    assert names(body['nodes']) == want


def test_sort_desc_with_paging(module_daemon, nodes):
    d = module_daemon
    url = '/v1/nodes?sort_key=name&sort_dir=desc&limit=7'
    got = []
    while url:
        body = d.get(url).json()
        got.extend(names(body['nodes']))
        url = body.get('next')
    assert got == sorted(('ls-%02d' % i for i in range(COUNT)), reverse=True)


@pytest.mark.parametrize('query,pred', [
    ('provision_state=available', is_available),
    ('provision_state=enroll', lambda i: not is_available(i)),
    ('provision_state=active', lambda i: False),
    ('maintenance=true', in_maintenance),
    ('maintenance=false', lambda i: not in_maintenance(i)),
    ('driver=ipmi', is_ipmi),
    ('driver=fake-hardware', lambda i: not is_ipmi(i)),
    ('associated=true', is_associated),
    ('associated=false', lambda i: not is_associated(i)),
    ('driver=ipmi&maintenance=true', lambda i: is_ipmi(i) and
     in_maintenance(i)),
    ('provision_state=enroll&associated=true&maintenance=false',
     lambda i: not is_available(i) and is_associated(i) and
     not in_maintenance(i)),
])
def test_filters(module_daemon, nodes, query, pred):
    body = get_nodes(module_daemon, '?sort_key=name&' + query)
    assert names(body['nodes']) == expect(pred, nodes)
    # The same filter on /detail gives the same nodes.
    detail = module_daemon.get('/v1/nodes/detail?sort_key=name&' +
                               query).json()
    assert names(detail['nodes']) == expect(pred, nodes)


def test_filter_values_really_match(module_daemon, nodes):
    # Cross-check the filters against the documents themselves.
    detail = module_daemon.get('/v1/nodes/detail').json()['nodes']
    by_name = {n['name']: n for n in detail}
    for i in range(COUNT):
        n = by_name['ls-%02d' % i]
        assert n['maintenance'] is in_maintenance(i)
        assert n['maintenance_reason'] == ('ls' if in_maintenance(i)
                                           else None)
        assert n['driver'] == ('ipmi' if is_ipmi(i) else 'fake-hardware')
        assert n['provision_state'] == ('available' if is_available(i)
                                        else 'enroll')
        assert (n['instance_uuid'] is not None) is is_associated(i)


def test_fields(module_daemon, nodes):
    body = get_nodes(module_daemon, '?fields=uuid,name&sort_key=name')
    assert len(body['nodes']) == COUNT
    for item in body['nodes']:
        assert set(item) == {'uuid', 'name'}, item
    assert names(body['nodes']) == sorted('ls-%02d' % i for i in range(COUNT))
    # fields on a single node too.
    one = module_daemon.get('/v1/nodes/ls-03?fields=driver,maintenance')
    assert one.json() == {'driver': 'ipmi', 'maintenance': False}


def test_fields_with_paging_keeps_fields(module_daemon, nodes):
    d = module_daemon
    body = d.get('/v1/nodes?fields=uuid&limit=20').json()
    q = urllib.parse.parse_qs(urllib.parse.urlparse(body['next']).query)
    assert q['fields'] == ['uuid']
    rest = d.get(body['next']).json()
    assert [set(n) for n in rest['nodes']] == [{'uuid'}] * 5


def test_bad_marker(module_daemon, nodes):
    d = module_daemon
    before = d.snapshot()
    r = d.get('/v1/nodes?marker=%s' % uuidlib.uuid4())
    assert_error(r, 400)
    # bytes that are not UTF-8 name no node, on either store (PostgreSQL
    # refuses them as text: that must not become a 500)
    for path in ('/v1/nodes?marker=%ff%fe', '/v1/ports?marker=%c3%28',
                 '/v1/nodes/detail?marker=ab%80cd&limit=1'):
        assert_error(d.get(path), 400, match=r'Invalid marker: .* could '
                     r'not be found\.')
    assert d.snapshot() == before


def test_ports_list_and_filter(module_daemon, nodes):
    d = module_daemon
    made = []
    for i in (1, 2):
        for j in range(2):
            p = d.create_port(nodes[i], '52:54:00:15:%02x:%02x' % (i, j))
            made.append((i, p))
    body = d.get('/v1/ports').json()
    assert {p['uuid'] for _, p in made} <= {p['uuid'] for p in body['ports']}
    for item in body['ports']:
        assert set(item) == {'uuid', 'address', 'links'}
    for i in (1, 2):
        want = sorted(p['uuid'] for k, p in made if k == i)
        by_name = d.get('/v1/ports?node=ls-%02d' % i).json()['ports']
        assert sorted(p['uuid'] for p in by_name) == want
        by_uuid = d.get('/v1/ports/detail?node=' + nodes[i]).json()['ports']
        assert sorted(p['uuid'] for p in by_uuid) == want
        for p in by_uuid:
            assert p['node_uuid'] == nodes[i]
        sub = d.get('/v1/nodes/%s/ports' % nodes[i]).json()['ports']
        assert sorted(p['uuid'] for p in sub) == want


def test_ports_paging(module_daemon, nodes):
    d = module_daemon
    for j in range(4):
        d.create_port(nodes[3], '52:54:00:16:00:%02x' % j)
    everything = [p['uuid'] for p in d.get('/v1/ports').json()['ports']]
    assert len(everything) >= 4
    page = d.get('/v1/ports?limit=3').json()
    assert len(page['ports']) == 3 and 'next' in page
    seen = [p['uuid'] for p in page['ports']]
    while 'next' in page:
        page = d.get(page['next']).json()
        seen.extend(p['uuid'] for p in page['ports'])
        assert len(seen) <= len(everything) + 3, 'paging does not end'
    assert seen == everything
