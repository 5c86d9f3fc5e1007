"""EC2 (API 2016-11-15): volumes, network interfaces, subnets, instances, tags.

Each action takes the input dict parsed from the model (member names, e.g.
{"VolumeIds": [...], "Filters": [{"Name": .., "Values": [..]}]}) and returns
the output dict (member names again); awsmodel turns it into EC2's XML.
Handlers run under the world lock; one that changes an attachment returns
(output, hooks): backend hooks the server runs once the lock is released
(see backends.py).

Error codes and messages are EC2's own, so the agent's error handling meets
what it will meet in production.
"""

import base64
import binascii
import re

from errors import AwsError
from world import hex_id

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}

_ID_RE = {prefix: re.compile(rf"^{prefix}-[0-9a-f]{{8}}([0-9a-f]{{9}})?$")
          for prefix in ("vol", "i", "eni", "subnet", "eni-attach", "snap")}
# What EC2 accepts as an EBS device name on Linux (sdf..sdp recommended, xvd*, sd*).
_DEVICE_RE = re.compile(r"^/dev/(sd[a-z]{1,2}|xvd[a-z]{1,2}|hd[a-z])[0-9]{0,2}$")


# -- small helpers --------------------------------------------------------------

def _tags(tags):
    return [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())] or None


def _wildcard(pattern):
    # EC2 filter values take * and ? wildcards; \ escapes them.
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.S)


def _apply_filters(items, filters, extractors):
    """Keep (id, obj) items matching every filter; values of one filter are ORed."""
    for f in filters or []:
        name = f.get("Name")
        if not name:
            raise AwsError("InvalidParameterValue", "The filter 'null' is invalid")
        if name.startswith("tag:"):
            key = name[4:]
            get = (lambda k: lambda _id, o: [o.get("tags", {})[k]] if k in o.get("tags", {}) else [])(key)
        elif name == "tag-key":
            get = lambda _id, o: list(o.get("tags", {}))
        elif name in extractors:
            get = extractors[name]
        else:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
        patterns = [_wildcard(v) for v in f.get("Values") or []]
        items = [(i, o) for i, o in items
                 if any(p.match(str(v)) for p in patterns for v in get(i, o))]
    return items


def _paginate(items, params, low, high):
    """EC2's MaxResults/NextToken; the token is an opaque offset."""
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.b64decode(token.encode(), validate=True).decode())
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise AwsError("InvalidParameterValue", f"Invalid value '{token}' for NextToken") from None
    limit = params.get("MaxResults")
    if limit is None:
        return items[start:], None
    if not low <= limit <= high:
        raise AwsError("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       f"Expecting a value between {low} and {high}.")
    page = items[start:start + limit]
    more = start + limit < len(items)
    return page, base64.b64encode(str(start + limit).encode()).decode() if more else None


def _check_format(ids, prefix, code):
    for i in ids:
        if not _ID_RE[prefix].match(i):
            raise AwsError(code, f'Invalid id: "{i}" (expecting "{prefix}-...")')


def _not_found(code, noun, missing):
    if len(missing) == 1:
        return AwsError(code, f"The {noun} ID '{missing[0]}' does not exist")
    return AwsError(code, f"The {noun} IDs '{', '.join(missing)}' do not exist")


def _same_device(a, b):
    """/dev/sdf and /dev/xvdf are one attachment point (a Xen kernel shows both as xvdf)."""
    strip = lambda d: re.sub(r"^(/dev/)?(xvd|sd)", "", d or "")
    return strip(a) == strip(b) and bool(strip(a))


def _volume_state(vol):
    if vol.get("state") in ("creating", "deleting", "deleted", "error"):
        return vol["state"]
    return "in-use" if vol.get("attachments") else "available"


class Ec2:
    def __init__(self, app):
        self.app = app
        self.actions = {
            "DescribeVolumes": self.describe_volumes,
            "AttachVolume": self.attach_volume,
            "DetachVolume": self.detach_volume,
            "DescribeNetworkInterfaces": self.describe_network_interfaces,
            "AttachNetworkInterface": self.attach_network_interface,
            "DetachNetworkInterface": self.detach_network_interface,
            "DescribeSubnets": self.describe_subnets,
            "DescribeInstances": self.describe_instances,
            "CreateTags": self.create_tags,
            "DescribeSnapshots": self.describe_snapshots,
            "CreateVolume": self.create_volume,
            "CreateNetworkInterface": self.create_network_interface,
            "DeleteTags": self.delete_tags,
        }

    @property
    def w(self):
        return self.app.world.data

    # -- views: world entries -> model dicts -------------------------------

    def _volume_view(self, vid, vol):
        return {
            "VolumeId": vid,
            "Size": vol.get("size", 8),
            "SnapshotId": vol.get("snapshot_id", ""),
            "AvailabilityZone": vol["availability_zone"],
            "State": _volume_state(vol),
            "CreateTime": vol.get("create_time", 0),
            "Attachments": [self._attachment_view(vid, a) for a in vol.get("attachments") or []],
            "Tags": _tags(vol.get("tags")),
            "VolumeType": vol.get("volume_type", "gp3"),
            "Iops": vol.get("iops"),
            "Throughput": vol.get("throughput"),
            "Encrypted": bool(vol.get("encrypted", False)),
            "KmsKeyId": self._kms_key_arn(vol.get("kms_key_id")),
            "MultiAttachEnabled": False,
        }

    def _kms_key_arn(self, key):
        """EC2 names a volume's key by its ARN; the world may say only the key id."""
        if not key or key.startswith("arn:"):
            return key or None
        return f"arn:aws:kms:{self.w['region']}:{self.w['account']}:key/{key}"

    @staticmethod
    def _attachment_view(vid, att):
        return {
            "VolumeId": vid,
            "InstanceId": att["instance_id"],
            "Device": att["device"],
            "State": att["status"],
            "AttachTime": att["attach_time"],
            "DeleteOnTermination": bool(att.get("delete_on_termination", False)),
        }

    @staticmethod
    def _dns_name(ip):
        return "ip-" + ip.replace(".", "-") + ".ec2.internal" if ip else None

    def _eni_status(self, eni):
        # An interface with any attachment (attaching, attached, detaching) is
        # "in-use", as DescribeNetworkInterfaces shows it; "available" otherwise.
        return "in-use" if eni.get("attachment") else "available"

    def _eni_attachment_view(self, att, instance_shape=False):
        view = {
            "AttachmentId": att["attachment_id"],
            "AttachTime": att["attach_time"],
            "DeleteOnTermination": bool(att.get("delete_on_termination", False)),
            "DeviceIndex": att["device_index"],
            "NetworkCardIndex": att.get("network_card_index", 0),
            "Status": att["status"],
        }
        if not instance_shape:
            view["InstanceId"] = att["instance_id"]
            view["InstanceOwnerId"] = self.w["account"]
        return view

    def _private_ips(self, eni):
        ip = eni["private_ip_address"]
        ips = [{"Primary": True, "PrivateIpAddress": ip, "PrivateDnsName": self._dns_name(ip)}]
        for extra in eni.get("secondary_private_ips") or []:
            ips.append({"Primary": False, "PrivateIpAddress": extra, "PrivateDnsName": self._dns_name(extra)})
        return ips

    def _eni_view(self, eid, eni):
        att = eni.get("attachment")
        return {
            "NetworkInterfaceId": eid,
            "SubnetId": eni["subnet_id"],
            "VpcId": eni["vpc_id"],
            "AvailabilityZone": eni["availability_zone"],
            "Description": eni.get("description", ""),
            "OwnerId": self.w["account"],
            "RequesterManaged": False,
            "Status": self._eni_status(eni),
            "MacAddress": eni["mac_address"],
            "PrivateIpAddress": eni["private_ip_address"],
            "PrivateDnsName": self._dns_name(eni["private_ip_address"]),
            "PrivateIpAddresses": self._private_ips(eni),
            "SourceDestCheck": bool(eni.get("source_dest_check", True)),
            "InterfaceType": eni.get("interface_type", "interface"),
            "Groups": [{"GroupId": g["id"], "GroupName": g["name"]} for g in eni.get("security_groups") or []],
            "Attachment": self._eni_attachment_view(att) if att else None,
            "TagSet": _tags(eni.get("tags")),
        }

    def _subnet_view(self, sid, sub):
        return {
            "SubnetId": sid,
            "VpcId": sub["vpc_id"],
            "CidrBlock": sub["cidr_block"],
            "AvailabilityZone": sub["availability_zone"],
            "AvailabilityZoneId": sub.get("availability_zone_id"),
            "AvailableIpAddressCount": sub.get("available_ip_address_count", 250),
            "DefaultForAz": False,
            "MapPublicIpOnLaunch": False,
            "State": "available",
            "OwnerId": self.w["account"],
            "SubnetArn": f"arn:aws:ec2:{self.w['region']}:{self.w['account']}:subnet/{sid}",
            "Tags": _tags(sub.get("tags")),
        }

    def _instance_enis(self, iid):
        return sorted(((eid, e) for eid, e in self.w["network_interfaces"].items()
                       if e.get("attachment") and e["attachment"]["instance_id"] == iid),
                      key=lambda x: x[1]["attachment"]["device_index"])

    def _instance_view(self, iid, inst):
        state = inst.get("state", "running")
        primary = self.w["network_interfaces"].get(inst.get("primary_eni") or "")
        live = state not in ("terminated",)
        ip = primary["private_ip_address"] if primary and live else None
        enis = []
        if live:
            for eid, e in self._instance_enis(iid):
                enis.append({
                    "NetworkInterfaceId": eid,
                    "Attachment": self._eni_attachment_view(e["attachment"], instance_shape=True),
                    "Description": e.get("description", ""),
                    "Groups": [{"GroupId": g["id"], "GroupName": g["name"]} for g in e.get("security_groups") or []],
                    "MacAddress": e["mac_address"],
                    "OwnerId": self.w["account"],
                    "PrivateDnsName": self._dns_name(e["private_ip_address"]),
                    "PrivateIpAddress": e["private_ip_address"],
                    "PrivateIpAddresses": self._private_ips(e),
                    "SourceDestCheck": bool(e.get("source_dest_check", True)),
                    "Status": self._eni_status(e),
                    "SubnetId": e["subnet_id"],
                    "VpcId": e["vpc_id"],
                    "InterfaceType": e.get("interface_type", "interface"),
                })
        # The AMI's own mappings ("block_device_mappings": device names),
        # then the volumes attached since.
        devices = [{"DeviceName": name, "Ebs": {"AttachTime": inst.get("launch_time", 0),
                                               "DeleteOnTermination": True, "Status": "attached",
                                               "VolumeId": "vol-0aaaaaaaaaaaaaaa%d" % k}}
                   for k, name in enumerate(inst.get("block_device_mappings") or [])]
        for vid, vol in sorted(self.w["volumes"].items()):
            for att in vol.get("attachments") or []:
                if att["instance_id"] == iid:
                    devices.append({"DeviceName": att["device"], "Ebs": {
                        "AttachTime": att["attach_time"], "DeleteOnTermination": bool(att.get("delete_on_termination")),
                        "Status": att["status"], "VolumeId": vid}})
        return {
            "InstanceId": iid,
            "ImageId": inst.get("image_id", "ami-0123456789abcdef0"),
            "State": {"Code": STATE_CODES.get(state, 16), "Name": state},
            "PrivateDnsName": self._dns_name(ip) or "",
            "PrivateIpAddress": ip,
            "InstanceType": inst.get("instance_type", "t3.micro"),
            "LaunchTime": inst.get("launch_time", 0),
            "Placement": {"AvailabilityZone": inst["availability_zone"], "Tenancy": "default"},
            "SubnetId": inst.get("subnet_id") if live else None,
            "VpcId": inst.get("vpc_id") if live else None,
            "Architecture": inst.get("architecture", "x86_64"),
            "RootDeviceType": "ebs",
            "RootDeviceName": "/dev/xvda",
            "BlockDeviceMappings": devices,
            "NetworkInterfaces": enis,
            "AmiLaunchIndex": 0,
            "StateTransitionReason": inst.get("state_reason", ""),
            "Tags": _tags(inst.get("tags")),
        }

    # -- lookups ---------------------------------------------------------------

    def _volume(self, vid):
        _check_format([vid], "vol", "InvalidVolumeID.Malformed")
        vol = self.w["volumes"].get(vid)
        if vol is None:
            raise AwsError("InvalidVolume.NotFound", f"The volume '{vid}' does not exist.")
        return vol

    def _instance(self, iid):
        _check_format([iid], "i", "InvalidInstanceID.Malformed")
        inst = self.w["instances"].get(iid)
        if inst is None:
            raise _not_found("InvalidInstanceID.NotFound", "instance", [iid])
        return inst

    def _eni(self, eid):
        _check_format([eid], "eni", "InvalidNetworkInterfaceID.Malformed")
        eni = self.w["network_interfaces"].get(eid)
        if eni is None:
            raise _not_found("InvalidNetworkInterfaceID.NotFound", "networkInterface", [eid])
        return eni

    def _select(self, collection, ids, prefix, malformed, notfound, noun):
        table = self.w[collection]
        if ids:
            _check_format(ids, prefix, malformed)
            missing = [i for i in ids if i not in table]
            if missing:
                if noun == "volume":
                    raise AwsError(notfound, f"The volume '{missing[0]}' does not exist." if len(missing) == 1
                                   else f"The volumes '{', '.join(missing)}' do not exist.")
                raise _not_found(notfound, noun, missing)
            return [(i, table[i]) for i in dict.fromkeys(ids)]
        return sorted(table.items())

    # -- volumes -----------------------------------------------------------------

    def describe_volumes(self, p):
        items = self._select("volumes", p.get("VolumeIds"), "vol", "InvalidVolumeID.Malformed",
                             "InvalidVolume.NotFound", "volume")
        atts = lambda o: o.get("attachments") or []
        items = _apply_filters(items, p.get("Filters"), {
            "volume-id": lambda i, o: [i],
            "status": lambda i, o: [_volume_state(o)],
            "availability-zone": lambda i, o: [o["availability_zone"]],
            "size": lambda i, o: [o.get("size")],
            "volume-type": lambda i, o: [o.get("volume_type", "gp3")],
            "encrypted": lambda i, o: ["true" if o.get("encrypted") else "false"],
            "snapshot-id": lambda i, o: [o.get("snapshot_id", "")],
            "attachment.instance-id": lambda i, o: [a["instance_id"] for a in atts(o)],
            "attachment.status": lambda i, o: [a["status"] for a in atts(o)],
            "attachment.device": lambda i, o: [a["device"] for a in atts(o)],
            "attachment.delete-on-termination": lambda i, o: [
                "true" if a.get("delete_on_termination") else "false" for a in atts(o)],
        })
        page, token = _paginate(items, p, 5, 500)
        return {"Volumes": [self._volume_view(i, o) for i, o in page], "NextToken": token}

    def attach_volume(self, p):
        vid, iid, device = p["VolumeId"], p["InstanceId"], p["Device"]
        vol = self._volume(vid)
        inst = self._instance(iid)
        if inst.get("state") not in ("running", "stopped"):
            raise AwsError("IncorrectState", f"Instance '{iid}' is not 'running'.")
        if vol.get("attachments"):
            raise AwsError("VolumeInUse", f"{vid} is already attached to an instance")
        state = _volume_state(vol)
        if state != "available":
            raise AwsError("IncorrectState", f"Volume '{vid}' is in the '{state}' state.")
        if vol["availability_zone"] != inst["availability_zone"]:
            raise AwsError("InvalidVolume.ZoneMismatch",
                           f"The volume '{vid}' is not in the same availability zone as instance '{iid}'")
        if not _DEVICE_RE.match(device):
            raise AwsError("InvalidParameterValue",
                           f"Value ({device}) for parameter device is invalid. {device} is not a valid EBS device name.")
        in_use = list(inst.get("block_device_mappings") or []) + list(inst.get("refused_device_names") or [])
        in_use += [att["device"] for other in self.w["volumes"].values()
                   for att in other.get("attachments") or [] if att["instance_id"] == iid]
        if any(_same_device(device, other) for other in in_use):
            raise AwsError("InvalidParameterValue",
                           f"Invalid value '{device}' for unixDevice. Attachment point {device} is already in use")
        limit = inst.get("attachment_limit")
        if limit is not None and self._attachment_count(iid) >= limit:
            # EC2's words (as the EBS CSI driver logs them): the devices
            # left to volumes once the interfaces have theirs.
            devices = limit - len(self._instance_enis(iid))
            raise AwsError("AttachmentLimitExceeded",
                           f"You may attach up to {devices} devices for this instance type. Please use a larger "
                           "instance size to attach more volumes.")
        now = self.app.world.now()
        att = {"instance_id": iid, "device": device, "status": "attaching", "attach_time": now,
               "delete_on_termination": False, "transition_at": self.app.world.due_at("volume_attach", now)}
        vol["attachments"] = [att]
        snapshot = dict(vol)
        hook = lambda b: b.on_attach_volume(vid, iid, device, snapshot)
        return self._attachment_view(vid, att), [hook]

    def _attachment_count(self, iid):
        """EBS volumes (the root included) and ENIs share one limit on Nitro."""
        inst = self.w["instances"][iid]
        volumes = sum(1 for vol in self.w["volumes"].values()
                      for a in vol.get("attachments") or [] if a["instance_id"] == iid)
        return 1 + len(inst.get("block_device_mappings") or []) + volumes + len(self._instance_enis(iid))

    def detach_volume(self, p):
        vid = p["VolumeId"]
        vol = self._volume(vid)
        atts = vol.get("attachments") or []
        if not atts:
            raise AwsError("IncorrectState", f"Volume '{vid}' is in the '{_volume_state(vol)}' state.")
        att = atts[0]
        if p.get("InstanceId") and p["InstanceId"] != att["instance_id"]:
            self._instance(p["InstanceId"])
            raise AwsError("InvalidAttachment.NotFound",
                           f"Volume '{vid}' can not be detached from '{p['InstanceId']}' because it is not attached")
        if p.get("Device") and p["Device"] != att["device"]:
            raise AwsError("InvalidAttachment.NotFound",
                           f"Volume '{vid}' is not attached at '{p['Device']}'")
        force = bool(p.get("Force"))
        if att["status"] == "detaching" and not force:
            raise AwsError("IncorrectState", f"Volume '{vid}' is in the 'detaching' state.")
        now = self.app.world.now()
        att["status"] = "detaching"
        att["transition_at"] = self.app.world.due_at("volume_detach", now)
        snapshot = dict(vol)
        hook = lambda b: b.on_detach_volume(vid, att["instance_id"], att["device"], force, snapshot)
        return self._attachment_view(vid, att), [hook]

    # -- network interfaces ------------------------------------------------------

    def describe_network_interfaces(self, p):
        items = self._select("network_interfaces", p.get("NetworkInterfaceIds"), "eni",
                             "InvalidNetworkInterfaceID.Malformed", "InvalidNetworkInterfaceID.NotFound",
                             "networkInterface")
        att = lambda o: [o["attachment"]] if o.get("attachment") else []
        items = _apply_filters(items, p.get("Filters"), {
            "network-interface-id": lambda i, o: [i],
            "subnet-id": lambda i, o: [o["subnet_id"]],
            "vpc-id": lambda i, o: [o["vpc_id"]],
            "availability-zone": lambda i, o: [o["availability_zone"]],
            "status": lambda i, o: [self._eni_status(o)],
            "mac-address": lambda i, o: [o["mac_address"]],
            "description": lambda i, o: [o.get("description", "")],
            "interface-type": lambda i, o: [o.get("interface_type", "interface")],
            "owner-id": lambda i, o: [self.w["account"]],
            "private-ip-address": lambda i, o: [o["private_ip_address"]] + list(o.get("secondary_private_ips") or []),
            "addresses.private-ip-address": lambda i, o: [o["private_ip_address"]] + list(o.get("secondary_private_ips") or []),
            "group-id": lambda i, o: [g["id"] for g in o.get("security_groups") or []],
            "attachment.instance-id": lambda i, o: [a["instance_id"] for a in att(o)],
            "attachment.attachment-id": lambda i, o: [a["attachment_id"] for a in att(o)],
            "attachment.status": lambda i, o: [a["status"] for a in att(o)],
            "attachment.device-index": lambda i, o: [a["device_index"] for a in att(o)],
        })
        page, token = _paginate(items, p, 5, 1000)
        return {"NetworkInterfaces": [self._eni_view(i, o) for i, o in page], "NextToken": token}

    def attach_network_interface(self, p):
        eid, iid, index = p["NetworkInterfaceId"], p["InstanceId"], p["DeviceIndex"]
        eni = self._eni(eid)
        inst = self._instance(iid)
        cards = inst.get("network_cards", 1)
        if "NetworkCardIndex" not in p and cards > 1:
            # As seen on instances with several network cards: without an
            # explicit card the attach collides with card 0's own index.
            raise AwsError("InvalidParameterValue",
                           f"Instance '{iid}' already has an interface attached at device index '{index}'.")
        if p.get("NetworkCardIndex", 0) >= cards:
            raise AwsError("InvalidParameterValue",
                           f"Network card index {p.get('NetworkCardIndex')} is not valid for this instance type.")
        limit = inst.get("attachment_limit")
        if limit is not None and self._attachment_count(iid) >= limit:
            # EC2's words: the interface count this attach would make.
            count = len(self._instance_enis(iid)) + 1
            raise AwsError("AttachmentLimitExceeded",
                           f"Interface count {count} exceeds the limit for {inst.get('instance_type', 't3.micro')}")
        if index < 0:
            raise AwsError("InvalidParameterValue", f"Value ({index}) for parameter deviceIndex is invalid.")
        if inst.get("state") not in ("running", "stopped"):
            # EC2's words for an instance in the wrong state, as other
            # instance actions answer them ("The pending instance '...'").
            raise AwsError("IncorrectInstanceState",
                           f"The {inst.get('state')} instance '{iid}' is not in a valid state for this operation.")
        if eni.get("attachment"):
            raise AwsError("InvalidNetworkInterface.InUse", f"Interface: [{eid}] in use.")
        if eni["availability_zone"] != inst["availability_zone"]:
            raise AwsError("InvalidParameterCombination",
                           "You may not attach a network interface to an instance if they are not in the same availability zone")
        for other_id, other in self._instance_enis(iid):
            if other["attachment"]["device_index"] == index and \
                    other["attachment"].get("network_card_index", 0) == p.get("NetworkCardIndex", 0):
                raise AwsError("InvalidParameterValue",
                               f"Instance '{iid}' already has an interface attached at device index '{index}'.")
        now = self.app.world.now()
        att = {"attachment_id": hex_id("eni-attach-"), "instance_id": iid, "device_index": index,
               "network_card_index": p.get("NetworkCardIndex", 0), "status": "attaching", "attach_time": now, "delete_on_termination": False,
               "transition_at": self.app.world.due_at("eni_attach", now), "attached_at": None}
        eni["attachment"] = att
        snapshot = dict(eni)
        hook = lambda b: b.on_attach_eni(eid, iid, index, snapshot)
        return {"AttachmentId": att["attachment_id"], "NetworkCardIndex": att["network_card_index"]}, [hook]

    def detach_network_interface(self, p):
        aid = p["AttachmentId"]
        _check_format([aid], "eni-attach", "InvalidAttachmentID.Malformed")
        for eid, eni in self.w["network_interfaces"].items():
            att = eni.get("attachment")
            if att and att["attachment_id"] == aid:
                break
        else:
            raise AwsError("InvalidAttachmentID.NotFound", f"Interface attachment '{aid}' does not exist.")
        if att["device_index"] == 0:
            raise AwsError("OperationNotPermitted", "The network interface at device index 0 cannot be detached.")
        force = bool(p.get("Force"))
        if att["status"] == "detaching" and not force:
            raise AwsError("IncorrectState", f"Interface attachment '{aid}' is in the 'detaching' state.")
        now = self.app.world.now()
        att["status"] = "detaching"
        att["transition_at"] = self.app.world.due_at("eni_detach", now)
        snapshot = dict(eni)
        hook = lambda b: b.on_detach_eni(eid, att["instance_id"], aid, force, snapshot)
        return {}, [hook]

    # -- subnets and instances ---------------------------------------------------

    def describe_subnets(self, p):
        items = self._select("subnets", p.get("SubnetIds"), "subnet", "InvalidSubnetID.Malformed",
                             "InvalidSubnetID.NotFound", "subnet")
        items = _apply_filters(items, p.get("Filters"), {
            "subnet-id": lambda i, o: [i],
            "vpc-id": lambda i, o: [o["vpc_id"]],
            "availability-zone": lambda i, o: [o["availability_zone"]],
            "availability-zone-id": lambda i, o: [o.get("availability_zone_id")],
            "cidr-block": lambda i, o: [o["cidr_block"]],
            "cidr": lambda i, o: [o["cidr_block"]],
            "state": lambda i, o: ["available"],
            "owner-id": lambda i, o: [self.w["account"]],
        })
        page, token = _paginate(items, p, 5, 1000)
        return {"Subnets": [self._subnet_view(i, o) for i, o in page], "NextToken": token}

    def describe_instances(self, p):
        items = self._select("instances", p.get("InstanceIds"), "i", "InvalidInstanceID.Malformed",
                             "InvalidInstanceID.NotFound", "instance")
        ip = lambda o: [self.w["network_interfaces"][o["primary_eni"]]["private_ip_address"]] \
            if o.get("primary_eni") in self.w["network_interfaces"] else []
        items = _apply_filters(items, p.get("Filters"), {
            "instance-id": lambda i, o: [i],
            "instance-state-name": lambda i, o: [o.get("state", "running")],
            "instance-state-code": lambda i, o: [STATE_CODES.get(o.get("state", "running"))],
            "availability-zone": lambda i, o: [o["availability_zone"]],
            "instance-type": lambda i, o: [o.get("instance_type", "t3.micro")],
            "subnet-id": lambda i, o: [o.get("subnet_id")],
            "vpc-id": lambda i, o: [o.get("vpc_id")],
            "private-ip-address": lambda i, o: ip(o),
            "network-interface.network-interface-id": lambda i, o: [e for e, _ in self._instance_enis(i)],
            "block-device-mapping.volume-id": lambda i, o: [
                v for v, vol in self.w["volumes"].items()
                for a in vol.get("attachments") or [] if a["instance_id"] == i],
        })
        page, token = _paginate(items, p, 5, 1000)
        reservations = [{"ReservationId": o.get("reservation_id") or "r-" + i[2:],
                         "OwnerId": self.w["account"], "Groups": [],
                         "Instances": [self._instance_view(i, o)]} for i, o in page]
        return {"Reservations": reservations, "NextToken": token}

    # -- snapshots and new resources (a node restored in another zone) -------------

    def _snapshot_view(self, sid, snap):
        return {
            "SnapshotId": sid,
            "VolumeId": snap.get("volume_id", "vol-ffffffff"),
            "State": snap.get("state", "completed"),
            "StartTime": snap.get("start_time", 0),
            "Progress": "100%" if snap.get("state", "completed") == "completed" else "40%",
            "OwnerId": self.w["account"],
            "VolumeSize": snap.get("size", 8),
            "Description": snap.get("description", ""),
            "Encrypted": bool(snap.get("encrypted", False)),
            "KmsKeyId": snap.get("kms_key_id"),
            "Tags": _tags(snap.get("tags")),
            "StorageTier": "standard",
        }

    def describe_snapshots(self, p):
        owners = p.get("OwnerIds") or []
        if owners and not any(o in ("self", self.w["account"]) for o in owners):
            return {"Snapshots": [], "NextToken": None}
        items = self._select("snapshots", p.get("SnapshotIds"), "snap", "InvalidSnapshotID.Malformed",
                             "InvalidSnapshot.NotFound", "snapshot")
        items = _apply_filters(items, p.get("Filters"), {
            "snapshot-id": lambda i, o: [i],
            "volume-id": lambda i, o: [o.get("volume_id")],
            "status": lambda i, o: [o.get("state", "completed")],
            "owner-id": lambda i, o: [self.w["account"]],
            "encrypted": lambda i, o: ["true" if o.get("encrypted") else "false"],
        })
        page, token = _paginate(items, p, 5, 1000)
        return {"Snapshots": [self._snapshot_view(i, o) for i, o in page], "NextToken": token}

    def _remembered(self, action, p):
        """The resource a ClientToken made before (EC2 keeps tokens 24 h):
        the same token with the same request answers with it."""
        token = p.get("ClientToken")
        if not token:
            return None
        seen = self.w["client_tokens"].get(f"{action}:{token}")
        if seen is None:
            return None
        if seen["request"] != {k: v for k, v in p.items() if k != "ClientToken"}:
            raise AwsError("IdempotentParameterMismatch",
                           "The client token you have provided is associated with a resource that is already "
                           "deleted or has different parameters.")
        return seen["id"]

    def _remember(self, action, p, rid):
        if p.get("ClientToken"):
            self.w["client_tokens"][f"{action}:{p['ClientToken']}"] = {
                "id": rid, "request": {k: v for k, v in p.items() if k != "ClientToken"}}

    @staticmethod
    def _spec_tags(p, resource_type):
        tags = {}
        for spec in p.get("TagSpecifications") or []:
            if spec.get("ResourceType") != resource_type:
                raise AwsError("InvalidParameterValue",
                               f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this "
                               "operation.")
            for t in spec.get("Tags") or []:
                if (t.get("Key") or "").lower().startswith("aws:"):
                    raise AwsError("InvalidParameterValue",
                                   "Tag keys starting with 'aws:' are reserved for internal use")
                tags[t["Key"]] = t.get("Value") or ""
        return tags

    def create_volume(self, p):
        known = self._remembered("CreateVolume", p)
        if known:
            return self._volume_view(known, self.w["volumes"][known])
        az = p["AvailabilityZone"]
        snap = None
        if p.get("SnapshotId"):
            _check_format([p["SnapshotId"]], "snap", "InvalidSnapshotID.Malformed")
            snap = self.w["snapshots"].get(p["SnapshotId"])
            if snap is None:
                raise AwsError("InvalidSnapshot.NotFound", f"The snapshot '{p['SnapshotId']}' does not exist.")
            if snap.get("state", "completed") != "completed":
                raise AwsError("IncorrectState", f"Snapshot is in invalid state - {snap.get('state')}")
        size = p.get("Size") or (snap or {}).get("size")
        if not size:
            raise AwsError("MissingParameter", "The request must contain the parameter size or snapshotId")
        if snap and size < snap.get("size", 1):
            raise AwsError("InvalidParameterValue",
                           f"Volume of size {size}GB is smaller than snapshot '{p['SnapshotId']}', expect size >= "
                           f"{snap.get('size')}GB")
        vid = hex_id("vol-")
        now = self.app.world.now()
        vol = {
            "size": size, "availability_zone": az, "volume_type": p.get("VolumeType") or "gp2",
            "iops": p.get("Iops"), "throughput": p.get("Throughput"),
            "encrypted": bool(p.get("Encrypted") or (snap or {}).get("encrypted")),
            "kms_key_id": p.get("KmsKeyId") or (snap or {}).get("kms_key_id"),
            "snapshot_id": p.get("SnapshotId") or "", "create_time": now, "state": "creating",
            "available_at": self.app.world.due_at("volume_create", now),
            "tags": self._spec_tags(p, "volume"), "attachments": [],
        }
        if vol["available_at"] is not None and vol["available_at"] <= now:
            vol["state"], vol["available_at"] = None, None
        self.w["volumes"][vid] = vol
        self._remember("CreateVolume", p, vid)
        view = self._volume_view(vid, vol)
        view["State"] = "creating"
        snapshot_id = p.get("SnapshotId")
        hook = lambda b: getattr(b, "on_create_volume", lambda *a: None)(vid, snapshot_id, size, dict(vol))
        return view, [hook]

    def create_network_interface(self, p):
        known = self._remembered("CreateNetworkInterface", p)
        if known:
            return {"NetworkInterface": self._eni_view(known, self.w["network_interfaces"][known])}
        sid = p["SubnetId"]
        _check_format([sid], "subnet", "InvalidSubnetID.Malformed")
        sub = self.w["subnets"].get(sid)
        if sub is None:
            raise _not_found("InvalidSubnetID.NotFound", "subnet", [sid])
        groups = []
        for gid in p.get("Groups") or []:
            known_groups = {g["id"]: g for e in self.w["network_interfaces"].values()
                            for g in e.get("security_groups") or []}
            if gid not in known_groups:
                raise AwsError("InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
            groups.append(known_groups[gid])
        eid = hex_id("eni-")
        ip = self._free_ip(sub)
        eni = {
            "subnet_id": sid, "vpc_id": sub["vpc_id"], "availability_zone": sub["availability_zone"],
            "mac_address": "02:00:00:%02x:%02x:%02x" % tuple(int(x) for x in ip.split(".")[1:]),
            "private_ip_address": ip, "secondary_private_ips": [],
            "description": p.get("Description", ""), "security_groups": groups,
            "tags": self._spec_tags(p, "network-interface"), "attachment": None,
        }
        self.w["network_interfaces"][eid] = eni
        self._remember("CreateNetworkInterface", p, eid)
        return {"NetworkInterface": self._eni_view(eid, eni)}

    def _free_ip(self, sub):
        """The subnet's next address that no ENI holds (from .20 on: below
        are the router, DNS and the world's own fixed addresses)."""
        import ipaddress
        net = ipaddress.ip_network(sub["cidr_block"])
        used = {e["private_ip_address"] for e in self.w["network_interfaces"].values()}
        used |= {ip for e in self.w["network_interfaces"].values() for ip in e.get("secondary_private_ips") or []}
        for host in list(net.hosts())[19:]:
            if str(host) not in used:
                return str(host)
        raise AwsError("InsufficientFreeAddressesInSubnet", "The specified subnet does not have enough free addresses.")

    # -- tags ----------------------------------------------------------------------

    def _taggable(self, rid):
        for prefix, collection, lookup in (("vol-", "volumes", self._volume), ("eni-", "network_interfaces", self._eni),
                                           ("i-", "instances", self._instance), ("subnet-", "subnets", None),
                                           ("snap-", "snapshots", None)):
            if rid.startswith(prefix):
                if lookup is not None:
                    return lookup(rid)
                noun = collection[:-1]
                _check_format([rid], prefix[:-1], f"Invalid{noun.capitalize()}ID.Malformed")
                if rid not in self.w[collection]:
                    raise _not_found(f"Invalid{noun.capitalize()}ID.NotFound", noun, [rid])
                return self.w[collection][rid]
        raise AwsError("InvalidID", f"The ID '{rid}' is not valid")

    def create_tags(self, p):
        targets = [self._taggable(r) for r in p["Resources"]]
        tags = p["Tags"]
        for t in tags:
            key = t.get("Key")
            if not key:
                raise AwsError("InvalidParameterValue", "Tag key must not be empty")
            if key.lower().startswith("aws:"):
                raise AwsError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
            if len(key) > 128 or len(t.get("Value") or "") > 256:
                raise AwsError("InvalidParameterValue", f"Tag '{key}' is too long")
        for target in targets:
            merged = dict(target.get("tags") or {})
            merged.update({t["Key"]: t.get("Value") or "" for t in tags})
            if len(merged) > 50:
                raise AwsError("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
        for target in targets:
            target.setdefault("tags", {}).update({t["Key"]: t.get("Value") or "" for t in tags})
        return {}

    def delete_tags(self, p):
        targets = [self._taggable(r) for r in p["Resources"]]
        for target in targets:
            tags = target.setdefault("tags", {})
            for t in p.get("Tags") or [{"Key": k} for k in list(tags)]:
                if t["Key"] in tags and ("Value" not in t or t["Value"] == tags[t["Key"]]):
                    del tags[t["Key"]]
        return {}

