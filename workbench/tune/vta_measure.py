"""Tuning VTA templates on the timing simulator: the same tuners and logs as the CPU, with a
measure whose cost is the simulated run time (cycles at the configuration's clock).

    from accel import vta
    from workbench import tune
    from workbench.tune.vta_measure import SimulatorMeasure, vta_task
    env = vta.Env.default()
    task = vta_task(kernels.conv2d.vta_template, (1, 64, 56, 56, 64, 3, 1, 1), env)
    measure = SimulatorMeasure(env)
    tuner = tune.XGBTuner(task, feature_type="knob")
    tuner.target = measure.target          # log records say which VTA they were measured on
    tuner.tune(n_trial=32, log="c2.jsonl", measure=measure)
    prog = vta.build(*task.instantiate(tune.best_config("c2.jsonl", task, target=measure.target)), env)

Candidates are compiled (vta.build) and scheduled by the timing model in this process: both are
pure Python with bounded work, so no worker isolation is needed.  A config the template rejects
is INSTANTIATION_ERROR, one vta.build rejects (SRAM capacity, hazard, DMA shape) COMPILE_DEVICE,
a program that deadlocks RUNTIME_DEVICE; with ``check_correctness`` every candidate also runs on
the functional simulator against the te compute built for the CPU (WRONG_ANSWER on mismatch).
"""
from __future__ import annotations

import functools
import time

import numpy as np

from .errors import MeasureErrorNo as Err
from .measure import MeasureResult
from .space import InstantiationError
from .task import Task, template_name


def vta_task(template, args, env, name: str | None = None) -> Task:
    """A Task for a VTA template ``template(cfg, *args, env=env)``; the Env is bound, not an
    argument, so the workload key stays JSON (the VTA model is part of the task name)."""
    bound = functools.partial(template, env=env)
    return Task(bound, args, name or f"{template_name(template)}@{env.MODEL}")


class SimulatorMeasure:
    """``measure_batch(task, indices)`` on VTA's timing simulator (see the module docstring)."""

    def __init__(self, env, check_correctness: bool = False, seed: int = 0):
        self.env = env
        self.check_correctness = check_correctness
        self.seed = seed
        self._refs: dict = {}

    @property
    def target(self) -> str:
        return f"vta {self.env.MODEL} @ {self.env.HW_FREQ} MHz"

    def describe(self) -> dict:
        return {"kind": "SimulatorMeasure", "model": self.env.MODEL, "freq_mhz": self.env.HW_FREQ,
                "bus_width": self.env.BUS_WIDTH, "check_correctness": self.check_correctness}

    def measure_batch(self, task, indices) -> list:
        return [self._measure(task, int(i)) for i in indices]

    def _measure(self, task, index) -> MeasureResult:
        from accel import vta
        from workbench.schedule import ScheduleError
        t0 = time.perf_counter()

        def fail(code, msg):
            return MeasureResult(index, (), int(code), msg, all_cost=time.perf_counter() - t0)
        try:
            s, tensors = task.instantiate(index)
        except InstantiationError as e:
            return fail(Err.INSTANTIATION_ERROR, str(e))
        try:
            prog = vta.build(s, tensors, self.env)
        except (vta.VTAError, ScheduleError, ValueError) as e:
            return fail(Err.COMPILE_DEVICE, str(e))
        built = time.perf_counter()
        sim = vta.Simulator(self.env, functional=self.check_correctness, events=False)
        inputs = self._inputs(tensors) if self.check_correctness else None
        try:
            res = sim.run(prog, inputs)
        except vta.DeadlockError as e:
            return fail(Err.RUNTIME_DEVICE, str(e))
        if self.check_correctness:
            out = tensors[-1]
            want = self._reference(task, tensors, inputs)
            if not np.array_equal(res.outputs.get(out.name), want):
                return fail(Err.WRONG_ANSWER, f"{out.name} differs from the te compute's reference")
        trace = s.trace.to_json() if hasattr(s.trace, "to_json") else None
        return MeasureResult(index, (res.stats.seconds,), 0, "",
                             all_cost=time.perf_counter() - t0, build_time=built - t0, trace=trace)

    def _inputs(self, tensors) -> dict:
        rng = np.random.default_rng(self.seed)
        return {t.name: rng.integers(-128, 128, t.shape).astype(t.dtype) for t in tensors[:-1]}

    def _reference(self, task, tensors, inputs):
        key = task.workload_key
        if key not in self._refs:
            kernel = task.build_reference()
            arrays = [inputs[t.name] for t in tensors[:-1]]
            out = np.zeros(tensors[-1].shape, tensors[-1].dtype)
            kernel(*arrays, out)
            self._refs[key] = out
        return self._refs[key]

    def close(self):
        self._refs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
