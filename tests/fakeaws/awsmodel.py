"""Wire formats driven by botocore's service models.

The fake never hand-writes a reply element name: every reply is a plain dict
keyed by the model's member names (e.g. {"Volumes": [{"VolumeId": ...}]}) and
is serialized here by walking the output shape, taking element names from the
model's locationName. Requests are parsed the same way, in reverse, from the
input shape. So the shapes are AWS's by construction, and botocore's own
parsers (used in the tests) prove it.

Protocols covered: "ec2" (EC2), "query" (Auto Scaling, CloudFormation),
"rest-xml" (Route 53) and "json" (KMS).

Where the installed botocore's model predates a member that AWS's API
reference documents (Debian 12 ships botocore 1.29), the service's module
adds it with add_members(): it is then serialized after the model's own
members, and only while the model lacks it.
"""

import datetime
import json
import threading
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationNotFoundError

from errors import AwsError

EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
ROUTE53_NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"

_lock = threading.Lock()
_session = None
_models = {}
# Shape name -> {member name: {child name: "integer" | "string"}}: members
# newer than the installed model (add_members()).
_ADDITIONS = {}


def add_members(shape_name, members):
    """Declare members of an output structure that the installed model lacks, from AWS's API reference.

    members: {member name: {child name: "integer" | "string"}}, each a
    structure of scalars (all the additions need so far).
    """
    _ADDITIONS.setdefault(shape_name, {}).update(members)


def _additions(shape):
    return {n: m for n, m in _ADDITIONS.get(shape.name, {}).items() if n not in shape.members}


def service_model(service):
    """Return botocore's ServiceModel for a service, loaded once per process."""
    global _session
    with _lock:
        if service not in _models:
            if _session is None:
                _session = botocore.session.get_session()
            _models[service] = _session.get_service_model(service)
        return _models[service]


def operation_model(service, action):
    """The OperationModel for an action, or None when the service has no such action."""
    try:
        return service_model(service).operation_model(action)
    except OperationNotFoundError:
        return None


def namespace(service):
    """The XML namespace of a service's replies, with the trailing slash AWS sends."""
    if service == "ec2":
        return EC2_NAMESPACE
    ns = service_model(service).metadata.get("xmlNamespace", "")
    return ns if ns.endswith("/") else ns + "/"


def iso8601(epoch):
    """AWS's reply timestamp form: 2024-01-01T00:00:00.000Z."""
    t = datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------
# Query / EC2 request parameters -> dict
# ---------------------------------------------------------------------------

def _query_name(member, default, protocol):
    # Mirrors botocore.serialize.EC2Serializer/QuerySerializer._get_serialized_name:
    # EC2 capitalizes locationName on input; plain Query uses it as is.
    ser = member.serialization
    if protocol == "ec2":
        if "queryName" in ser:
            return ser["queryName"]
        if "name" in ser:
            return ser["name"][0].upper() + ser["name"][1:]
        return default
    return ser.get("name", default)


def parse_query_params(op, params, protocol):
    """Turn flat form parameters (Filter.1.Value.2=...) into the input dict.

    Raises MissingParameter for absent required members, InvalidParameterValue
    for values of the wrong type and (EC2 only, like EC2) UnknownParameter for
    parameters that the action does not have.
    """
    consumed = {"Action", "Version"}
    shape = op.input_shape
    if shape is None:
        value = {}
    else:
        value = _parse_query(shape, "", params, protocol, consumed, top=True) or {}
    if protocol == "ec2":
        unknown = sorted(set(params) - consumed)
        if unknown:
            raise AwsError("UnknownParameter", f"The parameter {unknown[0]} is not recognized")
    return value


def _parse_query(shape, prefix, params, protocol, consumed, top=False):
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            key = _query_name(member, name, protocol)
            full = f"{prefix}.{key}" if prefix else key
            v = _parse_query(member, full, params, protocol, consumed)
            if v is not None:
                out[name] = v
        if not out and not top:
            return None
        for name in shape.required_members:
            if name not in out:
                key = _query_name(shape.members[name], name, protocol)
                full = f"{prefix}.{key}" if prefix else key
                raise AwsError("MissingParameter", f"The request must contain the parameter {full}")
        return out
    if kind == "list":
        if protocol == "ec2" or shape.serialization.get("flattened"):
            list_prefix = prefix
        else:
            list_prefix = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        if prefix in params and params[prefix] == "":
            consumed.add(prefix)  # Query's way to send an empty list.
            return []
        indices = set()
        head = list_prefix + "."
        for k in params:
            if k.startswith(head):
                first = k[len(head):].split(".", 1)[0]
                if first.isdigit() and int(first) > 0:
                    indices.add(int(first))
        if not indices:
            return None
        items = []
        for i in sorted(indices):
            v = _parse_query(shape.member, f"{list_prefix}.{i}", params, protocol, consumed)
            if v is not None:
                items.append(v)
        return items
    if kind == "map":
        raise AwsError("InvalidParameterValue", f"Map parameter {prefix} is not supported by this fake")
    if prefix not in params:
        return None
    consumed.add(prefix)
    return _scalar(shape, params[prefix], prefix, "InvalidParameterValue")


def _scalar(shape, raw, where, error_code):
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("float", "double"):
            return float(raw)
        if kind == "boolean":
            low = raw.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(raw)
            return low == "true"
    except ValueError:
        raise AwsError(error_code, f"Invalid value '{raw}' for parameter {where}") from None
    return raw


# ---------------------------------------------------------------------------
# REST-XML request body -> dict
# ---------------------------------------------------------------------------

def parse_xml_body(op, body):
    """Parse a REST-XML request body (Route 53) against the input shape."""
    shape = op.input_shape
    ser = shape.serialization
    ns = ser.get("xmlNamespace", {}).get("uri", "")
    root_name = ser.get("name", shape.name)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise AwsError("MalformedInput", f"Invalid XML ; {e}") from None
    if root.tag != f"{{{ns}}}{root_name}":
        raise AwsError("MalformedInput", f"Invalid XML ; expected {root_name} in namespace {ns}")
    out = {}
    body_members = {n: m for n, m in shape.members.items() if "location" not in m.serialization}
    _xml_struct_into(out, body_members, [], root, ns, root_name)
    for name in shape.required_members:
        if name in body_members and name not in out:
            raise AwsError("InvalidInput", f"Invalid XML ; element {name} is missing from {root_name}")
    return out


def _local(tag, ns, where):
    if not tag.startswith(f"{{{ns}}}"):
        raise AwsError("InvalidInput", f"Invalid XML ; element {tag} in {where} is not in namespace {ns}")
    return tag[len(ns) + 2:]


def _xml_struct_into(out, members, required, elem, ns, where):
    by_name = {m.serialization.get("name", n): n for n, m in members.items()}
    for child in elem:
        local = _local(child.tag, ns, where)
        if local not in by_name:
            raise AwsError("InvalidInput", f"Invalid XML ; unexpected element {local} in {where}")
        name = by_name[local]
        out[name] = _xml_value(members[name], child, ns, local)
    for name in required:
        if name not in out:
            raise AwsError("InvalidInput", f"Invalid XML ; element {name} is missing from {where}")


def _xml_value(shape, elem, ns, where):
    kind = shape.type_name
    if kind == "structure":
        out = {}
        _xml_struct_into(out, shape.members, shape.required_members, elem, ns, where)
        return out
    if kind == "list":
        member_name = shape.member.serialization.get("name", "member")
        items = []
        for child in elem:
            if _local(child.tag, ns, where) != member_name:
                raise AwsError("InvalidInput", f"Invalid XML ; expected {member_name} in {where}")
            items.append(_xml_value(shape.member, child, ns, member_name))
        return items
    return _scalar(shape, (elem.text or "").strip(), where, "InvalidInput")


# ---------------------------------------------------------------------------
# dict -> reply XML
# ---------------------------------------------------------------------------

def _members_xml(shape, value):
    extra = _additions(shape)
    unknown = set(value) - set(shape.members) - set(extra)
    if unknown:
        # A typo in a handler must fail loudly in the tests, not yield a reply
        # that silently lacks the member.
        raise KeyError(f"{shape.name} has no member(s) {sorted(unknown)}")
    parts = []
    for name, member in shape.members.items():
        if value.get(name) is None:
            continue
        parts.append(_to_xml(member, value[name], member.serialization.get("name", name)))
    for name, children in extra.items():
        if value.get(name) is None:
            continue
        unknown = set(value[name]) - set(children)
        if unknown:
            raise KeyError(f"{shape.name}.{name} has no member(s) {sorted(unknown)}")
        inner = "".join(f"<{c}>{escape(str(int(v)) if children[c] == 'integer' else str(v))}</{c}>"
                        for c, v in value[name].items() if v is not None)
        parts.append(f"<{name}>{inner}</{name}>")
    return "".join(parts)


def _to_xml(shape, value, name):
    kind = shape.type_name
    if kind == "structure":
        return f"<{name}>{_members_xml(shape, value)}</{name}>"
    if kind == "list":
        if shape.serialization.get("flattened"):
            return "".join(_to_xml(shape.member, v, name) for v in value)
        member_name = shape.member.serialization.get("name", "member")
        inner = "".join(_to_xml(shape.member, v, member_name) for v in value)
        return f"<{name}>{inner}</{name}>"
    if kind == "boolean":
        text = "true" if value else "false"
    elif kind == "timestamp":
        text = iso8601(value)
    elif kind in ("integer", "long"):
        text = str(int(value))
    else:
        text = str(value)
    return f"<{name}>{escape(text)}</{name}>"


def ec2_reply(action, value, request_id):
    """<ActionResponse xmlns=EC2><requestId/>members</ActionResponse>."""
    op = operation_model("ec2", action)
    if op.output_shape is None:
        # Actions without an output shape (CreateTags, DetachNetworkInterface)
        # answer <return>true</return>, as EC2 does.
        members = "<return>true</return>"
    else:
        members = _members_xml(op.output_shape, value or {})
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<{action}Response xmlns="{EC2_NAMESPACE}"><requestId>{request_id}</requestId>'
            f"{members}</{action}Response>").encode()


def query_reply(service, action, value, request_id):
    """Query protocol: <ActionResponse><ActionResult>..</ActionResult><ResponseMetadata>."""
    op = operation_model(service, action)
    result = ""
    if op.output_shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper", f"{action}Result")
        result = f"<{wrapper}>{_members_xml(op.output_shape, value or {})}</{wrapper}>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<{action}Response xmlns="{namespace(service)}">{result}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>").encode()


def rest_xml_reply(service, action, value):
    """REST-XML: the root element is the output shape's name (e.g. ListResourceRecordSetsResponse)."""
    op = operation_model(service, action)
    shape = op.output_shape
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<{shape.name} xmlns="{namespace(service)}">{_members_xml(shape, value)}</{shape.name}>').encode()


def ec2_error(code, message, request_id):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()


def error_response(service, code, message, request_id, sender=True):
    """Query and REST-XML services' <ErrorResponse> (Route 53, Auto Scaling, CloudFormation)."""
    kind = "Sender" if sender else "Receiver"
    return (f'<?xml version="1.0"?>\n'
            f'<ErrorResponse xmlns="{namespace(service)}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()


# ---------------------------------------------------------------------------
# JSON protocol (KMS): request body -> dict, dict -> reply body
# ---------------------------------------------------------------------------

def _camel(name):
    """The member's name as the JSON services write it in validation messages: keyId."""
    return name[:1].lower() + name[1:]


def parse_json_params(op, body):
    """Parse a JSON-protocol request body against the input shape.

    A body that is not a JSON object is SerializationException; a missing
    required member, or a string outside the model's length bounds,
    ValidationException with the message form of the JSON services ("1
    validation error detected: Value null at 'keyId' failed to satisfy
    constraint: Member must not be null"). AWS ignores members it does not
    know; the fake refuses them (SerializationException), since the agent
    never means to send one.
    """
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        raise AwsError("SerializationException", "Malformed JSON in the request body") from None
    if not isinstance(data, dict):
        raise AwsError("SerializationException", "The request body must be a JSON object")
    shape = op.input_shape
    if shape is None:
        return {}
    return _json_struct(shape, data, "")


def _json_struct(shape, data, where):
    unknown = sorted(set(data) - set(shape.members))
    if unknown:
        raise AwsError("SerializationException", f"Unknown member {where}{unknown[0]}")
    for name in shape.required_members:
        if data.get(name) is None:
            raise AwsError("ValidationException", f"1 validation error detected: Value null at '{_camel(name)}' "
                                                  "failed to satisfy constraint: Member must not be null")
    return {name: _json_value(shape.members[name], v, f"{where}{name}") for name, v in data.items() if v is not None}


def _json_value(shape, value, where):
    kind = shape.type_name
    expected = {"structure": dict, "list": list, "map": dict, "string": str, "boolean": bool,
                "integer": int, "long": int}.get(kind)
    if expected is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
        raise AwsError("SerializationException", f"Unexpected type for {where}")
    if kind == "structure":
        return _json_struct(shape, value, where + ".")
    if kind == "list":
        return [_json_value(shape.member, v, where) for v in value]
    if kind == "string":
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            raise AwsError("ValidationException", f"1 validation error detected: Value '{value}' at "
                                                  f"'{_camel(where)}' failed to satisfy constraint: Member must "
                                                  f"have length greater than or equal to {low}")
        if high is not None and len(value) > high:
            raise AwsError("ValidationException", f"1 validation error detected: Value at '{_camel(where)}' "
                                                  f"failed to satisfy constraint: Member must have length less "
                                                  f"than or equal to {high}")
    return value


def _to_json(shape, value):
    kind = shape.type_name
    if kind == "structure":
        unknown = set(value) - set(shape.members)
        if unknown:
            raise KeyError(f"{shape.name} has no member(s) {sorted(unknown)}")
        return {name: _to_json(m, value[name]) for name, m in shape.members.items() if value.get(name) is not None}
    if kind == "list":
        return [_to_json(shape.member, v) for v in value]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return float(value)  # The JSON protocol's timestamps: seconds since the epoch.
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    return str(value)


def json_reply(service, action, value):
    """The JSON protocol's reply body: the output shape's members as one object."""
    op = operation_model(service, action)
    out = _to_json(op.output_shape, value or {}) if op.output_shape is not None else {}
    return json.dumps(out, separators=(",", ":")).encode()


def json_error(code, message):
    """The JSON protocol's error body: {"__type": code, "message": text} (no message when None)."""
    body = {"__type": code} if message is None else {"__type": code, "message": message}
    return json.dumps(body, separators=(",", ":")).encode()
