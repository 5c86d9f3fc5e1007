"""The agent's command line and its exit statuses (DESIGN.md, the contract),
and nodeagent --check against the fake AWS."""

import os

import pytest

from harness import ENI, NODEAGENT, VOLUME, clean_env, run, write_config

FULL = """\
[Node]
Name=kafka-1
Timeout=20s

[Volume]
Id=vol-0123456789abcdef0
MountPoint=/var/lib/kafka

[Interface]
Id=eni-0123456789abcdef0

[DNS]
HostedZoneId=/hostedzone/Z0123456789ABCDEFGHIJ
Name=kafka-1.cluster.internal
"""

# Nothing listens here: a test that reaches the network would hang on it,
# so a fast failure proves the check came before any network call.
NO_NETWORK = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/",
              "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}


def offline(*args):
    return run([NODEAGENT, *args], clean_env(NO_NETWORK), timeout=30)


def test_help_lists_the_contract():
    r = offline("--help")
    assert r.status == 0
    for option in ("--once", "--attach-only", "--detach", "--check", "--status", "--config", "--set",
                   "-v", "--version", "--help"):
        assert option in r.stdout, option


def test_version():
    r = offline("--version")
    assert r.status == 0 and r.stdout.startswith("nodeagent ")


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--once", "--check"],
    ["--attach-only", "--detach"],
    ["stray-argument"],
    ["--config"],
    ["--section", "log"],
    ["--check", "--section", "log"],
    ["--detach", "--section", "Log"],
    ["--detach", "--section", ""],
])
def test_bad_usage_is_status_2(args):
    r = offline(*args)
    assert r.status == 2, r


@pytest.mark.parametrize("text,words", [
    ("[Volume]\nId=vol-123\nMountPoint=/data\n", ["nodeagent.conf:2", "Id", "vol-123"]),
    ("[Volume]\nId=vol-0123456789ABCDEF0\nMountPoint=/data\n", ["nodeagent.conf:2", "Id"]),
    ("[Nodes]\nName=x\n", ["nodeagent.conf:1", "Nodes"]),
    ("[Node]\nColour=blue\n", ["nodeagent.conf:2", "Colour"]),
    ("[Node]\nTimeout=soon\n", ["nodeagent.conf:2", "Timeout"]),
    ("[Interface]\nId=eni-xyz\n", ["nodeagent.conf:2", "eni-xyz"]),
    ("[DNS]\nHostedZoneId=not-a-zone\nName=a.b.\n", ["nodeagent.conf:2", "HostedZoneId"]),
    ("[Volume]\nTag=NoEqualsSign\nMountPoint=/data\n", ["nodeagent.conf:2", "Tag"]),
    ("[Volume:log]\nMountPoint=/log\nStripe=raid1\n", ["nodeagent.conf:3", "Volume:log", "Stripe"]),
    ("[Volume:Log]\nMountPoint=/log\n", ["nodeagent.conf:1", "Volume:Log"]),
], ids=["short-volume-id", "uppercase-volume-id", "unknown-section", "unknown-key", "bad-duration",
        "bad-eni-id", "bad-zone-id", "bad-tag", "bad-stripe", "bad-section-name"])
def test_config_errors_fail_fast_naming_file_line_key(confdir, text, words):
    path = write_config(confdir, text)
    r = offline("--check", "--config", path)
    assert r.status == 2, r
    assert r.elapsed < 2, r
    for w in words:
        assert w in r.stderr, (w, r)


def test_conf_d_error_names_its_file(confdir):
    path = write_config(confdir, FULL)
    write_config(confdir, "[Volume]\nFileSystem=btrfs\n", name="conf.d/50-fs.conf")
    r = offline("--check", "--config", path)
    assert r.status == 2, r
    assert "50-fs.conf:2" in r.stderr and "FileSystem" in r.stderr


def test_section_must_name_a_volume_section(agent, confdir):
    path = write_config(confdir, FULL + "[Volume:log]\nTag=Name=kafka-1-log\nMountPoint=/var/lib/kafka/log\n")
    r = agent("--detach", "--section", "wal", "--config", path)
    assert r.status == 2, r
    assert "wal" in r.stderr and "data ([Volume]), log" in r.stderr


def test_set_override_is_validated(confdir):
    path = write_config(confdir, FULL)
    r = offline("--check", "--config", path, "--set", "Volume.Format=always")
    assert r.status == 2, r
    assert "Format" in r.stderr


def test_group_writable_config_is_refused(confdir):
    path = write_config(confdir, FULL, mode=0o664)
    r = offline("--check", "--config", path)
    assert r.status == 2, r
    assert os.path.basename(path) in r.stderr     # It names the file.


def test_check_prints_the_plan(agent, fake, confdir):
    path = write_config(confdir, FULL)
    r = agent("--check", "--config", path)
    assert r.status == 0, r
    # The plan names what it would use: the volume and its device name, the
    # ENI, the permissions tried, the record.
    for name in (VOLUME, "/dev/sdf", ENI, "ec2:AttachVolume", "kafka-1.cluster.internal."):
        assert name in r.stdout, name
    # Each permission was tried with DryRun, and allowed.
    assert {q["code"] for q in fake.requests(service="ec2", action="AttachVolume")} == {"DryRunOperation"}


def test_check_changes_nothing(agent, fake, confdir):
    path = write_config(confdir, FULL)
    before = fake.state()
    assert agent("--check", "--config", path).status == 0
    after = fake.state()
    for key in ("volumes", "network_interfaces", "hosted_zones"):
        assert after[key] == before[key], key


def test_check_with_the_instance_role(agent, fake, confdir):
    path = write_config(confdir, FULL)
    r = agent("--check", "--config", path, role=True)
    assert r.status == 0, r
    keys = {q["access_key"] for q in fake.requests() if q.get("service") == "ec2"}
    assert len(keys) == 1 and next(iter(keys)).startswith("ASIA")


def test_check_reports_a_missing_permission(agent, fake, confdir):
    fake.merge_state({"deny": [{"principal": "*", "action": "ec2:AttachVolume"}]})
    path = write_config(confdir, FULL)
    r = agent("--check", "--config", path)
    assert r.status == 3, r
    assert "ec2:AttachVolume" in r.stdout       # It names the permission.
    refused = {q["action"] for q in fake.requests(service="ec2") if q["status"] == 403}
    assert refused == {"AttachVolume"}, fake.requests()


def test_check_missing_volume_is_unusable(agent, confdir):
    path = write_config(confdir, FULL.replace(VOLUME, "vol-0000000000000000a"))
    r = agent("--check", "--config", path)
    assert r.status == 4, r
    assert "vol-0000000000000000a" in r.stderr


def test_check_volume_in_another_zone_is_unusable(agent, fake, confdir):
    fake.merge_state({"volumes": {VOLUME: {"availability_zone": "us-east-1b"}}})
    path = write_config(confdir, FULL)
    r = agent("--check", "--config", path)
    assert r.status == 4, r
    assert "us-east-1b" in r.stderr


def test_check_tag_with_several_matches_lists_them(agent, fake, confdir):
    state = fake.state()
    twin = dict(state["volumes"][VOLUME], id="vol-0123456789abcdef1")
    fake.merge_state({"volumes": {"vol-0123456789abcdef1": twin}})
    path = write_config(confdir, FULL.replace(f"Id={VOLUME}", "Tag=Cluster=kafka"))
    r = agent("--check", "--config", path)
    assert r.status == 4, r
    assert VOLUME in r.stderr and "vol-0123456789abcdef1" in r.stderr


def test_check_finds_the_volume_by_tag(agent, confdir):
    path = write_config(confdir, FULL.replace(f"Id={VOLUME}", "Tag=Name=kafka-1-data"))
    r = agent("--check", "--config", path)
    assert r.status == 0, r
    assert VOLUME in r.stdout


def test_user_data_configures_the_node(agent, fake, confdir):
    fake._control("POST", "imds", {"user_data": "#nodeagent\n" + FULL})
    path = write_config(confdir, "")
    r = agent("--check", "--config", path)
    assert r.status == 0, r
    assert VOLUME in r.stdout


def test_bad_user_data_is_a_configuration_error(agent, fake, confdir):
    fake._control("POST", "imds", {"user_data": "#nodeagent\n[Volume]\nMountPoint=relative/path\n"})
    path = write_config(confdir, "")
    r = agent("--check", "--config", path)
    assert r.status == 2, r
    assert "user data" in r.stderr and "MountPoint" in r.stderr


def test_user_data_not_for_nodeagent_is_ignored(agent, fake, confdir):
    fake._control("POST", "imds", {"user_data": "#!/bin/bash\necho hello\n"})
    path = write_config(confdir, FULL)
    assert agent("--check", "--config", path).status == 0


def test_set_wins_over_user_data(agent, fake, confdir):
    fake._control("POST", "imds", {"user_data": "#nodeagent\n" + FULL})
    path = write_config(confdir, "")
    r = agent("--check", "--config", path, "--set", "Volume.FileSystem=xfs")
    assert r.status == 0, r
    assert "FileSystem=xfs" in r.stdout


def test_imds_disabled_is_aws_refused(agent, fake, confdir):
    fake._control("POST", "imds", {"disabled": True})
    path = write_config(confdir, FULL)
    r = agent("--check", "--config", path)
    assert r.status == 3, r
    # Refused at the first IMDS request, and nothing asked of EC2.
    assert [(q["action"], q["status"]) for q in fake.requests(service="imds")] == [("token", 403)]
    assert fake.requests(service="ec2") == []


def test_unanswered_imds_ends_at_the_deadline(agent, fake, confdir):
    fake.fault(service="imds", action="*", kind="reset", count=-1)
    path = write_config(confdir, FULL.replace("Timeout=20s", "Timeout=2s"))
    r = agent("--check", "--config", path)
    assert r.status == 6, r
    assert r.elapsed < 6


def test_secrets_never_reach_the_output(agent, fake, confdir):
    path = write_config(confdir, FULL)
    r = agent("--check", "-v", "-v", "-v", "--config", path, role=True)
    assert r.status == 0, r
    from client import SECRET_KEY
    world = fake.state()
    secrets = [SECRET_KEY]
    for key, entry in world.get("keys", {}).items():
        for field in ("secret", "token"):
            if entry.get(field):
                secrets.append(entry[field])
    assert len(secrets) > 1
    for s in secrets:
        assert s not in r.stdout and s not in r.stderr
