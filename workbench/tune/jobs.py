"""What measurement workers do (module-level functions, so any process can run them: local
workers, Dask workers). Both return plain dicts; errors are values with codes, never exceptions.

build(job): instantiate the config, lower, compile (LLVM O3) -> the optimized LLVM IR.
run(job):   JIT the IR (no re-optimization), check the outputs against the te compute's default
            schedule (computed once per task and worker, cached in a file shared by later
            workers), then time it: `number` calls per measurement, `repeat` measurements.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import time

import numpy as np

from .errors import MeasureErrorNo as Err

_TASKS: dict = {}          # workload key -> Task (a worker serves many jobs of few tasks)
_INPUTS: dict = {}         # workload key -> (inputs, reference outputs)


def task_of(key: str, task_bytes: bytes):
    task = _TASKS.get(key)
    if task is None:
        task = _TASKS[key] = pickle.loads(task_bytes)
    return task


def _fail(code, msg, **extra):
    return {"error_no": int(code), "error_msg": msg[:2000], **extra}


def build(job: dict) -> dict:
    import workbench as wb
    from workbench.codegen import CodegenError
    from workbench.codegen.module import build as compile_func
    from workbench.lower.schedule_ops import reject_thread_bindings

    from .space import InstantiationError
    t0 = time.perf_counter()
    try:
        task = task_of(job["key"], job["task"])
        cfg = task.config(job["index"])
        s, tensors = task.instantiate(cfg)
    except InstantiationError as e:
        return _fail(Err.INSTANTIATION_ERROR, str(e))
    except Exception as e:      # a template bug in this config is still this config's failure
        return _fail(Err.INSTANTIATION_ERROR, f"{type(e).__name__}: {e}")
    try:
        target = wb.Target.parse(job.get("target") or "llvm")
        reject_thread_bindings(s, str(target))
        module = compile_func(wb.lower(s, tensors), target, compile_threads=1)   # builds run side by side
    except CodegenError as e:
        return _fail(Err.COMPILE_HOST, f"codegen: {e}")
    except Exception as e:
        return _fail(Err.COMPILE_HOST, f"{type(e).__name__}: {e}")
    ir = module.llvm_ir
    hook = getattr(task.template, "ir_hook", None)      # test seam: a deliberately broken kernel
    if hook is not None:
        ir = hook(ir, cfg)
    params = [(p.name, str(p.dtype), tuple(p.shape), bool(p.output)) for p in module.params]
    return {"error_no": 0, "error_msg": "", "ir": ir, "entry": module.entry, "params": params,
            "messages": list(module.messages), "target": str(target),
            "build_time": time.perf_counter() - t0, "trace": s.trace.to_json()}


def _arrays(params, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _, dtype, shape, is_out in params:
        dt = np.dtype(dtype)
        if is_out:
            out.append(np.zeros(shape, dt))
        elif dt.kind == "f":
            out.append(rng.random(shape, dtype=np.float64).astype(dt))
        elif dt.kind == "b":
            out.append(rng.random(shape) < 0.5)
        else:
            out.append(rng.integers(-8 if dt.kind == "i" else 0, 8, shape).astype(dt))
    return out


def _reference(task, key, params, ref_path, seed):
    """(inputs, expected outputs) for this task: loaded from ref_path, else computed and saved."""
    got = _INPUTS.get(key)
    if got is not None:
        return got
    arrays = _arrays(params, seed)
    outs = [i for i, p in enumerate(params) if p[3]]
    if ref_path and os.path.exists(ref_path):
        with np.load(ref_path) as z:
            expected = [z[f"out{i}"] for i in outs]
    else:
        expected = task.reference_outputs(arrays, [i for i, p in enumerate(params) if not p[3]])
        if ref_path:
            tmp = f"{ref_path}.{os.getpid()}.npz"
            np.savez(tmp, **{f"out{i}": e for i, e in zip(outs, expected)})
            os.replace(tmp, ref_path)
    _INPUTS[key] = got = (arrays, dict(zip(outs, expected)))
    return got


def prepare(job: dict) -> dict:
    """Compute (or load) the task's reference outputs; run before the first timing."""
    try:
        task = task_of(job["key"], job["task"])
        _reference(task, job["key"], job["params"], job.get("ref_path"), job.get("seed", 0))
        return {"error_no": 0, "error_msg": ""}
    except Exception as e:
        return _fail(Err.UNKNOWN_ERROR, f"reference computation failed: {type(e).__name__}: {e}")


def _close(out, ref) -> tuple[bool, str]:
    if out.dtype.kind in "iub":
        bad = np.count_nonzero(out != ref)
        return bad == 0, f"{bad} of {out.size} elements differ"
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    tol = 1e-3 * np.abs(ref) + 1e-4 * (scale + 1.0)
    bad = np.count_nonzero(~(err <= tol))
    return bad == 0, f"{bad} of {out.size} elements differ (max abs error {np.nanmax(err):.3g}, " \
                     f"output scale {scale:.3g})"


def run(job: dict) -> dict:
    import workbench as wb
    from workbench.codegen import engine
    opts = job["options"]
    try:
        task = task_of(job["key"], job["task"])
        params = job["params"]
        arrays, expected = _reference(task, job["key"], params, job.get("ref_path"), job.get("seed", 0))
    except Exception as e:
        return _fail(Err.UNKNOWN_ERROR, f"reference: {type(e).__name__}: {e}")
    try:
        target = wb.Target.parse(job.get("target") or "llvm")
        lib = engine.CodeLibrary(job["entry"], target).add_ir(job["ir"]).finalize([job["entry"]], opt=0)
    except Exception as e:
        return _fail(Err.COMPILE_HOST, f"JIT: {type(e).__name__}: {e}")
    # the entry returns 0, or k >= 1 when its k-th run-time check failed (codegen.module)
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, *([ctypes.c_void_p] * len(params)), ctypes.c_int)(
        lib.address(job["entry"]))
    for i in expected:
        arrays[i][...] = 0
    call_args = [a.ctypes.data for a in arrays] + [int(opts["num_threads"])]
    gomp = "@GOMP_parallel" in job["ir"]

    def timed(n):
        t = time.perf_counter()
        for _ in range(n):
            fn(*call_args)
        return time.perf_counter() - t

    def checked():
        return fn(*call_args)

    def go(f, *a):
        if gomp and engine.needs_helper_thread():
            return engine.run_parallel_call(f, *a)
        return f(*a)

    t = time.perf_counter()
    status = go(checked)                     # the first call: warm-up and the checked result
    t0 = time.perf_counter() - t
    if status:
        msgs = job.get("messages") or []
        why = msgs[status - 1] if 1 <= status <= len(msgs) else f"unknown status {status}"
        return _fail(Err.RUNTIME_DEVICE, f"run-time check failed: {why}")
    if opts.get("check_correctness", True):
        for i, ref in expected.items():
            ok, why = _close(arrays[i], ref)
            if not ok:
                return _fail(Err.WRONG_ANSWER, f"output {params[i][0]!r}: {why}")
    number = max(1, int(opts["number"]))
    min_s = float(opts.get("min_repeat_ms", 0)) / 1e3
    if min_s > 0 and t0 * number < min_s:    # AutoTVM: min_repeat_ms raises number
        number = max(number, int(np.ceil(min_s / max(t0, 1e-9))))
    costs = tuple(go(timed, number) / number for _ in range(max(1, int(opts["repeat"]))))
    del lib
    return {"error_no": 0, "error_msg": "", "costs": costs, "number": number}
