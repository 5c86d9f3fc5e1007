"""Security properties of the agent, end to end:

- secrets never reach its output: the secret access key, the session token
  and the IMDS token are looked for in every line it writes (the log at
  -v -v -v, the state file, --status, --check), also when an error reply
  echoes them and when a signature is refused with the canonical request;
- TLS verification cannot be switched off: an https endpoint with a
  self-signed certificate is refused before any request, whatever the
  environment says, and served once AWS_CA_BUNDLE names its certificate;
- ids, tags and names are validated or encoded before they enter a request:
  nothing injected reaches EC2 or Route 53 as a parameter or an element;
- replies are size-capped: a 10 MiB (or endless, chunked) reply is refused
  without the agent's memory following it;
- a configuration file others may write, or that another user owns, is
  refused (exit 2);
- the unit's hardening stays in place."""

import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from client import SECRET_KEY
from harness import NODEAGENT, TOP, VOLUME, ZONE, clean_env, run, wait_until, write_config

FULL = """\
[Node]
Name=kafka-1
Timeout={timeout}

[Volume]
Id=vol-0123456789abcdef0
MountPoint=/var/lib/kafka

[Interface]
Id=eni-0123456789abcdef0

[DNS]
HostedZoneId=/hostedzone/Z0123456789ABCDEFGHIJ
Name=kafka-1.cluster.internal
"""

SESSION_TOKEN_ENV = "IQoJb3JpZ2luX2VjEnvSessionToken0000EXAMPLEexample/abc+def=="


def imds_tokens(fake):
    return fake.imds()["tokens"]


def secrets_of(fake):
    """Every secret the fake's world knows: secret keys, session tokens."""
    out = [SECRET_KEY]
    for entry in fake.state().get("keys", {}).values():
        for field in ("secret", "token"):
            if entry.get(field):
                out.append(entry[field])
    return out


def all_secrets(fake, extra=()):
    s = set(secrets_of(fake)) | set(imds_tokens(fake)) | set(extra)
    return sorted(x for x in s if x and len(x) >= 8)


def scan(texts, secrets):
    """(where, secret) for every secret found in any text; parts of 12
    characters or more count too, so a secret cut in two is still found."""
    found = []
    for where, text in texts.items():
        for s in secrets:
            pieces = {s} | {s[i:i + 12] for i in range(0, max(1, len(s) - 11), 6)} if len(s) >= 24 else {s}
            for p in pieces:
                if p in text:
                    found.append((where, s[:6] + "...", p))
                    break
    return found


# -- secrets -----------------------------------------------------------------------------


def test_no_secret_in_anything_the_agent_writes(vboot):
    """A whole boot with the instance role, then --status and --check, all
    at -v -v -v; and the same with static keys and a session token from the
    environment."""
    b = vboot.prepare()
    outputs = {}
    tokens_seen = set()
    for role in (True, False):
        env = None if role else {"AWS_SESSION_TOKEN": SESSION_TOKEN_ENV}
        if not role:
            # Static keys with a session token: the fake needs to know it.
            world = b.fake.state()
            world["keys"]["AKIDEXAMPLE0NODEAGENT"]["token"] = SESSION_TOKEN_ENV
            b.fake.set_state(world)
        tag = "role" if role else "env"
        r = b.agent("--once", "-v", "-v", "-v", role=role, env=env)
        assert r.status == 0, r
        tokens_seen.update(imds_tokens(b.fake))
        outputs[f"{tag} --once stdout"], outputs[f"{tag} --once log"] = r.stdout, r.stderr
        for mode in ("--status", "--check"):
            r = b.agent(mode, "-v", "-v", "-v", role=role, env=env)
            assert r.status == 0, r
            tokens_seen.update(imds_tokens(b.fake))
            outputs[f"{tag} {mode} stdout"], outputs[f"{tag} {mode} log"] = r.stdout, r.stderr
        with open(b.state_file) as f:
            outputs[f"{tag} state file"] = f.read()
    secrets = all_secrets(b.fake, tokens_seen | {SESSION_TOKEN_ENV})
    # The secret key, at least one role key set (secret and token), the
    # environment's token, and IMDS tokens.
    assert SECRET_KEY in secrets and SESSION_TOKEN_ENV in secrets
    assert len(tokens_seen) >= 1 and len(secrets) >= 5, secrets
    assert scan(outputs, secrets) == []
    # The log did carry the traffic (at -v -v -v it names each request's
    # headers, the secret-carrying ones too): the scan looked at real lines.
    assert "X-Amz-Security-Token" in outputs["role --once log"] and "Authorization" in outputs["role --once log"]


def test_no_secret_in_echoed_error_replies(vboot):
    """Error replies that quote the secrets back (AWS does this with the
    canonical request of a refused signature, which holds the session token)
    are logged redacted."""
    b = vboot.prepare()
    b.fake.imds(rotate_credentials=True)
    world = b.fake.state()
    role_key = world["imds"]["current_key"]
    secret, token = world["keys"][role_key]["secret"], world["keys"][role_key]["token"]
    message = f"echo: secret={secret} X-Amz-Security-Token:{token} Token {token} key {secret}"
    b.fake.fault(service="ec2", action="DescribeVolumes", kind="error", status=500, code="InternalError",
                 message=message, count=2)
    b.fake.fault(service="route53", action="*", kind="error", status=400, code="InvalidInput",
                 message=message, count=1)
    r = b.boot("-v", "-v")
    texts = {"log": r.stderr, "stdout": r.stdout}
    secrets = all_secrets(b.fake, [secret, token])
    assert scan(texts, secrets) == [], r


def test_refused_signature_does_not_leak_the_session_token(vboot, tmp_path):
    """Route 53 answers a bad signature with the canonical request it
    expected, x-amz-security-token included."""
    b = vboot.prepare()
    world = b.fake.state()
    world["keys"]["AKIDEXAMPLE0NODEAGENT"]["token"] = SESSION_TOKEN_ENV
    b.fake.set_state(world)
    b.configure(timeout="8s")
    r = b.agent("--once", "-v", "-v", "-v", role=False,
                env={"AWS_SESSION_TOKEN": SESSION_TOKEN_ENV, "AWS_SECRET_ACCESS_KEY": "wrong" + SECRET_KEY[5:]})
    assert r.status == 3, r
    assert {q["code"] for q in b.fake.requests()} & {"SignatureDoesNotMatch", "AuthFailure"}, b.fake.requests()
    assert scan({"log": r.stderr, "stdout": r.stdout},
                all_secrets(b.fake, [SESSION_TOKEN_ENV, "wrong" + SECRET_KEY[5:]])) == []


# -- TLS -------------------------------------------------------------------------------------


def make_cert(d, cn="127.0.0.1", san="IP:127.0.0.1"):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True)
    return key, cert


class TlsServer:
    """An https server on 127.0.0.1 that records each request it gets and
    answers EC2's DryRunOperation (what --check expects)."""

    def __init__(self, key, cert):
        self.requests = []
        self.connections = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                reply = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                         b'<Code>DryRunOperation</Code><Message>Request would have succeeded, but DryRun flag '
                         b'is set.</Message></Error></Errors><RequestID>x</RequestID></Response>')
                self.send_response(412)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST

        class Server(HTTPServer):
            def get_request(self):
                # Counted before the handshake (in accept), which may fail.
                outer.connections += 1
                return super().get_request()

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls(tmp_path):
    key, cert = make_cert(str(tmp_path))
    s = TlsServer(key, cert)
    s.cert = cert
    try:
        yield s
    finally:
        s.stop()


def check_against(fake, confdir, endpoint, extra_env=None, timeout="4s"):
    path = write_config(confdir, "[Node]\nTimeout=%s\n[Volume]\nId=%s\nMountPoint=/var/lib/kafka\n" % (timeout, VOLUME))
    env = clean_env(fake.env())
    env["AWS_ENDPOINT_URL_EC2"] = endpoint
    env.update(extra_env or {})
    return run([NODEAGENT, "--check", "-v", "-v", "--config", path], env, timeout=60)


def test_tls_verification_is_always_on_in_the_source():
    with open(os.path.join(TOP, "agent", "http.c")) as f:
        src = f.read()
    assert re.search(r"CURLOPT_SSL_VERIFYPEER,\s*1L", src)
    assert re.search(r"CURLOPT_SSL_VERIFYHOST,\s*2L", src)
    for name in os.listdir(os.path.join(TOP, "agent")):
        if name.endswith((".c", ".h")):
            with open(os.path.join(TOP, "agent", name)) as f:
                text = f.read()
            assert not re.search(r"VERIFY(PEER|HOST),\s*0", text), name
            assert "CURLOPT_SSL_VERIFYSTATUS, 0" not in text and "CURLSSLOPT_NO_REVOKE" not in text, name


@pytest.mark.parametrize("env", [
    {},
    {"AWS_CA_BUNDLE": ""},
    {"CURL_CA_BUNDLE": "/dev/null", "AWS_VERIFY_SSL": "false", "NODEAGENT_INSECURE": "1", "CURL_INSECURE": "1"},
    {"SSL_CERT_FILE": "/nonexistent", "SSL_CERT_DIR": "/nonexistent", "AWS_CA_BUNDLE": "/nonexistent/ca.pem"},
], ids=["plain", "empty-bundle", "insecure-wishes", "missing-bundle"])
def test_self_signed_endpoint_is_refused(fake, confdir, tls, env):
    r = check_against(fake, confdir, f"https://127.0.0.1:{tls.port}", env)
    assert r.status in (1, 6), r
    assert tls.requests == [], "a request went through an unverified connection"
    # It got there and was refused at the handshake: not an endpoint it never reached.
    assert tls.connections >= 1, r


def test_ca_bundle_makes_the_endpoint_trusted(fake, confdir, tls):
    r = check_against(fake, confdir, f"https://127.0.0.1:{tls.port}", {"AWS_CA_BUNDLE": tls.cert})
    assert tls.requests, r
    method, path, headers, body = tls.requests[0]
    assert method == "POST" and headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "), tls.requests[0]
    assert b"Action=DescribeVolumes" in body


def test_trusted_ca_with_the_wrong_name_is_refused(fake, confdir, tmp_path):
    key, cert = make_cert(str(tmp_path), cn="ec2.example.com", san="DNS:ec2.example.com")
    s = TlsServer(key, cert)
    try:
        r = check_against(fake, confdir, f"https://127.0.0.1:{s.port}", {"AWS_CA_BUNDLE": cert})
        assert r.status in (1, 6), r
        assert s.requests == []
    finally:
        s.stop()


def test_redirect_is_not_followed(fake, confdir):
    """A 3xx from an endpoint is an answer, not a way to send the signed
    request (and its token) elsewhere."""
    hits = []

    class Redirect(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = f"http://127.0.0.1:{fake.port}/stolen" if self.path == "/" else None
            self.send_response(307 if target else 200)
            if target:
                self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = HTTPServer(("127.0.0.1", 0), Redirect)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    try:
        r = check_against(fake, confdir, f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.status != 0, r
    assert all(p == "/" for p in hits)
    assert not [q for q in fake.requests() if "stolen" in q["path"]]


# -- injection ---------------------------------------------------------------------------


INJECTED_TAG = "x&Action=DeleteVolume&VolumeId=vol-0123456789abcdef0"
# Every action the agent calls (--check dry-runs each of them).
EXPECTED_EC2 = {"DescribeVolumes", "DescribeNetworkInterfaces", "DescribeSubnets", "DescribeInstances",
                "AttachVolume", "AttachNetworkInterface", "CreateTags", "DetachVolume", "DetachNetworkInterface"}


def test_tag_value_with_parameters_is_encoded_not_injected(fake, confdir):
    """A Tag= value holding '&Action=DeleteVolume&...' is the tag's literal
    value: the volume tagged with exactly that is found, and EC2 never sees
    another action or parameter."""
    world = fake.state()
    twin = dict(world["volumes"][VOLUME], id="vol-0123456789abcdef1", tags={"Name": INJECTED_TAG})
    fake.merge_state({"volumes": {"vol-0123456789abcdef1": twin}})
    path = write_config(confdir, FULL.format(timeout="10s").replace(f"Id={VOLUME}", f"Tag=Name={INJECTED_TAG}"))
    r = run([NODEAGENT, "--check", "--config", path], clean_env(fake.env()), timeout=60)
    assert r.status == 0, r
    assert "vol-0123456789abcdef1" in r.stdout, r
    actions = {q["action"] for q in fake.requests(service="ec2")}
    assert actions <= EXPECTED_EC2, actions
    assert fake.state()["volumes"][VOLUME]["attachments"] == [] and VOLUME in fake.state()["volumes"]


@pytest.mark.parametrize("key,value", [
    ("Volume.Id", "vol-0123456789abcdef0&Action=DeleteVolume"),
    ("Volume.Id", "vol-0123456789abcdef0%26Action%3DDeleteVolume"),
    ("Interface.Id", "eni-0123456789abcdef0&Action=DeleteNetworkInterface"),
    ("DNS.HostedZoneId", "Z0123456789ABCDEFGHIJ/../../hostedzone/ZOTHER"),
    ("DNS.HostedZoneId", "Z0123456789ABCDEFGHIJ?x=1"),
    ("DNS.Name", "kafka-1.cluster.internal&type=TXT"),
    ("DNS.Name", "kafka-1</Name><Type>TXT</Type>.cluster.internal"),
    ("Volume.Device", "/dev/sdf&Action=DeleteVolume"),
    ("Volume.Device", "/dev/sdf\n"),
], ids=lambda v: re.sub(r"[^A-Za-z0-9.]+", "_", str(v))[:40])
def test_malicious_ids_and_names_are_refused_before_any_request(fake, confdir, key, value):
    path = write_config(confdir, FULL.format(timeout="10s"))
    r = run([NODEAGENT, "--check", "--config", path, "--set", f"{key}={value}"], clean_env(fake.env()), timeout=60)
    assert r.status == 2, r
    assert key.split(".")[1] in r.stderr, r
    assert fake.requests() == []


def test_malicious_ids_in_user_data_are_refused(fake, confdir):
    fake.imds(user_data="#nodeagent\n[Volume]\nId=vol-0123456789abcdef0&Action=DeleteVolume\nMountPoint=/data\n")
    path = write_config(confdir, "")
    r = run([NODEAGENT, "--check", "--config", path], clean_env(fake.env()), timeout=60)
    assert r.status == 2, r
    assert "user data" in r.stderr
    assert fake.requests(service="ec2") == []


def test_node_name_in_route53_xml_is_escaped(fake, confdir):
    """Mode=multivalue uses [Node] Name= as the SetIdentifier: markup in it
    is text in the batch, never elements."""
    name = "k<1>&'\""
    path = write_config(confdir, "[Node]\nName=%s\nTimeout=10s\n[DNS]\nHostedZoneId=%s\nName=kafka.cluster.internal\n"
                        "Mode=multivalue\n" % (name, ZONE))
    r = run([NODEAGENT, "--once", "--config", path], clean_env(fake.env()), timeout=60)
    if r.status == 2:
        return      # refused as a name: as good
    assert r.status == 0, r
    zone = fake.state()["hosted_zones"][ZONE]
    sets = [x for x in zone["records"] if x["Name"] == "kafka.cluster.internal."]
    assert [x.get("SetIdentifier") for x in sets] == [name], sets
    assert len(zone["records"]) == 3    # NS, SOA and ours: nothing else created


# -- size caps -------------------------------------------------------------------------------


def run_measured(argv, env, timeout=120):
    """Runs argv and returns (exit status, stderr, max RSS in KiB) of that process alone."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, err.read().decode(errors="replace"), usage.ru_maxrss


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("service,action", [("ec2", "DescribeVolumes"), ("imds", "identity"),
                                            ("route53", "ListResourceRecordSets")])
def test_huge_reply_is_refused_not_buffered(fake, confdir, service, action, chunked):
    size = 64 * 1024 * 1024
    if service == "route53":
        # --check does not read Route 53; a DNS-only boot does (publishing
        # the instance's primary IP), and a second one reads it again.
        path = write_config(confdir, "[Node]\nTimeout=6s\n[DNS]\nHostedZoneId=%s\nName=kafka-1.cluster.internal\n"
                            % ZONE)
        argv = [NODEAGENT, "--once", "-v", "--config", path]
    else:
        path = write_config(confdir, FULL.format(timeout="6s"))
        argv = [NODEAGENT, "--check", "-v", "--config", path]
    status, err, baseline_kib = run_measured(argv, clean_env(fake.env()))
    assert status == 0, err
    fake.clear_requests()
    fake.fault(service=service, action=action, kind="huge", bytes=size, chunked=chunked, count=-1)
    status, err, rss_kib = run_measured(argv, clean_env(fake.env()))
    assert status in (1, 6), err
    hits = [q for q in fake.requests(service=service, action=action) if q.get("fault") == "huge"]
    assert hits, fake.requests()
    # The cap (4 MiB) holds: the process grew by a few MiB at most, never
    # by anything near the reply's size.
    assert (rss_kib - baseline_kib) * 1024 < 16 * 1024 * 1024, (baseline_kib, rss_kib)
    # It stopped reading: the fake never got the whole reply out (its code
    # is "huge:<bytes sent>" once the fake's write has ended).
    def sent():
        codes = [q["code"] for q in fake.requests(service=service, action=action) if q.get("fault") == "huge"]
        return all(":" in c for c in codes) and [int(c.split(":")[1]) for c in codes]
    assert all(n < size for n in wait_until("the fake's writes ended", sent)), fake.requests()


# -- configuration files -------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o646, 0o666, 0o602])
def test_config_writable_by_others_is_refused(confdir, mode):
    path = write_config(confdir, FULL.format(timeout="10s"), mode=mode)
    r = run([NODEAGENT, "--check", "--config", path], clean_env({"AWS_EC2_METADATA_SERVICE_ENDPOINT":
                                                                 "http://127.0.0.1:9/"}), timeout=30)
    assert r.status == 2, r
    assert os.path.basename(path) in r.stderr, r      # It names the file.


def test_conf_d_file_writable_by_others_is_refused(confdir):
    path = write_config(confdir, FULL.format(timeout="10s"))
    write_config(confdir, "[Node]\nTimeout=20s\n", name="conf.d/90-x.conf", mode=0o666)
    r = run([NODEAGENT, "--check", "--config", path], clean_env({"AWS_EC2_METADATA_SERVICE_ENDPOINT":
                                                                 "http://127.0.0.1:9/"}), timeout=30)
    assert r.status == 2, r
    assert "90-x.conf" in r.stderr


def test_config_owned_by_another_user_is_refused(confdir):
    if os.geteuid() != 0:
        pytest.skip("needs root to chown")
    path = write_config(confdir, FULL.format(timeout="10s"))
    os.chown(path, 65534, 65534)
    r = run([NODEAGENT, "--check", "--config", path], clean_env({"AWS_EC2_METADATA_SERVICE_ENDPOINT":
                                                                 "http://127.0.0.1:9/"}), timeout=30)
    assert r.status == 2, r


# -- the unit --------------------------------------------------------------------------------


UNIT = os.path.join(TOP, "systemd", "nodeagent.service")

# What must stay: no privilege gain, a bounded capability set, the
# address families, the syscall filter, and no writable-executable memory.
REQUIRED = {
    "NoNewPrivileges": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictRealtime": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
}
# Capabilities the agent must never hold. (CAP_MKNOD it holds for mdadm's
# temporary md nodes, which DeviceAllow=block-md rwm is the only device rule
# to let it make: test_mknod_is_only_for_md.)
FORBIDDEN_CAPS = {"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_BOOT", "CAP_BPF",
                  "CAP_NET_RAW", "CAP_CHOWN", "CAP_FOWNER"}
# A private mount namespace would hide the volume's mount from every other unit.
NO_MOUNT_NAMESPACE = ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateMounts",
                      "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "TemporaryFileSystem", "BindPaths")


def unit_settings():
    settings = {}
    section = None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section == "Service" and "=" in line:
                k, v = line.split("=", 1)
                settings.setdefault(k.strip(), []).append(v.strip())
    return settings


def test_unit_hardening_is_kept():
    s = unit_settings()
    if "NoNewPrivileges" not in s and "CapabilityBoundingSet" not in s:
        pytest.skip("systemd/nodeagent.service has no hardening yet")
    for key, value in REQUIRED.items():
        assert s.get(key, [None])[-1] == value, (key, s.get(key))
    caps = set(" ".join(s["CapabilityBoundingSet"]).split())
    assert caps and not caps & FORBIDDEN_CAPS, caps
    families = set(" ".join(s["RestrictAddressFamilies"]).split())
    assert families <= {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}, families
    filters = " ".join(s["SystemCallFilter"])
    assert "@system-service" in filters and "~@privileged" in filters, filters
    for key in NO_MOUNT_NAMESPACE:
        assert key not in s, f"{key}= would put the mount in a private namespace"


def test_mknod_is_only_for_md():
    # CAP_MKNOD is for mdadm's temporary md nodes only: the device policy is
    # closed, and md's is the only rule that allows mknod ("m").
    s = unit_settings()
    caps = set(" ".join(s["CapabilityBoundingSet"]).split())
    if "CAP_MKNOD" not in caps:
        return
    assert s.get("DevicePolicy", [None])[-1] == "closed", s.get("DevicePolicy")
    with_mknod = [rule for rule in s.get("DeviceAllow", []) if "m" in rule.split()[-1]]
    assert with_mknod == ["block-md rwm"], s.get("DeviceAllow")


def test_unit_verifies():
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    with tempfile.TemporaryDirectory() as d:
        unit = os.path.join(d, "nodeagent.service")
        with open(UNIT) as f:
            text = f.read()
        # The binary as installed would be; verify needs it to exist.
        with open(unit, "w") as f:
            f.write(text.replace("/usr/sbin/nodeagent", NODEAGENT))
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
    problems = [line for line in (r.stderr + r.stdout).splitlines()
                if "nodeagent.service" in line and "Command 'man " not in line and "Documentation" not in line]
    assert problems == [], r.stderr




