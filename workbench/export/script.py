"""The text of an exported script, and finding the schedule to export in a log."""
from __future__ import annotations

import json
from pathlib import Path

from workbench.schedule.trace import Trace

_TEMPLATE = '''"""{title}: rebuild the kernel from its schedule trace, check it against numpy, time it.

Written by `workbench export`; needs only the installed workbench package.
Run: python {filename} [--threads N]
"""
import argparse

import numpy as np

import workbench as wb
from kernels import registry
from workbench.schedule.trace import Trace

OPERATOR = {op!r}
PARAMS = {params!r}
TRACE = Trace.from_json({trace_json!r})
THREADS = None                      # all cores; --threads N to choose
TITLE = {title!r}


def build():
    """The tensors and the kernel: a fresh schedule with the recorded primitives replayed."""
    inputs, out = registry.get(OPERATOR).make(**PARAMS)
    s = wb.create_schedule(out)
    TRACE.replay(s)
    # the same primitives, as Python:
{trace_python}
    return out, wb.build(s, list(inputs) + [out])
'''


_TEMPLATE_TUNED = '''"""{title}: rebuild the tuned kernel from its schedule trace, check it against numpy, time it.

Written by `workbench export` from a tuning log; needs only the installed workbench package.
Run: python {filename} [--threads N]
"""
import argparse
import importlib

import numpy as np

import workbench as wb
from kernels import registry
from workbench import tune
from workbench.schedule.trace import Trace

TEMPLATE = {template!r}          # the tuning template: its tensors are the kernel's arguments
ARGS = {args!r}
OPERATOR = {op!r}                # catalog operator for the numpy reference
PARAMS = {params!r}
TRACE = Trace.from_json({trace_json!r})
THREADS = {threads!r}               # what the tuner measured with (None: all cores)
CONFIG = {config!r}          # the tuned knobs: they choose the te graph (e.g. a packed B)
TITLE = {title!r}


def build():
    """The template's tensors for the tuned knobs, a fresh schedule with the recorded primitives
    replayed, the kernel."""
    mod, _, name = TEMPLATE.rpartition(".")
    task = tune.Task(getattr(importlib.import_module(mod), name), args=ARGS)
    _, tensors = task.instantiate(CONFIG)
    s = wb.create_schedule(tensors[-1])
    TRACE.replay(s)
    # the same primitives, as Python:
{trace_python}
    return tensors[-1], wb.build(s, tensors)
'''


_MAIN = '''

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="threads for parallel loops")
    args = ap.parse_args()
    op = registry.get(OPERATOR)
    out, kernel = build()
    if args.threads or THREADS:
        kernel.num_threads = args.threads or THREADS
    arrays = op.random_inputs(seed=0, **PARAMS)
    result = np.zeros(out.shape, out.dtype)
    kernel(*arrays, result)
    expected = op.reference(*arrays, **PARAMS)
    err = float(np.max(np.abs(result.astype(np.float64) - expected))) if result.size else 0.0
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    ok = np.allclose(result, expected, rtol=1e-3, atol=1e-4 * scale)
    print(f"check vs numpy: {'OK' if ok else 'MISMATCH'} (max abs error {err:.3g})")
    t = kernel.time(*arrays, result)
    flops = op.flops(**PARAMS)
    print(f"{TITLE}: {t.median * 1e3:.4f} ms median, {flops / t.median / 1e9:.2f} GFLOP/s "
          f"({kernel.num_threads} threads)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
'''


def tuned_script_text(template: str, args, trace: Trace, filename: str = "kernel.py",
                      threads: int | None = None, config: dict | None = None) -> str:
    """A standalone script for a tuning template "kernels.<op>.cpu_template" with `args` (a tune
    log's workload), scheduled by `trace`; checked against the catalog operator <op>."""
    import importlib
    import inspect
    mod, _, name = template.rpartition(".")
    parts = mod.split(".")
    if len(parts) != 2 or parts[0] != "kernels":
        raise ValueError(f"template {template!r} is not a catalog template (kernels.<op>.<name>); "
                         "a generated task from a notebook's own compute cannot be exported as a script")
    try:
        fn = getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot import the template {template!r}: {e}") from None
    names = list(inspect.signature(fn).parameters)[1:]
    params = dict(zip(names, args))
    from workbench import tune
    import workbench as wb
    task = tune.Task(fn, args=tuple(args))
    _, tensors = task.instantiate(config) if config else (None, task.arg_tensors)
    trace.replay(wb.create_schedule(tensors[-1]))          # fail here, not in the user's script
    title = f"{parts[1]} " + " ".join(f"{k}={v}" for k, v in params.items())
    body = "\n".join("    # " + line for line in trace.to_python().splitlines())
    return _TEMPLATE_TUNED.format(title=title, filename=filename, template=template, args=tuple(args),
                                  op=parts[1], params=params, trace_json=trace.to_json(), trace_python=body,
                                  threads=threads, config=config) + _MAIN  # main() has f-string braces: not formatted


def script_text(op: str, params: dict, trace: Trace, filename: str = "kernel.py") -> str:
    """A standalone script for catalog operator `op` with `params`, scheduled by `trace`."""
    from kernels import registry
    try:
        registry.get(op)
    except KeyError:
        raise ValueError(f"operator {op!r} is not in the catalog ({', '.join(registry.names())}); "
                         "only catalog operators can be exported as scripts") from None
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a workbench Trace, got {type(trace).__name__}")
    # fail here, not in the user's script, if the trace does not replay
    inputs, out = registry.get(op).make(**params)
    import workbench as wb
    trace.replay(wb.create_schedule(out))
    title = f"{op} " + " ".join(f"{k}={v}" for k, v in params.items())
    body = "\n".join("    # " + line for line in trace.to_python().splitlines())
    return _TEMPLATE.format(title=title.strip(), filename=filename, op=op, params=dict(params),
                            trace_json=trace.to_json(), trace_python=body) + _MAIN  # main() has f-string braces: not formatted


def write_script(op: str, params: dict, trace: Trace, path) -> Path:
    path = Path(path)
    path.write_text(script_text(op, params, trace, path.name))
    return path


def write_from_log(log, path) -> tuple:
    """Write the best schedule of `log` (explorer/dashboard JSONL, workbench.tune log, or a
    schedule .json) as a script; returns (path, description)."""
    path = Path(path)
    found = best_from_log(log)
    if found[0] == "tune":
        _, template, args, trace, threads, config = found
        path.write_text(tuned_script_text(template, args, trace, path.name, threads, config))
        return path, f"{template}{tuple(args)}, {len(trace)} primitives"
    op, params, trace = found
    write_script(op, params, trace, path)
    return path, f"{op}, {len(trace)} primitives"


def best_from_log(path) -> tuple:
    """(op, params, trace) of the fastest correct record in a JSONL log, or of a JSON schedule
    file {"op", "params", "trace"} (what the explorer writes)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such log: {path}")
    text = path.read_text()
    if path.suffix == ".json":
        d = json.loads(text)
        return d["op"], d.get("params", {}), _trace_of(d["trace"])
    best, best_g, tuned, tuned_cost = None, -1.0, None, float("inf")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
        if isinstance(rec.get("result"), dict) and isinstance(rec.get("workload"), str):
            from workbench.tune.log import record_cost          # a workbench.tune record
            c = record_cost(rec)
            if rec.get("trace") and c < tuned_cost:
                tuned, tuned_cost = rec, c
            continue
        g = rec.get("gflops")
        wl = rec.get("workload") or {}
        if rec.get("error") or g is None or "trace" not in rec or "op" not in wl:
            continue
        if g > best_g:
            best, best_g = rec, g
    if tuned is not None:
        template, args = json.loads(tuned["workload"])
        threads = (tuned.get("measure") or {}).get("num_threads")
        return "tune", template, args, _trace_of(tuned["trace"]), threads, tuned.get("config")
    if best is None:
        raise ValueError(f"{path}: no successful record with a trace and a catalog workload "
                         "(fields: workload {op, params}, trace, gflops)")
    return best["workload"]["op"], best["workload"].get("params", {}), _trace_of(best["trace"])


def _trace_of(t) -> Trace:
    return Trace.from_json(t if isinstance(t, str) else json.dumps(t))
