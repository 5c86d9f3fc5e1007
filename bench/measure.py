"""Running one measured process: wall time, CPU time and peak RSS of the
process itself and of what it waited for, and its stderr lines timestamped
as they arrive.

The figures:
  cpu        ru_utime + ru_stime from wait4(): the process and every
             descendant it reaped (e2fsck, mount, the aws processes of a
             script) -- the same sum getrusage(RUSAGE_CHILDREN) grows by;
  cpu_own    utime + stime of the process alone (its threads included),
             read from /proc/PID/stat while it is a zombie (waitid WNOWAIT),
             in clock ticks (10 ms);
  cpu_children  cutime + cstime, the same way: what its reaped children cost;
  maxrss     ru_maxrss from wait4(): the largest of the process and its
             reaped descendants (KiB) -- but a child forked from the bench's
             Python keeps that parent's high-water mark across exec, so
             this is at least the bench's own size: tree_hwm is the figure;
  hwm        VmHWM of the process itself, sampled from /proc/PID/status
             every few ms until it exits (KiB); rss_anon / rss_file: the
             largest anonymous and file-backed parts seen; tree_hwm: the
             largest VmHWM of the process or any descendant, sampled the same
             way (tree_hwm_comm names it); pss: the largest Pss of the
             process (smaps_rollup), its shared library pages divided among
             all the processes that map them; private: the largest
             Private_Clean + Private_Dirty (the USS: pages no other process
             maps now, which counts library pages while nothing else maps
             that library); private_dirty: the largest Private_Dirty (heap,
             stacks, relocated library data: its own whatever else runs).
"""

import os
import signal
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _status_fields(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("State", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = value.strip()
    except OSError:
        return None
    return out


def _rollup(pid):
    """From smaps_rollup, KiB: Pss; Private (Private_Clean + Private_Dirty:
    the USS, what ending the process would free now, which counts the clean
    library pages no other process happens to map); Private_Dirty (its heap,
    stacks and the libraries' relocated data: its own whatever else runs)."""
    out = {"Pss": 0, "Private": 0, "Private_Dirty": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "Pss":
                    out["Pss"] = int(value.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    out["Private"] += int(value.split()[0])
                    if key == "Private_Dirty":
                        out["Private_Dirty"] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def _kib(value):
    return int(value.split()[0]) if value else 0


def _children(pid):
    """The children of every thread of pid: nodeagent starts mkfs and
    e2fsck from a path's thread, whose children its main thread's list
    leaves out."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return out


class Sampler(threading.Thread):
    """VmHWM of the process, and the largest VmHWM of any process below it.

    ru_maxrss cannot tell the latter: a child forked from this (large)
    Python process keeps the parent's high-water mark across exec."""

    def __init__(self, pid, interval=0.005):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.hwm = self.rss_anon = self.rss_file = self.pss = self.private = self.private_dirty = 0
        self.tree_hwm = 0
        self.tree_hwm_comm = None
        # (pid, comm) -> [first seen, last seen], epoch seconds: how long each
        # program below ran (mkfs.ext4, e2fsck, ...), to within a round.
        self.lifetimes = {}
        self.stop = threading.Event()

    def run(self):
        me = os.readlink("/proc/self/exe")
        rounds = 0
        while not self.stop.is_set():
            try:
                execed = os.readlink(f"/proc/{self.pid}/exe") != me
            except OSError:
                execed = False
            if not execed:
                # Still the fork of this Python: its pages are not the child's.
                time.sleep(0.0005)
                if not os.path.exists(f"/proc/{self.pid}"):
                    return
                continue
            s = _status_fields(self.pid)
            if s is None or s.get("State", "").startswith("Z"):
                return
            if "VmHWM" in s:
                self.hwm = _kib(s["VmHWM"])
                self.rss_anon = max(self.rss_anon, _kib(s.get("RssAnon")))
                self.rss_file = max(self.rss_file, _kib(s.get("RssFile")))
                if self.hwm > self.tree_hwm:
                    self.tree_hwm, self.tree_hwm_comm = self.hwm, "(itself)"
                # Pss: the shared pages divided among the processes that map
                # them; private: the pages no other process maps (its heap,
                # stacks, the libraries' relocated data). smaps_rollup walks
                # the page tables, so every other round.
                if rounds % 2 == 0:
                    r = _rollup(self.pid)
                    self.pss = max(self.pss, r["Pss"])
                    self.private = max(self.private, r["Private"])
                    self.private_dirty = max(self.private_dirty, r["Private_Dirty"])
                rounds += 1
            todo = _children(self.pid)
            t = time.time()
            while todo:
                child = todo.pop()
                c = _status_fields(child)
                try:
                    with open(f"/proc/{child}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    comm = None
                if comm:
                    self.lifetimes.setdefault((child, comm), [t, t])[1] = t
                if c and "VmHWM" in c and _kib(c["VmHWM"]) > self.tree_hwm:
                    self.tree_hwm = _kib(c["VmHWM"])
                    self.tree_hwm_comm = comm
                todo.extend(_children(child))
            time.sleep(self.interval)


class Result:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def figures(self):
        return {k: getattr(self, k) for k in ("status", "wall", "t_start", "t_end", "cpu", "cpu_user", "cpu_sys",
                                              "cpu_own", "cpu_children", "maxrss_kib", "hwm_kib",
                                              "rss_anon_kib", "rss_file_kib", "pss_kib", "private_kib", "private_dirty_kib",
                                              "tree_hwm_kib",
                                              "tree_hwm_comm")}

    def text(self):
        return "".join(line for _, line in self.lines)


def run(argv, env, timeout, cwd=None):
    """Runs argv to its end (SIGKILL of its pid after timeout) and measures it."""
    lines, out = [], []
    t_start = time.time()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    sampler = Sampler(proc.pid)
    sampler.start()

    def read_err():
        for raw in proc.stderr:
            lines.append((time.time(), raw.decode(errors="replace")))

    def read_out():
        out.append(proc.stdout.read().decode(errors="replace"))

    readers = [threading.Thread(target=read_err, daemon=True), threading.Thread(target=read_out, daemon=True)]
    for t in readers:
        t.start()
    killer = threading.Timer(timeout, lambda: _kill(proc.pid))
    killer.start()
    try:
        # Wait without reaping: the zombie's /proc/PID/stat still has its own
        # and its children's CPU times.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        t_end = time.time()
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        utime, stime, cutime, cstime = (int(x) / CLK_TCK for x in fields[11:15])
        _, wstatus, ru = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(wstatus)
    sampler.stop.set()
    sampler.join()
    for t in readers:
        t.join(5)
    return Result(argv=argv, status=proc.returncode, t_start=t_start, t_end=t_end, wall=t_end - t_start,
                  cpu=ru.ru_utime + ru.ru_stime, cpu_user=ru.ru_utime, cpu_sys=ru.ru_stime,
                  cpu_own=utime + stime, cpu_children=cutime + cstime, maxrss_kib=ru.ru_maxrss,
                  hwm_kib=sampler.hwm, rss_anon_kib=sampler.rss_anon, rss_file_kib=sampler.rss_file,
                  pss_kib=sampler.pss, private_kib=sampler.private,
                  private_dirty_kib=sampler.private_dirty,
                  tree_hwm_kib=sampler.tree_hwm, tree_hwm_comm=sampler.tree_hwm_comm,
                  lifetimes=[(comm, a, b) for (_, comm), (a, b) in sampler.lifetimes.items()],
                  lines=lines, stdout="".join(out))


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
