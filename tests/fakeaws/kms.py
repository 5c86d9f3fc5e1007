"""KMS (JSON protocol): DescribeKey, what `nodeagent --check` asks about an
encrypted volume's key.

The keys live in the world's `kms_keys.{key id}`:

    {"state": "Enabled" | "Disabled" | "PendingDeletion" | "PendingImport" | "Unavailable" | ...,
     "key_manager": "CUSTOMER" | "AWS", "description": "", "aliases": ["alias/kafka"],
     "creation_date": epoch, "deletion_date": epoch (PendingDeletion), "pending_window_days": 7..30}

in the world's account and Region. A key is named as AWS accepts it: its id,
its ARN, an alias name ("alias/...") or an alias ARN. An unknown key or
alias, or one of another account or Region, is NotFoundException; an ARN
that is not a KMS one, InvalidArnException (both in the model's errors). A volume's `kms_key_id` names the key it is
encrypted with (EC2 reports it as the key's ARN).

Shapes: botocore's kms 2014-11-01 model (KeyMetadata); the reply is
serialized from it by awsmodel.json_reply, so a member name the model does
not have fails loudly.
"""

from errors import AwsError

_STATES = ("Creating", "Enabled", "Disabled", "PendingDeletion", "PendingImport", "PendingReplicaDeletion",
           "Unavailable", "Updating")


def key_arn(world, key_id):
    return f"arn:aws:kms:{world['region']}:{world['account']}:key/{key_id}"


class Kms:
    service = "kms"

    def __init__(self, app):
        self.app = app
        self.actions = {"DescribeKey": self.describe_key}

    def _find(self, name):
        """(key id, key) for any of the four ways to name a key; NotFoundException otherwise."""
        w = self.app.world.data
        keys = w.get("kms_keys") or {}
        prefix = f"arn:aws:kms:{w['region']}:{w['account']}:"
        if name.startswith("arn:"):
            parts = name.split(":", 5)
            if len(parts) < 6 or parts[2] != "kms" or not parts[5].startswith(("key/", "alias/")):
                raise AwsError("InvalidArnException", f"Invalid arn {name}")
            if not name.startswith(prefix):
                # Another account or Region: this endpoint does not have it.
                raise AwsError("NotFoundException", f"Key '{name}' does not exist")
            rest = parts[5]
            if rest.startswith("key/"):
                return self._by_id(keys, rest[len("key/"):], name)
            return self._by_alias(keys, rest, name)
        if name.startswith("alias/"):
            return self._by_alias(keys, name, prefix + name)
        return self._by_id(keys, name, key_arn(w, name))

    @staticmethod
    def _by_id(keys, key_id, shown):
        if key_id not in keys:
            raise AwsError("NotFoundException", f"Key '{shown}' does not exist")
        return key_id, keys[key_id]

    @staticmethod
    def _by_alias(keys, alias, shown):
        for key_id, key in keys.items():
            if alias in (key.get("aliases") or []):
                return key_id, key
        raise AwsError("NotFoundException", f"Alias '{shown}' is not found.")

    def describe_key(self, p):
        w = self.app.world.data
        key_id, key = self._find(p["KeyId"])
        state = key.get("state", "Enabled")
        if state not in _STATES:
            # A world the test wrote wrong: the fake's failure, loudly.
            raise AwsError("KMSInternalException", f"fake: kms_keys.{key_id}.state {state!r} is not one of "
                                                   f"{_STATES}", 500)
        meta = {
            "AWSAccountId": w["account"],
            "KeyId": key_id,
            "Arn": key_arn(w, key_id),
            "CreationDate": key.get("creation_date", 1704067200),
            "Enabled": state == "Enabled",
            "Description": key.get("description", ""),
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": state,
            "Origin": "AWS_KMS",
            "KeyManager": key.get("key_manager", "CUSTOMER"),
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": False,
        }
        if state == "PendingDeletion":
            meta["DeletionDate"] = key.get("deletion_date", self.app.world.now() + 30 * 86400)
            meta["PendingDeletionWindowInDays"] = key.get("pending_window_days", 30)
        return {"KeyMetadata": meta}
