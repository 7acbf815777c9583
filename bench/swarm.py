#!/usr/bin/python3
"""bench/swarm.py - one process playing N rescue ramdisk agents against
lifeboatd, on the wire as ironic-python-agent (and lifeboat-agent) does.

Importable (``from swarm import Swarm``; start() runs one asyncio event
loop in a background thread, every public method may be called from any
other thread) and a CLI (``bench/swarm.py --api URL``, runs in the main
thread until SIGTERM/SIGINT).  Interface: /work/briefs/14/swarm_api.md;
protocol: ironic-contract.md section 5; the single-agent emulator whose
routes, faults and constants this reuses is tests/lab/fake_agent.py.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import signal
import sys
import tempfile
import threading
import time

import aiohttp
from aiohttp import web

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests', 'lab'))
import fake_agent as fa  # noqa: E402  (the single agent's protocol bits)

# Agent states (the interface's names).
BOOTING, HEARTBEATING, RESCUED, GONE = ('booting', 'heartbeating', 'rescued',
                                        'gone')
LIVE = (BOOTING, HEARTBEATING)
# Provision states in which a booted ramdisk keeps running.
RAMDISK_STATES = ('rescue wait', 'rescuing')
# The interface's keys, then more detail: errors = lookup_errors +
# poll_errors + agents that failed; cpu_s is the loop thread's CPU time.
STAT_KEYS = ('booted', 'lookups', 'heartbeats', 'heartbeat_errors',
             'finalized', 'bad_token_commands', 'errors', 'agents_alive',
             'lookup_errors', 'poll_errors', 'commands', 'cpu_s')
API_HEADERS = {'Content-Type': 'application/json',
               'Accept': 'application/json'}
# The agents' requests share one pool of keep-alive connections to the
# API; one idle longer than this is not reused (lifeboatd closes idle ones
# after [api] request_head_timeout, 10 s by default).
KEEPALIVE = 2.0


class Agent:
    """One booted ramdisk: a node's agent from boot until it goes away.
    Touched only by the loop thread; snapshot() is read by others."""

    def __init__(self, uuid, macs, boot, booted_for=None):
        self.uuid = uuid
        self.macs = macs
        self.boot = boot
        # The node's provision_updated_at when it booted this ramdisk: a
        # newer one in rescue wait is a new rescue (the machine rebooted).
        self.booted_for = booted_for
        self.state = BOOTING
        self.url = None
        self.port = None
        self.server = None
        self.task = None
        self.token = None
        self.token_required = False
        self.get_token_support = False
        self.heartbeat_timeout = None
        self.heartbeats = 0
        self.finalize_calls = 0
        self.finalize_params = []
        self.results = {}           # command id -> fa.CommandResult
        self.pem = None             # the certificate sent, with TLS
        self.wake = asyncio.Event()
        self.started_at = time.time()
        self.changed = time.monotonic()     # when state last changed

    def snapshot(self, boots):
        last = self.finalize_params[-1] if self.finalize_params else {}
        return {'state': self.state, 'url': self.url,
                'token_known': bool(self.token), 'boots': boots,
                'finalize_calls': self.finalize_calls,
                'heartbeats': self.heartbeats,
                'rescue_password': last.get('rescue_password'),
                'hashed': last.get('hashed'),
                'finalize_params': [dict(p) for p in self.finalize_params]}

    def valid_token(self, token):
        """IPA's validate_agent_token."""
        if not token and self.token and not self.token_required:
            return True
        return self.token is not None and self.token == token


class Swarm:
    def __init__(self, api_url='http://127.0.0.1:6385', host='127.0.0.1',
                 heartbeat_interval=1.0, poll_interval=0.2, nodes=None,
                 log_path=None, tls='auto', heartbeat_error_interval=None,
                 lookup_interval=1.0, lookup_max_interval=60.0,
                 lookup_timeout=600.0, agent_version='11.2.0',
                 api_connections=32, http_timeout=60.0, boot_token=None):
        """heartbeat_interval None: IPA's heartbeat_timeout x U(0.3, 0.6);
        heartbeat_error_interval None: IPA's 5 x U(1, 2) s.  tls 'auto'
        serves HTTPS (one self-signed certificate for every agent, sent as
        agent_verify_ca) iff the API speaks >= 1.68, as IPA; 'off' never.
        api_connections caps the connections to the API (lifeboatd allows
        [api] max_connections_per_ip from one address).  boot_token:
        uuid -> the agent token on the node's boot medium (the
        ipa-agent-token a virtual media ISO carries) or None; called, in
        the loop thread, when the node's ramdisk boots.  api_url may name
        several APIs (a list, or URLs joined by commas: conductors sharing
        one database); the requests go to them in turn."""
        if tls not in ('auto', 'off'):
            raise ValueError("tls must be 'auto' or 'off'")
        if isinstance(api_url, str):
            api_url = api_url.split(',')
        self.api_urls = [u.rstrip('/') for u in api_url]
        self.api_url = self.api_urls[0]
        self._api_turn = itertools.count()
        self.host = host
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_error_interval = heartbeat_error_interval
        self.poll_interval = poll_interval
        self.only = None if nodes is None else set(nodes)
        self.log_path = log_path
        self.tls = tls
        self.lookup_interval = lookup_interval
        self.lookup_max_interval = lookup_max_interval
        self.lookup_timeout = lookup_timeout
        self.agent_version = agent_version
        self.api_connections = api_connections
        self.http_timeout = http_timeout
        self.boot_token = boot_token
        self.cert_path = None       # the agents' certificate, once made
        self._listed_at = 0.0       # when the node list being read began
        self._cert = None           # (pem, ssl context)
        self._cert_lock = None
        self._version = None
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self._agents = {}           # uuid -> current Agent
        self._by_port = {}          # listening port -> Agent
        self._boots = {}            # uuid -> agents booted for it
        self._macs = {}             # uuid -> [mac]
        self._loop = None
        self._thread = None
        self._tid = None
        self._ready = threading.Event()
        self._failure = None
        self._stopping = None
        self._stopped = False
        self._log = None
        self._tmp = None

    # ---------------------------------------------------- public (any thread)

    def start(self):
        """Returns once the loop runs; raises what kept it from starting."""
        if self._thread is not None:
            return
        raise_nofile()
        self._thread = threading.Thread(target=self._run, name='swarm',
                                        daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def stop(self):
        """Stops every agent and the loop; idempotent."""
        if self._thread is None or self._stopped:
            return
        self._stopped = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:
                pass            # the loop ended on its own
        self._thread.join(60)

    def stats(self):
        out = dict(self._stats)
        out['cpu_s'] = thread_cpu(self._tid)
        out['agents_alive'] = sum(1 for a in list(self._agents.values())
                                  if a.state != GONE)
        return out

    def agent(self, uuid):
        a = self._agents.get(uuid)
        if a is None:
            return None
        return a.snapshot(self._boots.get(uuid, 0))

    # ------------------------------------------------------ the loop thread

    def _run(self):
        self._tid = threading.get_native_id()
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:         # reported by start()
            self._failure = e
            self._ready.set()
        finally:
            loop.close()

    async def _main(self):
        self._stopping = asyncio.Event()
        self._cert_lock = asyncio.Lock()
        if self.log_path:
            self._log = open(self.log_path, 'a', encoding='utf-8')
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.api_connections,
                                           keepalive_timeout=KEEPALIVE),
            timeout=aiohttp.ClientTimeout(total=self.http_timeout),
            headers=API_HEADERS)
        self._server = web.Server(self._serve, access_log=None)
        poller = asyncio.ensure_future(self._poll_loop())
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            for a in list(self._agents.values()):
                await self._gone(a, 'swarm stopped')
            await self._server.shutdown(1.0)
            await self._session.close()
            if self._log is not None:
                self._log.close()
            if self._tmp is not None:
                self._tmp.cleanup()

    def _record(self, agent, event, **kw):
        if self._log is None:
            return
        entry = {'t': time.time(), 'node': agent.uuid, 'boot': agent.boot,
                 'event': event}
        entry.update(kw)
        self._log.write(json.dumps(entry) + '\n')

    # -- talking to the API

    async def _api(self, method, path, version=None, body=None,
                   params=None):
        """(status, parsed body or text); raises on a transport error."""
        headers = {}
        if version is not None:
            headers['X-OpenStack-Ironic-API-Version'] = '%d.%d' % version
        if path.startswith('http'):
            url = path
        else:
            url = self.api_urls[next(self._api_turn) %
                                len(self.api_urls)] + path
        data = json.dumps(body) if body is not None else None
        async with self._session.request(method, url, headers=headers,
                                         data=data, params=params) as r:
            raw = await r.read()
            return r.status, fa.decode_body(raw)[0]

    async def _api_version(self):
        """IPA's discovery: GET / each time until it works (not cached on
        failure), 1.31 meanwhile."""
        if self._version is not None:
            return self._version
        try:
            status, body = await self._api('GET', '/')
            self._version = fa.parse_version(
                body['default_version']['version'])
            return self._version
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError,
                TypeError, ValueError):
            return fa.MIN_IRONIC_VERSION

    # -- the boot model

    async def _poll_loop(self):
        while True:
            try:
                await self._poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:      # lifeboatd down: normal, counted
                self._stats['poll_errors'] += 1
                self._stats['errors'] += 1
                if self._log is not None:
                    self._log.write(json.dumps({'t': time.time(),
                                                'event': 'poll_error',
                                                'error': repr(e)}) + '\n')
            if self._log is not None:
                self._log.flush()
            await asyncio.sleep(self.poll_interval)

    # The states in which a node's ramdisk or rescued system runs: the
    # only nodes a poll needs to see (a node not listed is in none).
    LISTED_STATES = ('rescue wait', 'rescuing', 'rescue')

    async def _list_nodes(self):
        """The nodes in LISTED_STATES, a filtered list per state (marker
        paging), so that a poll of 10,000 idle nodes costs lifeboatd next
        to nothing, as real agents, which never list, cost it nothing."""
        nodes = []
        version = await self._api_version()
        for state in self.LISTED_STATES:
            params = {'fields': 'uuid,provision_state,power_state,'
                                'provision_updated_at',
                      'provision_state': state, 'limit': '1000'}
            while True:
                status, body = await self._api('GET', '/v1/nodes', version,
                                               params=params)
                if status != 200:
                    raise RuntimeError('node list: HTTP %d' % status)
                page = body['nodes']
                nodes.extend(page)
                if len(page) < 1000:
                    break
                params = dict(params, marker=page[-1]['uuid'])
        return nodes

    async def _poll_once(self):
        seen = set()
        boot = []
        self._listed_at = time.monotonic()
        for n in await self._list_nodes():
            uuid = n['uuid']
            if self.only is not None and uuid not in self.only:
                continue
            seen.add(uuid)
            if await self._consider(uuid, n['provision_state'],
                                    n['power_state'],
                                    n.get('provision_updated_at')):
                boot.append((uuid, n.get('provision_updated_at')))
        for uuid, a in list(self._agents.items()):
            if uuid not in seen and a.state != GONE:
                await self._gone(a, 'node left the rescue states')
        # Many at once (their ports are fetched once per node): the API
        # connection pool bounds them.
        results = await asyncio.gather(*(self._boot(*b) for b in boot),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                raise r

    async def _consider(self, uuid, state, power, updated):
        """Ends the node's agent if its ramdisk is no longer there; true
        if the node's ramdisk boots now.  A node aborted and rescued again
        between two lists is back in rescue wait with a newer
        provision_updated_at: its machine rebooted, the old agent goes."""
        a = self._agents.get(uuid)
        if a is not None and a.changed >= self._listed_at:
            return False        # the list is older than what it did since
        if a is not None and a.state in LIVE and state not in RAMDISK_STATES:
            await self._gone(a, 'node left rescue wait: %s' % state)
        elif a is not None and a.state in LIVE and state == 'rescue wait' \
                and updated != a.booted_for:
            await self._gone(a, 'node rescued again (rescue wait since %s, '
                             'booted for %s)' % (updated, a.booted_for))
        elif a is not None and a.state == RESCUED and state != 'rescue' \
                and state != 'rescuing':
            await self._gone(a, 'node left rescue: %s' % state)
        a = self._agents.get(uuid)
        return state == 'rescue wait' and power == 'power on' and \
            (a is None or a.state == GONE)

    async def _boot(self, uuid, updated=None):
        macs = self._macs.get(uuid)
        if macs is None:
            status, body = await self._api(
                'GET', '/v1/ports', await self._api_version(),
                params={'node_uuid': uuid, 'fields': 'address'})
            if status != 200:
                raise RuntimeError('ports of %s: HTTP %d' % (uuid, status))
            macs = [p['address'] for p in body['ports']]
            self._macs[uuid] = macs
        boot = self._boots.get(uuid, 0) + 1
        self._boots[uuid] = boot
        a = Agent(uuid, macs, boot, updated)
        self._agents[uuid] = a
        self._stats['booted'] += 1
        self._record(a, 'boot', macs=macs)
        a.task = asyncio.ensure_future(self._agent_main(a))

    async def _gone(self, a, why):
        if a.state == GONE:
            return
        a.state = GONE
        a.changed = time.monotonic()
        self._record(a, 'gone', why=why)
        if a.task is not None and a.task is not asyncio.current_task():
            a.task.cancel()
            await asyncio.gather(a.task, return_exceptions=True)
        if a.server is not None:
            a.server.close()
            self._by_port.pop(a.port, None)

    # -- one agent's life

    async def _agent_main(self, a):
        try:
            if self.boot_token is not None:
                # IPA takes ipa-agent-token from its kernel command line.
                a.token = self.boot_token(a.uuid)
                self._record(a, 'boot_token', known=bool(a.token))
            content = await self._lookup(a)
            if content is None:
                self._stats['errors'] += 1
                await self._gone(a, 'lookup gave up')
                return
            self._take_lookup(a, content)
            await self._listen(a)
            await self._heartbeat_loop(a)
        except asyncio.CancelledError:
            raise
        except Exception as e:          # a bug here: counted and visible
            self._stats['errors'] += 1
            self._record(a, 'fatal', error=repr(e))
            await self._gone(a, 'agent failed: %r' % (e,))

    async def _lookup(self, a):
        """ironic_api_client.lookup_node: random exponential backoff
        between lookup_interval and lookup_max_interval until
        lookup_timeout; 409 pauses 5, 10, 30 s first."""
        start = time.monotonic()
        attempt = 0
        conflict = 0
        while True:
            attempt += 1
            pause = await self._lookup_once(a, conflict)
            if isinstance(pause, dict):
                return pause
            if pause:
                conflict = pause
                await asyncio.sleep(pause)
            if time.monotonic() - start >= self.lookup_timeout:
                return None
            high = max(self.lookup_interval,
                       min(2 ** (attempt - 1), self.lookup_max_interval))
            await asyncio.sleep(random.uniform(self.lookup_interval, high))

    async def _lookup_once(self, a, conflict):
        """The lookup reply (dict), or the 409 pause to take, or 0."""
        version = min(await self._api_version(), fa.AGENT_TOKEN_IRONIC_VERSION)
        params = {'addresses': ','.join(m for m in a.macs if m)}
        try:
            status, body = await self._api('GET', '/v1/lookup', version,
                                           params=params)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            self._lookup_failed(a, None, repr(e))
            return 0
        if status == 409:
            self._lookup_failed(a, status, 'conflict')
            pauses = (5, 10, 30)
            return pauses[min(pauses.index(conflict) + 1, 2)] \
                if conflict in pauses else pauses[0]
        try:
            if status == 200:
                body['node']['uuid']
                if 'config' not in body:
                    body['config'] = {'heartbeat_timeout':
                                      body.pop('heartbeat_timeout')}
                self._stats['lookups'] += 1
                self._record(a, 'lookup', status=status)
                return body
        except (KeyError, TypeError):
            pass
        self._lookup_failed(a, status, 'unusable reply')
        return 0

    def _lookup_failed(self, a, status, why):
        self._stats['lookup_errors'] += 1
        self._stats['errors'] += 1
        self._record(a, 'lookup', status=status, error=why)

    def _take_lookup(self, a, content):
        """IPA's process_lookup_data (the token part)."""
        config = content['config']
        a.heartbeat_timeout = config['heartbeat_timeout']
        a.token_required = bool(config.get('agent_token_required'))
        token = config.get('agent_token')
        if token and len(token) >= 32:
            a.token = token
        self._record(a, 'token', known=bool(a.token),
                     required=a.token_required)

    async def _agent_cert(self):
        """(pem, ssl context) of the agents' one self-signed certificate
        (IPA's auto-TLS certificate: EC P-384, CN and IP SAN = host)."""
        async with self._cert_lock:
            if self._cert is None:
                self._tmp = tempfile.TemporaryDirectory(prefix='swarm-tls-')
                loop = asyncio.get_running_loop()
                pem, cert, key = await loop.run_in_executor(
                    None, fa.generate_tls_certificate, self._tmp.name,
                    self.host, 1)
                self.cert_path = cert
                self._cert = (pem, fa.server_context(cert, key))
            return self._cert

    async def _listen(self, a):
        version = await self._api_version()
        ctx = None
        if self.tls == 'auto' and version >= fa.AGENT_VERIFY_CA_IRONIC_VERSION:
            a.pem, ctx = await self._agent_cert()
        loop = asyncio.get_running_loop()
        a.server = await loop.create_server(self._server, self.host, 0,
                                            ssl=ctx, backlog=64)
        a.port = a.server.sockets[0].getsockname()[1]
        self._by_port[a.port] = a
        a.url = '%s://%s:%d' % ('https' if ctx else 'http',
                                fa.wrap_ipv6(self.host), a.port)
        a.state = HEARTBEATING
        a.changed = time.monotonic()
        self._record(a, 'listening', url=a.url)

    async def _heartbeat_loop(self, a):
        while a.state == HEARTBEATING:
            ok = await self._heartbeat(a)
            if a.state != HEARTBEATING:
                return
            if ok:
                wait = self.heartbeat_interval
                if wait is None:
                    wait = a.heartbeat_timeout * random.uniform(
                        fa.MIN_JITTER, fa.MAX_JITTER)
            else:
                wait = self.heartbeat_error_interval
                if wait is None:
                    wait = fa.MIN_HEARTBEAT_INTERVAL * random.uniform(
                        fa.MIN_ERROR_JITTER, fa.MAX_ERROR_JITTER)
            a.wake.clear()
            try:
                await asyncio.wait_for(a.wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    async def _heartbeat(self, a):
        version = await self._api_version()
        data = {'callback_url': a.url}
        if version >= fa.AGENT_TOKEN_IRONIC_VERSION:
            data['agent_token'] = a.token
        if version >= fa.AGENT_VERSION_IRONIC_VERSION:
            data['agent_version'] = self.agent_version
        if version >= fa.AGENT_VERIFY_CA_IRONIC_VERSION and a.pem:
            data['agent_verify_ca'] = a.pem
        try:
            status, body = await self._api(
                'POST', '/v1/heartbeat/%s' % a.uuid,
                min(fa.MAX_KNOWN_VERSION, version), body=data)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            status, body = None, repr(e)
        if status == 202:
            a.heartbeats += 1
            self._stats['heartbeats'] += 1
            self._record(a, 'heartbeat', n=a.heartbeats, status=status)
            return True
        self._stats['heartbeat_errors'] += 1
        self._record(a, 'heartbeat', status=status, error=body)
        return False

    # -- the agents' API (one low-level aiohttp server, a port per agent)

    async def _serve(self, request):
        port = request.transport.get_extra_info('sockname')[1]
        a = self._by_port.get(port)
        if a is None or a.state == GONE:
            request.transport.close()       # a machine that is not there
            return web.Response(status=503)
        raw = await request.read()
        try:
            endpoint, values = fa.match(request.path, request.method)
            if endpoint == 'redirect':
                loc = self._url_root(a, request) + values['path'] + (
                    ('?' + request.query_string) if request.query_string
                    else '')
                return web.Response(status=308, headers={'Location': loc})
            if endpoint == 'options':
                return web.Response(status=200, headers={
                    'Allow': ', '.join(sorted(values['allow']))})
            return await getattr(self, '_api_' + endpoint)(a, request, raw,
                                                           **values)
        except fa.HTTPError as e:
            return fault_response(e.status, e.text, e.headers)
        except fa.RESTError as e:
            return fault_response(e.status_code, str(e))
        except Exception as e:          # what IPA's handle_exception does
            self._stats['errors'] += 1
            self._record(a, 'fatal', error=repr(e))
            return fault_response(500, str(e))

    def _url_root(self, a, request):
        return '%s://%s' % ('https' if a.pem else 'http',
                            request.host or '%s:%d' % (self.host, a.port))

    async def _api_root(self, a, request, raw):
        url = self._url_root(a, request)
        version = fa.Handler._version(fa.Handler, url)
        return json_response(200, {
            'name': 'OpenStack Ironic Python Agent API',
            'description': ('Ironic Python Agent is a provisioning agent for '
                            'OpenStack Ironic'),
            'versions': [version], 'default_version': version})

    async def _api_v1(self, a, request, raw):
        url = self._url_root(a, request)
        link = fa.Handler._link
        return json_response(200, dict({
            'commands': [link(url, 'self', 'commands'),
                         link(url, 'bookmark', 'commands')],
            'status': [link(url, 'self', 'status'),
                       link(url, 'bookmark', 'status')],
            'media_types': [{'base': 'application/json',
                             'type': fa.MEDIA_TYPE}]},
            **fa.Handler._version(fa.Handler, url)))

    async def _api_status(self, a, request, raw):
        return json_response(200, {'started_at': a.started_at,
                                   'version': self.agent_version})

    def _check_token(self, a, request, always):
        token = request.query.get('agent_token')
        if token and not always:
            a.get_token_support = True
        if (always or a.get_token_support) and not a.valid_token(token):
            self._stats['bad_token_commands'] += 1
            self._record(a, 'bad_token', method=request.method,
                         path=request.path)
            raise fa.HTTPError(401, '401 Unauthorized: Token invalid.')

    async def _api_list_commands(self, a, request, raw):
        self._check_token(a, request, False)
        return json_response(200, {'commands': [
            r.serialize() for r in a.results.values()]})

    async def _api_get_command(self, a, request, raw, cmd):
        self._check_token(a, request, False)
        result = a.results.get(cmd)
        if result is None:
            raise fa.RESTError('RequestedObjectNotFoundError', 404,
                               'Not found', 'Command Result with id %s not '
                               'found.' % cmd)
        return json_response(200, result.serialize())

    async def _api_run_command(self, a, request, raw):
        try:
            body = json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError) as e:
            raise fa.HTTPError(400, '400 Bad Request: Failed to decode JSON '
                               'object: %s' % e)
        if (not isinstance(body, dict) or 'name' not in body
                or not isinstance(body.get('params'), dict)):
            raise fa.HTTPError(400, '400 Bad Request: Missing or invalid '
                               'name or params')
        self._check_token(a, request, True)
        self._stats['commands'] += 1
        result = self._execute(a, body['name'], body['params'])
        a.results[result.id] = result
        self._record(a, 'command', name=body['name'],
                     status=result.command_status)
        return json_response(200, result.serialize())

    def _execute(self, a, name, params):
        """IPA's ExecuteCommandMixin for the one command a rescue needs;
        finalize_rescue is synchronous, so the agent is never busy."""
        parts = name.split('.', 1) if isinstance(name, str) else []
        if len(parts) != 2:
            raise fa.RESTError('InvalidCommandError', 400, 'Invalid command',
                               'Command name must be of the form '
                               '<extension>.<name>')
        ext, cmd = parts
        if ext not in fa.KNOWN_EXTENSIONS:
            raise fa.RESTError('RequestedObjectNotFoundError', 404,
                               'Not found', 'Extension with id %s not found.'
                               % ext)
        if (ext, cmd) != ('rescue', 'finalize_rescue'):
            raise fa.RESTError('InvalidCommandError', 400, 'Invalid command',
                               'Unknown command: %s' % cmd)
        # lifeboat-agent's finalize_rescue also takes lifeboat_network_moves
        for key in params:
            if key not in ('rescue_password', 'hashed',
                           'lifeboat_network_moves'):
                raise fa.RESTError(
                    'InvalidCommandParamsError', 400,
                    'Invalid command parameters',
                    "finalize_rescue() got an unexpected keyword argument "
                    "'%s'" % key)
        a.finalize_calls += 1
        a.finalize_params.append(dict(params))
        if a.state == HEARTBEATING:
            a.state = RESCUED           # the rescue system: no more beats
            a.changed = time.monotonic()
            a.wake.set()
            self._stats['finalized'] += 1
            self._record(a, 'finalized')
        return fa.CommandResult('finalize_rescue', 'SUCCEEDED')


def json_response(status, obj, headers=None):
    return web.Response(status=status, body=json.dumps(obj).encode(),
                        content_type='application/json', headers=headers)


def fault_response(status, text, headers=None):
    return json_response(status, fa.fault(status, text), headers)


def thread_cpu(tid):
    """utime + stime of one of this process's threads, seconds (0 if
    it is not running)."""
    try:
        with open('/proc/self/task/%d/stat' % tid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def raise_nofile():
    """A port per agent: 1,000 agents need more than the usual 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------------------- CLI

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--api', required=True, help="lifeboatd's API URL (or "
                   "several, joined by commas: requests go to each in turn)")
    p.add_argument('--host', default='127.0.0.1',
                   help='address the agents listen on')
    p.add_argument('--heartbeat', type=float, default=1.0,
                   help='seconds between heartbeats')
    p.add_argument('--poll', type=float, default=0.2,
                   help='seconds between looks for booted nodes')
    p.add_argument('--log', help='JSON lines of what each agent did')
    p.add_argument('--tls', choices=('auto', 'off'), default='auto')
    args = p.parse_args(argv)
    s = Swarm(api_url=args.api, host=args.host,
              heartbeat_interval=args.heartbeat, poll_interval=args.poll,
              log_path=args.log, tls=args.tls)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    s.start()
    while not done.wait(5):
        print(json.dumps(dict(s.stats(), t=round(time.time(), 3))),
              flush=True)
    s.stop()
    print(json.dumps(dict(s.stats(), t=round(time.time(), 3))), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
