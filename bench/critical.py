"""The critical path of a boot, from the fake's request log and the
transitions the run injected: the physical limit for time to READY.

Each logged request carries "latency" (seconds the fake waited on purpose)
and "time" (its end, epoch) and "ms" (its whole handling). The limit is the
sum of the injected waits along the longest dependency chain the contract
leaves:

  IMDS (token, identity, user data, role credentials: each request before
  the first API call)
   -> volume:    DescribeVolumes -> AttachVolume -> volume_attach (device appears)
   -> interface: DescribeNetworkInterfaces -> AttachNetworkInterface ->
                 eni_attach (link appears)
   -> both: ChangeResourceRecordSets (the record is published only once the
      IP is routed and the volume mounted)
      [-> INSYNC: route53_insync + the GetChange that saw it]

The reads the change needs (DescribeSubnets for the route,
ListResourceRecordSets for the record) depend only on the ENI's description
and the configuration, so they fit inside the attach waits; nodeagent makes
them there. Local work (udev, e2fsck, mount, netlink) injects nothing: it
is the measured overhead, with the agent's own reaction times, of time to
READY over this limit. "sequential" is the limit of an agent that makes
those reads only once it needs them (after the link, after the mount).
"""

VOLUME_CHAIN = [("ec2", "DescribeVolumes"), ("ec2", "AttachVolume")]
INTERFACE_PRE = [("ec2", "DescribeNetworkInterfaces"), ("ec2", "AttachNetworkInterface")]
INTERFACE_POST = [("ec2", "DescribeSubnets"), ("route53", "ListResourceRecordSets"),
                  ("route53", "ChangeResourceRecordSets")]


def start_of(r):
    return r["time"] - r["ms"] / 1000.0


def first(requests, service, action, after=0.0):
    for r in requests:
        if r["service"] == service and r["action"] == action and start_of(r) >= after - 1e-3 and r["status"] == 200:
            return r
    return None


def compute(requests, transitions, volume=True, interface=True, wait_in_sync=False):
    """{"limit", "tight", "imds", "volume", "interface", "steps": [...], "missing": [...]} in seconds."""
    reqs = sorted(requests, key=start_of)
    api = [r for r in reqs if r["service"] != "imds"]
    first_api = start_of(api[0]) if api else float("inf")
    imds = [r for r in reqs if r["service"] == "imds" and start_of(r) < first_api]
    out = {"imds": sum(r.get("latency", 0.0) for r in imds), "imds_requests": len(imds), "missing": [],
           "steps": []}

    def chain(name, parts, after=0.0):
        total = 0.0
        for part in parts:
            if isinstance(part, tuple):
                r = first(reqs, *part, after=after)
                if r is None:
                    out["missing"].append(f"{part[0]} {part[1]}")
                    continue
                total += r.get("latency", 0.0)
                after = start_of(r)
                out["steps"].append({"chain": name, "what": f"{part[0]} {part[1]}", "injected": r.get("latency", 0.0),
                                     "start": start_of(r), "end": r["time"]})
            else:
                total += part[1]
                out["steps"].append({"chain": name, "what": part[0], "injected": part[1]})
        return total

    chains = {}
    if volume:
        chains["volume"] = chain("volume", VOLUME_CHAIN + [["volume_attach", transitions["volume_attach"]]])
    if interface:
        chains["interface"] = chain("interface", INTERFACE_PRE + [["eni_attach", transitions["eni_attach"]]])
        reads = {}
        for part in INTERFACE_POST[:-1]:
            r = first(reqs, *part)
            reads[part] = r.get("latency", 0.0) if r else 0.0
        change_req = first(reqs, *INTERFACE_POST[-1])
        if change_req is None:
            out["missing"].append("route53 ChangeResourceRecordSets")
        change = change_req.get("latency", 0.0) if change_req else 0.0
        out["steps"].append({"chain": "publish", "what": "route53 ChangeResourceRecordSets", "injected": change,
                             **({"start": start_of(change_req), "end": change_req["time"]} if change_req else {})})
        if wait_in_sync:
            seen = [r for r in reqs if r["action"] == "GetChange" and r["status"] == 200]
            # The GetChange that saw INSYNC: the first one after the change was due.
            due = (change_req["time"] if change_req else 0.0) + transitions["route53_insync"]
            saw = next((r for r in seen if start_of(r) >= due), None)
            extra = transitions["route53_insync"] + (saw.get("latency", 0.0) if saw else 0.0)
            out["steps"].append({"chain": "publish", "what": "route53_insync + GetChange", "injected": extra})
            change += extra
        chains["publish"] = change
        subnet = reads[("ec2", "DescribeSubnets")]
        listing = reads[("route53", "ListResourceRecordSets")]
        chains["sequential"] = max(chains.get("volume", 0.0), chains["interface"] + subnet) + listing + change
    out.update({k: v for k, v in chains.items()})
    paths = [chains[k] for k in ("volume", "interface") if k in chains]
    both = max(paths) if paths else 0.0
    out["limit"] = out["imds"] + both + chains.get("publish", 0.0)
    out["sequential"] = out["imds"] + chains.get("sequential", both)
    out["tight"] = out["limit"]
    out["longest"] = max((k for k in ("volume", "interface") if k in chains), key=lambda k: chains[k]) if paths else None
    return out
