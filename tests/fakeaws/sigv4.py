"""SigV4 verification with botocore as the independent reference.

The fake recomputes the signature of every AWS request with botocore's own
SigV4Auth, so the C agent's signer is checked against a second, widely used
implementation rather than against a copy of its own logic.

botocore is a signer, not a verifier, so two of its habits are neutralised:
- `add_auth` stamps the request with datetime.utcnow(); we never call it and
  run its stages (canonical_request, string_to_sign, signature) ourselves
  with the timestamp the client sent;
- `headers_to_sign` takes every header of the request (minus a blacklist)
  and invents Host; we override it to take exactly the headers the client
  listed in SignedHeaders, with their received values, and nothing else.
Query parameters are decoded and handed to botocore as params, which it
re-encodes canonically (AWS itself canonicalises the query the same way).
"""

import calendar
import datetime
import email.utils
import hashlib
import hmac
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SKEW_LIMIT = 300  # AWS accepts a request time within 5 minutes of its own.
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class AuthError(Exception):
    """Why a request is refused; the service maps `kind` to its own error code.

    kind: missing | incomplete | unknown_key | skew | signature | expired
    """

    def __init__(self, kind, message, access_key=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.access_key = access_key


class _Verifier(SigV4Auth):
    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                headers[name.lower()] = value
        return headers


def parse_authorization(value):
    """Split 'AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..'."""
    if not value:
        raise AuthError("missing", "Request is missing Authentication Token")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise AuthError("incomplete", f"Unsupported Authorization algorithm '{algorithm}'")
    parts = {}
    for item in rest.split(","):
        k, sep, v = item.strip().partition("=")
        if sep:
            parts[k] = v
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        raise AuthError("incomplete", "Authorization header requires '"
                        + "', '".join(missing) + "' parameter(s). Authorization=" + value)
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise AuthError("incomplete", f"Credential should be scoped to a valid region: '{parts['Credential']}'")
    return {
        "access_key": scope[0], "date": scope[1], "region": scope[2], "service": scope[3],
        "signed_headers": parts["SignedHeaders"].lower().split(";"),
        "signature": parts["Signature"],
    }


def scope_service(authorization):
    """The service named in a request's credential scope, or None (used for dispatch only)."""
    try:
        return parse_authorization(authorization)["service"]
    except AuthError:
        return None


def scope_access_key(authorization):
    try:
        return parse_authorization(authorization)["access_key"]
    except AuthError:
        return None


def _request_time(headers):
    amz = headers.get("X-Amz-Date")
    if amz:
        try:
            t = datetime.datetime.strptime(amz, _AMZ_DATE)
        except ValueError:
            raise AuthError("incomplete", f"Invalid X-Amz-Date '{amz}'") from None
        return calendar.timegm(t.timetuple()), amz
    date = headers.get("Date")
    if date:
        parsed = email.utils.parsedate_tz(date)
        if parsed:
            epoch = email.utils.mktime_tz(parsed)
            return epoch, datetime.datetime.utcfromtimestamp(epoch).strftime(_AMZ_DATE)
    raise AuthError("incomplete", "Authorization header requires existence of either a "
                                  "'X-Amz-Date' or a 'Date' header.")


def _stamp(epoch):
    return datetime.datetime.utcfromtimestamp(epoch).strftime(_AMZ_DATE)


def verify(world, method, raw_target, headers, body, service, region):
    """Check a request's SigV4 signature; return the access key id or raise AuthError.

    world: the World (for keys and clock; the caller holds its lock);
    raw_target: the request-target as received ("/path?query");
    headers: the received http.client.HTTPMessage; body: bytes;
    service/region: what the endpoint expects in the credential scope.
    """
    auth = parse_authorization(headers.get("Authorization"))
    akid = auth["access_key"]
    entry = world.key(akid)
    if entry is None:
        raise AuthError("unknown_key", "The security token included in the request is invalid.", akid)
    # Temporary credentials are only valid with their session token (and
    # static keys without one): anything else reads as an unknown key.
    sent_token = headers.get("X-Amz-Security-Token")
    if (entry.get("token") or None) != (sent_token or None):
        raise AuthError("unknown_key", "The security token included in the request is invalid.", akid)

    epoch, amz_date = _request_time(headers)
    now = world.now()
    if epoch < now - SKEW_LIMIT:
        raise AuthError("skew", f"Signature expired: {amz_date} is now earlier than "
                                f"{_stamp(now - SKEW_LIMIT)} ({_stamp(now)} - 5 min.)", akid)
    if epoch > now + SKEW_LIMIT:
        raise AuthError("skew", f"Signature not yet current: {amz_date} is still later than "
                                f"{_stamp(now + SKEW_LIMIT)} ({_stamp(now)} + 5 min.)", akid)

    if auth["date"] != amz_date[:8]:
        raise AuthError("signature", f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                                     f"version of date from HTTP: '{auth['date']}' != '{amz_date[:8]}'", akid)
    if auth["region"] != region:
        raise AuthError("signature", f"Credential should be scoped to a valid region, not '{auth['region']}'.", akid)
    if auth["service"] != service:
        raise AuthError("signature", f"Credential should be scoped to correct service: '{service}'.", akid)
    if "host" not in auth["signed_headers"]:
        raise AuthError("signature", "'Host' must be a 'SignedHeader' in the AWS Authorization.", akid)
    for name in auth["signed_headers"]:
        if headers.get(name) is None:
            raise AuthError("signature", f"Signed header '{name}' is not present in the request.", akid)
    content_sha = headers.get("X-Amz-Content-SHA256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise AuthError("signature", "The provided 'x-amz-content-sha256' header does not match what was computed.", akid)

    path, _, query = raw_target.partition("?")
    request = AWSRequest(method=method, url="http://" + (headers.get("Host") or "localhost") + path, data=body)
    request.headers = HTTPHeaders()
    for name, value in headers.items():
        request.headers[name] = value
    request.params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    request.context["timestamp"] = amz_date

    signer = _Verifier(Credentials(akid, entry["secret"], entry.get("token")), service, region,
                       set(auth["signed_headers"]))
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, auth["signature"]):
        raise AuthError("signature",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your AWS Secret Access Key and signing method. Consult the service "
                        "documentation for details.\n\nThe Canonical String for this request should have been\n'"
                        + canonical + "'\n\nThe String-to-Sign should have been\n'" + string_to_sign + "'\n", akid)

    expiration = entry.get("expiration")
    if expiration is not None and now >= float(expiration):
        raise AuthError("expired", "The security token included in the request is expired", akid)
    return akid
