"""Measuring candidates: build in parallel, then time one at a time, every step isolated.

    with tune.LocalMeasure(number=4, repeat=3) as m:
        results = m.measure_batch(task, [12, 40, 7])     # MeasureResult per config index

A batch is built first (n_parallel builder processes: instantiate, lower, LLVM O3), then each
built candidate runs in a single runner process (JIT, correctness check against the te
compute's default schedule, then `repeat` measurements of `number` calls; `min_repeat_ms` raises
`number` as AutoTVM's does). Builds never overlap timings, and timings never overlap each other.
Every failure is a result with an error code (errors.MeasureErrorNo), never an exception: a
config the template rejects, a compile error, a kernel that crashes or hangs its worker (the
worker is killed and replaced), a wrong answer, a build or run timeout. Workers are recycled every
`recycle_every` jobs, so JIT memory stays bounded over any number of candidates.

Workers are separate processes (forkserver), so, as with any multiprocessing, a script that tunes
must guard its top level with `if __name__ == "__main__":` (workers import the main module to
find templates defined there). Notebooks need nothing.

`DaskMeasure(address_or_client)` does the same on a Dask distributed cluster (same results, same
log records).
"""
from __future__ import annotations

import math
import os
import pickle
import shutil
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass, field, replace

from . import jobs
from .errors import MeasureErrorNo as Err
from .workers import Worker, default_parallelism, run_all


@dataclass(frozen=True)
class MeasureOptions:
    """AutoTVM's runner options, plus: `num_threads` each kernel runs with (pinned, recorded in
    the log), `check_correctness`, `recycle_every` (jobs per worker process), `seed` of inputs."""
    number: int = 4
    repeat: int = 3
    min_repeat_ms: float = 0.0
    build_timeout: float = 10.0
    run_timeout: float = 10.0
    n_parallel: int | None = None
    num_threads: int = 1
    check_correctness: bool = True
    recycle_every: int = 64
    seed: int = 0

    def __post_init__(self):
        for name in ("number", "repeat", "num_threads", "recycle_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"MeasureOptions.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("build_timeout", "run_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"MeasureOptions.{name} must be > 0, got {getattr(self, name)}")

    def runner_options(self) -> dict:
        return {"number": self.number, "repeat": self.repeat, "min_repeat_ms": self.min_repeat_ms,
                "num_threads": self.num_threads, "check_correctness": self.check_correctness}


@dataclass(frozen=True)
class MeasureResult:
    """One measured config. `costs`: seconds per call of each repeat (empty on error)."""
    index: int
    costs: tuple = ()
    error_no: int = 0
    error_msg: str = ""
    all_cost: float = 0.0          # wall seconds spent on this candidate (build + run)
    timestamp: float = field(default_factory=time.time)
    build_time: float = 0.0
    trace: str | None = None       # the schedule's trace as JSON (replayable)

    @property
    def ok(self) -> bool:
        return self.error_no == 0 and bool(self.costs)

    @property
    def cost(self) -> float:
        """Median seconds per call (robust to a noisy repeat); inf on error."""
        if not self.ok:
            return math.inf
        c = sorted(self.costs)
        return c[len(c) // 2] if len(c) % 2 else 0.5 * (c[len(c) // 2 - 1] + c[len(c) // 2])

    @property
    def error_name(self) -> str:
        return Err(self.error_no).name


class _Measure:
    """Shared batch logic; subclasses provide `_builds(jobs)`, `_runs(jobs)`, `_prepare(job)`."""

    def __init__(self, options: MeasureOptions | None = None, **kwargs):
        self.options = replace(options or MeasureOptions(), **kwargs)
        self._prepared: set = set()
        self._ref_dir = tempfile.mkdtemp(prefix="wb-tune-ref-")
        # removed at close(), or when this object is collected / the interpreter exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._ref_dir, True)

    def describe(self) -> dict:
        """What the log records about how candidates were measured."""
        d = asdict(self.options)
        d["kind"] = type(self).__name__
        return d

    def measure_batch(self, task, indices) -> list[MeasureResult]:
        indices = [int(i) for i in indices]
        if not indices:
            return []
        key = task.workload_key
        blob = pickle.dumps(task)
        t0 = time.perf_counter()
        target = str(task.target)
        built = self._builds([{"key": key, "task": blob, "index": i, "target": target}
                              for i in indices])
        t_build = time.perf_counter() - t0
        results: list = [None] * len(indices)
        runs, run_pos = [], []
        for p, (i, b) in enumerate(zip(indices, built)):
            if b["error_no"]:
                results[p] = MeasureResult(i, (), b["error_no"], b["error_msg"],
                                           all_cost=t_build / len(indices))
                continue
            runs.append({"key": key, "task": blob, "index": i, "ir": b["ir"], "entry": b["entry"],
                         "params": b["params"], "messages": b["messages"], "target": b["target"], "options": self.options.runner_options(),
                         "seed": self.options.seed,
                         "ref_path": os.path.join(self._ref_dir, f"{task.digest()}.npz")})
            run_pos.append((p, b))
        if runs and key not in self._prepared:
            prep = self._prepare(runs[0])
            if prep["error_no"]:
                for p, b in run_pos:
                    results[p] = MeasureResult(indices[p], (), prep["error_no"], prep["error_msg"],
                                               trace=b.get("trace"))
                return results
            self._prepared.add(key)
        t1 = time.perf_counter()
        ran = self._runs(runs) if runs else []
        t_run = (time.perf_counter() - t1) / max(1, len(runs))
        for (p, b), r in zip(run_pos, ran):
            results[p] = MeasureResult(indices[p], tuple(r.get("costs", ())), r["error_no"],
                                       r["error_msg"], all_cost=t_build / len(indices) + t_run,
                                       build_time=b.get("build_time", 0.0), trace=b.get("trace"))
        return results

    def close(self):
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _outcome(status, value, timeout_code, crash_code, crash_what):
    if status == "ok":
        return value
    if status == "timeout":
        return {"error_no": int(timeout_code), "error_msg": value}
    if status == "crash":
        return {"error_no": int(crash_code), "error_msg": f"{crash_what}: {value}"}
    return {"error_no": int(Err.UNKNOWN_ERROR), "error_msg": value}


class LocalMeasure(_Measure):
    """Builder and runner processes on this machine (see the module docstring)."""

    def __init__(self, options: MeasureOptions | None = None, **kwargs):
        super().__init__(options, **kwargs)
        o = self.options
        n = o.n_parallel or default_parallelism()
        self._builders = [Worker("build", o.recycle_every) for _ in range(n)]
        self._runner = Worker("run", o.recycle_every)

    @property
    def parallelism(self) -> int:
        """Builds at once: a tuner's default batch size."""
        return len(self._builders)

    def _builds(self, job_list):
        out = [None] * len(job_list)

        def done(i, status, value):
            out[i] = _outcome(status, value, Err.BUILD_TIMEOUT, Err.COMPILE_HOST,
                              "the build crashed its worker")
        run_all(self._builders, job_list, self.options.build_timeout, done)
        return out

    def _runs(self, job_list):
        out = [None] * len(job_list)

        def done(i, status, value):
            out[i] = _outcome(status, value, Err.RUN_TIMEOUT, Err.RUNTIME_DEVICE,
                              "the kernel crashed its worker")
        run_all([self._runner], job_list, self.options.run_timeout, done)
        return out

    def _prepare(self, job):
        out = []
        worker = Worker("prepare", 1)
        try:   # the reference (default schedule) may be far slower than any candidate
            run_all([worker], [job], max(120.0, 10 * self.options.run_timeout),
                    lambda i, status, value: out.append(
                        _outcome(status, value, Err.RUN_TIMEOUT, Err.UNKNOWN_ERROR,
                                 "the reference computation crashed")))
        finally:
            worker.stop()
        return out[0]

    def close(self):
        for w in self._builders + [self._runner]:
            w.stop()
        super().close()


class DaskMeasure(_Measure):
    """Builds and timings as tasks on a Dask distributed cluster.

    `address_or_client`: a scheduler address ("tcp://host:8786") or a `distributed.Client`
    (not closed by this object). Builds run in parallel over the cluster; timings are submitted
    one at a time. A kernel that kills its Dask worker is a RUNTIME_DEVICE error (the nanny
    restarts the worker); a timeout cancels the task and restarts the worker that ran it."""

    def __init__(self, address_or_client, options: MeasureOptions | None = None, **kwargs):
        super().__init__(options, **kwargs)
        from distributed import Client
        if isinstance(address_or_client, Client):
            self.client, self._own = address_or_client, False
        else:
            self.client, self._own = Client(address_or_client), True

    def describe(self) -> dict:
        d = super().describe()
        d["scheduler"] = self.client.scheduler.address
        return d

    @property
    def parallelism(self) -> int:
        """Builds at once (the cluster's workers now): a tuner's default batch size."""
        return max(1, len(self.client.scheduler_info()["workers"]))

    def _wait(self, futures, timeout, timeout_code, crash_code, crash_what):
        from distributed import wait
        wait(futures, timeout=timeout, return_when="ALL_COMPLETED") if futures else None
        out = []
        stuck = []
        for f in futures:
            if f.status == "finished":
                out.append(f.result())
            elif f.status == "error":
                exc = f.exception()
                code = crash_code if type(exc).__name__ == "KilledWorker" else Err.UNKNOWN_ERROR
                out.append({"error_no": int(code), "error_msg": f"{crash_what}: {type(exc).__name__}: {exc}"})
            else:
                stuck.append(f)
                out.append({"error_no": int(timeout_code),
                            "error_msg": f"no answer within {timeout:g} s; task cancelled"})
        if stuck:     # a hung task holds its worker: cancel it and restart that worker
            keys = {f.key for f in stuck}
            busy = [w for w, ks in self.client.processing().items() if keys & set(ks)]
            self.client.cancel(stuck)
            if busy:
                self.client.restart_workers(busy)
        return out

    def _builds(self, job_list):
        n_workers = self.parallelism
        futures = [self.client.submit(jobs.build, j, pure=False) for j in job_list]
        timeout = self.options.build_timeout * math.ceil(len(job_list) / n_workers) + 5
        return self._wait(futures, timeout, Err.BUILD_TIMEOUT, Err.COMPILE_HOST,
                          "the build killed its worker")

    def _runs(self, job_list):
        out = []
        for j in job_list:
            j = dict(j, ref_path=None)    # workers may not share a file system
            fut = self.client.submit(jobs.run, j, pure=False)
            out += self._wait([fut], self.options.run_timeout, Err.RUN_TIMEOUT, Err.RUNTIME_DEVICE,
                              "the kernel killed its worker")
        return out

    def _prepare(self, job):
        job = dict(job, ref_path=None)
        results = self.client.run(jobs.prepare, job)      # every worker computes its reference once
        for r in results.values():
            if r["error_no"]:
                return r
        return {"error_no": 0, "error_msg": ""}

    def close(self):
        if self._own:
            self.client.close()
        super().close()
