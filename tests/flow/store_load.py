"""A burst of concurrent API operations against one lifeboatd, for the store.

Used by tests/flow/test_store_pressure.py (which asserts on the outcome) and
bench/store (which prints the figures): plain HTTP from a thread pool, one
``requests`` session per thread, so many writes reach the store at once.

The mix (``plan``) is PATCHes of distinct ``extra`` keys on one hot node and
on many nodes, power actions (one per node, so no 409 is ever right), port
creates with distinct MACs, node lists, and nodes deleted while ports are
created on them (each such create is a 201 or, once the node is gone, a
400).  ``lost`` and ``powered`` then read everything back: every PATCHed
key, every port, every power state, no port left of a deleted node.
"""

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import VERSION_HEADER, MAX_VERSION, unique, unique_mac

_local = threading.local()


def _session():
    if getattr(_local, 'session', None) is None:
        _local.session = requests.Session()
    return _local.session


def call(base, method, path, body=None):
    """One request; returns (status, seconds, body text)."""
    started = time.monotonic()
    r = _session().request(method, base + path, json=body, timeout=60,
                           headers={VERSION_HEADER: MAX_VERSION})
    return r.status_code, time.monotonic() - started, r.text


class Plan:
    """The nodes made up front and the operations to run on them."""

    def __init__(self, daemon, total=1000, patch_nodes=50, power_nodes=100,
                 doomed_nodes=20, workers=48, seed=14):
        self.base = daemon.url
        self.workers = workers
        self.hot = None
        self.patch_nodes = []
        self.power_nodes = []
        self.doomed = []
        self.ops = []
        self.keys = {}          # node uuid -> keys PATCHed into extra
        self.macs = {}          # node uuid -> MACs created on it
        self._make_nodes(patch_nodes, power_nodes, doomed_nodes)
        self._make_ops(total, random.Random(seed))

    def _make_nodes(self, npatch, npower, ndoomed):
        def create(prefix):
            st, _, text = call(self.base, 'POST', '/v1/nodes',
                               {'name': unique(prefix),
                                'driver': 'fake-hardware'})
            assert st == 201, text
            return json.loads(text)['uuid']

        with ThreadPoolExecutor(self.workers) as pool:
            made = list(pool.map(create, ['hot'] + ['p'] * npatch +
                                 ['w'] * npower + ['d'] * ndoomed))
        self.hot = made[0]
        self.patch_nodes = made[1:1 + npatch]
        self.power_nodes = made[1 + npatch:1 + npatch + npower]
        self.doomed = made[1 + npatch + npower:]

    def _make_ops(self, total, rng):
        n_power = len(self.power_nodes)
        for node in self.doomed:
            for _ in range(4):
                self.ops.append(('port-doomed', node, 'POST', '/v1/ports',
                                 {'node_uuid': node,
                                  'address': unique_mac()}))
            self.ops.append(('delete', node, 'DELETE', '/v1/nodes/' + node,
                             None))
        rest = total - n_power - len(self.ops)
        n_hot, n_many, n_ports = rest * 3 // 9, rest * 3 // 9, rest * 2 // 9
        n_list = rest - n_hot - n_many - n_ports
        for i in range(n_hot):
            self._patch(self.hot, 'hot%d' % i)
        for i in range(n_many):
            self._patch(self.patch_nodes[i % len(self.patch_nodes)],
                        'k%d' % i)
        for node in self.power_nodes:
            self.ops.append(('power', node, 'PUT',
                             '/v1/nodes/%s/states/power' % node,
                             {'target': 'power on'}))
        for i in range(n_ports):
            node = self.patch_nodes[i % len(self.patch_nodes)]
            mac = unique_mac()
            self.macs.setdefault(node, []).append(mac)
            self.ops.append(('port', node, 'POST', '/v1/ports',
                             {'node_uuid': node, 'address': mac}))
        for _ in range(n_list):
            self.ops.append(('list', None, 'GET', '/v1/nodes/detail', None))
        rng.shuffle(self.ops)

    def _patch(self, node, key):
        self.keys.setdefault(node, []).append(key)
        self.ops.append(('patch', node, 'PATCH', '/v1/nodes/%s' % node,
                         [{'op': 'add', 'path': '/extra/' + key,
                           'value': key}]))

    def run(self):
        """Every operation at once; returns [(kind, status, secs, text)]."""
        def one(op):
            kind, _, method, path, body = op
            st, secs, text = call(self.base, method, path, body)
            return kind, st, secs, text

        started = time.monotonic()
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(one, self.ops))
        self.elapsed = time.monotonic() - started
        return results

    def lost(self):
        """What the store does not show that a 2xx said it would."""
        missing = []
        for node, keys in self.keys.items():
            _, _, text = call(self.base, 'GET', '/v1/nodes/%s' % node)
            extra = json.loads(text)['extra']
            missing += ['%s extra %s' % (node, k) for k in keys
                        if extra.get(k) != k]
        _, _, text = call(self.base, 'GET', '/v1/ports')
        have = {p['address']
                for p in json.loads(text)['ports']}
        missing += ['port %s' % m for macs in self.macs.values()
                    for m in macs if m not in have]
        _, _, text = call(self.base, 'GET', '/v1/ports/detail')
        missing += ['port %s of deleted node %s' % (p['uuid'], p['node_uuid'])
                    for p in json.loads(text)['ports']
                    if p['node_uuid'] in self.doomed]
        return missing

    def powered(self):
        """True once every power node is on and unlocked."""
        for node in self.power_nodes:
            _, _, text = call(self.base, 'GET', '/v1/nodes/%s' % node)
            n = json.loads(text)
            if n['power_state'] != 'power on' or n['reservation']:
                return False
        return True


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]
