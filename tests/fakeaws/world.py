"""The fake's whole state: one JSON-able dict behind one lock.

Everything a test may want to see or set is in this dict (GET/PUT
/_fake/state), so a scenario is data, not code. Time-driven changes
(attaching -> attached, PENDING -> INSYNC) are not done by timers: each
pending change carries the fake-clock time at which it completes and
`advance()` applies all that are due before any request reads the world.
That is deterministic and needs no background thread.

Times are epoch seconds on the fake's clock, `now()`, which is the host clock
plus the world's `clock.skew`: skewing it plays "AWS's clock differs from the
client's" for signatures, Date headers, token and credential expiry alike.
"""

import copy
import json
import os
import secrets
import string
import threading
import time

DEFAULT_WORLD_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "world-default.json")

# Top-level members that hold collections: a replaced world that lacks one
# gets it empty, not the default world's content.
_COLLECTIONS = {
    "instances": dict, "volumes": dict, "network_interfaces": dict, "subnets": dict,
    "hosted_zones": dict, "changes": dict, "keys": dict, "deny": list, "rate_limits": dict,
    "snapshots": dict, "client_tokens": dict, "kms_keys": dict,
}
# Members whose missing sub-keys are filled from the default world, so a world
# may say only {"delays": {"volume_attach": 2}}.
_SETTINGS = ("clock", "delays", "imds", "autoscaling", "cloudformation")

# Issued role keys are forgotten this long after they expire.
_EXPIRED_KEY_GRACE = 3600


def load_default():
    with open(DEFAULT_WORLD_FILE) as f:
        return json.load(f)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


def _random_id(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def hex_id(prefix):
    """An id shaped like AWS's long ids: prefix + 17 hex digits."""
    return prefix + _random_id("0123456789abcdef", 17)


class World:
    def __init__(self, initial=None):
        self.lock = threading.RLock()
        self._default = load_default()
        self._initial = copy.deepcopy(initial if initial is not None else self._default)
        self.data = self._normalize(copy.deepcopy(self._initial))

    # -- whole-world operations (control interface) -------------------------

    def _normalize(self, data):
        if not isinstance(data, dict):
            raise ValueError("the world must be a JSON object")
        for key, default in self._default.items():
            if key in _COLLECTIONS:
                data.setdefault(key, _COLLECTIONS[key]())
            elif key in _SETTINGS:
                merged = copy.deepcopy(default)
                merged.update(data.get(key) or {})
                data[key] = merged
            else:
                data.setdefault(key, copy.deepcopy(default))
        return data

    def snapshot(self):
        with self.lock:
            self.advance()
            return copy.deepcopy(self.data)

    def replace(self, data):
        with self.lock:
            self.data = self._normalize(copy.deepcopy(data))

    def merge(self, patch):
        if not isinstance(patch, dict):
            raise ValueError("a merge patch must be a JSON object")
        with self.lock:
            merged = merge_patch(copy.deepcopy(self.data), patch)
            self.data = self._normalize(merged)

    def reset(self, builtin_default=False):
        with self.lock:
            source = self._default if builtin_default else self._initial
            self.data = self._normalize(copy.deepcopy(source))

    # -- clock ----------------------------------------------------------------

    def skew(self):
        return float(self.data["clock"].get("skew") or 0)

    def now(self):
        return time.time() + self.skew()

    def set_skew(self, seconds):
        with self.lock:
            self.data["clock"]["skew"] = float(seconds)

    # -- delays and lazy transitions ----------------------------------------

    def due_at(self, delay_name, now):
        """When a transition started now completes, or None for "never" (a negative or null delay)."""
        delay = self.data["delays"].get(delay_name, 0)
        if delay is None or float(delay) < 0:
            return None
        return now + float(delay)

    def advance(self):
        """Apply every time-driven change that is due on the fake's clock."""
        now = self.now()
        for vol in self.data["volumes"].values():
            # A new volume is "creating" until then.
            t = vol.get("available_at")
            if t is not None and now >= t and vol.get("state") == "creating":
                vol["available_at"] = None
                vol["state"] = None
        for snap in self.data["snapshots"].values():
            t = snap.get("completed_at")
            if t is not None and now >= t and snap.get("state") == "pending":
                snap["completed_at"] = None
                snap["state"] = "completed"
        for inst in self.data["instances"].values():
            # "running_at": a new instance is "pending" until then (EC2
            # refuses attaches meanwhile with IncorrectState).
            t = inst.get("running_at")
            if t is not None and now >= t:
                inst["running_at"] = None
                if inst.get("state") == "pending":
                    inst["state"] = "running"
        for vol in self.data["volumes"].values():
            kept = []
            for att in vol.get("attachments") or []:
                t = att.get("transition_at")
                if t is not None and now >= t:
                    att["transition_at"] = None
                    if att["status"] == "attaching":
                        att["status"] = "attached"
                    elif att["status"] == "detaching":
                        continue  # The attachment is gone; the volume is available.
                kept.append(att)
            vol["attachments"] = kept
        for eni in self.data["network_interfaces"].values():
            att = eni.get("attachment")
            if not att:
                continue
            t = att.get("transition_at")
            if t is not None and now >= t:
                att["transition_at"] = None
                if att["status"] == "attaching":
                    att["status"] = "attached"
                    att["attached_at"] = t
                elif att["status"] == "detaching":
                    # EC2 drops a finished attachment: the ENI reads "available"
                    # with no attachment element.
                    eni["attachment"] = None
        for change in self.data["changes"].values():
            t = change.get("insync_at")
            if change.get("Status") == "PENDING" and t is not None and now >= t:
                change["Status"] = "INSYNC"
        current = self.data["imds"].get("current_key")
        for akid in [k for k, v in self.data["keys"].items()
                     if v.get("role") and k != current
                     and v.get("expiration") is not None and v["expiration"] < now - _EXPIRED_KEY_GRACE]:
            del self.data["keys"][akid]

    # -- credentials ----------------------------------------------------------

    def key(self, access_key_id):
        return self.data["keys"].get(access_key_id)

    def issue_role_credentials(self, now):
        """A fresh key set for the instance role; earlier sets stay valid until they expire."""
        imds = self.data["imds"]
        lifetime = float(imds.get("credentials_lifetime") or 21600)
        akid = "ASIA" + _random_id(string.ascii_uppercase + string.digits, 16)
        self.data["keys"][akid] = {
            "secret": _random_id(string.ascii_letters + string.digits + "+/", 40),
            "token": "IQoJb3JpZ2luX2VjE" + _random_id(string.ascii_letters + string.digits, 300),
            "expiration": int(now + lifetime),
            "issued_at": int(now),
            "role": imds.get("role"),
        }
        imds["current_key"] = akid
        return akid

    def role_credentials(self, now):
        """The role's current key set, rotated like IMDS does.

        A set is replaced when it is fetched within the refresh window before
        its Expiration (5 minutes by default, like AWS) or after it. The window
        is capped at half the lifetime so that short test lifetimes (10 s) do
        not rotate on every fetch.
        """
        imds = self.data["imds"]
        lifetime = float(imds.get("credentials_lifetime") or 21600)
        window = min(float(imds.get("refresh_window", 300)), lifetime / 2)
        akid = imds.get("current_key")
        cur = self.data["keys"].get(akid) if akid else None
        if cur is None or cur.get("role") != imds.get("role") or now >= cur["expiration"] - window:
            akid = self.issue_role_credentials(now)
        return akid, self.data["keys"][akid]

    def principal(self, access_key_id):
        """Who a key belongs to: (name for deny rules, ARN for messages)."""
        entry = self.data["keys"].get(access_key_id) or {}
        account = self.data["account"]
        if entry.get("role"):
            name = entry["role"]
            return name, f"arn:aws:sts::{account}:assumed-role/{name}/{self.data['self']}"
        name = entry.get("user") or access_key_id
        return name, f"arn:aws:iam::{account}:user/{name}"

    def is_denied(self, access_key_id, service, action):
        """True when a deny rule matches: {"principal": key id | user | role | "*", "action": "ec2:AttachVolume" | "AttachVolume" | "ec2:*" | "*"}."""
        name, _ = self.principal(access_key_id)
        for rule in self.data["deny"]:
            who = rule.get("principal", "*")
            what = rule.get("action", "*")
            if who not in ("*", access_key_id, name):
                continue
            if what in ("*", action, f"{service}:{action}", f"{service}:*"):
                return True
        return False
