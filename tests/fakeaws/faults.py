"""Fault rules: scripted misbehaviour for the next N matching requests.

A rule is a JSON object:
  {"service": "ec2" | "route53" | "imds" | "autoscaling" | "cloudformation" | "kms" | "*",
   "action":  "AttachVolume" | "*" | (imds) "token" | "credentials" | "identity" | "user-data" | a path,
   "kind":    see KINDS,
   "count":   how many matching requests it applies to (default 1; -1 = forever),
   "skip":    let this many matching requests pass first (default 0),
   ...kind-specific: "seconds", "status", "code", "message", "bytes", "chunked"}

Rules are matched in the order they were added. Every matching "latency"
rule adds its delay; the first matching rule of any other kind decides what
happens to the request. A rule is used up when its count reaches zero.
"""

import threading

# kind -> (when it acts, required fields)
#   before: instead of handling the request; after: on the handled reply.
KINDS = {
    "latency": ("before", ("seconds",)),
    "throttle": ("before", ()),
    "http5xx": ("before", ()),
    "error": ("before", ()),
    "reset": ("before", ()),
    "timeout": ("before", ()),
    "slow": ("after", ()),
    "malformed": ("after", ()),
    "truncated": ("after", ()),
    "drop_after_effect": ("after", ()),
    "huge": ("after", ()),
}

SERVICES = ("*", "ec2", "route53", "imds", "autoscaling", "cloudformation", "kms")


def validate(rule):
    if not isinstance(rule, dict):
        raise ValueError("a fault rule must be a JSON object")
    kind = rule.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
    service = rule.get("service", "*")
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {SERVICES}")
    for field in KINDS[kind][1]:
        if field not in rule:
            raise ValueError(f"fault kind {kind!r} needs {field!r}")
    count = rule.get("count", 1)
    if not isinstance(count, int) or (count < 1 and count != -1):
        raise ValueError("count must be a positive integer or -1")
    out = {"service": service, "action": rule.get("action", "*"), "count": count, "skip": int(rule.get("skip", 0))}
    out.update({k: v for k, v in rule.items() if k not in out})
    out["applied"] = 0
    return out


def _imds_match(pattern, action, path):
    if pattern in ("*", action):
        return True
    if path is None:
        return False
    pattern = pattern.strip("/")
    if pattern.startswith("latest/"):
        pattern = pattern[len("latest/"):]
    return path == pattern or path.startswith(pattern + "/")


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def add(self, rules):
        checked = [validate(r) for r in rules]
        with self._lock:
            self._rules.extend(checked)
        return checked

    def clear(self):
        with self._lock:
            self._rules = []

    def list(self):
        with self._lock:
            return [dict(r) for r in self._rules]

    def take(self, service, action, imds_path=None):
        """Consume the rules that apply to one request: (latency seconds, deciding rule or None)."""
        latency = 0.0
        decided = None
        with self._lock:
            for rule in self._rules:
                if rule["service"] not in ("*", service):
                    continue
                if service == "imds":
                    if not _imds_match(rule["action"], action, imds_path):
                        continue
                elif rule["action"] not in ("*", action):
                    continue
                if rule["kind"] != "latency" and decided is not None:
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                rule["applied"] += 1
                if rule["count"] > 0:
                    rule["count"] -= 1
                if rule["kind"] == "latency":
                    latency += float(rule["seconds"])
                else:
                    decided = dict(rule)
            self._rules = [r for r in self._rules if r["count"] != 0]
        return latency, decided
