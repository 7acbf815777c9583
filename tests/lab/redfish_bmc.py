#!/usr/bin/python3
"""A Redfish BMC emulator for the lifeboat lab (what sushy-tools serves).

Layout: ``--count`` BMCs on consecutive TCP ports from ``--port``; each BMC
is its own Redfish service (own sessions, own session limit) with
``--systems-per-bmc`` systems (default 1, like a real server's BMC):

  /redfish/v1/                                   service root (no auth)
  /redfish/v1/SessionService[/Sessions[/<id>]]   sessions (POST: no auth)
  /redfish/v1/Systems[/<k>]                      k = 1..systems-per-bmc
  /redfish/v1/Systems/<k>/Actions/ComputerSystem.Reset
  /redfish/v1/Managers[/<k>]                     manager k manages system k
  /redfish/v1/Managers/<k>/VirtualMedia[/Cd]
  /redfish/v1/Managers/<k>/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia
  /redfish/v1/Managers/<k>/VirtualMedia/Cd/Actions/VirtualMedia.EjectMedia

Machine index (control endpoint) = bmc_index * systems_per_bmc + k - 1.

Authentication: X-Auth-Token from a session, or HTTP Basic.  At most
``--session-limit`` sessions (default 4) exist at once; more get 503, as on
real BMCs.  Sessions expire after ``--session-timeout`` idle seconds.

InsertMedia downloads the image (http:// only, to a loopback address, one
assigned to this network namespace, or one in an --image-network) into the
state dir and puts it in the machine's CD drive (QEMU: over QMP).

Quirks (--quirk, repeatable):
  power-on-409=SECONDS  answer 409 to Reset On/ForceOn for SECONDS after a
                        power off
  sticky-inserted       keep reporting Inserted=true after an eject, until
                        the next insert
  no-insert-action      VirtualMedia has no Insert/Eject actions: clients
                        must PATCH the slot (Image, Inserted)

``--record FILE`` appends one JSON line per request to FILE (control.py's
Recorder), with arrival and answer times: "session login", "system get",
"power On" (the ResetType), "bootdev set", "vmedia insert", "vmedia eject",
...; "client" tells the connections apart (lifeboat opens one per driver
call).

Examples:
  redfish_bmc.py --port 8000 --count 4 --control-port 8100
  redfish_bmc.py --port 8443 --tls --machine qemu
  curl -u admin:password http://127.0.0.1:8000/redfish/v1/Systems/1
"""

import argparse
import base64
import hashlib
import http.server
import ipaddress
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import control                       # noqa: E402
import machine as lab_machine        # noqa: E402

LOG = logging.getLogger('redfish')

REDFISH_VERSION = '1.11.0'
BASE_REGISTRY = 'Base.1.8'

RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart',
               'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton']
# Redfish BootSourceOverrideTarget <-> machine boot device
TARGET_TO_DEVICE = {'None': 'none', 'Pxe': 'pxe', 'Cd': 'cdrom',
                    'Hdd': 'disk', 'BiosSetup': 'bios', 'UefiHttp': 'http'}
DEVICE_TO_TARGET = {v: k for k, v in TARGET_TO_DEVICE.items()}
ENABLED_TO_MACHINE = {'Disabled': 'disabled', 'Once': 'once',
                      'Continuous': 'continuous'}
ENABLED_FROM_MACHINE = {v: k for k, v in ENABLED_TO_MACHINE.items()}
MODE_TO_MACHINE = {'UEFI': 'uefi', 'Legacy': 'bios'}
MODE_FROM_MACHINE = {v: k for k, v in MODE_TO_MACHINE.items()}

VMEDIA_SLOT = 'Cd'
VMEDIA_WRITABLE = {'Image', 'Inserted', 'WriteProtected',
                   'TransferProtocolType', 'TransferMethod', 'UserName',
                   'Password'}
VMEDIA_READONLY = {'@odata.id', '@odata.type', '@odata.etag', 'Id', 'Name',
                   'MediaTypes', 'ImageName', 'ConnectedVia', 'Actions'}
SYSTEM_READONLY = {'@odata.id', '@odata.type', '@odata.etag', 'Id', 'Name',
                   'UUID', 'PowerState', 'Status', 'Manufacturer', 'Model',
                   'SerialNumber', 'SystemType', 'Links', 'Actions',
                   'MemorySummary', 'ProcessorSummary', 'BiosVersion',
                   'HostName', 'Description'}
BOOT_WRITABLE = {'BootSourceOverrideTarget', 'BootSourceOverrideEnabled',
                 'BootSourceOverrideMode'}

MAX_BODY = 1 << 20
DOWNLOAD_TIMEOUT = 60


# ------------------------------------------------------------------ errors

class RedfishError(Exception):
    """An error answered with a Redfish error body."""

    def __init__(self, status, message, message_id='GeneralError',
                 related=None, headers=None, resolution=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.message_id = message_id
        self.related = related
        self.headers = headers or {}
        self.resolution = resolution

    def body(self):
        info = {'@odata.type': '#Message.v1_1_1.Message',
                'MessageId': '%s.%s' % (BASE_REGISTRY, self.message_id),
                'Message': self.message,
                'Severity': 'Critical' if self.status >= 500 else 'Warning',
                'Resolution': self.resolution or 'None.'}
        if self.related:
            info['RelatedProperties'] = self.related
        return {'error': {'code': 'Base.1.0.GeneralError',
                          'message': self.message,
                          '@Message.ExtendedInfo': [info]}}


def odata_id(path):
    return {'@odata.id': path}


def etag_of(doc):
    """A weak ETag over the resource's content."""
    digest = hashlib.sha1(json.dumps(doc, sort_keys=True).encode())
    return 'W/"%s"' % digest.hexdigest()[:16]


def etag_matches(header, current):
    """If-Match comparison (weak: W/ prefixes ignored, '*' matches)."""
    def strip(t):
        t = t.strip()
        return t[2:] if t.startswith('W/') else t
    tags = [t for t in header.split(',') if t.strip()]
    return any(t.strip() == '*' or strip(t) == strip(current) for t in tags)


def check_image_url(url, networks=()):
    """Only http:// URLs whose host is a loopback address, an address of
    this network namespace (so the download never leaves the machine) or
    one in ``networks`` (--image-network: the test's own namespaces)."""
    def bad(why):
        return RedfishError(
            400, 'The value %r for the parameter Image is not acceptable: '
            '%s.' % (url, why), 'ActionParameterValueFormatError',
            related=['#/Image'])
    if not isinstance(url, str):
        raise bad('it must be a string')
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise bad('it is not a URL')
    if parts.scheme != 'http':
        raise bad('only http:// is supported by this emulator')
    if not host:
        raise bad('no host')
    if host == 'localhost':
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise bad('the host must be an IP address')
    if ip.is_loopback or any(ip in net for net in networks):
        return
    # An address we can bind to is one of this namespace's own addresses.
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((str(ip), 0))
        except OSError:
            raise bad('the host is neither loopback nor a local address')


# --------------------------------------------------------------- the BMC

class Session:
    def __init__(self, sid, user):
        self.id = sid
        self.user = user
        self.token = secrets.token_hex(16)
        self.last_used = time.monotonic()


class System:
    """One ComputerSystem + its Manager + its virtual CD slot."""

    def __init__(self, sid, machine):
        self.id = sid
        self.machine = machine
        self.sticky_inserted = False   # quirk: Inserted shown after eject


class RedfishBmc:
    """One Redfish service (one TCP port)."""

    def __init__(self, index, port, machines, opts, quirks, media_dir):
        self.index = index
        self.port = port
        self.opts = opts
        self.quirks = quirks
        self.media_dir = media_dir
        self.log = logging.getLogger('redfish.%d' % port)
        self.uuid = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                   'lifeboat-lab-redfish:%d' % port))
        self.systems = {str(k + 1): System(str(k + 1), m)
                        for k, m in enumerate(machines)}
        self.sessions = {}          # token -> Session
        self.session_ids = itertools.count(1)
        self.lock = threading.Lock()
        self.routes = self._routes()
        self.recorder = control.Recorder(None)

    # ------------------------------------------------------------ routes
    def _routes(self):
        """(regex, {method: (handler, needs_auth)}); the regex groups are
        passed to the handler."""
        sys_ = r'/redfish/v1/Systems/([^/]+)'
        vm = r'/redfish/v1/Managers/([^/]+)/VirtualMedia/([^/]+)'
        r = [
            (r'/redfish', {'GET': (self.get_redfish, False)}),
            (r'/redfish/v1', {'GET': (self.get_root, False)}),
            (r'/redfish/v1/odata', {'GET': (self.get_odata, False)}),
            (r'/redfish/v1/SessionService',
             {'GET': (self.get_session_service, True)}),
            (r'/redfish/v1/SessionService/Sessions',
             {'GET': (self.get_sessions, True),
              'POST': (self.post_session, False)}),
            (r'/redfish/v1/SessionService/Sessions/([^/]+)',
             {'GET': (self.get_session, True),
              'DELETE': (self.delete_session, True)}),
            (r'/redfish/v1/Systems', {'GET': (self.get_systems, True)}),
            (sys_, {'GET': (self.get_system, True),
                    'PATCH': (self.patch_system, True)}),
            (sys_ + r'/Actions/ComputerSystem\.Reset',
             {'POST': (self.post_reset, True)}),
            (r'/redfish/v1/Managers', {'GET': (self.get_managers, True)}),
            (r'/redfish/v1/Managers/([^/]+)',
             {'GET': (self.get_manager, True)}),
            (r'/redfish/v1/Managers/([^/]+)/VirtualMedia',
             {'GET': (self.get_vmedia_collection, True)}),
            (vm, {'GET': (self.get_vmedia, True),
                  'PATCH': (self.patch_vmedia, True)}),
            (vm + r'/Actions/VirtualMedia\.InsertMedia',
             {'POST': (self.post_insert_media, True)}),
            (vm + r'/Actions/VirtualMedia\.EjectMedia',
             {'POST': (self.post_eject_media, True)}),
        ]
        return [(re.compile(p), m) for p, m in r]

    def dispatch(self, req):
        """Returns (status, headers, body-or-None)."""
        path = req.path.rstrip('/') or '/'
        for regex, methods in self.routes:
            m = regex.fullmatch(path)
            if not m:
                continue
            method = 'GET' if req.method == 'HEAD' else req.method
            needs_auth = methods.get(method, (None, True))[1]
            if needs_auth:
                req.user = self.authenticate(req.headers)
            if method not in methods:
                raise RedfishError(
                    405, 'The method %s is not allowed on %s.' % (
                        req.method, req.path), 'OperationNotAllowed',
                    headers={'Allow': self.allow(methods)})
            status, headers, body = methods[method][0](req, *m.groups())
            headers.setdefault('Allow', self.allow(methods))
            return status, headers, body
        raise RedfishError(404, 'The resource at the URI %s was not found.'
                           % req.path, 'ResourceMissingAtURI')

    @staticmethod
    def allow(methods):
        ms = list(methods)
        if 'GET' in ms:
            ms.insert(ms.index('GET') + 1, 'HEAD')
        return ', '.join(ms)

    # ----------------------------------------------------- authentication
    def _expire_sessions(self):
        now = time.monotonic()
        for token, s in list(self.sessions.items()):
            if now - s.last_used > self.opts.session_timeout:
                self.log.info('session %s of %r expired', s.id, s.user)
                del self.sessions[token]

    def authenticate(self, headers):
        """The user name, or RedfishError 401."""
        token = headers.get('X-Auth-Token')
        with self.lock:
            self._expire_sessions()
            if token is not None:
                s = self.sessions.get(token)
                if s is None:
                    raise RedfishError(
                        401, 'There is no valid session established with '
                        'the implementation.', 'NoValidSession',
                        headers={'WWW-Authenticate': 'Basic realm="BMC"'})
                s.last_used = time.monotonic()
                return s.user
        auth = headers.get('Authorization', '')
        if auth[:6].lower() == 'basic ':
            try:
                user, _, password = base64.b64decode(
                    auth[6:].strip()).decode('utf-8').partition(':')
            except (ValueError, UnicodeDecodeError):
                user = password = None
            if self.check_password(user, password):
                return user
            self.log.warning('basic auth refused for %r', user)
        raise RedfishError(
            401, 'The request requires authentication: invalid or missing '
            'credentials.', 'NoValidSession',
            headers={'WWW-Authenticate': 'Basic realm="BMC"'})

    def check_password(self, user, password):
        return (user is not None and password is not None
                and secrets.compare_digest(user, self.opts.user)
                and secrets.compare_digest(password, self.opts.password))

    # ------------------------------------------------------------- root
    def get_redfish(self, req):
        return 200, {}, {'v1': '/redfish/v1/'}

    def get_root(self, req):
        return 200, {}, {
            '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
            '@odata.id': '/redfish/v1/',
            'Id': 'RootService',
            'Name': 'Root Service',
            'RedfishVersion': REDFISH_VERSION,
            'UUID': self.uuid,
            'Vendor': 'lifeboat-lab',
            'Product': 'lifeboat lab Redfish BMC',
            'ProtocolFeaturesSupported': {
                'ExpandQuery': {'ExpandAll': False}, 'FilterQuery': False,
                'SelectQuery': False, 'OnlyMemberQuery': False,
                'ExcerptQuery': False},
            'Systems': odata_id('/redfish/v1/Systems'),
            'Managers': odata_id('/redfish/v1/Managers'),
            'SessionService': odata_id('/redfish/v1/SessionService'),
            'Links': {'Sessions':
                      odata_id('/redfish/v1/SessionService/Sessions')},
        }

    def get_odata(self, req):
        names = ['Systems', 'Managers', 'SessionService']
        return 200, {}, {
            '@odata.context': '/redfish/v1/$metadata',
            'value': [{'name': n, 'kind': 'Singleton',
                       'url': '/redfish/v1/' + n} for n in names]}

    # ---------------------------------------------------------- sessions
    def get_session_service(self, req):
        return 200, {}, {
            '@odata.type': '#SessionService.v1_1_8.SessionService',
            '@odata.id': '/redfish/v1/SessionService',
            'Id': 'SessionService',
            'Name': 'Session Service',
            'ServiceEnabled': True,
            'SessionTimeout': int(self.opts.session_timeout),
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'Sessions': odata_id('/redfish/v1/SessionService/Sessions'),
        }

    @staticmethod
    def _session_doc(s):
        return {'@odata.type': '#Session.v1_3_0.Session',
                '@odata.id': '/redfish/v1/SessionService/Sessions/' + s.id,
                'Id': s.id, 'Name': 'User Session', 'UserName': s.user}

    def get_sessions(self, req):
        with self.lock:
            members = [odata_id('/redfish/v1/SessionService/Sessions/'
                                + s.id) for s in self.sessions.values()]
        return 200, {}, self._collection(
            '/redfish/v1/SessionService/Sessions',
            '#SessionCollection.SessionCollection', 'Session Collection',
            members)

    def post_session(self, req):
        body = req.json()
        missing = [k for k in ('UserName', 'Password')
                   if not isinstance(body.get(k), str)]
        if missing:
            raise RedfishError(
                400, 'The create operation failed because the required '
                'property %s was missing from the request.' % missing[0],
                'CreateFailedMissingReqProperties',
                related=['#/' + k for k in missing])
        if not self.check_password(body['UserName'], body['Password']):
            self.log.warning('session login refused for %r',
                             body['UserName'])
            raise RedfishError(
                401, 'Invalid user name or password.', 'NoValidSession')
        with self.lock:
            self._expire_sessions()
            if len(self.sessions) >= self.opts.session_limit:
                raise RedfishError(
                    503, 'The session establishment failed due to the '
                    'number of simultaneous sessions exceeding the limit '
                    'of the implementation (%d).' % self.opts.session_limit,
                    'SessionLimitExceeded',
                    resolution='Reduce the number of other sessions before '
                    'trying to establish the session or increase the limit '
                    'of simultaneous sessions (if supported).')
            s = Session(str(next(self.session_ids)), body['UserName'])
            self.sessions[s.token] = s
        self.log.info('session %s created for %r', s.id, s.user)
        doc = self._session_doc(s)
        return 201, {'X-Auth-Token': s.token,
                     'Location': doc['@odata.id']}, doc

    def _find_session(self, sid):
        with self.lock:
            for token, s in self.sessions.items():
                if s.id == sid:
                    return token, s
        raise RedfishError(404, 'Session %s does not exist.' % sid,
                           'ResourceNotFound')

    def get_session(self, req, sid):
        return 200, {}, self._session_doc(self._find_session(sid)[1])

    def delete_session(self, req, sid):
        token, s = self._find_session(sid)
        with self.lock:
            self.sessions.pop(token, None)
        self.log.info('session %s of %r deleted', s.id, s.user)
        return 204, {}, None

    # ----------------------------------------------------------- systems
    @staticmethod
    def _collection(path, odata_type, name, members):
        return {'@odata.type': odata_type, '@odata.id': path, 'Name': name,
                'Members@odata.count': len(members), 'Members': members}

    def _system(self, sid):
        s = self.systems.get(sid)
        if s is None:
            raise RedfishError(404, 'The resource at the URI '
                               '/redfish/v1/Systems/%s was not found.' % sid,
                               'ResourceMissingAtURI')
        return s

    def get_systems(self, req):
        return 200, {}, self._collection(
            '/redfish/v1/Systems',
            '#ComputerSystemCollection.ComputerSystemCollection',
            'Computer System Collection',
            [odata_id('/redfish/v1/Systems/' + k) for k in self.systems])

    def system_doc(self, s):
        m = s.machine
        boot = m.boot_info()
        path = '/redfish/v1/Systems/' + s.id
        doc = {
            '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
            '@odata.id': path,
            'Id': s.id,
            'Name': m.name,
            'Description': 'lifeboat lab machine (%s)' % m.kind,
            'UUID': str(uuid.uuid5(uuid.NAMESPACE_URL,
                                   'lifeboat-lab-system:%d:%s'
                                   % (self.port, s.id))),
            'Manufacturer': 'lifeboat-lab',
            'Model': 'QEMU' if m.kind == 'qemu' else 'In-memory machine',
            'SerialNumber': 'LAB-%d-%s' % (self.port, s.id),
            'SystemType': 'Physical',
            'HostName': m.name,
            'BiosVersion': '1.0',
            'PowerState': 'On' if m.power_state() == 'on' else 'Off',
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'ProcessorSummary': {'Count': 1, 'Status': {
                'State': 'Enabled', 'Health': 'OK'}},
            'MemorySummary': {'TotalSystemMemoryGiB': 1, 'Status': {
                'State': 'Enabled', 'Health': 'OK'}},
            'Boot': {
                'BootSourceOverrideEnabled':
                    ENABLED_FROM_MACHINE[boot['enabled']],
                'BootSourceOverrideTarget': DEVICE_TO_TARGET[boot['device']],
                'BootSourceOverrideTarget@Redfish.AllowableValues':
                    list(TARGET_TO_DEVICE),
                'BootSourceOverrideMode': MODE_FROM_MACHINE[boot['mode']],
            },
            'Links': {'ManagedBy': [odata_id('/redfish/v1/Managers/'
                                             + s.id)],
                      'Chassis': []},
            'Actions': {'#ComputerSystem.Reset': {
                'target': path + '/Actions/ComputerSystem.Reset',
                'ResetType@Redfish.AllowableValues': list(RESET_TYPES)}},
        }
        return doc

    def _with_etag(self, doc):
        tag = etag_of(doc)
        doc['@odata.etag'] = tag
        return {'ETag': tag}, doc

    def _check_if_match(self, req, doc):
        header = req.headers.get('If-Match')
        if header is not None and not etag_matches(header, etag_of(doc)):
            raise RedfishError(
                412, 'The ETag supplied did not match the ETag required to '
                'change this resource.', 'PreconditionFailed')

    def get_system(self, req, sid):
        headers, doc = self._with_etag(self.system_doc(self._system(sid)))
        return 200, headers, doc

    def patch_system(self, req, sid):
        s = self._system(sid)
        body = req.json()
        with s.machine.lock:
            self._check_if_match(req, self.system_doc(s))
            for key in body:
                if key in SYSTEM_READONLY:
                    raise RedfishError(
                        400, 'The property %s is a read only property and '
                        'cannot be assigned a value.' % key,
                        'PropertyNotWritable', related=['#/' + key])
                if key != 'Boot':
                    raise RedfishError(
                        400, 'The property %s is not in the list of valid '
                        'properties for the resource.' % key,
                        'PropertyUnknown', related=['#/' + key])
            boot = body.get('Boot', {})
            if not isinstance(boot, dict):
                raise RedfishError(
                    400, 'The value for the property Boot is of a different '
                    'type than the property can accept.',
                    'PropertyValueTypeError', related=['#/Boot'])
            change = {}
            for key, value in boot.items():
                if key not in BOOT_WRITABLE:
                    raise RedfishError(
                        400, 'The property %s is not in the list of valid '
                        'properties for the resource.' % key,
                        'PropertyUnknown', related=['#/Boot/' + key])
                allowed = {'BootSourceOverrideTarget': TARGET_TO_DEVICE,
                           'BootSourceOverrideEnabled': ENABLED_TO_MACHINE,
                           'BootSourceOverrideMode': MODE_TO_MACHINE}[key]
                if not isinstance(value, str) or value not in allowed:
                    raise RedfishError(
                        400, 'The value %s for the property %s is not in '
                        'the list of acceptable values (%s).' % (
                            json.dumps(value), key, ', '.join(allowed)),
                        'PropertyValueNotInList',
                        related=['#/Boot/' + key])
                change[key] = allowed[value]
            if change:
                s.machine.set_boot(
                    device=change.get('BootSourceOverrideTarget'),
                    enabled=change.get('BootSourceOverrideEnabled'),
                    mode=change.get('BootSourceOverrideMode'),
                    source='redfish')
        return 204, {}, None

    def post_reset(self, req, sid):
        s = self._system(sid)
        m = s.machine
        body = req.json()
        rt = body.get('ResetType')
        if rt is None:
            raise RedfishError(
                400, 'The action ComputerSystem.Reset requires the parameter '
                'ResetType to be present in the request body.',
                'ActionParameterMissing', related=['#/ResetType'])
        if rt not in RESET_TYPES:
            raise RedfishError(
                400, 'The value %s for the parameter ResetType in the action '
                'ComputerSystem.Reset is not in the list of acceptable '
                'values.' % json.dumps(rt), 'ActionParameterValueNotInList',
                related=['#/ResetType'])
        settle = self.quirks.get('power-on-409')
        if rt in ('On', 'ForceOn') and settle:
            since = m.seconds_since_off()
            if since is not None and since < settle:
                raise RedfishError(
                    409, 'The power on request was refused: the system was '
                    'powered off %.1f s ago and is not ready yet.' % since,
                    'ResourceInUse')
        src = 'redfish'
        try:
            if rt in ('On', 'ForceOn'):
                m.power_on(source=src)
            elif rt == 'ForceOff':
                m.power_off(source=src)
            elif rt == 'GracefulShutdown':
                m.soft_off(source=src)
            elif rt == 'GracefulRestart':
                m.soft_reboot(source=src)
            elif rt == 'ForceRestart':
                m.reset(source=src)
            elif rt == 'Nmi':
                m.nmi(source=src)
            elif rt == 'PushPowerButton':
                with m.lock:
                    if m.power_state() == 'on':
                        m.soft_off(source=src)
                    else:
                        m.power_on(source=src)
        except lab_machine.MachineStateError as e:
            raise RedfishError(409, 'The reset %s cannot be done now: %s.'
                               % (rt, e), 'ResourceInUse')
        except Exception as e:
            self.log.exception('reset %s failed', rt)
            raise RedfishError(500, 'The reset %s failed: %s' % (rt, e),
                               'InternalError')
        return 204, {}, None

    # ---------------------------------------------------------- managers
    def get_managers(self, req):
        return 200, {}, self._collection(
            '/redfish/v1/Managers', '#ManagerCollection.ManagerCollection',
            'Manager Collection',
            [odata_id('/redfish/v1/Managers/' + k) for k in self.systems])

    def get_manager(self, req, mid):
        self._system(mid)
        path = '/redfish/v1/Managers/' + mid
        headers, doc = self._with_etag({
            '@odata.type': '#Manager.v1_10_0.Manager',
            '@odata.id': path,
            'Id': mid,
            'Name': 'Manager',
            'ManagerType': 'BMC',
            'UUID': str(uuid.uuid5(uuid.NAMESPACE_URL,
                                   'lifeboat-lab-manager:%d:%s'
                                   % (self.port, mid))),
            'Model': 'lifeboat-lab',
            'FirmwareVersion': '1.0',
            'PowerState': 'On',
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'VirtualMedia': odata_id(path + '/VirtualMedia'),
            'Links': {'ManagerForServers': [odata_id('/redfish/v1/Systems/'
                                                     + mid)]},
        })
        return 200, headers, doc

    def get_vmedia_collection(self, req, mid):
        self._system(mid)
        path = '/redfish/v1/Managers/%s/VirtualMedia' % mid
        return 200, {}, self._collection(
            path, '#VirtualMediaCollection.VirtualMediaCollection',
            'Virtual Media Services',
            [odata_id(path + '/' + VMEDIA_SLOT)])

    def _slot(self, mid, slot):
        s = self._system(mid)
        if slot != VMEDIA_SLOT:
            raise RedfishError(404, 'The resource at the URI %s was not '
                               'found.' % ('/redfish/v1/Managers/%s/'
                                           'VirtualMedia/%s' % (mid, slot)),
                               'ResourceMissingAtURI')
        return s

    def vmedia_doc(self, s):
        media = s.machine.media_info()
        path = '/redfish/v1/Managers/%s/VirtualMedia/%s' % (s.id,
                                                            VMEDIA_SLOT)
        inserted = media['inserted'] or s.sticky_inserted
        image = media['image'] if media['inserted'] else None
        doc = {
            '@odata.type': '#VirtualMedia.v1_3_0.VirtualMedia',
            '@odata.id': path,
            'Id': VMEDIA_SLOT,
            'Name': 'Virtual CD',
            'MediaTypes': ['CD', 'DVD'],
            'Image': image,
            'ImageName': (image.rsplit('/', 1)[-1] or None) if image
            else None,
            'ConnectedVia': 'URI' if media['inserted'] else 'NotConnected',
            'Inserted': inserted,
            'WriteProtected': True,
        }
        if media['inserted']:
            doc['TransferProtocolType'] = 'HTTP'
            doc['TransferMethod'] = 'Stream'
        if 'no-insert-action' not in self.quirks:
            doc['Actions'] = {
                '#VirtualMedia.InsertMedia': {
                    'target': path + '/Actions/VirtualMedia.InsertMedia'},
                '#VirtualMedia.EjectMedia': {
                    'target': path + '/Actions/VirtualMedia.EjectMedia'},
            }
        return doc

    def get_vmedia(self, req, mid, slot):
        headers, doc = self._with_etag(self.vmedia_doc(self._slot(mid,
                                                                  slot)))
        return 200, headers, doc

    @staticmethod
    def _check_media_params(body, what):
        for key, value in body.items():
            if key in VMEDIA_READONLY:
                raise RedfishError(
                    400, 'The property %s is a read only property and '
                    'cannot be assigned a value.' % key,
                    'PropertyNotWritable', related=['#/' + key])
            if key not in VMEDIA_WRITABLE:
                raise RedfishError(
                    400, 'The parameter %s for %s is not in the list of '
                    'valid parameters.' % (key, what),
                    'ActionParameterUnknown', related=['#/' + key])
        for key in ('Inserted', 'WriteProtected'):
            if key in body and not isinstance(body[key], bool):
                raise RedfishError(
                    400, 'The value for %s must be a boolean.' % key,
                    'ActionParameterValueTypeError', related=['#/' + key])
        checks = {'TransferProtocolType': ('HTTP',),
                  'TransferMethod': ('Stream', 'Upload')}
        for key, allowed in checks.items():
            if key in body and body[key] not in allowed:
                raise RedfishError(
                    400, 'The value %s for the parameter %s is not in the '
                    'list of acceptable values (%s).' % (
                        json.dumps(body[key]), key, ', '.join(allowed)),
                    'ActionParameterValueNotInList', related=['#/' + key])

    def _insert(self, s, image):
        check_image_url(image, self.opts.image_network)
        m = s.machine
        if m.media_info()['inserted']:
            raise RedfishError(
                409, 'A medium is already inserted; eject it first.',
                'ResourceInUse')
        path = os.path.join(self.media_dir, 'bmc%d-sys%s-cd.img'
                            % (self.port, s.id))
        self.download(image, path)
        try:
            m.insert_media(image, path)
        except Exception as e:
            self.log.exception('insert failed')
            raise RedfishError(500, 'Inserting the medium failed: %s' % e,
                               'InternalError')
        s.sticky_inserted = False

    def download(self, url, path):
        """Fetch the image into ``path`` (atomically)."""
        tmp = path + '.part'
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as r, \
                    open(tmp, 'wb') as out:
                size = 0
                while True:
                    chunk = r.read(1 << 20)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.opts.max_image_size:
                        raise ValueError('image larger than %d bytes'
                                         % self.opts.max_image_size)
                    out.write(chunk)
            os.replace(tmp, path)
        except (OSError, ValueError, urllib.error.URLError) as e:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            self.log.warning('download of %s failed: %s', url, e)
            raise RedfishError(
                400, 'The image %s could not be downloaded: %s.' % (url, e),
                'ResourceAtUriUnauthorized' if getattr(e, 'code', 0) in
                (401, 403) else 'CouldNotEstablishConnection',
                related=['#/Image'])
        self.log.info('downloaded %s (%d bytes, %.2f s) to %s', url, size,
                      time.monotonic() - started, path)

    def _eject(self, s):
        m = s.machine
        was = m.media_info()['inserted']
        if was:
            m.eject_media()
        if 'sticky-inserted' in self.quirks and (was or s.sticky_inserted):
            s.sticky_inserted = True

    def _no_action_quirk(self, req):
        if 'no-insert-action' in self.quirks:
            raise RedfishError(404, 'The resource at the URI %s was not '
                               'found.' % req.path, 'ResourceMissingAtURI')

    def post_insert_media(self, req, mid, slot):
        self._no_action_quirk(req)
        s = self._slot(mid, slot)
        body = req.json()
        self._check_media_params(body, 'VirtualMedia.InsertMedia')
        if 'Image' not in body:
            raise RedfishError(
                400, 'The action VirtualMedia.InsertMedia requires the '
                'parameter Image to be present in the request body.',
                'ActionParameterMissing', related=['#/Image'])
        with s.machine.lock:
            self._insert(s, body['Image'])
        return 204, {}, None

    def post_eject_media(self, req, mid, slot):
        self._no_action_quirk(req)
        s = self._slot(mid, slot)
        body = req.json()
        if body:
            raise RedfishError(
                400, 'The action VirtualMedia.EjectMedia takes no '
                'parameters.', 'ActionParameterUnknown',
                related=['#/' + next(iter(body))])
        with s.machine.lock:
            self._eject(s)
        return 204, {}, None

    def patch_vmedia(self, req, mid, slot):
        s = self._slot(mid, slot)
        body = req.json()
        with s.machine.lock:
            self._check_if_match(req, self.vmedia_doc(s))
            self._check_media_params(body, 'VirtualMedia')
            image = body.get('Image', '')
            if ('Image' in body and image is None) or \
                    body.get('Inserted') is False:
                self._eject(s)
            elif image:
                self._insert(s, image)
        return 204, {}, None


# ------------------------------------------------------------- HTTP side

class Request:
    """What a handler sees of an HTTP request."""

    def __init__(self, method, path, headers, raw):
        self.method = method
        self.path = path
        self.headers = headers
        self.raw = raw
        self.user = None

    def json(self):
        if not self.raw.strip():
            return {}
        try:
            obj = json.loads(self.raw)
        except ValueError:
            raise RedfishError(400, 'The request body submitted was '
                               'malformed JSON and could not be parsed.',
                               'MalformedJSON')
        if not isinstance(obj, dict):
            raise RedfishError(400, 'The request body must be a JSON '
                               'object.', 'MalformedJSON')
        return obj


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'lifeboat-lab-redfish/1'

    def log_message(self, fmt, *args):
        pass     # one line per request is logged in _handle

    def _handle(self):
        bmc = self.server.bmc
        started = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        req = Request(self.command, path, self.headers, b'')
        try:
            length = int(self.headers.get('Content-Length') or 0)
            if length > MAX_BODY:
                raise RedfishError(413, 'The request body is too large.')
            req.raw = self.rfile.read(length) if length else b''
            status, headers, body = bmc.dispatch(req)
        except RedfishError as e:
            status, headers, body = e.status, e.headers, e.body()
        except Exception as e:
            bmc.log.exception('%s %s failed', self.command, self.path)
            err = RedfishError(500, 'Internal error: %s' % e,
                               'InternalError')
            status, headers, body = 500, {}, err.body()
        # recorded before the answer leaves, so a client that got it finds
        # the line written
        bmc.recorder.record(bmc.port, self.client_address,
                            record_kind(req), start=started,
                            method=self.command, path=path, status=status,
                            user_agent=self.headers.get('User-Agent'))
        data = b''
        if body is not None:
            data = json.dumps(body, indent=2).encode() + b'\n'
        self.send_response(status)
        if body is not None:
            self.send_header('Content-Type',
                             'application/json; charset=utf-8')
        self.send_header('OData-Version', '4.0')
        self.send_header('Cache-Control', 'no-cache')
        for k, v in headers.items():
            self.send_header(k, v)
        if self.close_connection:
            # The client asked for "Connection: close" (sushy always does).
            # Say so, or it may reuse the socket while we are closing it.
            self.send_header('Connection', 'close')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)
        bmc.log.info('%s %s %s user=%s -> %d (%.0f ms)',
                     self.client_address[0], self.command, self.path,
                     req.user or '-', status,
                     (time.monotonic() - started) * 1000)

    do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = _handle


def record_kind(req):
    """What --record calls a request: power, boot device and media
    actions by what they do, the rest by method and path."""
    path = req.path.rstrip('/')
    try:
        body = req.json() if req.raw else {}
    except RedfishError:
        body = {}
    if path.endswith('/Actions/ComputerSystem.Reset'):
        return 'power %s' % body.get('ResetType')
    if path.endswith('/Actions/VirtualMedia.InsertMedia'):
        return 'vmedia insert'
    if path.endswith('/Actions/VirtualMedia.EjectMedia'):
        return 'vmedia eject'
    if path.endswith('/SessionService/Sessions') and req.method == 'POST':
        return 'session login'
    if re.fullmatch(r'/redfish/v1/Systems/[^/]+', path):
        if req.method == 'PATCH':
            return 'bootdev set' if 'Boot' in body else 'system set'
        return 'system get'
    if '/VirtualMedia/' in path and req.method == 'PATCH':
        return 'vmedia set'
    return '%s %s' % (req.method, path)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that hangs up mid-request is not worth a traceback
        LOG.info('connection from %s ended: %s', client_address[0],
                 sys.exc_info()[1])


def make_self_signed_cert(state_dir, address):
    """A throw-away certificate (openssl CLI) with the address as SAN."""
    cert = os.path.join(state_dir, 'bmc-cert.pem')
    key = os.path.join(state_dir, 'bmc-key.pem')
    san = 'DNS:localhost,IP:127.0.0.1'
    try:
        ipaddress.ip_address(address)
        if address not in ('127.0.0.1', '0.0.0.0', '::'):
            san += ',IP:' + address
    except ValueError:
        san += ',DNS:' + address
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-keyout', key, '-out', cert, '-days', '30', '-subj',
         '/CN=lifeboat-lab-bmc', '-addext', 'subjectAltName=' + san],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


def parse_quirks(values):
    quirks = {}
    for q in values or []:
        name, _, arg = q.partition('=')
        if name == 'power-on-409':
            try:
                quirks[name] = float(arg)
            except ValueError:
                raise SystemExit('--quirk power-on-409=SECONDS needs a '
                                 'number')
        elif name in ('sticky-inserted', 'no-insert-action') and not arg:
            quirks[name] = True
        else:
            raise SystemExit('unknown quirk %r (known: power-on-409=SECONDS,'
                             ' sticky-inserted, no-insert-action)' % q)
    return quirks


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Redfish BMC emulator for the lifeboat lab: --count '
                    'BMCs on consecutive TCP ports, each a Redfish service '
                    'with its own sessions and --systems-per-bmc systems.',
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--address', default='127.0.0.1',
                   help='address to listen on (default 127.0.0.1)')
    p.add_argument('--port', '--port-base', dest='port', type=int,
                   default=8000, help='TCP port of the first BMC '
                   '(default 8000)')
    p.add_argument('--count', type=int, default=1,
                   help='number of BMCs (default 1)')
    p.add_argument('--systems-per-bmc', type=int, default=1,
                   help='systems behind each BMC (default 1)')
    p.add_argument('--user', default='admin')
    p.add_argument('--password', default='password')
    p.add_argument('--session-limit', type=int, default=4,
                   help='concurrent sessions per BMC before 503 (default 4)')
    p.add_argument('--session-timeout', type=float, default=300,
                   help='idle seconds before a session expires (default '
                        '300)')
    p.add_argument('--tls', action='store_true',
                   help='serve HTTPS with a self-signed certificate made '
                        'at start (openssl CLI; its path is logged and '
                        'shown by the control endpoint)')
    p.add_argument('--tls-cert', help='use this certificate (PEM)')
    p.add_argument('--tls-key', help='... and this key (PEM)')
    p.add_argument('--image-network', action='append', default=[],
                   type=ipaddress.ip_network, metavar='CIDR',
                   help='also download images from hosts in CIDR, e.g. a '
                        'test\'s network namespace on the same machine '
                        '(repeatable)')
    p.add_argument('--max-image-size', type=int, default=4 << 30,
                   help='largest image InsertMedia downloads (bytes)')
    p.add_argument('--quirk', action='append', default=[],
                   metavar='QUIRK', help='power-on-409=SECONDS, '
                   'sticky-inserted, no-insert-action (repeatable)')
    p.add_argument('--control-port', type=int, default=None,
                   help='TCP port of the JSON control endpoint (0: any '
                        'free port, logged; default: none)')
    p.add_argument('--state-dir', default=None,
                   help='working directory: images, certificate, QEMU '
                        'sockets (default: a temporary one, removed at '
                        'exit)')
    p.add_argument('-v', '--verbose', action='store_true')
    control.add_record_argument(p)
    lab_machine.add_machine_arguments(p)
    args = p.parse_args(argv)
    args.quirks = parse_quirks(args.quirk)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error('--tls-cert and --tls-key go together')
    if args.tls_cert:
        args.tls = True
    return args


def main(argv=None):
    args = parse_args(argv)
    control.setup_logging('redfish_bmc', args.verbose)
    stop = control.stop_event_on_signals()
    tmp_state = args.state_dir is None
    state_dir = args.state_dir or tempfile.mkdtemp(prefix='lab-redfish-')
    os.makedirs(state_dir, exist_ok=True)
    media_dir = os.path.join(state_dir, 'media')
    os.makedirs(media_dir, exist_ok=True)
    per = args.systems_per_bmc
    machines = lab_machine.make_machines(args, args.count * per, state_dir)
    servers, started = [], set()
    ctl = None
    cert = None
    rc = 0
    recorder = control.Recorder(args.record)
    try:
        ctx = None
        if args.tls:
            if args.tls_cert:
                cert, key = args.tls_cert, args.tls_key
            else:
                cert, key = make_self_signed_cert(state_dir, args.address)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            LOG.info('TLS certificate: %s', cert)
        for i in range(args.count):
            port = args.port + i
            bmc = RedfishBmc(i, port, machines[i * per:(i + 1) * per], args,
                             args.quirks, media_dir)
            bmc.recorder = recorder
            srv = Server((args.address, port), Handler)
            if ctx:
                # handshake lazily in the request thread, not in accept()
                srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                             do_handshake_on_connect=False)
            srv.bmc = bmc
            servers.append(srv)
        for srv in servers:
            t = threading.Thread(target=srv.serve_forever, args=(0.1,),
                                 name='redfish-%d' % srv.bmc.port,
                                 daemon=True)
            t.start()
            started.add(srv)
        scheme = 'https' if ctx else 'http'
        LOG.info('%d BMC(s) at %s://%s:%d-%d/redfish/v1/ (user %r), '
                 '%d system(s) each, machines: %s, quirks: %s',
                 args.count, scheme, args.address, args.port,
                 args.port + args.count - 1, args.user, per, args.machine,
                 args.quirks or 'none')
        if args.control_port is not None:
            ctl = control.ControlServer(
                machines, args.address, args.control_port,
                info=lambda: {
                    'kind': 'redfish', 'scheme': scheme,
                    'address': args.address, 'port_base': args.port,
                    'count': args.count, 'systems_per_bmc': per,
                    'tls_cert': cert, 'quirks': args.quirks,
                    'sessions': {str(s.bmc.port): len(s.bmc.sessions)
                                 for s in servers}})
            ctl.start()
        LOG.info('ready')
        stop.wait()
    except (OSError, subprocess.CalledProcessError, ssl.SSLError) as e:
        LOG.error('cannot start: %s', e)
        rc = 1
    finally:
        for srv in servers:
            if srv in started:
                srv.shutdown()
            srv.server_close()
        for mach in machines:
            try:
                mach.close()
            except Exception:
                LOG.exception('closing %s', mach.name)
        if ctl:
            ctl.stop()
        recorder.close()
        if tmp_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    LOG.info('stopped')
    return rc


if __name__ == '__main__':
    sys.exit(main())
