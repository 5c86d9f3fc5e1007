"""EC2's own semantics (issue 14, items 3-5): the answers a real instance
meets, from the fake in the shape AWS sends them, and what the agent makes
of each: an instance still pending, a detach that finds the attachment
gone, our own attachment still detaching, volumes on their way out among
the tagged ones, the attachment limit, a holder shutting down, device
names (Device=auto), the network card index, a device index in use,
and what IMDS's refusal and IMDS's silence each mean.

The volume cases run on harness.VolumeNode (`vboot`, `node`: no [DNS]), the
interface cases on harness.NetNode (`net`). Assertions are on outcomes: the
exit status, the fake's world and request log (which request carried what,
and what it was answered), the mount table, the kernel's links and rules.
The IMDS cases check the message: there, what it says is the feature."""

import signal
import subprocess
import time

import pytest

from harness import ENI, ENI_IP, INSTANCE, PREDECESSOR, TABLE, calls, ip_json, wait_until
from client import ACCESS_KEY

# EC2's "pending" lasts seconds; the cases keep it short.
PENDING_SECONDS = 2.5


def fake_now(fake):
    """The fake's clock (epoch seconds), on which its transitions and its request log's times run."""
    return time.time() + fake.clock()["skew"]


def own(requests):
    """The requests the agent made (role credentials from IMDS), not the test's own (the static key)."""
    return [q for q in requests if q["access_key"] != ACCESS_KEY]


def answers(requests):
    return [(q["status"], q["code"]) for q in requests]


def devices_asked(fake):
    return [q["params"]["Device"] for q in calls(fake, "AttachVolume")]


def mapped(*letters):
    """The instance's block-device mappings (its AMI's), as DescribeInstances lists them."""
    return {"instances": {INSTANCE: {"block_device_mappings": [f"/dev/sd{c}" for c in letters]}}}


def ec2(node):
    return node.fake.botocore_client("ec2")


# -- an instance that is not running yet ------------------------------------------------------


def pending_until(fake, seconds):
    """This instance is "pending" (EC2 refuses attaches to it), and "running" after seconds (None: never)."""
    at = None if seconds is None else fake_now(fake) + seconds
    fake.merge_state({"instances": {INSTANCE: {"state": "pending", "running_at": at}}})
    return at


def test_volume_attach_waits_for_the_instance_to_run(node):
    running_at = pending_until(node.fake, PENDING_SECONDS)
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()
    attaches = calls(node.fake, "AttachVolume")
    *refused, last = attaches
    # EC2's refusal while pending, then the attach once running.
    assert refused and {(q["status"], q["code"]) for q in refused} == {(400, "IncorrectState")}, answers(attaches)
    assert all(q["time"] < running_at for q in refused)
    assert last["status"] == 200 and last["time"] >= running_at
    # Attempts apart (a backoff from a second on), not a burst: a tight
    # loop would make dozens in the pending seconds, the old "race for the
    # volume" reading four at once and then exit 4.
    assert len(refused) <= 6, answers(attaches)


def test_instance_still_pending_at_the_deadline_is_the_deadline(node):
    pending_until(node.fake, None)
    node.configure(timeout="4s")
    r = node.boot()
    assert r.status == 6, r
    assert r.elapsed < 15, r
    attaches = calls(node.fake, "AttachVolume")
    assert attaches and {q["code"] for q in attaches} == {"IncorrectState"}, answers(attaches)
    assert node.attachments() == []
    assert not node.is_mounted()


def test_interface_attach_waits_for_the_instance_to_run(net):
    running_at = pending_until(net.fake, PENDING_SECONDS)
    r = net.boot()
    net.assert_converged(r)
    attaches = calls(net.fake, "AttachNetworkInterface")
    *refused, last = attaches
    assert refused and {q["status"] for q in refused} == {400}, answers(attaches)
    assert last["status"] == 200 and last["time"] >= running_at
    assert len(refused) <= 6, answers(attaches)


# -- a detach that finds the attachment gone ----------------------------------------------------


def detach_behind_the_agents_back(node, action, then):
    """The agent's first `action` (its look at the world) is answered in
    full, but slowly; while the reply is on its way, then() changes the
    world: the agent acts on what it read, which is no longer true."""
    node.fake.fault(service="ec2", action=action, kind="slow", seconds=2, count=1)
    proc = node.spawn("--detach", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(f"the agent's {action}", lambda: calls(node.fake, action), timeout=30)
    then()
    output, _ = proc.communicate(timeout=60)
    node.procs.remove(proc)
    return proc.returncode, output


def test_detach_of_a_volume_someone_detached_meanwhile_is_success(node):
    assert node.boot().status == 0
    node.fake.clear_requests()

    def detach():
        ec2(node).detach_volume(VolumeId=node.volume_id, InstanceId=INSTANCE)
        wait_until("EC2 says detached", lambda: node.attachments() == [])

    status, output = detach_behind_the_agents_back(node, "DescribeVolumes", detach)
    assert status == 0, output
    # The agent's own detach met "Volume '...'is in the 'available' state.".
    assert answers(own(calls(node.fake, "DetachVolume"))) == [(400, "IncorrectState")]
    assert not node.is_mounted()
    assert node.attachments() == []
    wait_until("the device released", lambda: node.device() is None)


def test_detach_of_a_volume_now_attached_elsewhere_is_success(node):
    """The volume was force-detached from us and attached to another
    instance meanwhile: EC2 answers our detach InvalidAttachment.NotFound,
    and the other attachment stays as it is."""
    assert node.boot().status == 0
    node.fake.merge_state({"instances": {PREDECESSOR: {"state": "running"}}})
    node.fake.clear_requests()

    def take_away():
        client = ec2(node)
        client.detach_volume(VolumeId=node.volume_id, InstanceId=INSTANCE, Force=True)
        wait_until("EC2 says detached", lambda: node.attachments() == [])
        client.attach_volume(VolumeId=node.volume_id, InstanceId=PREDECESSOR, Device="/dev/sdf")

    status, output = detach_behind_the_agents_back(node, "DescribeVolumes", take_away)
    assert status == 0, output
    mine = own(calls(node.fake, "DetachVolume"))
    assert answers(mine) == [(400, "InvalidAttachment.NotFound")]
    assert "Force" not in mine[0]["params"]
    assert not node.is_mounted()
    wait_until("the other instance's attach done", lambda: node.attachments() == [(PREDECESSOR, "attached")])


def test_detach_on_stop_of_a_volume_detached_meanwhile_is_success(node, daemon, notify):
    """DetachOnStop=yes: the daemon knows the volume as it was at READY;
    someone detached it since. Its release on SIGTERM is still a success."""
    node.configure(volume_extra="DetachOnStop=yes\n")
    d = daemon(node)
    assert notify.wait_for("READY=1"), d.output()
    ec2(node).detach_volume(VolumeId=node.volume_id, InstanceId=INSTANCE)
    wait_until("EC2 says detached", lambda: node.attachments() == [])
    node.fake.clear_requests()

    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(30) == 0, d.output()
    assert answers(own(calls(node.fake, "DetachVolume"))) == [(400, "IncorrectState")]
    assert not node.is_mounted()
    assert node.attachments() == []


def test_detach_of_an_interface_someone_detached_meanwhile_is_success(net):
    assert net.boot().status == 0
    attachment = net.fake.state()["network_interfaces"][ENI]["attachment"]["attachment_id"]
    net.fake.clear_requests()
    net.fake.fault(service="ec2", action="DescribeNetworkInterfaces", kind="slow", seconds=2, count=1)
    proc = net.spawn("--detach", "--set", "Interface.DetachOnStop=yes", stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
    wait_until("the agent's DescribeNetworkInterfaces", lambda: calls(net.fake, "DescribeNetworkInterfaces"),
               timeout=30)
    net.fake.botocore_client("ec2").detach_network_interface(AttachmentId=attachment)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    # The test's detach, then the agent's: "The interface attachment '...' does not exist."
    detaches = calls(net.fake, "DetachNetworkInterface")
    assert answers(detaches) == [(200, None), (400, "InvalidAttachmentID.NotFound")], answers(detaches)
    assert [q["params"]["AttachmentId"] for q in detaches] == [attachment, attachment]
    assert net.fake.state()["network_interfaces"][ENI]["attachment"] is None


# -- our own attachment still detaching ---------------------------------------------------------


def test_own_detaching_volume_is_waited_out_then_attached_again(node):
    gone_at = fake_now(node.fake) + 2
    node.fake.merge_state({"volumes": {node.volume_id: {"attachments": [
        {"instance_id": INSTANCE, "device": "/dev/sdf", "status": "detaching", "attach_time": 0,
         "delete_on_termination": False, "transition_at": gone_at}]}}})
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()
    # One attach, after the old attachment ended; never a detach of it, nor
    # an attach EC2 would refuse while it is detaching.
    [attach] = calls(node.fake, "AttachVolume")
    assert attach["status"] == 200 and attach["time"] >= gone_at
    assert calls(node.fake, "DetachVolume") == []
    assert node.attachments() == [(INSTANCE, "attached")]


def test_own_detaching_interface_is_waited_out_then_attached_again(net):
    gone_at = fake_now(net.fake) + 2
    net.fake.merge_state({"network_interfaces": {ENI: {"attachment": {
        "attachment_id": "eni-attach-0123456789abcdef0", "instance_id": INSTANCE, "device_index": 1,
        "status": "detaching", "attach_time": 0, "delete_on_termination": False, "transition_at": gone_at}}}})
    r = net.boot()
    net.assert_converged(r)
    [attach] = calls(net.fake, "AttachNetworkInterface")
    assert attach["status"] == 200 and attach["time"] >= gone_at
    assert calls(net.fake, "DetachNetworkInterface") == []


# -- Tag= lookups -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["deleting", "deleted", "error"])
def test_tag_lookup_skips_a_volume_on_its_way_out(node, state):
    """Another volume carries the node's tags but is being deleted (or
    broken): one match, not two."""
    other = "vol-0123456789abcdef1"
    node.fake.merge_state({"volumes": {other: dict(node.volume(), state=state)}})
    node.configure(select="Tag=Cluster=kafka")
    r = node.boot()
    assert r.status == 0, r
    assert node.is_mounted()
    assert [q["params"]["VolumeId"] for q in calls(node.fake, "AttachVolume")] == [node.volume_id]
    assert node.fake.state()["volumes"][other]["attachments"] == []


# -- the attachment limit ---------------------------------------------------------------------


def test_attachment_limit_on_a_volume_is_unusable(node):
    # The root volume and the primary ENI take the instance's two attachments.
    node.fake.merge_state({"instances": {INSTANCE: {"attachment_limit": 2}}})
    r = node.boot()
    assert r.status == 4, r
    # Refused once, never tried again: it is the instance's limit.
    assert answers(calls(node.fake, "AttachVolume")) == [(400, "AttachmentLimitExceeded")]
    # The message names the limit, with EC2's own words on it.
    assert "attachment limit" in r.stderr and "You may attach up to 1 devices" in r.stderr, r.stderr
    assert node.attachments() == []


def test_attachment_limit_on_an_interface_is_unusable(net):
    net.fake.merge_state({"instances": {INSTANCE: {"attachment_limit": 2}}})
    r = net.boot()
    assert r.status == 4, r
    assert answers(calls(net.fake, "AttachNetworkInterface")) == [(400, "AttachmentLimitExceeded")]
    assert "attachment limit" in r.stderr and "Interface count 2 exceeds the limit for t3.micro" in r.stderr, r.stderr
    assert net.link() is None


# -- a holder shutting down -------------------------------------------------------------------


def test_shutting_down_holder_of_a_volume_is_never_force_detached(node):
    node.held_by(PREDECESSOR, "shutting-down")
    node.configure(take_over="force-detach-dead", take_over_timeout="3s")
    r = node.boot()
    assert r.status == 4, r
    assert PREDECESSOR in r.stderr      # The contract: the message names the holder.
    assert calls(node.fake, "DetachVolume") == []
    assert node.attachments() == [(PREDECESSOR, "attached")]


def test_shutting_down_holder_of_a_volume_is_waited_for(node):
    """Its shutdown unmounts and detaches (a terminate is a graceful
    shutdown): the boot waits for that, and attaches."""
    node.held_by(PREDECESSOR, "shutting-down")
    node.configure(take_over="force-detach-dead")
    proc = node.spawn("--once", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def looked_at_the_holder():
        return [q for q in calls(node.fake, "DescribeInstances", answered=True)
                if q["params"].get("InstanceId.1") == PREDECESSOR]
    wait_until("the agent to look at the holder", looked_at_the_holder, timeout=30)
    ec2(node).detach_volume(VolumeId=node.volume_id, InstanceId=PREDECESSOR)
    output, _ = proc.communicate(timeout=60)
    node.procs.remove(proc)
    assert proc.returncode == 0, output
    assert node.is_mounted()
    assert own(calls(node.fake, "DetachVolume")) == []
    assert node.attachments() == [(INSTANCE, "attached")]


def test_stopped_holder_of_a_volume_is_force_detached(node):
    """Stopped is dead too (a terminated holder: test_volume.py)."""
    node.held_by(PREDECESSOR, "stopped")
    node.configure(take_over="force-detach-dead")
    r = node.boot()
    assert r.status == 0, r
    [detach] = calls(node.fake, "DetachVolume")
    assert (detach["params"].get("InstanceId"), detach["params"].get("Force")) == (PREDECESSOR, "true"), detach
    assert node.attachments() == [(INSTANCE, "attached")]


def test_shutting_down_holder_of_an_interface_is_never_force_detached(net):
    net.held_by(PREDECESSOR, "shutting-down")
    r = net.agent("--once", "--set", "Interface.TakeOver=force-detach-dead", "--set", "Interface.TakeOverTimeout=3s")
    assert r.status == 4, r
    assert PREDECESSOR in r.stderr
    assert calls(net.fake, "DetachNetworkInterface") == []
    assert net.fake.state()["network_interfaces"][ENI]["attachment"]["instance_id"] == PREDECESSOR


def test_stopped_holder_of_an_interface_is_force_detached(net):
    net.held_by(PREDECESSOR, "stopped")
    r = net.agent("--once", "--set", "Interface.TakeOver=force-detach-dead")
    net.assert_converged(r)
    [detach] = calls(net.fake, "DetachNetworkInterface")
    assert detach["params"].get("Force") == "true", detach


# -- device names (Device=auto, the default) ------------------------------------------------------


def test_device_auto_takes_the_first_name_the_mappings_leave(node):
    node.fake.merge_state(mapped("f", "g", "h"))
    r = node.boot()
    assert r.status == 0, r
    assert devices_asked(node.fake) == ["/dev/sdi"]
    [attachment] = node.volume()["attachments"]
    assert attachment["device"] == "/dev/sdi"


def test_device_auto_counts_xvd_names_as_the_same(node):
    node.fake.merge_state({"instances": {INSTANCE: {"block_device_mappings": ["/dev/xvdf", "/dev/sdg"]}}})
    r = node.boot()
    assert r.status == 0, r
    assert devices_asked(node.fake) == ["/dev/sdh"]


def test_device_auto_never_asks_for_a_refused_name_again(node):
    """EC2 says "already in use" about names DescribeInstances does not
    list (a Xen instance's name just released): each refused name is
    asked for once, then the next one."""
    node.fake.merge_state({"instances": {INSTANCE: {"refused_device_names": ["/dev/sdf", "/dev/sdg"]}}})
    r = node.boot()
    assert r.status == 0, r
    attaches = calls(node.fake, "AttachVolume")
    assert devices_asked(node.fake) == ["/dev/sdf", "/dev/sdg", "/dev/sdh"]
    assert answers(attaches) == [(400, "InvalidParameterValue"), (400, "InvalidParameterValue"), (200, None)]
    assert node.volume()["attachments"][0]["device"] == "/dev/sdh"


def test_device_auto_with_no_name_left_is_unusable(node):
    node.fake.merge_state(mapped(*"fghijklmno"))
    node.fake.merge_state({"instances": {INSTANCE: {"refused_device_names": ["/dev/sdp"]}}})
    r = node.boot()
    assert r.status == 4, r
    assert devices_asked(node.fake) == ["/dev/sdp"]
    assert node.attachments() == []


def test_explicit_device_is_sent_as_given(node):
    node.fake.merge_state(mapped("f", "g", "h"))
    node.configure(volume_extra="Device=/dev/xvdk\n")
    r = node.boot()
    assert r.status == 0, r
    assert devices_asked(node.fake) == ["/dev/xvdk"]


def test_explicit_device_in_use_is_unusable(node):
    node.fake.merge_state(mapped("f", "g", "h"))
    node.configure(volume_extra="Device=/dev/sdg\n")
    r = node.boot()
    assert r.status == 4, r
    assert "/dev/sdg" in r.stderr
    # Only the name given: never one of the agent's choosing.
    assert devices_asked(node.fake) == ["/dev/sdg"]
    assert node.attachments() == []


# -- the interface's network card and device index ---------------------------------------------


def test_network_card_index_zero_is_always_sent(net):
    # On an instance with several network cards EC2 refuses an attach that
    # does not name its card.
    net.fake.merge_state({"instances": {INSTANCE: {"network_cards": 2}}})
    r = net.boot()
    net.assert_converged(r)
    [attach] = calls(net.fake, "AttachNetworkInterface")
    assert (attach["params"].get("NetworkCardIndex"), attach["params"].get("DeviceIndex")) == ("0", "1"), attach


def test_network_card_index_is_sent_as_configured(net):
    net.fake.merge_state({"instances": {INSTANCE: {"network_cards": 2}}})
    r = net.agent("--once", "--set", "Interface.NetworkCardIndex=1")
    assert r.status == 0, r
    [attach] = calls(net.fake, "AttachNetworkInterface")
    assert attach["params"].get("NetworkCardIndex") == "1", attach
    assert net.fake.state()["network_interfaces"][ENI]["attachment"]["network_card_index"] == 1
    # Its table and rule: 10000 + 100 x card + device index.
    rules = [(x.get("src"), x["priority"], x.get("table")) for x in ip_json(net.ns, "rule", "show")
             if x.get("src") == ENI_IP]
    assert rules == [(ENI_IP, 10101, "10101")], rules
    assert net.route_get("1.1.1.1", "from", ENI_IP)["dev"] == net.link()


def test_device_index_in_use_is_unusable(net):
    other = dict(net.fake.state()["network_interfaces"][ENI], mac_address="02:00:00:00:01:11",
                 private_ip_address="10.0.1.11", tags={"Name": "something-else"},
                 attachment={"attachment_id": "eni-attach-0123456789abcdef1", "instance_id": INSTANCE,
                             "device_index": 1, "status": "attached", "attach_time": 0,
                             "delete_on_termination": False})
    net.fake.merge_state({"network_interfaces": {"eni-0123456789abcdef1": other}})
    r = net.boot()
    assert r.status == 4, r
    assert answers(calls(net.fake, "AttachNetworkInterface")) == [(400, "InvalidParameterValue")]
    assert net.fake.state()["network_interfaces"][ENI]["attachment"] is None
    assert ip_json(net.ns, "route", "show", "table", TABLE) == []


# -- IMDS: a refusal is not a hop limit --------------------------------------------------------


def test_imds_refusing_its_token_says_disabled_not_hop_limit(node):
    """A 403 to the token request: IMDS is disabled for the instance (or the
    request came through a proxy). An exceeded hop limit never answers."""
    node.fake.imds(disabled=True)
    r = node.agent("--once")       # Without -v: the message the operator reads.
    assert r.status == 3, r
    assert [(q["action"], q["status"]) for q in node.fake.requests(service="imds")] == [("token", 403)]
    assert node.fake.requests(service="ec2") == []
    message = r.stderr.lower()
    assert "403" in message and "disabled" in message, r.stderr
    assert "hop" not in message, r.stderr


def test_imds_token_never_answered_names_the_hop_limit(node):
    """The token's reply dropped on its way back (what a hop limit too low
    for a container does): the deadline, and the message names the hop
    limit, not a refusal."""
    node.fake.fault(service="imds", action="token", kind="timeout", count=-1)
    node.configure(timeout="3s")
    r = node.agent("--once")
    assert r.status == 6, r
    assert node.fake.requests(service="ec2") == []
    assert "HttpPutResponseHopLimit" in r.stderr, r.stderr
    assert "disabled" not in r.stderr.lower(), r.stderr
