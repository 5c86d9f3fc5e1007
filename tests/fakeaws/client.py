"""FakeAws: start, drive and stop a fakeaws process from a test.

    from client import FakeAws
    with FakeAws() as fake:                       # start() ... stop()
        fake.merge_state({"delays": {"volume_attach": 2}})
        fake.fault(service="ec2", action="AttachVolume", kind="throttle", count=2)
        env = fake.env()                          # AWS_* variables for the agent
        ...
        assert [r["code"] for r in fake.requests()] == [...]

Control calls use http.client directly (no proxies from the environment, no
keep-alive surprises). stop() signals only the pid it started and waits for
it, so a test never touches another process.
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEAWS = os.path.join(HERE, "fakeaws.py")
PYTHON = "/usr/bin/python3"  # Debian's, where python3-botocore is.

# The static test key pair of world-default.json.
ACCESS_KEY = "AKIDEXAMPLE0NODEAGENT"
SECRET_KEY = "nodeagentTestSecretKey0000EXAMPLE0000000"


class FakeAwsError(RuntimeError):
    pass


class FakeAws:
    def __init__(self, world=None, log=None, backend=None, backend_opts=None, listen="127.0.0.1",
                 python=PYTHON, verbose=False, netns=None, latency_profile=None, instances=(), also_netns=()):
        """world: None (world-default.json), a path, or a dict; log: a file path (default: in a temp dir).

        netns: a network namespace name (`ip netns add`): the fake then listens
        on the same address and port both here (for the test) and in that
        namespace (for an agent run with `ip netns exec`), and runs its backend
        there. url and env() serve both sides. also_netns: more namespaces it
        listens in (the agents of other instances).

        instances: ids of other instances of the world, each with a listener of
        its own whose IMDS answers as that instance (env(instance=...)).

        latency_profile: a path or a dict (latency.py): a seeded random wait per request."""
        self.instances = list(instances)
        self.also_netns = list(also_netns)
        self.instance_ports = {}
        self.world = world
        self.latency_profile = latency_profile
        self.netns = netns
        self.listen = listen
        self.backend = backend
        self.backend_opts = dict(backend_opts or {})
        self.python = python
        self.verbose = verbose
        self.log = log
        self.proc = None
        self.host = None
        self.port = None
        self._tmp = None

    # -- lifecycle ------------------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self, timeout=15):
        if self.proc is not None:
            raise FakeAwsError("already started")
        self._tmp = tempfile.mkdtemp(prefix="fakeaws-")
        ready = os.path.join(self._tmp, "ready")
        if self.log is None:
            self.log = os.path.join(self._tmp, "fakeaws.log")
        cmd = [self.python, FAKEAWS, "--listen", self.listen, "--port", "0", "--ready-file", ready,
               "--log", self.log]
        if isinstance(self.world, dict):
            path = os.path.join(self._tmp, "world.json")
            with open(path, "w") as f:
                json.dump(self.world, f)
            cmd += ["--world", path]
        elif self.world:
            cmd += ["--world", str(self.world)]
        if self.backend:
            cmd += ["--backend", self.backend]
            for k, v in self.backend_opts.items():
                cmd += ["--backend-opt", f"{k}={v}"]
        if self.netns:
            cmd += ["--netns", self.netns]
        for ns in self.also_netns:
            cmd += ["--also-netns", ns]
        for iid in self.instances:
            cmd += ["--instance", iid]
        if isinstance(self.latency_profile, dict):
            path = os.path.join(self._tmp, "latency.json")
            with open(path, "w") as f:
                json.dump(self.latency_profile, f)
            cmd += ["--latency-profile", path]
        elif self.latency_profile:
            cmd += ["--latency-profile", str(self.latency_profile)]
        if self.verbose:
            cmd.append("-v")
        stderr = open(os.path.join(self._tmp, "stderr"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
        stderr.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                with open(os.path.join(self._tmp, "stderr"), errors="replace") as f:
                    raise FakeAwsError(f"fakeaws exited {self.proc.returncode}: {f.read()}")
            if time.monotonic() > deadline:
                self.stop()
                raise FakeAwsError("fakeaws did not become ready")
            time.sleep(0.02)
        with open(ready) as f:
            lines = f.read().splitlines()
        self.host, _, port = lines[0].strip().rpartition(":")
        self.port = int(port)
        for line in lines[1:]:
            iid, _, where = line.partition(" ")
            self.instance_ports[iid] = int(where.rpartition(":")[2])
        return self

    def stop(self, timeout=30):
        """SIGTERM the pid we started, wait; SIGKILL that same pid if it lingers. Returns the exit status.
        The wait is generous: a clean stop joins the servers and releases every backend resource (links,
        loop devices), which took over 10 s on a loaded 2-core machine; it costs nothing when the fake is quick."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        return proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- environment for the agent --------------------------------------------------

    def instance_url(self, instance=None):
        """The base URL of the listener of instance (one of instances), or the fake's own (None)."""
        if instance is None:
            return self.url
        return f"http://{self.host}:{self.instance_ports[instance]}"

    def env(self, credentials=True, instance=None):
        """The AWS SDK variables that point a client (the agent) at this fake; with instance (one of
        instances), at that instance's listener: its IMDS answers as that instance, and its requests
        carry the instance's id in the request log."""
        env = {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.instance_url(instance) + "/",
            "AWS_ENDPOINT_URL": self.instance_url(instance),
            "AWS_REGION": "us-east-1",
        }
        if credentials:
            env["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
            env["AWS_SECRET_ACCESS_KEY"] = SECRET_KEY
        return env

    def botocore_client(self, service, access_key=ACCESS_KEY, secret_key=SECRET_KEY, token=None,
                        region="us-east-1"):
        """A botocore client for this fake, retries off (each call is one request)."""
        import botocore.session
        from botocore.config import Config
        session = botocore.session.get_session()
        return session.create_client(service, region_name=region, endpoint_url=self.url,
                                     aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                     aws_session_token=token,
                                     config=Config(retries={"total_max_attempts": 1}))

    # -- raw HTTP ----------------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, timeout=10, instance=None):
        """One request on a fresh connection: (status, headers dict, body bytes); to instance's listener
        when given."""
        port = self.instance_ports[instance] if instance else self.port
        conn = http.client.HTTPConnection(self.host, port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict(headers or {}, **{"Content-Type": "application/json"})
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def _control(self, method, path, body=None):
        status, _, data = self.http(method, "/_fake/" + path, body)
        value = json.loads(data) if data else None
        if status != 200:
            raise FakeAwsError(f"{method} /_fake/{path}: {status} {value}")
        return value

    # -- control interface -----------------------------------------------------------

    def health(self):
        return self._control("GET", "health")

    def state(self):
        return self._control("GET", "state")

    def set_state(self, world):
        return self._control("PUT", "state", world)

    def merge_state(self, patch):
        return self._control("POST", "state/merge", patch)

    def reset(self, builtin_default=False):
        return self._control("POST", "reset", {"world": "default"} if builtin_default else {})

    def fault(self, *rules, **rule):
        """Add fault rules: fault({"kind": ...}, ...) or fault(kind=..., service=..., ...)."""
        batch = list(rules) + ([rule] if rule else [])
        return self._control("POST", "faults", batch)

    def faults(self):
        return self._control("GET", "faults")

    def clear_faults(self):
        return self._control("DELETE", "faults")

    def clock_skew(self, seconds):
        return self._control("POST", "clock", {"skew": seconds})

    def clock(self):
        return self._control("GET", "clock")

    def imds(self, **settings):
        """POST /_fake/imds: expire_tokens=True, disabled=bool, credentials_lifetime=s, rotate_credentials=True, ..."""
        return self._control("POST", "imds", settings)

    def requests(self, service=None, action=None):
        entries = self._control("GET", "requests")
        return [e for e in entries
                if (service is None or e["service"] == service) and (action is None or e["action"] == action)]

    def clear_requests(self):
        return self._control("DELETE", "requests")

    def set_latency_profile(self, profile):
        """POST /_fake/latency (None: DELETE): the seeded per-request wait of latency.py."""
        if profile is None:
            return self._control("DELETE", "latency")
        return self._control("POST", "latency", profile)

    def latency_profile_state(self):
        return self._control("GET", "latency")

    def backend_state(self):
        """GET /_fake/backend: the attach backend's devices (e.g. {"volumes": {vol: {"device": ...}}})."""
        return self._control("GET", "backend")

    # -- IMDS convenience -------------------------------------------------------------

    def imds_token(self, ttl=21600, instance=None):
        status, _, body = self.http("PUT", "/latest/api/token",
                                    headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}, instance=instance)
        if status != 200:
            raise FakeAwsError(f"IMDS token: {status}")
        return body.decode()

    def imds_get(self, path, token=None, instance=None):
        """GET /latest/<path> with a token (a new one when none is given): (status, text); from instance's
        IMDS when given."""
        token = token or self.imds_token(instance=instance)
        status, _, body = self.http("GET", "/latest/" + path.lstrip("/"),
                                    headers={"X-aws-ec2-metadata-token": token}, instance=instance)
        return status, body.decode(errors="replace")
