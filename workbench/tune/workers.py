"""Isolated worker processes: each runs jobs one at a time from a pipe; a crash (segfault), a hang
(timeout) or too many jobs (JIT memory) ends it, and the next job gets a fresh one.

Not a concurrent.futures pool because a pool cannot kill one hung job, and a dead child breaks the
whole pool; here the parent owns each process, so it kills exactly the one that misbehaved.
Processes start by forkserver (spawn where there is none): a fresh interpreter image without the
parent's threads, JIT state or libgomp pool.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from multiprocessing.connection import wait

_CTX = None


def context():
    global _CTX   # one start context per process (the forkserver is shared by all pools)
    if _CTX is None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        _CTX = mp.get_context(method)
        if method == "forkserver":
            # imported once in the server, so each worker starts in milliseconds
            _CTX.set_forkserver_preload(["numpy", "llvmlite.binding", "workbench",
                                         "workbench.tune.jobs"])
    return _CTX


def _serve(conn, fn_name):
    from . import jobs
    fn = getattr(jobs, fn_name)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            conn.send(("ok", fn(job)))
        except BaseException as e:   # the job functions report their own errors; this is a bug
            conn.send(("error", f"{type(e).__name__}: {e}"))


class Worker:
    """One child process serving `jobs.<fn_name>`."""

    def __init__(self, fn_name: str, recycle_every: int = 64):
        self.fn_name = fn_name
        self.recycle_every = recycle_every
        self.proc = None
        self.conn = None
        self.jobs_done = 0
        self.busy_since = None
        self.payload = None

    def ensure(self):
        if self.proc is not None and (not self.proc.is_alive() or self.jobs_done >= self.recycle_every):
            self.stop()
        if self.proc is None:
            ctx = context()
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, self.fn_name), daemon=True)
            try:
                proc.start()
            except BaseException:
                # e.g. a script without `if __name__ == "__main__":` re-running itself in the
                # spawned child: keep no unstarted process, so close() reports the real error
                parent.close()
                child.close()
                raise
            self.proc = proc
            child.close()
            self.conn = parent
            self.jobs_done = 0

    def submit(self, job, payload=None):
        self.ensure()
        self.conn.send(job)
        self.busy_since = time.monotonic()
        self.payload = payload

    def receive(self):
        """-> ("ok", result) | ("error", message) | ("crash", message); frees the worker."""
        try:
            status, value = self.conn.recv()
            self.jobs_done += 1
        except (EOFError, OSError):
            self.proc.join(5)
            code = self.proc.exitcode
            status, value = "crash", _describe_exit(code)
            self.kill()
        self.busy_since = None
        return status, value

    def kill(self):
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
            self.conn.close()
        self.proc = self.conn = None
        self.busy_since = None

    def stop(self):
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(2)
        self.kill()


def _describe_exit(code) -> str:
    if code is None:
        return "worker process died (no exit code)"
    if code < 0:
        import signal
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process killed by {name}" + (" (segmentation fault)" if name == "SIGSEGV" else "")
    return f"worker process exited with code {code}"


def run_all(workers: list[Worker], jobs: list, timeout: float, on_result):
    """Run `jobs` on `workers` (as many at once as there are workers). `on_result(i, status,
    value)` gets every job's outcome; status "timeout" when a job ran longer than `timeout` s (its
    worker is killed)."""
    pending = list(enumerate(jobs))[::-1]
    while pending or any(w.busy_since is not None for w in workers):
        for w in workers:
            if w.busy_since is None and pending:
                i, job = pending.pop()
                w.submit(job, payload=i)
        busy = [w for w in workers if w.busy_since is not None]
        now = time.monotonic()
        wait_for = max(0.0, min(w.busy_since + timeout for w in busy) - now)
        ready = wait([w.conn for w in busy], timeout=wait_for)
        for w in busy:
            if w.conn in ready:
                i = w.payload
                status, value = w.receive()
                on_result(i, status, value)
            elif time.monotonic() - w.busy_since >= timeout:
                i = w.payload
                w.kill()
                on_result(i, "timeout", f"no answer within {timeout:g} s; worker killed")


def default_parallelism() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
