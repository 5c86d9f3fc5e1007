"""The control interface under /_fake/: JSON in, JSON out, no signature.

Tests script a scenario through it (see README.md for the full list):
  GET    /_fake/health          {"ok": true, "pid": ...}
  GET    /_fake/state           the whole world
  PUT    /_fake/state           replace the world
  POST   /_fake/state/merge     RFC 7386 merge patch into the world (null deletes)
  POST   /_fake/reset           initial world; faults, tokens, request log and rate limits cleared
  GET    /_fake/faults          active rules;  POST appends a list (or one rule);  DELETE clears
  GET    /_fake/clock           {"skew", "now"};  POST {"skew": s} sets the offset
  GET    /_fake/imds            IMDS settings;  POST {"expire_tokens"|"disabled"|"credentials_lifetime"|"rotate_credentials"|...}
  GET    /_fake/requests        the request log (a Query request's form parameters included);  DELETE clears it
  GET    /_fake/backend         the attach backend's devices (describe())
  GET    /_fake/latency         the latency profile (latency.py) and its draw counts;  POST sets one;  DELETE removes it
"""

import json
import os

from reply import json_reply

_IMDS_SETTINGS = ("disabled", "credentials_lifetime", "refresh_window", "user_data", "role", "tags_enabled")


class Control:
    def __init__(self, app):
        self.app = app

    def handle(self, req):
        route = (req.method, req.path.rstrip("/") or "/")
        try:
            body = json.loads(req.body) if req.body.strip() else None
        except ValueError as e:
            return json_reply(400, {"error": f"invalid JSON: {e}"})
        table = {
            ("GET", "/_fake/health"): self.health,
            ("GET", "/_fake/state"): self.get_state,
            ("PUT", "/_fake/state"): self.put_state,
            ("POST", "/_fake/state/merge"): self.merge_state,
            ("POST", "/_fake/reset"): self.reset,
            ("GET", "/_fake/faults"): self.get_faults,
            ("POST", "/_fake/faults"): self.add_faults,
            ("DELETE", "/_fake/faults"): self.clear_faults,
            ("GET", "/_fake/clock"): self.get_clock,
            ("POST", "/_fake/clock"): self.set_clock,
            ("GET", "/_fake/imds"): self.get_imds,
            ("POST", "/_fake/imds"): self.set_imds,
            ("GET", "/_fake/requests"): self.get_requests,
            ("DELETE", "/_fake/requests"): self.clear_requests,
            ("GET", "/_fake/backend"): self.get_backend,
            ("GET", "/_fake/latency"): self.get_latency,
            ("POST", "/_fake/latency"): self.set_latency,
            ("DELETE", "/_fake/latency"): self.clear_latency,
        }
        handler = table.get(route)
        if handler is None:
            known = any(path == route[1] for _, path in table)
            return json_reply(405 if known else 404, {"error": f"no control endpoint {req.method} {req.path}"})
        try:
            return handler(body)
        except (ValueError, TypeError, KeyError) as e:
            return json_reply(400, {"error": str(e)})

    def health(self, _):
        return json_reply(200, {"ok": True, "pid": os.getpid()})

    def get_state(self, _):
        return json_reply(200, self.app.world.snapshot())

    def put_state(self, body):
        self.app.world.replace(body)
        return json_reply(200, self.app.world.snapshot())

    def merge_state(self, body):
        self.app.world.merge(body)
        return json_reply(200, self.app.world.snapshot())

    def reset(self, body):
        builtin = isinstance(body, dict) and body.get("world") == "default"
        self.app.world.reset(builtin_default=builtin)
        self.app.faults.clear()
        self.app.imds.expire_tokens()
        self.app.clear_requests()
        self.app.reset_rate_limits()
        self.app.latency.restart()
        self.app.backend.reset()
        return json_reply(200, {"ok": True})

    def get_faults(self, _):
        return json_reply(200, self.app.faults.list())

    def add_faults(self, body):
        rules = body if isinstance(body, list) else [body]
        added = self.app.faults.add(rules)
        return json_reply(200, added)

    def clear_faults(self, _):
        self.app.faults.clear()
        return json_reply(200, [])

    def get_clock(self, _):
        world = self.app.world
        return json_reply(200, {"skew": world.skew(), "now": world.now()})

    def set_clock(self, body):
        self.app.world.set_skew(float(body["skew"]))
        return self.get_clock(None)

    def get_imds(self, _):
        world = self.app.world
        with world.lock:
            settings = dict(world.data["imds"])
        settings["live_tokens"] = self.app.imds.token_count()
        settings["tokens"] = self.app.imds.live_tokens()
        return json_reply(200, settings)

    def set_imds(self, body):
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        unknown = set(body) - set(_IMDS_SETTINGS) - {"expire_tokens", "rotate_credentials"}
        if unknown:
            raise ValueError(f"unknown IMDS setting(s) {sorted(unknown)}")
        world = self.app.world
        with world.lock:
            for key in _IMDS_SETTINGS:
                if key in body:
                    world.data["imds"][key] = body[key]
            # Lifetime first, so {"credentials_lifetime": 10, "rotate_credentials": true}
            # issues a 10-second key set.
            if body.get("rotate_credentials"):
                world.issue_role_credentials(world.now())
        if body.get("expire_tokens"):
            self.app.imds.expire_tokens()
        return self.get_imds(None)

    def get_requests(self, _):
        return json_reply(200, self.app.requests())

    def clear_requests(self, _):
        self.app.clear_requests()
        return json_reply(200, [])

    def get_backend(self, _):
        return json_reply(200, self.app.backend.describe())

    def get_latency(self, _):
        return json_reply(200, self.app.latency.get())

    def set_latency(self, body):
        self.app.latency.set(body)
        return self.get_latency(None)

    def clear_latency(self, _):
        self.app.latency.clear()
        return json_reply(200, None)
