"""`workbench` command: look at the operator catalog from a shell.

    workbench ops                              list operators and their default parameters
    workbench lower matmul M=64 N=64 K=64      print the default schedule's loop IR
    workbench run conv2d --pass loop_partition print the IR after a pass
    workbench run matmul M=256 N=256 K=256     build, check against numpy, time against numpy
"""
from __future__ import annotations

import argparse
import ast
import sys
import time


def _params(pairs, defaults):
    params = dict(defaults)
    for p in pairs:
        if "=" not in p:
            raise SystemExit(f"parameters are name=value, got {p!r}")
        k, v = p.split("=", 1)
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    return params


def main(argv=None) -> int:
    import numpy as np

    import workbench as wb
    from kernels import registry

    ap = argparse.ArgumentParser(prog="workbench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ops", help="list the operator catalog")
    for name in ("lower", "run"):
        p = sub.add_parser(name, help="lower" if name == "lower" else "build, check and time")
        p.add_argument("op", choices=registry.names())
        p.add_argument("params", nargs="*", help="name=value overrides of the default parameters")
        p.add_argument("--pass", dest="pass_name", default=None, help="print the IR after this pass")
    args = ap.parse_args(argv)
    if args.cmd == "ops":
        for name in registry.names():
            op = registry.get(name)
            print(f"{name:18s} {op.default_params}")
        return 0
    op = registry.get(args.op)
    params = _params(args.params, op.default_params or op.small_params[0])
    try:
        inputs, out = op.make(**params)
    except (TypeError, ValueError) as e:
        print(f"workbench: bad parameters for {args.op}: {e}", file=sys.stderr)
        return 2
    s = wb.create_schedule(out)
    func = wb.lower(s, inputs + [out])
    if args.cmd == "lower":
        print(func.after(args.pass_name) if args.pass_name else func)
        return 0
    t0 = time.perf_counter()
    kernel = wb.build(s, inputs + [out])
    build_ms = (time.perf_counter() - t0) * 1e3
    arrays = op.random_inputs(seed=0, **params)
    got = np.zeros(out.shape, out.dtype)
    kernel(*arrays, got)
    expected = op.reference(*arrays, **params)
    ok = np.allclose(got, expected, rtol=1e-4, atol=1e-4)
    t = kernel.time(*arrays, got)
    ref_s = float("inf")
    for _ in range(5):      # best of 5: the first call pays for imports and page faults
        t0 = time.perf_counter()
        op.reference(*arrays, **params)
        ref_s = min(ref_s, time.perf_counter() - t0)
    print(f"{args.op} {params}\n  build {build_ms:.1f} ms, matches numpy: {ok}\n"
          f"  default schedule {t.median * 1e3:.3f} ms, numpy reference {ref_s * 1e3:.3f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
