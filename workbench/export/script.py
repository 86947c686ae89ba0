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


def build():
    """The tensors and the kernel: a fresh schedule with the recorded primitives replayed."""
    inputs, out = registry.get(OPERATOR).make(**PARAMS)
    s = wb.create_schedule(out)
    TRACE.replay(s)
    # the same primitives, as Python:
{trace_python}
    return inputs, out, wb.build(s, list(inputs) + [out])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="threads for parallel loops")
    args = ap.parse_args()
    op = registry.get(OPERATOR)
    inputs, out, kernel = build()
    if args.threads:
        kernel.num_threads = args.threads
    arrays = op.random_inputs(seed=0, **PARAMS)
    result = np.zeros(out.shape, out.dtype)
    kernel(*arrays, result)
    expected = op.reference(*arrays, **PARAMS)
    err = float(np.max(np.abs(result.astype(np.float64) - expected))) if result.size else 0.0
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    ok = np.allclose(result, expected, rtol=1e-3, atol=1e-4 * scale)
    print(f"check vs numpy: {{'OK' if ok else 'MISMATCH'}} (max abs error {{err:.3g}})")
    t = kernel.time(*arrays, result)
    flops = op.flops(**PARAMS)
    print(f"{title}: {{t.median * 1e3:.4f}} ms median, {{flops / t.median / 1e9:.2f}} GFLOP/s "
          f"({{kernel.num_threads}} threads)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
'''


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
                            trace_json=trace.to_json(), trace_python=body)


def write_script(op: str, params: dict, trace: Trace, path) -> Path:
    path = Path(path)
    path.write_text(script_text(op, params, trace, path.name))
    return path


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
    best, best_g = None, -1.0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
        g = rec.get("gflops")
        wl = rec.get("workload") or {}
        if rec.get("error") or g is None or "trace" not in rec or "op" not in wl:
            continue
        if g > best_g:
            best, best_g = rec, g
    if best is None:
        raise ValueError(f"{path}: no successful record with a trace and a catalog workload "
                         "(fields: workload {op, params}, trace, gflops)")
    return best["workload"]["op"], best["workload"].get("params", {}), _trace_of(best["trace"])


def _trace_of(t) -> Trace:
    return Trace.from_json(t if isinstance(t, str) else json.dumps(t))
