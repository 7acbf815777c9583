#!/usr/bin/python3
"""A protocol-exact simulated ironic-python-agent (IPA) for the lifeboat lab.

It does on the wire what IPA (git HEAD, see ironic-contract.md section 5)
does in a rescue ramdisk, without a ramdisk:

  1. discovery   GET {api}/  -> default_version.version (1.31 if that fails;
                 like IPA a failed discovery is not cached, so it is retried
                 before every later call that needs the version)
  2. lookup      GET {api}/v1/lookup?addresses=<macs>[&node_uuid=<uuid>]
                 X-OpenStack-Ironic-API-Version: min(server, 1.62); retried
                 with random exponential backoff (capped at 60 s) until
                 --lookup-timeout; 409 pauses 5/10/30 s first
  3. agent API   served on --listen/--port (bound at start, listening only
                 after lookup, as IPA starts its API after lookup); HTTPS with
                 a self-signed EC P-384 cert when the server speaks >= 1.68
  4. heartbeat   POST {api}/v1/heartbeat/<uuid>, version min(server, 1.68),
                 {"callback_url", "agent_token", "agent_version",
                 "agent_verify_ca"}; 202 expected; first one at once, then
                 every heartbeat_timeout x U(0.3, 0.6) s, 5 x U(1, 2) s after
                 an error
  5. rescue.finalize_rescue writes the hash verbatim to
     <state-dir>/ipa-rescue-password, touches <state-dir>/.rescued, replies,
     then stops serving and heartbeating and exits 0.

Agent API (as IPA's werkzeug app): GET /, GET /v1/, GET /v1/status,
GET /v1/commands/, GET /v1/commands/<id>, POST /v1/commands/ (also without
the /v1 prefix); errors are {"faultcode": "Client|Server", "faultstring": ..}.
Token check: POST always (401 "401 Unauthorized: Token invalid."); the GETs
only once some GET carried an agent_token (IPA's backwards-compatibility
rule).  Unknown extension -> 404, unknown command -> 400, busy -> 409.

stdout: exactly one JSON line, once the callback URL is known (after lookup):
  {"callback_url": "http(s)://host:port", "pid": N, "state_dir": ..,
   "node_uuid": .., "tls": bool, "cert_path": ..|null}
callback_url is null (with "error") if the agent exits before serving.
Everything else goes to stderr.

<state-dir>/agent.log.jsonl: one JSON object per line, "kind" is
  api_root | lookup | heartbeat   a request this agent made and the reply:
      method, url, request_headers, sent (JSON or null), sent_text,
      status (null on a transport error, then "error"), headers, body
      (parsed JSON, else text), body_text; heartbeats carry "n" (1-based)
  agent_in    a request the agent API received: method, path, query,
              headers, body, body_text
  agent_out   the reply it sent: method, path, status, headers, body
  event       event = listening | lookup_ok | token | tls_cert | finalized |
              exit | fatal ... (plus details)
Every entry has "t" (time.time()).

Failure knobs: --finalize-result succeeded|failed|error500|hang,
--accept-network-moves (finalize_rescue takes lifeboat_network_moves;
otherwise any unknown parameter gets IPA's HTTP 400
InvalidCommandParamsError "finalize_rescue() got an unexpected keyword
argument '...'", and changes nothing),
--wrong-token, --no-token, --no-version, --change-callback-after N,
--change-cert-after N, --stop-after-lookup.  Timing knobs for tests:
--heartbeat-interval, --heartbeat-error-interval, --lookup-interval,
--lookup-max-interval, --lookup-conflict-pauses.

Exit codes: 0 after finalize, --stop-after-lookup or SIGTERM/SIGINT;
1 when lookup gives up or the lookup data is unusable.
"""

import argparse
import http.server
import ipaddress
import json
import logging
import os
import random
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import requests

LOG = logging.getLogger('fake_agent')

# ironic_python_agent/ironic_api_client.py
MIN_IRONIC_VERSION = (1, 31)
AGENT_VERSION_IRONIC_VERSION = (1, 36)
AGENT_TOKEN_IRONIC_VERSION = (1, 62)
AGENT_VERIFY_CA_IRONIC_VERSION = (1, 68)
MAX_KNOWN_VERSION = AGENT_VERIFY_CA_IRONIC_VERSION

# IronicPythonAgentHeartbeater
MIN_JITTER, MAX_JITTER = 0.3, 0.6
MIN_HEARTBEAT_INTERVAL = 5
MIN_ERROR_JITTER, MAX_ERROR_JITTER = 1.0, 2.0

# entry points of ironic_python_agent.extensions
KNOWN_EXTENSIONS = ('clean', 'deploy', 'flow', 'image', 'log', 'poll',
                    'rescue', 'service', 'standby', 'system')

PASSWORD_FILE = 'ipa-rescue-password'        # /etc/ipa-rescue-config/...
RESCUED_MARKER = '.rescued'                  # /etc/.rescued

MEDIA_TYPE = 'application/vnd.openstack.ironic-python-agent.v1+json'
DOCS_URL = 'https://docs.openstack.org/ironic-python-agent'

# werkzeug's HTTPException descriptions (str(exc) = "<code> <Name>: <desc>")
WZ_NOT_FOUND = ('404 Not Found: The requested URL was not found on the '
                'server. If you entered the URL manually please check your '
                'spelling and try again.')
WZ_METHOD = ('405 Method Not Allowed: The method is not allowed for the '
             'requested URL.')

REASONS = {200: 'OK', 308: 'PERMANENT REDIRECT', 400: 'BAD REQUEST',
           401: 'UNAUTHORIZED', 404: 'NOT FOUND', 405: 'METHOD NOT ALLOWED',
           409: 'CONFLICT', 500: 'INTERNAL SERVER ERROR'}


class Terminate(Exception):
    """Raised in the main thread by SIGTERM/SIGINT."""


class LookupNodeError(Exception):
    pass


class HeartbeatError(Exception):
    pass


class RESTError(Exception):
    """ironic_python_agent.errors.RESTError (serialisable)."""

    def __init__(self, type_, status_code, message, details):
        super().__init__(details)
        self.type = type_
        self.status_code = status_code
        self.message = message
        self.details = details

    def __str__(self):
        return '%s: %s' % (self.message, self.details)

    def serialize(self):
        return {'type': self.type, 'code': self.status_code,
                'message': self.message, 'details': self.details}


class HTTPError(Exception):
    """A werkzeug HTTPException (str() = "<code> <Name>: <description>")."""

    def __init__(self, status, text, headers=None):
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or {}


def fault(status, faultstring):
    return {'faultcode': 'Server' if status >= 500 else 'Client',
            'faultstring': faultstring}


def parse_version(text):
    major, minor = text.split('.')
    return int(major), int(minor)


def wrap_ipv6(host):
    try:
        if ipaddress.ip_address(host).version == 6:
            return '[%s]' % host
    except ValueError:
        pass
    return host


def decode_body(raw):
    text = raw.decode('utf-8', errors='replace') if raw else ''
    try:
        return json.loads(text), text
    except ValueError:
        return text, text


class WireLog:
    """Appends one JSON object per line; thread-safe."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.f = open(path, 'a', encoding='utf-8')

    def write(self, entry):
        entry = dict(entry)
        entry.setdefault('t', time.time())
        line = json.dumps(entry, default=str)
        with self.lock:
            self.f.write(line + '\n')
            self.f.flush()

    def event(self, name, **kw):
        self.write(dict(kind='event', event=name, **kw))


# ------------------------------------------------------------------ TLS

def generate_tls_certificate(directory, host, serial):
    """Self-signed cert like IPA's tls_utils: EC P-384 key (PKCS#8), CN and
    a critical IP SAN = host, no other extensions, 30 days, SHA-512."""
    cert = os.path.join(directory, 'agent%s.crt' % ('' if serial == 1
                                                    else '-%d' % serial))
    key = cert[:-4] + '.key'
    cfg = cert[:-4] + '.cnf'
    try:
        ipaddress.ip_address(host)
        san = 'IP:%s' % host
    except ValueError:
        san = 'DNS:%s' % host
    with open(cfg, 'w') as f:
        f.write('[req]\ndistinguished_name = dn\nprompt = no\n'
                'x509_extensions = ext\n[dn]\nCN = %s\n[ext]\n'
                'subjectAltName = critical, %s\n'
                'subjectKeyIdentifier = none\n'
                'authorityKeyIdentifier = none\n' % (host, san))
    subprocess.run(['openssl', 'req', '-x509', '-config', cfg, '-newkey', 'ec',
                    '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes',
                    '-keyout', key, '-out', cert, '-days', '30', '-sha512'],
                   check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.unlink(cfg)
    with open(cert) as f:
        pem = f.read()
    return pem, cert, key


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2     # ipa-tls-min-version
    ctx.load_cert_chain(cert, key)
    return ctx


# ------------------------------------------------------------ Ironic client

class IronicClient:
    """ironic_python_agent.ironic_api_client.APIClient, on requests."""

    def __init__(self, args, wire):
        self.api_url = args.api_url.rstrip('/')
        self.wire = wire
        self.timeout = args.http_timeout
        self.request_id = args.global_request_id
        if args.insecure:
            self.verify = False
        else:
            self.verify = args.cafile or True
        self.session = requests.Session()
        # a lab tool: never pick up proxies or CA bundles from the environment
        self.session.trust_env = False
        adapter = requests.adapters.HTTPAdapter(pool_connections=2,
                                                pool_maxsize=2)
        self.session.mount(self.api_url, adapter)
        self._version = None
        if args.ironic_api_version:
            self._version = parse_version(args.ironic_api_version)
        self.agent_token = None
        self.conflict_pauses = args.lookup_conflict_pauses
        self.lookup_lock_pause = 0

    def _request(self, kind, method, path, data=None, headers=None,
                 params=None, extra=None):
        headers = dict(headers or {})
        headers.update({'Content-Type': 'application/json',
                        'Accept': 'application/json'})
        if self.request_id:
            headers['X-OpenStack-Request-ID'] = self.request_id
        text = json.dumps(data) if data is not None else None
        req = requests.Request(method, self.api_url + path, headers=headers,
                               data=text, params=params)
        prep = self.session.prepare_request(req)
        entry = {'kind': kind, 'method': method, 'url': prep.url,
                 'request_headers': dict(prep.headers), 'sent': data,
                 'sent_text': text}
        entry.update(extra or {})
        try:
            resp = self.session.send(prep, verify=self.verify,
                                     timeout=self.timeout)
        except Exception as e:
            entry.update(status=None, error='%s: %s' % (type(e).__name__, e))
            self.wire.write(entry)
            raise
        body, body_text = decode_body(resp.content)
        entry.update(status=resp.status_code, headers=dict(resp.headers),
                     body=body, body_text=body_text)
        self.wire.write(entry)
        return resp

    # -- versions
    def api_version(self):
        if self._version:
            return self._version
        try:
            resp = self._request('api_root', 'GET', '/')
            data = json.loads(resp.content)
            self._version = parse_version(data['default_version']['version'])
            return self._version
        except Exception as e:
            LOG.warning('API version discovery failed (%s), falling back to '
                        '%d.%d', e, *MIN_IRONIC_VERSION)
            return MIN_IRONIC_VERSION

    def version_header(self, version=None):
        if version is None:
            version = min(self.api_version(), AGENT_TOKEN_IRONIC_VERSION)
        return {'X-OpenStack-Ironic-API-Version': '%d.%d' % version}

    def supports_auto_tls(self):
        return self.api_version() >= AGENT_VERIFY_CA_IRONIC_VERSION

    # -- lookup
    def lookup_node(self, macs, node_uuid, timeout, interval, max_interval):
        """tenacity: retry while False, stop_after_delay(timeout),
        wait_random_exponential(min=interval, max=max_interval)."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            content = self._do_lookup(macs, node_uuid)
            if content is not False:
                return content
            if time.monotonic() - start >= timeout:
                raise LookupNodeError('Could not look up node info. Check '
                                      'logs for details.')
            high = max(interval, min(2 ** (attempt - 1), max_interval))
            time.sleep(random.uniform(interval, high))

    def _do_lookup(self, macs, node_uuid):
        params = {'addresses': ','.join(m for m in macs if m)}
        if node_uuid:
            params['node_uuid'] = node_uuid
        try:
            resp = self._request('lookup', 'GET', '/v1/lookup',
                                 headers=self.version_header(), params=params)
        except requests.exceptions.RequestException as e:
            LOG.warning('lookup failed, retrying: %s', e)
            return False
        if resp.status_code == 409:
            pauses = self.conflict_pauses
            if self.lookup_lock_pause == 0:
                self.lookup_lock_pause = pauses[0]
            elif self.lookup_lock_pause == pauses[0]:
                self.lookup_lock_pause = pauses[1]
            elif self.lookup_lock_pause == pauses[1]:
                self.lookup_lock_pause = pauses[2]
            LOG.warning('lookup: 409, waiting %s s', self.lookup_lock_pause)
            time.sleep(self.lookup_lock_pause)
            return False
        if resp.status_code != 200:
            LOG.warning('lookup: HTTP %d, retrying', resp.status_code)
            return False
        try:
            content = json.loads(resp.content)
        except ValueError as e:
            LOG.warning('lookup: bad JSON: %s', e)
            return False
        try:
            if 'node' not in content or 'uuid' not in content['node']:
                LOG.warning('lookup: no node uuid in %s', content)
                return False
        except TypeError:
            LOG.warning('lookup: no node uuid in %s', content)
            return False
        if 'config' not in content:
            try:
                content['config'] = {'heartbeat_timeout':
                                     content.pop('heartbeat_timeout')}
            except KeyError:
                LOG.warning('lookup: no heartbeat_timeout in %s', content)
                return False
        return content

    # -- heartbeat
    def heartbeat(self, uuid_, callback_url, token, send_token, send_version,
                  agent_version, cert_pem, n):
        data = {'callback_url': callback_url}
        api_ver = self.api_version()
        if api_ver >= AGENT_TOKEN_IRONIC_VERSION and send_token:
            data['agent_token'] = token
        if api_ver >= AGENT_VERSION_IRONIC_VERSION and send_version:
            data['agent_version'] = agent_version
        if api_ver >= AGENT_VERIFY_CA_IRONIC_VERSION and cert_pem:
            data['agent_verify_ca'] = cert_pem
        headers = self.version_header(min(MAX_KNOWN_VERSION, api_ver))
        try:
            resp = self._request('heartbeat', 'POST',
                                 '/v1/heartbeat/%s' % uuid_, data=data,
                                 headers=headers, extra={'n': n})
        except Exception as e:
            raise HeartbeatError(str(e))
        if resp.status_code != 202:
            raise HeartbeatError('Error %d: %s' % (resp.status_code,
                                                   resp.text))


# ------------------------------------------------------------- agent API

class CommandResult:
    def __init__(self, name, status='RUNNING', error=None, result=None):
        self.id = str(uuid.uuid4())
        self.command_name = name
        self.command_status = status
        self.command_error = error
        self.command_result = result

    def serialize(self):
        return {'id': self.id, 'command_name': self.command_name,
                'command_status': self.command_status,
                'command_error': self.command_error,
                'command_result': self.command_result}


ROUTES = [
    ('/', 'root', ('GET',)),
    ('/v1/', 'v1', ('GET',)),
    ('/v1/status', 'status', ('GET',)),
    ('/v1/commands/', 'list_commands', ('GET',)),
    ('/v1/commands/<cmd>', 'get_command', ('GET',)),
    ('/v1/commands/', 'run_command', ('POST',)),
    ('/status', 'status', ('GET',)),
    ('/commands/', 'list_commands', ('GET',)),
    ('/commands/<cmd>', 'get_command', ('GET',)),
    ('/commands/', 'run_command', ('POST',)),
]


def route_matches(rule, path):
    if rule.endswith('<cmd>'):
        prefix = rule[:-5]
        rest = path[len(prefix):]
        if path.startswith(prefix) and rest and '/' not in rest:
            return {'cmd': urllib.parse.unquote(rest)}
        return None
    return {} if rule == path else None


def match(path, method):
    """werkzeug-like: (endpoint, values) or raises HTTPError (404/405) or
    returns ('redirect', new_path) for a missing trailing slash."""
    allowed = set()
    for rule, endpoint, methods in ROUTES:
        values = route_matches(rule, path)
        if values is None:
            continue
        meths = set(methods) | ({'HEAD'} if 'GET' in methods else set())
        if method in meths:
            return endpoint, values
        allowed |= meths
    if allowed:
        if method == 'OPTIONS':
            return 'options', {'allow': allowed | {'OPTIONS'}}
        raise HTTPError(405, WZ_METHOD, {
            'Allow': ', '.join(sorted(allowed | {'OPTIONS'}))})
    if not path.endswith('/'):
        for rule, _, methods in ROUTES:
            if route_matches(rule, path + '/') is not None:
                return 'redirect', {'path': path + '/'}
    raise HTTPError(404, WZ_NOT_FOUND)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    timeout = 120

    def log_message(self, fmt, *args):
        LOG.debug('%s %s', self.client_address[0], fmt % args)

    def send_response(self, code, message=None):
        # no Server header (eventlet.wsgi sends none)
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header('Date', self.date_time_string())

    @property
    def agent(self):
        return self.server.agent

    # every method goes through _handle
    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length > 0 else b''

    def _handle(self):
        parsed = urllib.parse.urlsplit(self.path)
        self.req_path = parsed.path
        self.query_string = parsed.query
        self.args = urllib.parse.parse_qs(parsed.query,
                                          keep_blank_values=True)
        raw = self._read_body()
        body, body_text = decode_body(raw)
        self.agent.wire.write({
            'kind': 'agent_in', 'method': self.command, 'path': self.path,
            'query': self.args, 'headers': dict(self.headers.items()),
            'body': body if raw else None, 'body_text': body_text})
        try:
            endpoint, values = match(parsed.path, self.command)
            if endpoint == 'redirect':
                host = self.headers.get('Host') or '%s:%s' % (
                    self.server.server_address[:2])
                loc = '%s://%s%s' % (self.agent.scheme, host, values['path'])
                if parsed.query:
                    loc += '?' + parsed.query
                text = ('<!doctype html>\n<html lang=en>\n<title>Redirecting'
                        '...</title>\n<h1>Redirecting...</h1>\n<p>You should '
                        'be redirected automatically to the target URL: <a '
                        'href="%s">%s</a>. If not, click the link.\n'
                        % (loc, loc))
                return self._reply(308, text.encode(),
                                   'text/html; charset=utf-8',
                                   {'Location': loc})
            if endpoint == 'options':
                return self._reply(200, b'', 'text/html; charset=utf-8',
                                   {'Allow': ', '.join(sorted(
                                       values['allow']))})
            getattr(self, 'api_' + endpoint)(raw, **values)
        except HTTPError as e:
            self._json(e.status, fault(e.status, e.text), e.headers)
        except RESTError as e:
            self._json(e.status_code, fault(e.status_code, str(e)))
        except _Hang:
            return
        except Exception as e:       # what IPA's handle_exception does
            LOG.exception('Internal server error')
            self._json(500, fault(500, str(e)))

    def _json(self, status, obj, headers=None):
        self._reply(status, json.dumps(obj).encode(), 'application/json',
                    headers)

    def _reply(self, status, data, ctype, headers=None):
        self.send_response(status, REASONS.get(status))
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.agent.closing:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)
        self.wfile.flush()
        body, _ = decode_body(data)
        self.agent.wire.write({
            'kind': 'agent_out', 'method': self.command, 'path': self.path,
            'status': status, 'headers': dict(
                {'Content-Type': ctype, 'Content-Length': str(len(data))},
                **(headers or {})),
            'body': body})

    # -- endpoints
    def _url_root(self):
        host = self.headers.get('Host') or '%s:%s' % (
            self.server.server_address[:2])
        return '%s://%s' % (self.agent.scheme, host)

    @staticmethod
    def _link(url, rel, resource='', bookmark=False):
        type_ = None
        if rel == 'describedby':
            url, type_ = DOCS_URL, 'text/html'
        elif rel == 'bookmark':
            bookmark = True
        tmpl = '%s/%s' if bookmark else '%s/v1/%s'
        out = {'href': tmpl % (url, resource), 'rel': rel}
        if type_:
            out['type'] = type_
        return out

    def _version(self, url):
        return {'id': 'v1', 'links': [
            self._link(url, 'self', 'v1', bookmark=True),
            self._link(url, 'describedby', bookmark=True)]}

    def api_root(self, raw):
        url = self._url_root()
        self._json(200, {
            'name': 'OpenStack Ironic Python Agent API',
            'description': ('Ironic Python Agent is a provisioning agent for '
                            'OpenStack Ironic'),
            'versions': [self._version(url)],
            'default_version': self._version(url)})

    def api_v1(self, raw):
        url = self._url_root()
        self._json(200, dict({
            'commands': [self._link(url, 'self', 'commands'),
                         self._link(url, 'bookmark', 'commands')],
            'status': [self._link(url, 'self', 'status'),
                       self._link(url, 'bookmark', 'status')],
            'media_types': [{'base': 'application/json',
                             'type': MEDIA_TYPE}]}, **self._version(url)))

    def api_status(self, raw):
        self._json(200, {'started_at': self.agent.started_at,
                         'version': self.agent.args.agent_version})

    def _get_token_check(self):
        token = self.args.get('agent_token', [None])[0]
        if token:
            self.agent.security_get_token_support = True
        if (self.agent.security_get_token_support
                and not self.agent.validate_agent_token(token)):
            raise HTTPError(401, '401 Unauthorized: Token invalid.')

    def api_list_commands(self, raw):
        self._get_token_check()
        with self.agent.command_lock:
            results = [r.serialize()
                       for r in self.agent.command_results.values()]
        self._json(200, {'commands': results})

    def api_get_command(self, raw, cmd):
        self._get_token_check()
        with self.agent.command_lock:
            result = self.agent.command_results.get(cmd)
        if result is None:
            raise RESTError('RequestedObjectNotFoundError', 404, 'Not found',
                            'Command Result with id %s not found.' % cmd)
        self._json(200, result.serialize())

    def api_run_command(self, raw):
        try:
            body = json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError) as e:
            raise HTTPError(400, '400 Bad Request: Failed to decode JSON '
                            'object: %s' % e)
        if (not isinstance(body, dict) or 'name' not in body
                or 'params' not in body
                or not isinstance(body['params'], dict)):
            raise HTTPError(400, '400 Bad Request: Missing or invalid name '
                            'or params')
        token = self.args.get('agent_token', [None])[0]
        if not self.agent.validate_agent_token(token):
            raise HTTPError(401, '401 Unauthorized: Token invalid.')
        result, after = self.agent.execute_command(body['name'],
                                                   body['params'])
        if after == 'hang':
            LOG.warning('finalize_rescue: hanging (no reply will be sent)')
            self.agent.exit_event.wait()
            raise _Hang()
        if after == 'error500':
            self.agent.wire.event('finalize_error500')
            raise RuntimeError(
                "[Errno 5] Input/output error: "
                "'/etc/ipa-rescue-config/ipa-rescue-password'")
        if after == 'finalize':
            self.agent.closing = True
        self._json(200, result.serialize())
        if after == 'finalize':
            self.agent.on_finalized()


class _Hang(Exception):
    pass


class AgentServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, agent):
        if ':' in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler, bind_and_activate=False)
        self.agent = agent
        self.ssl_context = None

    def finish_request(self, request, client_address):
        ctx = self.ssl_context
        if ctx is not None:
            request.settimeout(15)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                LOG.info('TLS handshake from %s failed: %s',
                         client_address[0], e)
                self.agent.wire.event('tls_handshake_failed',
                                      client=client_address[0],
                                      error=str(e))
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass


# ------------------------------------------------------------------ agent

class Heartbeater(threading.Thread):
    """IronicPythonAgentHeartbeater."""

    def __init__(self, agent):
        super().__init__(name='heartbeater', daemon=True)
        self.agent = agent
        self.stop_event = threading.Event()
        self.interval = 0
        self.previous = 0
        self.count = 0

    def run(self):
        while True:
            wait = min(MIN_HEARTBEAT_INTERVAL,
                       max(0, self.interval - (time.time() - self.previous)))
            if self.stop_event.wait(wait):
                return
            if time.time() - self.previous >= self.interval:
                self.do_heartbeat()

    def do_heartbeat(self):
        a = self.agent
        args = a.args
        self.count += 1
        n = self.count
        if (a.tls and args.change_cert_after is not None
                and n == args.change_cert_after + 1):
            a.rotate_cert()
        url = a.callback_url
        if args.change_callback_after is not None \
                and n > args.change_callback_after:
            url = a.alt_callback_url
        if args.wrong_token:
            token = a.wrong_token
        else:
            token = a.client.agent_token
        try:
            a.client.heartbeat(a.node_uuid, url, token,
                               send_token=not args.no_token,
                               send_version=not args.no_version,
                               agent_version=args.agent_version,
                               cert_pem=a.cert_pem, n=n)
        except Exception as e:
            LOG.warning('heartbeat %d failed: %s', n, e)
            if args.heartbeat_error_interval is not None:
                self.interval = args.heartbeat_error_interval
            else:
                self.interval = MIN_HEARTBEAT_INTERVAL * random.uniform(
                    MIN_ERROR_JITTER, MAX_ERROR_JITTER)
        else:
            LOG.info('heartbeat %d accepted', n)
            if args.heartbeat_interval is not None:
                self.interval = args.heartbeat_interval
            else:
                self.interval = a.heartbeat_timeout * random.uniform(
                    MIN_JITTER, MAX_JITTER)
        self.previous = time.time()

    def stop(self):
        self.stop_event.set()
        if self.is_alive():
            self.join()


class FakeAgent:
    def __init__(self, args, wire, state_dir):
        self.args = args
        self.wire = wire
        self.state_dir = state_dir
        self.client = IronicClient(args, wire)
        self.started_at = None
        self.node = None
        self.node_uuid = None
        self.heartbeat_timeout = None
        self.agent_token = args.token
        self.agent_token_required = False
        self.security_get_token_support = False
        self.command_lock = threading.Lock()
        self.command_results = {}          # insertion ordered
        self.finalized = threading.Event()
        self.exit_event = threading.Event()
        self.closing = False
        self.servers = []
        self.serving = False
        self.alt_server = None
        self.tls = False
        self.scheme = 'http'
        self.cert_pem = None
        self.cert_path = None
        self.cert_serial = 0
        self.callback_url = None
        self.alt_callback_url = None
        self.heartbeater = None
        self.printed = False
        self.wrong_token = None

    # -- output
    def announce(self, **extra):
        if self.printed:
            return
        self.printed = True
        line = dict({'callback_url': self.callback_url, 'pid': os.getpid(),
                     'state_dir': self.state_dir, 'node_uuid': self.node_uuid,
                     'tls': self.tls, 'cert_path': self.cert_path}, **extra)
        sys.stdout.write(json.dumps(line) + '\n')
        sys.stdout.flush()

    # -- token
    def validate_agent_token(self, token):
        if not token and self.agent_token and not self.agent_token_required:
            return True
        return self.agent_token == token

    def process_lookup_data(self, content):
        self.node = content['node']
        self.node_uuid = self.node['uuid']
        config = content['config']
        self.heartbeat_timeout = config['heartbeat_timeout']  # KeyError: fatal
        if config.get('agent_token_required'):
            self.agent_token_required = True
        token = config.get('agent_token')
        source = 'command line' if self.agent_token else None
        if token:
            if len(token) >= 32:
                self.agent_token = token
                source = 'lookup'
            elif token == '******':
                LOG.warning('The agent token has already been retrieved.')
                if not self.agent_token and self.agent_token_required:
                    LOG.error('Ironic is signaling that agent tokens are '
                              'required, however we do not have a token on '
                              'file. This is likely **FATAL**.')
            else:
                LOG.info('An invalid token was received.')
        self.client.agent_token = self.agent_token
        self.wire.event('token', source=source, token=self.agent_token,
                        required=self.agent_token_required)
        wrong = self.agent_token or ''
        while wrong == (self.agent_token or ''):
            wrong = secrets.token_urlsafe(32)
        self.wrong_token = wrong

    # -- commands
    def execute_command(self, name, params):
        """(result, after) where after is None|'finalize'|'hang'|'error500';
        raises RESTError like IPA's ExecuteCommandMixin."""
        with self.command_lock:
            parts = name.split('.', 1) if isinstance(name, str) else []
            if len(parts) != 2:
                raise RESTError('InvalidCommandError', 400, 'Invalid command',
                                'Command name must be of the form '
                                '<extension>.<name>')
            if self.command_results:
                last = list(self.command_results.values())[-1]
                if last.command_status == 'RUNNING':
                    raise RESTError('AgentIsBusy', 409, 'Agent is busy',
                                    'executing command %s' % last.command_name)
            ext, cmd = parts
            if ext not in KNOWN_EXTENSIONS:
                raise RESTError('RequestedObjectNotFoundError', 404,
                                'Not found', 'Extension with id %s not found.'
                                % ext)
            if (ext, cmd) != ('rescue', 'finalize_rescue'):
                raise RESTError('InvalidCommandError', 400, 'Invalid command',
                                'Unknown command: %s' % cmd)
            mode = self.args.finalize_result
            if mode == 'hang':
                result = CommandResult('finalize_rescue')
                self.command_results[result.id] = result
                self.wire.event('finalize_hang', command_id=result.id)
                return result, 'hang'
            if mode == 'error500':
                return None, 'error500'
            # IPA's execute_command turns the TypeError of an unknown
            # keyword into InvalidCommandParamsError (HTTP 400), and the
            # command changes nothing.
            known = {'rescue_password', 'hashed'}
            if self.args.accept_network_moves:
                known.add('lifeboat_network_moves')
            for key in params:
                if key not in known:
                    self.wire.event('finalize_rejected', param=key)
                    raise RESTError(
                        'InvalidCommandParamsError', 400,
                        'Invalid command parameters',
                        "finalize_rescue() got an unexpected keyword "
                        "argument '%s'" % key)
            try:
                result = self.finalize_rescue(**params)
                after = None if mode == 'failed' else 'finalize'
            except Exception as e:
                LOG.warning('finalize_rescue failed: %s', e)
                err = e if isinstance(e, RESTError) else RESTError(
                    'CommandExecutionError', 500, 'Command execution failed',
                    str(e))
                # IPA's exception path records the full command name
                result = CommandResult(name, 'FAILED', err.serialize())
                after = None
            self.command_results[result.id] = result
            return result, after

    def finalize_rescue(self, rescue_password='', hashed=False,
                        lifeboat_network_moves=False):
        self.wire.event('network_moves', moves=lifeboat_network_moves)
        if self.args.finalize_result == 'failed':
            raise RESTError(
                'CommandExecutionError', 500, 'Command execution failed',
                "Rescue Operation failed when writing the hashed rescue "
                "password to the password file. Error [Errno 28] No space "
                "left on device: '/etc/ipa-rescue-config/"
                "ipa-rescue-password'")
        password = str(rescue_password)
        if hashed:
            content = password
        else:
            content = sha256_crypt(password)
        with open(os.path.join(self.state_dir, PASSWORD_FILE), 'w') as f:
            f.write(content)
        open(os.path.join(self.state_dir, RESCUED_MARKER), 'w').close()
        return CommandResult('finalize_rescue', 'SUCCEEDED')

    def on_finalized(self):
        self.wire.event('finalized')
        self.finalized.set()

    # -- TLS
    def rotate_cert(self):
        self.cert_serial += 1
        pem, cert, key = generate_tls_certificate(
            os.path.join(self.state_dir, 'tls'), self.args.advertise_host,
            self.cert_serial)
        ctx = server_context(cert, key)
        self.cert_pem, self.cert_path = pem, cert
        for s in self.servers:
            s.ssl_context = ctx
        self.wire.event('tls_cert', serial=self.cert_serial, cert_path=cert,
                        pem=pem)

    # -- main
    def bind(self):
        a = self.args
        self.servers.append(AgentServer((a.listen, a.port), self))
        if a.change_callback_after is not None:
            self.alt_server = AgentServer((a.listen, 0), self)
            self.servers.append(self.alt_server)
        for s in self.servers:
            s.server_bind()

    def run(self):
        a = self.args
        self.started_at = time.time()
        self.bind()
        try:
            content = self.client.lookup_node(
                a.mac, a.node_uuid, a.lookup_timeout, a.lookup_interval,
                a.lookup_max_interval)
        except LookupNodeError as e:
            LOG.error('%s', e)
            self.wire.event('fatal', error=str(e))
            self.announce(error=str(e))
            return 1
        try:
            self.process_lookup_data(content)
        except (KeyError, TypeError) as e:
            msg = 'unusable lookup data (%s: %s)' % (type(e).__name__, e)
            LOG.error('%s', msg)
            self.wire.event('fatal', error=msg)
            self.announce(error=msg)
            return 1
        self.wire.event('lookup_ok', node_uuid=self.node_uuid,
                        heartbeat_timeout=self.heartbeat_timeout)
        if a.stop_after_lookup:
            self.announce(stopped='after lookup')
            return 0

        if a.tls == 'on' or (a.tls == 'auto' and
                             self.client.supports_auto_tls()):
            os.makedirs(os.path.join(self.state_dir, 'tls'), exist_ok=True)
            self.tls = True
            self.scheme = 'https'
            self.rotate_cert()
        host = wrap_ipv6(a.advertise_host)
        port = a.advertise_port or self.servers[0].server_address[1]
        self.callback_url = '%s://%s:%s' % (self.scheme, host, port)
        if self.alt_server is not None:
            self.alt_callback_url = '%s://%s:%s' % (
                self.scheme, host, self.alt_server.server_address[1])
        self.serving = True
        for s in self.servers:
            s.server_activate()
            threading.Thread(target=s.serve_forever, args=(0.05,),
                             name='api', daemon=True).start()
        self.wire.event('listening', callback_url=self.callback_url,
                        alt_callback_url=self.alt_callback_url)
        self.announce()
        self.heartbeater = Heartbeater(self)
        self.heartbeater.start()
        while not self.finalized.is_set():
            self.finalized.wait(0.1)
        self.shutdown()
        return 0

    def shutdown(self):
        for s in self.servers:
            try:
                if self.serving:
                    s.shutdown()
                s.server_close()
            except Exception:
                pass
        if self.heartbeater is not None:
            self.heartbeater.stop()


def sha256_crypt(password):
    """crypt(3) SHA-256 with a 16-character salt (IPA, hashed=false)."""
    alphabet = ('./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
                'abcdefghijklmnopqrstuvwxyz')
    salt = ''.join(secrets.choice(alphabet) for _ in range(16))
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            import crypt
        return crypt.crypt(password, '$5$' + salt)
    except ImportError:
        out = subprocess.run(['openssl', 'passwd', '-5', '-salt', salt,
                              '-stdin'], input=password + '\n', check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()


def pauses(text):
    vals = [float(x) for x in text.split(',')]
    if len(vals) != 3:
        raise argparse.ArgumentTypeError('three comma-separated numbers')
    return vals


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='A protocol-exact simulated ironic-python-agent (rescue '
                    'flow) for lifeboat tests.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    g = p.add_argument_group('IPA settings (kernel parameters)')
    g.add_argument('--api-url', required=True,
                   help='Ironic API root (ipa-api-url)')
    g.add_argument('--mac', action='append', default=[],
                   help='MAC address sent in lookup (repeatable, in order)')
    g.add_argument('--node-uuid', help='sent as node_uuid in lookup')
    g.add_argument('--listen', default='127.0.0.1',
                   help='agent API listen address (ipa-listen-host)')
    g.add_argument('--port', type=int, default=0,
                   help='agent API port, 0 = a free one (ipa-listen-port)')
    g.add_argument('--advertise-host',
                   help='host in callback_url (ipa-advertise-host; default '
                        '--listen, or 127.0.0.1 for a wildcard listen)')
    g.add_argument('--advertise-port', type=int,
                   help='port in callback_url (default: the bound port)')
    g.add_argument('--agent-version', default='11.2.0',
                   help='agent_version sent in heartbeats')
    g.add_argument('--token', help='pre-generated agent token '
                                   '(ipa-agent-token, virtual media)')
    g.add_argument('--lookup-timeout', type=float, default=600,
                   help='ipa-lookup-timeout (s)')
    g.add_argument('--lookup-interval', type=float, default=1,
                   help='ipa-lookup-interval: minimum backoff (s)')
    g.add_argument('--lookup-max-interval', type=float, default=60,
                   help='backoff cap (s), 60 in IPA')
    g.add_argument('--lookup-conflict-pauses', type=pauses,
                   default=[5, 10, 30], metavar='A,B,C',
                   help='pauses after successive 409s to lookup (5,10,30)')
    g.add_argument('--heartbeat-interval', type=float,
                   help='seconds between accepted heartbeats (default '
                        'heartbeat_timeout x U(0.3, 0.6))')
    g.add_argument('--heartbeat-error-interval', type=float,
                   help='seconds before retrying a failed heartbeat '
                        '(default 5 x U(1, 2))')
    g.add_argument('--tls', choices=('auto', 'off', 'on'), default='auto',
                   help='auto: HTTPS with a generated cert iff the API '
                        'speaks >= 1.68 (IPA enable_auto_tls)')
    g.add_argument('--ironic-api-version',
                   help='skip discovery (ipa-ironic-api-version), e.g. 1.68')
    g.add_argument('--global-request-id',
                   help='sent as X-OpenStack-Request-ID '
                        '(ipa-global-request-id)')
    g.add_argument('--insecure', action='store_true',
                   help='do not verify the Ironic API certificate '
                        '(ipa-insecure=1)')
    g.add_argument('--cafile', help='CA bundle for an https:// API')
    g.add_argument('--http-timeout', type=float, default=60,
                   help='timeout of each request to Ironic (s)')
    g.add_argument('--state-dir',
                   help='where received things and agent.log.jsonl go '
                        '(default: a new temporary directory)')
    g.add_argument('--debug', action='store_true', help='verbose stderr')
    f = p.add_argument_group('failure knobs')
    f.add_argument('--finalize-result', default='succeeded',
                   choices=('succeeded', 'failed', 'error500', 'hang'),
                   help='failed: 200 with command_status FAILED; error500: '
                        'HTTP 500 fault; hang: never answer (the command '
                        'shows RUNNING, later POSTs get 409)')
    f.add_argument('--accept-network-moves', action='store_true',
                   help='finalize_rescue takes lifeboat_network_moves (as '
                        "lifeboat's agent does); without it an unknown "
                        'parameter gets HTTP 400 InvalidCommandParamsError, '
                        "as IPA's")
    f.add_argument('--wrong-token', action='store_true',
                   help='heartbeat with a wrong agent_token')
    f.add_argument('--no-token', action='store_true',
                   help='omit agent_token from heartbeats')
    f.add_argument('--no-version', action='store_true',
                   help='omit agent_version from heartbeats')
    f.add_argument('--change-callback-after', type=int, metavar='N',
                   help='heartbeats after the Nth advertise a different '
                        'port (also served)')
    f.add_argument('--change-cert-after', type=int, metavar='N',
                   help='new self-signed cert (served and sent) from '
                        'heartbeat N+1 on')
    f.add_argument('--stop-after-lookup', action='store_true',
                   help='exit 0 right after a successful lookup')
    args = p.parse_args(argv)
    if not args.advertise_host:
        args.advertise_host = (args.listen if args.listen not in
                               ('0.0.0.0', '::', '') else '127.0.0.1')
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format='%(asctime)s fake_agent[%(process)d] %(levelname)s '
               '%(message)s', stream=sys.stderr)
    logging.getLogger('urllib3').setLevel(logging.WARNING)
    state_dir = args.state_dir or tempfile.mkdtemp(prefix='fake-agent-')
    os.makedirs(state_dir, exist_ok=True)
    state_dir = os.path.abspath(state_dir)
    wire = WireLog(os.path.join(state_dir, 'agent.log.jsonl'))
    agent = FakeAgent(args, wire, state_dir)

    def on_signal(signum, frame):
        raise Terminate(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        code = agent.run()
    except Terminate as e:
        LOG.info('%s: exiting', e)
        agent.announce(error='terminated by %s' % e)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        agent.shutdown()
        code = 0
    except (OSError, subprocess.CalledProcessError) as e:
        LOG.error('%s', e)
        agent.announce(error=str(e))
        code = 1
    agent.exit_event.set()
    wire.event('exit', code=code)
    LOG.info('exit %d', code)
    return code


if __name__ == '__main__':
    sys.exit(main())
