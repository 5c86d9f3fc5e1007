"""Instance Metadata Service, IMDSv2 only (strict, like an instance with HttpTokens=required).

- PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds (1..21600),
  else 400; X-Forwarded-For on it is refused with 403 (IMDS refuses tokens
  to requests that went through a proxy); a disabled IMDS answers 403.
- Every other request needs a live token in X-aws-ec2-metadata-token, else 401.
- The tree is built from the world on each request, so it follows attaches:
  an ENI appears under network/interfaces/macs/ once EC2 says "attached"
  (and, during delays.imds_interface_lag after that, with device-number 0
  and no subnet data, as real IMDS lags the EC2 API).
- Role credentials rotate (see World.role_credentials); fetching them is the
  only read that changes the world.
"""

import datetime
import json
import secrets
import threading

MAX_TTL = 21600
_CREDENTIALS_PREFIX = "meta-data/iam/security-credentials"
_HTML = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
         '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
         '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
         '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
         " <head>\n  <title>{status} - {reason}</title>\n </head>\n"
         " <body>\n  <h1>{status} - {reason}</h1>\n </body>\n</html>\n")
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def error_body(status):
    return _HTML.format(status=status, reason=_REASONS.get(status, "Error")).encode()


def _z(epoch):
    # IMDS writes times without fractions: 2024-01-01T00:00:00Z.
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def relative_path(raw_path):
    """'/latest/meta-data/instance-id' -> 'meta-data/instance-id'."""
    rel = raw_path[len("/latest"):] if raw_path.startswith("/latest") else raw_path
    return rel.strip("/")


def action_for(method, rel):
    """The name fault rules and the request log use for an IMDS request."""
    if rel == "api/token":
        return "token"
    if rel.startswith(_CREDENTIALS_PREFIX):
        return "credentials"
    if rel.startswith("dynamic/instance-identity"):
        return "identity"
    if rel == "user-data":
        return "user-data"
    return rel


class Imds:
    def __init__(self, app):
        self.app = app
        self._lock = threading.Lock()
        self._tokens = {}  # token -> expiry on the fake clock

    def expire_tokens(self):
        with self._lock:
            self._tokens.clear()

    def live_tokens(self):
        """The tokens still valid (the security tests look for them in the agent's output)."""
        now = self.app.world.now()
        with self._lock:
            return sorted(t for t, (e, _) in self._tokens.items() if e > now)

    def token_count(self):
        now = self.app.world.now()
        with self._lock:
            return sum(1 for e, _ in self._tokens.values() if e > now)

    def handle(self, method, rel, headers, instance=None):
        """Return (status, body bytes, extra headers). The caller holds the world lock.

        instance: the instance asking (its listener's, fakeaws.py --instance); None: the world's self.
        Tokens are the endpoint's as on EC2, where each instance has its own IMDS: one instance's
        token is refused by another's."""
        world = self.app.world
        settings = world.data["imds"]
        now = world.now()
        if rel == "api/token":
            if method != "PUT":
                return 405, error_body(405), {}
            if settings.get("disabled"):
                return 403, error_body(403), {}
            if headers.get("X-Forwarded-For") is not None:
                return 403, error_body(403), {}
            raw_ttl = headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            try:
                ttl = int(raw_ttl)
            except (TypeError, ValueError):
                return 400, error_body(400), {}
            if not 1 <= ttl <= MAX_TTL:
                return 400, error_body(400), {}
            token = "AQAEA" + secrets.token_urlsafe(42)
            with self._lock:
                self._tokens = {t: e for t, e in self._tokens.items() if e[0] > now}
                self._tokens[token] = (now + ttl, instance)
            return 200, token.encode(), {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}

        if method not in ("GET", "HEAD"):
            return 405, error_body(405), {}
        if settings.get("disabled"):
            return 403, error_body(403), {}
        token = headers.get("X-aws-ec2-metadata-token")
        with self._lock:
            expiry, owner = self._tokens.get(token, (None, None)) if token else (None, None)
        if expiry is None or expiry <= now or owner != instance:
            return 401, error_body(401), {}
        text = self._resolve(self._tree(now, instance or world.data["self"]), rel)
        if text is None:
            return 404, error_body(404), {}
        return 200, text.encode(), {"X-aws-ec2-metadata-token-ttl-seconds": str(int(expiry - now))}

    @staticmethod
    def _resolve(tree, rel):
        node = tree
        for part in [p for p in rel.split("/") if p]:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, dict):
            return "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items())
        return node() if callable(node) else node

    # -- the tree -----------------------------------------------------------------

    def _tree(self, now, iid):
        w = self.app.world.data
        inst = w["instances"].get(iid, {})
        enis = w["network_interfaces"]
        primary = enis.get(inst.get("primary_eni") or "") or {}
        ip = primary.get("private_ip_address", "")
        mac = primary.get("mac_address", "")
        az = inst.get("availability_zone", "")
        host = "ip-" + ip.replace(".", "-") + ".ec2.internal" if ip else ""
        settings = w["imds"]

        macs = {}
        attached = sorted(((eid, e) for eid, e in enis.items()
                           if e.get("attachment") and e["attachment"]["instance_id"] == iid
                           and e["attachment"]["status"] == "attached"),
                          key=lambda x: x[1]["attachment"]["device_index"])
        for eid, eni in attached:
            macs[eni["mac_address"]] = self._interface(eid, eni, now)

        meta = {
            "ami-id": inst.get("image_id", ""),
            "ami-launch-index": "0",
            "hostname": host,
            "instance-id": iid,
            "instance-type": inst.get("instance_type", ""),
            "local-hostname": host,
            "local-ipv4": ip,
            "mac": mac,
            "network": {"interfaces": {"macs": macs}},
            "placement": {
                "availability-zone": az,
                "availability-zone-id": (w["subnets"].get(inst.get("subnet_id") or "") or {}).get(
                    "availability_zone_id") or self._az_id(az),
                "region": w["region"],
            },
            "reservation-id": inst.get("reservation_id", ""),
            "security-groups": "\n".join(g["name"] for g in primary.get("security_groups") or []),
            "services": {"domain": "amazonaws.com", "partition": "aws"},
        }
        # Only for instances in an Auto Scaling group, as on EC2: the state
        # the group moves the instance to ("InService", "Terminated", ...).
        target = inst.get("target_lifecycle_state",
                          "InService" if "aws:autoscaling:groupName" in (inst.get("tags") or {}) else None)
        if target:
            meta["autoscaling"] = {"target-lifecycle-state": target}
        role = settings.get("role")
        if role:
            meta["iam"] = {
                "info": lambda: json.dumps({
                    "Code": "Success", "LastUpdated": _z(now),
                    "InstanceProfileArn": f"arn:aws:iam::{w['account']}:instance-profile/{role}",
                    "InstanceProfileId": "AIPAFAKEAWS0" + role.upper().replace("-", "")[:8],
                }, indent=2),
                "security-credentials": {role: lambda: self._credentials(now)},
            }
        if settings.get("tags_enabled", True) and inst.get("tags"):
            meta["tags"] = {"instance": {k: v for k, v in sorted(inst["tags"].items()) if "/" not in k}}
        tree = {
            "dynamic": {"instance-identity": {"document": lambda: self._identity(iid, inst, ip, az)}},
            "meta-data": meta,
        }
        if settings.get("user_data") is not None:
            tree["user-data"] = settings["user_data"]
        return tree

    def _interface(self, eid, eni, now):
        w = self.app.world.data
        att = eni["attachment"]
        lag = float(w["delays"].get("imds_interface_lag") or 0)
        lagging = att.get("attached_at") is not None and now < float(att["attached_at"]) + lag
        ips = [eni["private_ip_address"]] + list(eni.get("secondary_private_ips") or [])
        node = {
            "device-number": "0" if lagging else str(att["device_index"]),
            "interface-id": eid,
            "local-hostname": "ip-" + eni["private_ip_address"].replace(".", "-") + ".ec2.internal",
            "local-ipv4s": "\n".join(ips),
            "mac": eni["mac_address"],
            "owner-id": w["account"],
            "security-group-ids": "\n".join(g["id"] for g in eni.get("security_groups") or []),
            "security-groups": "\n".join(g["name"] for g in eni.get("security_groups") or []),
        }
        subnet = w["subnets"].get(eni["subnet_id"])
        if not lagging:
            node["subnet-id"] = eni["subnet_id"]
            node["vpc-id"] = eni["vpc_id"]
            if subnet:
                node["subnet-ipv4-cidr-block"] = subnet["cidr_block"]
        return node

    @staticmethod
    def _az_id(az):
        # Only when the instance's subnet does not say: us-east-1's usual mapping.
        return {"a": "use1-az1", "b": "use1-az2", "c": "use1-az4"}.get(az[-1:], "use1-az1") if az else ""

    def _identity(self, iid, inst, ip, az):
        w = self.app.world.data
        return json.dumps({
            "accountId": w["account"],
            "architecture": inst.get("architecture", "x86_64"),
            "availabilityZone": az,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": inst.get("image_id", ""),
            "instanceId": iid,
            "instanceType": inst.get("instance_type", ""),
            "kernelId": None,
            "pendingTime": _z(inst.get("launch_time", 0)),
            "privateIp": ip,
            "ramdiskId": None,
            "region": w["region"],
            "version": "2017-09-30",
        }, indent=2)

    def _credentials(self, now):
        akid, entry = self.app.world.role_credentials(now)
        return json.dumps({
            "Code": "Success",
            "LastUpdated": _z(entry["issued_at"]),
            "Type": "AWS-HMAC",
            "AccessKeyId": akid,
            "SecretAccessKey": entry["secret"],
            "Token": entry["token"],
            "Expiration": _z(entry["expiration"]),
        }, indent=2)
