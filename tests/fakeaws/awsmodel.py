"""Wire formats driven by botocore's service models.

The fake never hand-writes a reply element name: every reply is a plain dict
keyed by the model's member names (e.g. {"Volumes": [{"VolumeId": ...}]}) and
is serialized here by walking the output shape, taking element names from the
model's locationName. Requests are parsed the same way, in reverse, from the
input shape. So the shapes are AWS's by construction, and botocore's own
parsers (used in the tests) prove it.

Protocols covered: "ec2" (EC2), "query" (Auto Scaling, CloudFormation) and
"rest-xml" (Route 53).
"""

import datetime
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
    unknown = set(value) - set(shape.members)
    if unknown:
        # A typo in a handler must fail loudly in the tests, not yield a reply
        # that silently lacks the member.
        raise KeyError(f"{shape.name} has no member(s) {sorted(unknown)}")
    parts = []
    for name, member in shape.members.items():
        if value.get(name) is None:
            continue
        parts.append(_to_xml(member, value[name], member.serialization.get("name", name)))
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
