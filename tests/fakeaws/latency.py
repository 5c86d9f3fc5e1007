"""Latency profile: every request waits a seeded random time, like a real endpoint.

A profile is a JSON object (`--latency-profile FILE`, or POST /_fake/latency):

  {"seed": 42,
   "rules": [
     {"service": "imds",    "action": "*",                        "seconds": [0.0008, 0.0012]},
     {"service": "route53", "action": "ChangeResourceRecordSets", "seconds": [0.09, 0.11]},
     {"service": "*",       "action": "*",                        "seconds": [0.08, 0.15]}]}

service and action match as in fault rules (IMDS actions: token, identity,
credentials, user-data, or a path prefix). The FIRST matching rule decides;
a request no rule matches waits nothing. "seconds" is a number or [min, max]
(uniform). The wait of the k-th request of one (service, action) since the
profile was set (or the last reset) is drawn from its own generator seeded
with (seed, service, action, k), so a run gets the same waits whatever the
interleaving of the calls, and two runs with one seed compare. The wait
comes on top of fault "latency" rules; the request log's "latency" field is
the sum of both.
"""

import random
import threading

from faults import SERVICES, _imds_match


def _range(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo = hi = float(value)
    elif (isinstance(value, list) and len(value) == 2 and
          all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError("seconds must be a number or [min, max]")
    if lo < 0 or hi < lo:
        raise ValueError("seconds must satisfy 0 <= min <= max")
    return lo, hi


def validate(profile):
    """A checked copy of a profile: {"seed": int|str, "rules": [{service, action, seconds: [lo, hi]}]}."""
    if not isinstance(profile, dict):
        raise ValueError("a latency profile must be a JSON object")
    unknown = set(profile) - {"seed", "rules", "comment"}
    if unknown:
        raise ValueError(f"unknown latency profile member(s) {sorted(unknown)}")
    seed = profile.get("seed", 0)
    if not isinstance(seed, (int, str)) or isinstance(seed, bool):
        raise ValueError("seed must be an integer or a string")
    rules = profile.get("rules", [])
    if not isinstance(rules, list):
        raise ValueError("rules must be a list")
    out = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise ValueError("a latency rule must be a JSON object")
        service = rule.get("service", "*")
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {SERVICES}")
        action = rule.get("action", "*")
        if not isinstance(action, str):
            raise ValueError("action must be a string")
        out.append({"service": service, "action": action, "seconds": list(_range(rule.get("seconds")))})
    return {"seed": seed, "rules": out}


class LatencyProfile:
    def __init__(self, profile=None):
        self._lock = threading.Lock()
        self._profile = None
        self._counts = {}
        if profile is not None:
            self.set(profile)

    def set(self, profile):
        checked = validate(profile)
        with self._lock:
            self._profile = checked
            self._counts = {}
        return checked

    def clear(self):
        with self._lock:
            self._profile = None
            self._counts = {}

    def restart(self):
        """Reset: the same profile, the draws start again from the first."""
        with self._lock:
            self._counts = {}

    def get(self):
        with self._lock:
            if self._profile is None:
                return None
            return {"seed": self._profile["seed"], "rules": [dict(r) for r in self._profile["rules"]],
                    "counts": {f"{s}:{a}": n for (s, a), n in sorted(self._counts.items())}}

    def draw(self, service, action, imds_path=None):
        """Seconds this request waits (0.0 without a profile or a matching rule)."""
        with self._lock:
            if self._profile is None:
                return 0.0
            for rule in self._profile["rules"]:
                if rule["service"] not in ("*", service):
                    continue
                if service == "imds":
                    if not _imds_match(rule["action"], action, imds_path):
                        continue
                elif rule["action"] not in ("*", action):
                    continue
                key = (service, action)
                k = self._counts.get(key, 0)
                self._counts[key] = k + 1
                lo, hi = rule["seconds"]
                if lo == hi:
                    return lo
                return random.Random(f"{self._profile['seed']}:{service}:{action}:{k}").uniform(lo, hi)
            return 0.0
