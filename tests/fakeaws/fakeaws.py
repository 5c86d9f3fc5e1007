#!/usr/bin/python3
"""fakeaws: IMDS, EC2, Auto Scaling, CloudFormation and Route 53 on one local port, for tests.

  /usr/bin/python3 tests/fakeaws/fakeaws.py --listen 127.0.0.1 --port 0 --ready-file FILE
      [--world world.json] [--log FILE] [-v] [--backend module:Class [--backend-opt k=v ...]]
      [--netns NAME [--also-netns NAME ...]] [--instance ID[=PORT] ...] [--latency-profile FILE]

When it listens, it writes "HOST:PORT\\n" to the ready file (atomically), so
a test that asked for port 0 learns the port, then one line
"INSTANCE HOST:PORT\\n" per --instance. SIGTERM stops it cleanly (exit 0).
See README.md beside this file.

--instance ID[=PORT]: one more listener (every service, on PORT, or a free
one) whose IMDS answers as instance ID instead of the world's self: a
second agent of the same world, as a second EC2 instance has its own IMDS.
Its attachments are made real by the backend too (App.is_local()).

With --netns NAME the fake serves two sockets on the same address and port:
one in the namespace it was started in (for the test), then it enters
/run/netns/NAME (setns; lo is set up there) and listens there too (for an
agent started with `ip netns exec NAME`); from then on the whole process,
its backend and the commands it runs are in NAME. One URL works on both sides.
--also-netns NAME (with --netns, repeatable) listens in NAME too, before it
settles in the --netns one: for the agent of a second instance.
"""

import argparse
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from backends import load_backend  # noqa: E402
from hotplug import enter_netns  # noqa: E402
from server import App, Server  # noqa: E402
from world import World  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake AWS endpoints (IMDS, EC2, Auto Scaling, CloudFormation, Route 53)")
    p.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--ready-file", help='write "HOST:PORT\\n" here once listening')
    p.add_argument("--world", help="initial world JSON (default: world-default.json beside this file)")
    p.add_argument("--log", help="log file (default: stderr)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging (every HTTP line)")
    p.add_argument("--backend", default="null", help="attach backend module:Class (default: null, does nothing)")
    p.add_argument("--backend-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="option passed to the backend's constructor (repeatable)")
    p.add_argument("--netns", metavar="NAME",
                   help="also listen inside network namespace NAME (same address and port) and run there")
    p.add_argument("--latency-profile", metavar="FILE",
                   help="JSON latency profile: seeded random wait per request (latency.py)")
    p.add_argument("--instance", action="append", default=[], metavar="ID[=PORT]",
                   help="one more listener whose IMDS answers as instance ID (repeatable)")
    p.add_argument("--also-netns", action="append", default=[], metavar="NAME",
                   help="with --netns: listen in network namespace NAME too (repeatable)")
    return p.parse_args(argv)


def parse_instances(specs):
    """["i-1", "i-2=8081"] -> [("i-1", 0), ("i-2", 8081)]."""
    out = []
    for spec in specs:
        iid, sep, port = spec.partition("=")
        if not iid.startswith("i-") or (sep and not port.isdigit()):
            raise ValueError(f"--instance {spec!r} is not ID or ID=PORT")
        out.append((iid, int(port) if sep else 0))
    return out


def write_ready_file(path, host, port, instances=()):
    # Write then rename, so a poller never reads a half-written file.
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{host}:{port}\n")
        for iid, iport in instances:
            f.write(f"{iid} {host}:{iport}\n")
    os.replace(tmp, path)


def _close_all(servers):
    for server in servers:
        server.server_close()


def listen_everywhere(address, listeners, app, netns=None, also=()):
    """One Server per listener ((instance or None, port)) here and, with netns, the same address
    and port in each of also and then in netns, where the process stays (lo up in each).

    Must run before any other thread starts: threads made later are in
    netns too (setns moves only the calling thread)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for _ in range(20):
            servers = []
            try:
                for instance, port in listeners:
                    servers.append(Server((address, port), app, instance))
                chosen = [(instance, srv.server_address[1]) for (instance, _), srv in zip(listeners, servers)]
                for ns in [*also, netns] if netns else []:
                    enter_netns(ns)
                    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, stdin=subprocess.DEVNULL)
                    for instance, port in chosen:
                        servers.append(Server((address, port), app, instance))
                return servers, chosen
            except OSError as e:
                _close_all(servers)
                enter_netns(home)
                # A port chosen here may be taken in a namespace: choose again.
                if e.errno != errno.EADDRINUSE or not netns or any(port for _, port in listeners):
                    raise
        raise OSError(errno.EADDRINUSE, f"no ports free both here and in netns {netns}")
    finally:
        os.close(home)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    handler = logging.FileHandler(args.log) if args.log else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("fakeaws")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)

    initial = None
    if args.world:
        with open(args.world) as f:
            initial = json.load(f)
    options = {}
    for opt in args.backend_opt:
        key, sep, value = opt.partition("=")
        if not sep:
            print(f"fakeaws: --backend-opt {opt!r} is not KEY=VALUE", file=sys.stderr)
            return 2
        options[key] = value

    try:
        instances = parse_instances(args.instance)
    except ValueError as e:
        print(f"fakeaws: {e}", file=sys.stderr)
        return 2
    if args.also_netns and not args.netns:
        print("fakeaws: --also-netns needs --netns", file=sys.stderr)
        return 2

    backend = load_backend(args.backend, options)
    app = App(World(initial), backend)
    app.instances = [iid for iid, _ in instances]
    if args.latency_profile:
        with open(args.latency_profile) as f:
            app.latency.set(json.load(f))
    servers, chosen = listen_everywhere(args.listen, [(None, args.port), *instances], app, args.netns,
                                        args.also_netns)
    host, port = servers[0].server_address[:2]
    backend.start(app)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # serve_forever runs in a thread: shutdown() must be called from a thread
    # other than the one serving, and the main thread is free for signals.
    for i, server in enumerate(servers):
        threading.Thread(target=server.serve_forever, name=f"serve{i}", daemon=True).start()
    where = f" here and in netns {' and '.join([*args.also_netns, args.netns])}" if args.netns else ""
    root.info("listening on %s:%d%s (pid %d, backend %s)%s", host, port, where, os.getpid(), args.backend,
              "".join(f"; IMDS of {iid} on port {iport}" for iid, iport in chosen[1:]))
    if args.ready_file:
        write_ready_file(args.ready_file, host, port, chosen[1:])
    while not stop.wait(3600):
        pass
    root.info("stopping")
    for server in servers:
        server.shutdown()
        server.server_close()
    backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
