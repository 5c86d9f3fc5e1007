"""One HTTP/1.1 server for everything: IMDS, EC2, Auto Scaling, CloudFormation, Route 53, control.

Routing:
  /latest/...       IMDS (no signature; IMDSv2 token rules in imds.py)
  /2013-04-01/...   Route 53, REST-XML
  /  (X-Amz-Target) JSON protocol (kms): the target names the action
  /  (POST form)    Query protocol; the service is the one in the SigV4
                    credential scope (ec2 | autoscaling | cloudformation),
                    so one endpoint serves all of them, as AWS_ENDPOINT_URL does
  /_fake/...        control interface, JSON, no signature (control.py)

Every AWS request goes: fault rules -> SigV4 (sigv4.py) -> rate limit ->
the action -> reply (possibly mangled by an "after" fault) -> request log.
Replies always carry Content-Length and a Date from the fake's clock, so a
client can estimate its clock offset from any reply, errors included.
"""

import logging
import socket
import struct
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import awsmodel
import faults as faults_mod
import imds as imds_mod
import latency as latency_mod
import route53 as route53_mod
import sigv4
from control import Control
from ec2 import Ec2
from errors import AwsError
from kms import Kms
from reply import Reply
from signals import AutoScaling, CloudFormation

log = logging.getLogger("fakeaws")

MAX_BODY = 16 * 1024 * 1024
# The request log keeps the newest entries only, so a long benchmark cannot
# grow the fake without bound.
MAX_LOGGED_REQUESTS = 100_000
QUERY_SERVICES = ("ec2", "autoscaling", "cloudformation")
# JSON-protocol services by their X-Amz-Target prefix (botocore's targetPrefix).
JSON_SERVICES = {"TrentService": "kms"}
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# Query-protocol API versions, to route a request that has no usable
# Authorization (it still gets the right service's error format).
_VERSION_SERVICE = {"2016-11-15": "ec2", "2011-01-01": "autoscaling", "2010-05-15": "cloudformation"}

# How each auth failure reads, per error family: (code, HTTP status, message or None = the detail).
_AUTH_ERRORS = {
    "ec2": {
        "missing": ("AuthFailure", 401, "AWS was not able to validate the provided access credentials"),
        "incomplete": ("IncompleteSignature", 400, None),
        "unknown_key": ("AuthFailure", 401, "AWS was not able to validate the provided access credentials"),
        "skew": ("RequestExpired", 400, "Request has expired."),
        "signature": ("AuthFailure", 401, "AWS was not able to validate the provided access credentials"),
        "expired": ("ExpiredToken", 400, "The provided token has expired."),
    },
    # The JSON-protocol services (KMS) answer every refusal with 400 and
    # their own names of the same errors.
    "json": {
        "missing": ("MissingAuthenticationTokenException", 400, "Missing Authentication Token"),
        "incomplete": ("IncompleteSignatureException", 400, None),
        "unknown_key": ("UnrecognizedClientException", 400, "The security token included in the request is invalid."),
        "skew": ("InvalidSignatureException", 400, None),
        "signature": ("InvalidSignatureException", 400, None),
        "expired": ("ExpiredTokenException", 400, "The security token included in the request is expired"),
    },
    "other": {
        "missing": ("MissingAuthenticationToken", 403, "Missing Authentication Token"),
        "incomplete": ("IncompleteSignature", 400, None),
        "unknown_key": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
        "skew": ("SignatureDoesNotMatch", 403, None),
        "signature": ("SignatureDoesNotMatch", 403, None),
        "expired": ("ExpiredToken", 403, "The security token included in the request is expired"),
    },
}

_THROTTLE = {"ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
             "kms": ("ThrottlingException", 400, "Rate exceeded")}
_THROTTLE_DEFAULT = ("Throttling", 400, "Rate exceeded")
_5XX = {500: ("InternalError", "An internal error has occurred"),
        503: ("Unavailable", "The service is unavailable. Please try again shortly.")}
_MALFORMED = b'<?xml version="1.0"?>\n<<<{{ this reply is neither XML nor JSON'


@dataclass
class Request:
    method: str
    target: str          # request-target as received: "/path?query"
    path: str            # raw path, still percent-encoded
    query: str
    headers: object      # http.client.HTTPMessage
    body: bytes
    service: str = None
    action: str = None
    detail: object = None  # ec2/query: form params; route53: zone/change id; imds: relative path
    latency: float = 0.0   # seconds waited on purpose (latency profile + fault latency rules)
    instance: str = None   # the instance the listener that took it stands for (IMDS); None: the world's self


class App:
    """Everything the handlers share: the world, faults, services, backend, logs."""

    def __init__(self, world, backend):
        self.world = world
        self.backend = backend
        self.faults = faults_mod.Faults()
        self.latency = latency_mod.LatencyProfile()
        self.imds = imds_mod.Imds(self)
        self.ec2 = Ec2(self)
        self.route53 = route53_mod.Route53(self)
        self.query = {"autoscaling": AutoScaling(self), "cloudformation": CloudFormation(self)}
        self.json = {"kms": Kms(self)}
        self.control = Control(self)
        self._log_lock = threading.Lock()
        self._requests = []
        self._buckets = {}
        # Instances with a listener of their own (fakeaws.py --instance):
        # their IMDS answers as them; with the world's self and the world's
        # local_instances they are the instances on this machine, whose
        # attachments the backend makes real.
        self.instances = []

    def is_local(self, instance_id):
        """Whether an attachment to instance_id happens on this machine (the backend makes its device)."""
        with self.world.lock:
            local = self.world.data.get("local_instances") or {}
            return instance_id == self.world.data.get("self") or instance_id in self.instances or instance_id in local

    def local_instance(self, instance_id):
        """The world's local_instances entry of an instance ({} when none): where its devices go."""
        with self.world.lock:
            return dict((self.world.data.get("local_instances") or {}).get(instance_id) or {})

    # -- request log ------------------------------------------------------------

    def record(self, entry):
        with self._log_lock:
            self._requests.append(entry)
            if len(self._requests) > MAX_LOGGED_REQUESTS:
                del self._requests[:len(self._requests) - MAX_LOGGED_REQUESTS]

    def requests(self):
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self):
        with self._log_lock:
            self._requests = []

    # -- rate limits ---------------------------------------------------------------

    def reset_rate_limits(self):
        with self._log_lock:
            self._buckets = {}

    def rate_limited(self, service):
        """Token bucket per service and account, from world rate_limits[service] = {rate, burst}."""
        limit = (self.world.data.get("rate_limits") or {}).get(service)
        if not limit:
            return False
        rate = float(limit.get("rate", 5))
        burst = float(limit.get("burst", rate))
        now = time.monotonic()
        key = (service, self.world.data["account"])
        with self._log_lock:
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return True
            self._buckets[key] = (tokens - 1, now)
            return False

    # -- replies -----------------------------------------------------------------

    def error_reply(self, service, code, message, status, request_id=None, access_key=None):
        rid = request_id or str(uuid.uuid4())
        if service == "imds" or service is None:
            return Reply(status, imds_mod.error_body(status), "text/html", code=code)
        if service in JSON_SERVICES.values():
            return Reply(status, awsmodel.json_error(code, message), JSON_CONTENT_TYPE, {"x-amzn-RequestId": rid},
                         code, access_key)
        if service == "ec2":
            body = awsmodel.ec2_error(code, message, rid)
        else:
            body = awsmodel.error_response(service, code, message, rid, sender=status < 500)
        return Reply(status, body, "text/xml;charset=UTF-8" if service == "ec2" else "text/xml",
                     {"x-amzn-RequestId": rid}, code, access_key)

    # -- dispatch ------------------------------------------------------------------

    def classify(self, req):
        """Set req.service/action/detail without touching state (faults match on them)."""
        if req.path == "/latest" or req.path.startswith("/latest/"):
            rel = imds_mod.relative_path(req.path)
            req.service, req.action, req.detail = "imds", imds_mod.action_for(req.method, rel), rel
        elif req.path.startswith("/2013-04-01/"):
            action, ident = route53_mod.route(req.method, req.path)
            req.service, req.action, req.detail = "route53", action or "Unknown", ident
        elif req.path == "/" and req.headers.get("X-Amz-Target"):
            prefix, _, action = req.headers["X-Amz-Target"].partition(".")
            service = sigv4.scope_service(req.headers.get("Authorization"))
            if service not in JSON_SERVICES.values():
                service = JSON_SERVICES.get(prefix, "kms")
            req.service, req.action, req.detail = service, action, prefix
        elif req.path == "/":
            params = dict(urllib.parse.parse_qsl(req.query, keep_blank_values=True))
            if req.body:
                try:
                    params.update(urllib.parse.parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    pass
            service = sigv4.scope_service(req.headers.get("Authorization"))
            if service not in QUERY_SERVICES:
                service = _VERSION_SERVICE.get(params.get("Version"), "ec2")
            req.service, req.action, req.detail = service, params.get("Action", ""), params

    def dispatch(self, req):
        """Handle a classified IMDS or AWS request and return its Reply."""
        if req.service == "imds":
            with self.world.lock:
                self.world.advance()
                status, body, headers = self.imds.handle(req.method, req.detail, req.headers, req.instance)
            return Reply(status, body, "text/plain" if status == 200 else "text/html", headers,
                         None if status == 200 else str(status))
        if req.service is None:
            return Reply(404, b"Not Found\n", code="404")

        rid = str(uuid.uuid4())
        akid = sigv4.scope_access_key(req.headers.get("Authorization"))
        family = "ec2" if req.service == "ec2" else "json" if req.service in self.json else "other"
        region = "us-east-1" if req.service == "route53" else self.world.data["region"]
        try:
            with self.world.lock:
                self.world.advance()
                sigv4.verify(self.world, req.method, req.target, req.headers, req.body, req.service, region)
        except sigv4.AuthError as e:
            code, status, message = _AUTH_ERRORS[family][e.kind]
            log.info("auth refused (%s) for %s %s: %s", e.kind, req.service, req.action, e.message)
            return self.error_reply(req.service, code, message or e.message, status, rid, akid)
        if self.rate_limited(req.service):
            code, status, message = _THROTTLE.get(req.service, _THROTTLE_DEFAULT)
            return self.error_reply(req.service, code, message, status, rid, akid)
        try:
            if req.service == "route53":
                value = self._route53(req, akid)
                body = awsmodel.rest_xml_reply("route53", req.action, value)
                return Reply(200, body, "text/xml", {"x-amzn-RequestId": rid}, None, akid)
            if req.service in self.json:
                value = self._json(req, akid)
                body = awsmodel.json_reply(req.service, req.action, value)
                return Reply(200, body, JSON_CONTENT_TYPE, {"x-amzn-RequestId": rid}, None, akid)
            value, hooks = self._query(req, akid)
            self._run_hooks(hooks)
            if req.service == "ec2":
                body = awsmodel.ec2_reply(req.action, value, rid)
                return Reply(200, body, "text/xml;charset=UTF-8", {"x-amzn-RequestId": rid}, None, akid)
            body = awsmodel.query_reply(req.service, req.action, value, rid)
            return Reply(200, body, "text/xml", {"x-amzn-RequestId": rid}, None, akid)
        except AwsError as e:
            return self.error_reply(req.service, e.code, e.message, e.status, rid, akid)

    def _route53(self, req, akid):
        if req.action == "Unknown":
            raise AwsError("InvalidAction", f"No Route 53 action for {req.method} {req.path}", 400)
        with self.world.lock:
            self.world.advance()
            return self.route53.handle(req.action, req.detail, req.query, req.body, akid)

    def _json(self, req, akid):
        """KMS: X-Amz-Target names the action, the body is a JSON object."""
        service = self.json[req.service]
        expected_prefix = awsmodel.service_model(req.service).metadata["targetPrefix"]
        if req.detail != expected_prefix or req.action not in service.actions:
            raise AwsError("UnknownOperationException", None)
        op = awsmodel.operation_model(req.service, req.action)
        # The fake's own strictness: the SDKs send exactly this type, and
        # the agent must too.
        if (req.headers.get("Content-Type") or "").split(";")[0].strip() != JSON_CONTENT_TYPE:
            raise AwsError("SerializationException", f"Content-Type must be {JSON_CONTENT_TYPE}")
        p = awsmodel.parse_json_params(op, req.body)
        if self.world.is_denied(akid, req.service, req.action):
            _, arn = self.world.principal(akid)
            what = f"{req.service}:{req.action}"
            raise AwsError("AccessDeniedException", f"User: {arn} is not authorized to perform: {what} because no "
                                                    f"identity-based policy allows the {what} action")
        with self.world.lock:
            self.world.advance()
            return service.actions[req.action](p)

    def _query(self, req, akid):
        """EC2, Auto Scaling and CloudFormation: form parameters, model-parsed."""
        params = req.detail
        action = req.action
        handlers = self.ec2.actions if req.service == "ec2" else self.query[req.service].actions
        if not action:
            raise AwsError("MissingAction", "The request must contain the parameter Action")
        op = awsmodel.operation_model(req.service, action) if action in handlers else None
        if op is None:
            raise AwsError("InvalidAction", f"The action {action} is not valid for this web service.")
        if not params.get("Version"):
            raise AwsError("MissingParameter", "The request must contain the parameter Version")
        protocol = "ec2" if req.service == "ec2" else "query"
        p = awsmodel.parse_query_params(op, params, protocol)
        if self.world.is_denied(akid, req.service, action):
            _, arn = self.world.principal(akid)
            if req.service == "ec2":
                raise AwsError("UnauthorizedOperation",
                               f"You are not authorized to perform this operation. User: {arn} is not "
                               f"authorized to perform: ec2:{action}", 403)
            raise AwsError("AccessDenied", f"User: {arn} is not authorized to perform: {req.service}:{action}", 403)
        if p.get("DryRun"):
            raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
        with self.world.lock:
            self.world.advance()
            result = handlers[action](p)
        # A handler returns its output dict, or (output, hooks) when the
        # attach backend must act once the world lock is released.
        return result if isinstance(result, tuple) else (result, [])

    def _run_hooks(self, hooks):
        for hook in hooks:
            try:
                hook(self.backend)
            except Exception as e:  # A backend failure is the fake's failure: 500, logged.
                log.exception("attach backend %s failed", type(self.backend).__name__)
                raise AwsError("InternalError", f"attach backend failed: {e}", 500) from None


def _logged_params(req):
    """A Query-protocol request's form parameters for the request log (what
    a test asserts on: CreateTags' Tag.N.Key, AttachVolume's Device), without
    Action and Version, which the entry holds already; None for Route 53 and
    IMDS. The form never carries a secret: SigV4 signs in the headers."""
    if req.service not in QUERY_SERVICES or not isinstance(req.detail, dict):
        return None
    return {k: v for k, v in req.detail.items() if k not in ("Action", "Version")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeaws"
    # TCP_NODELAY: a reply goes out as headers then body in two writes; with
    # Nagle the body waits for the client's delayed ACK of the headers
    # (40 ms on Linux), which no AWS endpoint makes a client wait.
    disable_nagle_algorithm = True
    timeout = 300  # Idle keep-alive connections are closed after this.

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)

    def date_time_string(self, timestamp=None):
        # The Date header comes from the fake's (possibly skewed) clock.
        return formatdate(self.server.app.world.now(), usegmt=True)

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_GET

    # -- request ---------------------------------------------------------------

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _handle(self):
        app = self.server.app
        started = time.monotonic()
        try:
            body = self._read_body()
        except ValueError as e:
            self.close_connection = True
            self._send(Reply(400, f"{e}\n".encode()))
            return
        path, _, query = self.path.partition("?")
        req = Request(self.command, self.path, path, query, self.headers, body, instance=self.server.instance)

        if path.startswith("/_fake/") or path == "/_fake":
            self._send(app.control.handle(req))
            return

        app.classify(req)
        imds_path = req.detail if req.service == "imds" else None
        latency, rule = app.faults.take(req.service, req.action, imds_path)
        latency += app.latency.draw(req.service, req.action, imds_path)
        req.latency = latency
        if latency:
            time.sleep(latency)
        fault = rule["kind"] if rule else None
        akid = sigv4.scope_access_key(self.headers.get("Authorization"))
        # Each request is logged before its reply (or its reset) goes out:
        # a client that acts on the reply, or exits, finds it in the log.
        if rule and faults_mod.KINDS[fault][0] == "before":
            self._fault_before(rule, req, lambda status, code: self._record(req, status, code, akid, fault, started))
            return
        reply = app.dispatch(req)

        def record(status, code):
            return self._record(req, status, code, reply.access_key or akid, fault, started)
        if rule:
            self._fault_after(rule, reply, record)
        else:
            record(reply.status, reply.code)
            self._send(reply)

    def _record(self, req, status, code, akid, fault, started):
        """Logs the request; returns its entry (a fault still sending may complete its code)."""
        app = self.server.app
        entry = {"time": app.world.now(), "service": req.service, "action": req.action,
                 "method": req.method, "path": req.path, "status": status, "code": code,
                 "access_key": akid, "fault": fault, "ms": round((time.monotonic() - started) * 1000, 1),
                 "latency": round(req.latency, 4), "params": _logged_params(req),
                 "instance": req.instance or app.world.data.get("self")}
        app.record(entry)
        log.info("%s %s %s %s -> %s %s%s", req.method, req.path, req.service, req.action, status,
                 code or "", f" [fault {fault}]" if fault else "")
        return entry

    # -- faults --------------------------------------------------------------------

    def _fault_before(self, rule, req, record):
        """Apply a fault that replaces handling, logging it with record(status, code) (0 = no reply)."""
        app = self.server.app
        kind = rule["kind"]
        service = req.service
        if kind == "reset":
            record(0, "reset")
            self._reset()
            return
        if kind == "timeout":
            time.sleep(float(rule.get("seconds", 10)))
            record(0, "timeout")
            self.close_connection = True
            return
        if kind == "throttle":
            if service == "imds":
                code, status, message = "Throttling", 429, ""
            else:
                code, status, message = _THROTTLE.get(service, _THROTTLE_DEFAULT)
            if rule.get("code"):
                code = rule["code"]
                if code == "PriorRequestNotComplete":
                    message = ("The request was rejected because Route 53 was still processing a prior "
                               "request.")
        elif kind == "http5xx":
            status = int(rule.get("status", 500))
            code, message = _5XX.get(status, ("InternalError", "An internal error has occurred"))
            code = rule.get("code", code)
        else:  # error
            status = int(rule.get("status", 400))
            code = rule.get("code", "InternalError" if status >= 500 else "InvalidParameterValue")
            message = code
        status = int(rule.get("status", status))
        message = rule.get("message", message)
        reply = app.error_reply(service, code, message, status)
        record(status, code)
        self._send(reply)

    def _fault_after(self, rule, reply, record):
        """Mangle the handled reply, logging it with record(status, code) (0 = no reply)."""
        kind = rule["kind"]
        if kind == "huge":
            self._send_huge(rule, reply, record(reply.status, "huge"))
        elif kind == "drop_after_effect":
            record(0, "drop_after_effect")
            self._reset()
        elif kind == "malformed":
            reply.status = 200
            reply.body = _MALFORMED
            record(200, "malformed")
            self._send(reply)
        elif kind == "truncated":
            record(reply.status, "truncated")
            self._send(reply, truncate=True)
        else:  # slow
            record(reply.status, reply.code or "slow")
            self._send(reply, trickle=float(rule.get("seconds", 2)))

    def _send_huge(self, rule, reply, entry):
        """The handled reply's status and headers with a body of rule["bytes"]
        (default 10 MiB): the real body, then blanks (the XML stays
        well-formed: trailing white space). With "chunked": true there is no
        Content-Length, so a client learns the size only by reading. A client
        that stops reading (it refused the size) ends the write."""
        size = int(rule.get("bytes", 10 * 1024 * 1024))
        head = reply.body[:size]
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        chunked = bool(rule.get("chunked"))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        block = b" " * 65536
        sent = 0
        try:
            pieces = [head]
            while sent + sum(len(p) for p in pieces) < size:
                pieces.append(block[:size - sent - sum(len(p) for p in pieces)])
                if len(pieces) >= 16:
                    data = b"".join(pieces)
                    self._write_piece(data, chunked)
                    sent += len(data)
                    pieces = []
            data = b"".join(pieces)
            if data:
                self._write_piece(data, chunked)
                sent += len(data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        # The log entry learns how much went out once the write has ended.
        entry["code"] = f"huge:{sent}"

    def _write_piece(self, data, chunked):
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.wfile.write(data)

    def _reset(self):
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN:
        # the client sees "connection reset by peer" and no reply at all.
        # rfile holds a reference to the socket; it must go too for the
        # descriptor to close now.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    # -- reply ---------------------------------------------------------------------

    def _send(self, reply, truncate=False, trickle=0.0):
        body = reply.body if self.command != "HEAD" else b""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            if truncate:
                # Content-Length promises the whole body; half of it is sent.
                self.wfile.write(body[:len(body) // 2])
                self.close_connection = True
            elif trickle > 0 and body:
                pieces = min(len(body), 10)
                step = -(-len(body) // pieces)
                for i in range(0, len(body), step):
                    time.sleep(trickle / pieces)
                    self.wfile.write(body[i:i + step])
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, instance=None):
        """instance: the instance this listener's IMDS answers as (None: the world's self)."""
        self.app = app
        self.instance = instance
        super().__init__(address, Handler)

