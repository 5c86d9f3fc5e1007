"""Route 53 (API 2013-04-01, REST-XML): ListResourceRecordSets, ChangeResourceRecordSets, GetChange.

Records are stored in the API's own shape ({"Name", "Type", "TTL",
"ResourceRecords": [{"Value"}], "SetIdentifier", "MultiValueAnswer"}) so a
listing is the stored list, sorted, and a DELETE is checked by comparing
dicts.

Route 53's documented quirks kept here because the agent must cope with them:
- a listing starting at a name answers from that position on, in Route 53's
  order, so the first set may belong to another name;
- the order is by name with its labels reversed *as a string* ending in a dot
  ("com.example.www."), then type, then SetIdentifier;
- names come back lower-case with characters other than a-z 0-9 - _ as
  octal escapes ("*" is "\\052");
- a change batch is all-or-nothing, and all of its problems are reported in
  one InvalidChangeBatch message "[problem one, problem two]".
"""

import copy
import ipaddress
import re
import secrets
import string
import urllib.parse

import awsmodel
from errors import AwsError

_RRSET_PATH = re.compile(r"^/2013-04-01/hostedzone/(.+)/rrset/?$")
_CHANGE_PATH = re.compile(r"^/2013-04-01/change/(.+)$")
_MAX_ITEMS = 300
# Members of ResourceRecordSet this fake keeps; others (alias, geo, failover,
# ...) are refused with InvalidInput rather than silently dropped.
_SUPPORTED = {"Name", "Type", "SetIdentifier", "MultiValueAnswer", "Weight", "TTL", "ResourceRecords", "HealthCheckId"}


def route(method, raw_path):
    """(action, hosted zone or change id) for a Route 53 request, or (None, None)."""
    m = _RRSET_PATH.match(raw_path)
    if m:
        zone = _strip_prefix(m.group(1), "hostedzone")
        if method == "GET":
            return "ListResourceRecordSets", zone
        if method == "POST":
            return "ChangeResourceRecordSets", zone
    m = _CHANGE_PATH.match(raw_path)
    if m and method == "GET":
        return "GetChange", _strip_prefix(m.group(1), "change")
    return None, None


def _strip_prefix(raw, kind):
    # The model's {Id} may arrive as "Z123", or with its "/hostedzone/" prefix
    # (percent-encoded or not), as the API returns ids with it.
    value = urllib.parse.unquote(raw).strip("/")
    if value.startswith(kind + "/"):
        value = value[len(kind) + 1:]
    return value


def normalize_name(name):
    """Route 53's stored form: lower case, final dot, other characters as \\ooo escapes."""
    name = name.strip()
    if not name.endswith("."):
        name += "."
    out, i = [], 0
    while i < len(name):
        c = name[i]
        if c == "\\" and name[i + 1:i + 4].isdigit() and len(name[i + 1:i + 4]) == 3:
            out.append(name[i:i + 4])
            i += 4
            continue
        c = c.lower()
        out.append(c if (c.isascii() and (c.isalnum() or c in "-_.")) else f"\\{ord(c):03o}")
        i += 1
    return "".join(out)


def _reversed_name(name):
    labels = name.rstrip(".").split(".")
    return ".".join(reversed(labels)) + "."


def sort_key(record):
    return (_reversed_name(record["Name"]), record["Type"], record.get("SetIdentifier") or "")


def _describe(rr):
    sid = f", set-identifier='{rr['SetIdentifier']}'" if rr.get("SetIdentifier") else ""
    return f"[name='{rr['Name']}', type='{rr['Type']}'{sid}]"


def _same(a, b):
    def canon(r):
        c = dict(r)
        c["ResourceRecords"] = sorted(v["Value"] for v in r.get("ResourceRecords") or [])
        return c
    return canon(a) == canon(b)


class Route53:
    def __init__(self, app):
        self.app = app

    @property
    def w(self):
        return self.app.world.data

    def _zone(self, zone_id):
        zone = self.w["hosted_zones"].get(zone_id)
        if zone is None:
            raise AwsError("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", 404)
        return zone

    def handle(self, action, ident, query, body, akid):
        if self.app.world.is_denied(akid, "route53", action):
            _, arn = self.app.world.principal(akid)
            resource = f"arn:aws:route53:::{'change' if action == 'GetChange' else 'hostedzone'}/{ident}"
            raise AwsError("AccessDenied", f"User: {arn} is not authorized to perform: route53:{action} "
                                           f"on resource: {resource}", 403)
        if action == "ListResourceRecordSets":
            return self.list_resource_record_sets(ident, query)
        if action == "ChangeResourceRecordSets":
            return self.change_resource_record_sets(ident, body)
        return self.get_change(ident)

    # -- ListResourceRecordSets -------------------------------------------------

    def list_resource_record_sets(self, zone_id, query):
        zone = self._zone(zone_id)
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        name, rtype, ident = params.get("name"), params.get("type"), params.get("identifier")
        if rtype is not None and name is None:
            raise AwsError("InvalidInput", "The input is not valid: specifying type without name is not allowed")
        if ident is not None and rtype is None:
            raise AwsError("InvalidInput", "The input is not valid: specifying identifier without name and type is not allowed")
        if rtype is not None and rtype not in self._types():
            raise AwsError("InvalidInput", f"Invalid type: {rtype}")
        max_items = _MAX_ITEMS
        if params.get("maxitems") is not None:
            try:
                max_items = int(params["maxitems"])
            except ValueError:
                raise AwsError("InvalidInput", f"Invalid maxitems: {params['maxitems']}") from None
            if max_items < 1:
                raise AwsError("InvalidInput", f"Invalid maxitems: {max_items}")
            max_items = min(max_items, _MAX_ITEMS)
        records = sorted(zone["records"], key=sort_key)
        if name is not None:
            start = (_reversed_name(normalize_name(name)), rtype or "", ident or "")
            records = [r for r in records if sort_key(r) >= start]
        page, rest = records[:max_items], records[max_items:]
        out = {"ResourceRecordSets": copy.deepcopy(page), "IsTruncated": bool(rest), "MaxItems": str(max_items)}
        if rest:
            out["NextRecordName"] = rest[0]["Name"]
            out["NextRecordType"] = rest[0]["Type"]
            if rest[0].get("SetIdentifier"):
                out["NextRecordIdentifier"] = rest[0]["SetIdentifier"]
        return out

    @staticmethod
    def _types():
        return awsmodel.service_model("route53").shape_for("RRType").enum

    # -- ChangeResourceRecordSets ---------------------------------------------

    def _check_rrset(self, action, rr):
        """Normalize one change's record set; InvalidInput for what the schema or API refuses."""
        unsupported = set(rr) - _SUPPORTED
        if unsupported:
            raise AwsError("InvalidInput", f"Invalid request: {sorted(unsupported)} not supported by this fake")
        rr = dict(rr)
        rr["Name"] = normalize_name(rr["Name"])
        if rr["Type"] not in self._types():
            raise AwsError("InvalidInput", f"Invalid XML ; value '{rr['Type']}' is not a valid RRType")
        where = (f"Change with [Action={action}, Name={rr['Name']}, Type={rr['Type']}, "
                 f"SetIdentifier={rr.get('SetIdentifier') or 'null'}]")
        if "TTL" not in rr or not rr.get("ResourceRecords"):
            raise AwsError("InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
                                           f"ResourceRecords], or TrafficPolicyInstanceId], but found none in {where}")
        if not 0 <= int(rr["TTL"]) <= 2147483647:
            raise AwsError("InvalidInput", f"Invalid request: TTL out of range in {where}")
        policy = "MultiValueAnswer" in rr or "Weight" in rr
        if rr.get("SetIdentifier") and not policy:
            raise AwsError("InvalidInput", "Invalid request: Expected exactly one of [Weight, Region, Failover, "
                                           "GeoLocation, MultiValueAnswer, GeoProximityLocation, or "
                                           f"CidrRoutingConfig], but found none in {where}")
        if policy and not rr.get("SetIdentifier"):
            raise AwsError("InvalidInput", f"Invalid request: Missing field 'SetIdentifier' in {where}")
        return rr

    def _value_problems(self, rr):
        problems = []
        values = [v.get("Value", "") for v in rr["ResourceRecords"]]
        for v in values:
            if rr["Type"] == "A":
                try:
                    ipaddress.IPv4Address(v)
                except ValueError:
                    problems.append(f"Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address "
                                    f"(Value is not a valid IPv4 address) encountered with '{v}''")
            elif rr["Type"] == "AAAA":
                try:
                    ipaddress.IPv6Address(v)
                except ValueError:
                    problems.append(f"Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address "
                                    f"(Value is not a valid IPv6 address) encountered with '{v}''")
        if len(set(values)) != len(values):
            problems.append(f"Duplicate Resource Record: '{values[0]}'" if len(values) == 2
                            else "Duplicate Resource Record")
        return problems

    def change_resource_record_sets(self, zone_id, body):
        zone = self._zone(zone_id)
        op = awsmodel.operation_model("route53", "ChangeResourceRecordSets")
        request = awsmodel.parse_xml_body(op, body)
        batch = request["ChangeBatch"]
        changes = batch.get("Changes") or []
        if not changes:
            raise AwsError("InvalidInput", "Invalid XML ; Changes must contain at least one Change")
        zone_name = normalize_name(zone["name"])
        records = copy.deepcopy(zone["records"])
        problems, seen = [], {}

        def find(key):
            for i, r in enumerate(records):
                if (r["Name"], r["Type"], r.get("SetIdentifier") or "") == key:
                    return i
            return None

        for change in changes:
            action = change["Action"]
            if action not in ("CREATE", "DELETE", "UPSERT"):
                raise AwsError("InvalidInput", f"Invalid XML ; value '{action}' is not a valid ChangeAction")
            rr = self._check_rrset(action, change["ResourceRecordSet"])
            if rr["Name"] != zone_name and not rr["Name"].endswith("." + zone_name):
                problems.append(f"RRSet with DNS name {rr['Name']} is not permitted in zone {zone_name}")
                continue
            problems.extend(self._value_problems(rr))
            key = (rr["Name"], rr["Type"], rr.get("SetIdentifier") or "")
            # One change per set, except the replace idiom: DELETE the exact
            # old set, then CREATE (or UPSERT) the new one in the same batch.
            if key in seen and not (seen[key] == ["DELETE"] and action in ("CREATE", "UPSERT")):
                problems.append(f"The request contains an invalid set of changes for a resource record set "
                                f"'{rr['Type']} {rr['Name']}'")
                continue
            seen.setdefault(key, []).append(action)
            at = find(key)
            if action == "CREATE":
                if at is not None:
                    problems.append(f"Tried to create resource record set {_describe(rr)} but it already exists")
                else:
                    records.append(rr)
            elif action == "DELETE":
                if at is None:
                    problems.append(f"Tried to delete resource record set {_describe(rr)} but it was not found")
                elif not _same(records[at], rr):
                    problems.append(f"Tried to delete resource record set {_describe(rr)} but the values "
                                    f"provided do not match the current values")
                else:
                    del records[at]
            else:
                if at is None:
                    records.append(rr)
                else:
                    records[at] = rr
        problems.extend(self._conflicts(records, zone_name, zone["records"]))
        if problems:
            raise AwsError("InvalidChangeBatch", "[" + ", ".join(problems) + "]")

        zone["records"] = records
        now = self.app.world.now()
        cid = "C" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))
        info = {"Id": f"/change/{cid}", "Status": "PENDING", "SubmittedAt": now}
        if batch.get("Comment"):
            info["Comment"] = batch["Comment"]
        self.w["changes"][cid] = dict(info, insync_at=self.app.world.due_at("route53_change", now))
        return {"ChangeInfo": info}

    @staticmethod
    def _conflicts(records, zone_name, before):
        problems = []
        by_name_type = {}
        for r in records:
            by_name_type.setdefault((r["Name"], r["Type"]), []).append(r)
        for (name, rtype), sets in sorted(by_name_type.items()):
            simple = [r for r in sets if not r.get("SetIdentifier")]
            if simple and len(sets) > 1:
                problems.append(f"RRSet of type {rtype} with DNS name {name} is not permitted because a "
                                f"conflicting RRSet of type {rtype} with the same DNS name already exists "
                                f"in zone {zone_name}.")
        names = {}
        for name, rtype in by_name_type:
            names.setdefault(name, set()).add(rtype)
        for name, types in sorted(names.items()):
            if "CNAME" in types and len(types) > 1:
                problems.append(f"RRSet of type CNAME with DNS name {name} is not permitted as it conflicts "
                                f"with other records with the same DNS name in zone {zone_name}.")
        apex_before = {r["Type"] for r in before if r["Name"] == zone_name}
        for rtype in ("SOA", "NS"):
            if rtype in apex_before and (zone_name, rtype) not in by_name_type:
                problems.append(f"A HostedZone must contain at least one {rtype} record for the zone itself.")
        return problems

    # -- GetChange -------------------------------------------------------------

    def get_change(self, cid):
        change = self.w["changes"].get(cid)
        if change is None:
            raise AwsError("NoSuchChange", "A change with the specified change ID does not exist.", 404)
        return {"ChangeInfo": {k: v for k, v in change.items() if k != "insync_at"}}
