"""What the device backends share: a timer thread, and entering a network namespace.

Scheduler: one thread runs delayed calls in due order (the "hotplug" a
moment after EC2 accepted the attach). A call may ask to run again later
by returning a delay in seconds (a busy device is retried this way, so one
busy device never holds up the others); it returns None when it is done.
stop() drops what is pending and joins the thread.

enter_netns(name): move the calling thread into /run/netns/NAME (setns).
Threads and child processes started afterwards by that thread are in it too.
"""

import ctypes
import heapq
import itertools
import logging
import os
import threading
import time

log = logging.getLogger("fakeaws")

CLONE_NEWNET = 0x40000000


class Handle:
    """A scheduled call; cancel() makes it a no-op if it has not started."""

    def __init__(self):
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Scheduler:
    def __init__(self, name):
        self._cond = threading.Condition()
        self._heap = []
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay, fn, *args):
        handle = Handle()
        self._push(time.monotonic() + max(0.0, float(delay)), handle, fn, args)
        return handle

    def _push(self, due, handle, fn, args):
        with self._cond:
            if self._stopped:
                handle.cancelled = True
                return
            heapq.heappush(self._heap, (due, next(self._seq), handle, fn, args))
            self._cond.notify()

    def _run(self):
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, handle, fn, args = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            try:
                again = fn(*args)
            except Exception:  # A hotplug failure is logged; the fake goes on.
                log.exception("hotplug task %s failed", getattr(fn, "__name__", fn))
                again = None
            if again is not None and not handle.cancelled:
                self._push(time.monotonic() + float(again), handle, fn, args)

    def stop(self):
        with self._cond:
            self._stopped = True
            for entry in self._heap:
                entry[2].cancelled = True
            self._heap = []
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()


def enter_netns(name):
    """setns(2) the calling thread into a network namespace: a name (`ip netns add NAME`), a path or an fd."""
    if isinstance(name, int):
        fd, path = os.dup(name), f"fd {name}"
    else:
        path = name if name.startswith("/") else os.path.join("/run/netns", name)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):  # Python 3.12+
            os.setns(fd, os.CLONE_NEWNET)
            return
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)
