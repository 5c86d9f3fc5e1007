"""What a handler returns; the server writes it (or mangles it, for a fault)."""

import json
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict = field(default_factory=dict)
    code: str = None        # AWS error code (or HTTP status for IMDS), for the request log
    access_key: str = None  # the signing key, for the request log


def json_reply(status, value):
    return Reply(status, (json.dumps(value, indent=1, sort_keys=True) + "\n").encode(), "application/json")
