"""`workbench` command: the catalog, lowering and builds from a shell; other layers add subcommands.

    workbench ops                              list operators and their default parameters
    workbench lower matmul M=64 N=64 K=64      print the default schedule's loop IR
    workbench lower conv2d --pass loop_partition
                                               print the IR right after one lowering pass
    workbench run matmul M=256 N=256 K=256     build, check against numpy, time against numpy

Every error is one line starting with `workbench:`, followed by the usage, with exit code 2.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
import time

# Subcommands that live with the layer they drive (tuning, export, studies). Each module exposes
# `add_parser(subparsers)` and `run(args) -> int` (raise `workbench.cli.CLIError` for user errors); a module that is not there (yet) is skipped, so
# the core command works on its own.
SUBCOMMAND_MODULES = (
    "workbench.tune.cli",
    "workbench.export.cli",
    "workbench.studies.cli",
)


class CLIError(Exception):
    """A user error: printed as one `workbench:` line plus the usage, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # argparse's own errors get the same one-line form as ours
        raise CLIError(message)


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _convert(name: str, text: str, kind: str):
    """One `name=value` parameter converted to the type `make` declares for it."""
    if kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise CLIError(f"parameter {name} is a bool: write {name}=true or {name}=false (got {text!r})")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise CLIError(f"parameter {name} is an integer (got {text!r})") from None
    if kind == "str":
        return text
    try:                                  # shapes, kernel sizes, optional dtypes: Python literals
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if kind == "str | None" and not isinstance(value, (str, type(None))):
        value = text
    return value


def _param_kinds(make) -> dict:
    """name -> annotation text ('int', 'bool', ...) or '' for each keyword of an operator's make."""
    kinds = {}
    for name, p in inspect.signature(make).parameters.items():
        ann = p.annotation if p.annotation is not inspect.Parameter.empty else ""
        if not isinstance(ann, str):
            ann = getattr(ann, "__name__", "")
        if not ann and p.default is not inspect.Parameter.empty and p.default is not None:
            ann = type(p.default).__name__
        kinds[name] = ann
    return kinds


def parse_params(op, pairs) -> dict:
    """`name=value` words -> keyword arguments for `op.make`, typed and checked."""
    params = dict(op.default_params or op.small_params[0])
    kinds = _param_kinds(op.module.make)
    for p in pairs:
        if "=" not in p:
            raise CLIError(f"parameters are name=value, got {p!r}")
        k, v = p.split("=", 1)
        if k not in kinds:
            raise CLIError(f"{op.name} has no parameter {k!r}; its parameters: {', '.join(kinds)}")
        params[k] = _convert(k, v, kinds[k])
    return params


def _lower_or_run(args) -> int:
    import numpy as np

    import workbench as wb
    from kernels import registry

    op = registry.get(args.op)
    params = parse_params(op, args.params)
    try:
        inputs, out = op.make(**params)
    except (TypeError, ValueError) as e:
        raise CLIError(f"bad parameters for {args.op}: {e}") from None
    s = wb.create_schedule(out)
    func = wb.lower(s, inputs + [out])
    if args.pass_name:
        names = [n for n, _ in func.history]
        if args.pass_name not in names:
            raise CLIError(f"no lowering pass named {args.pass_name!r}; passes: {', '.join(names)}")
        print(func.after(args.pass_name))
    elif args.cmd == "lower":
        print(func)
    if args.cmd == "lower":
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


def _ops(args) -> int:
    from kernels import registry
    for name in registry.names():
        print(f"{name:18s} {registry.get(name).default_params}")
    return 0


def build_parser():
    from kernels import registry

    ap = _Parser(prog="workbench", description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("ops", help="list the operator catalog").set_defaults(func=_ops)
    for name in ("lower", "run"):
        p = sub.add_parser(name, help="print the loop IR" if name == "lower" else "build, check and time")
        p.add_argument("op", choices=registry.names())
        p.add_argument("params", nargs="*", help="name=value overrides of the default parameters")
        p.add_argument("--pass", dest="pass_name", default=None, help="print the IR after this pass")
        p.set_defaults(func=_lower_or_run)
    for modname in SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name and modname.startswith(e.name):   # the layer is absent, not broken
                continue
            raise
        before = set(sub.choices)
        mod.add_parser(sub)
        for name in set(sub.choices) - before:
            if sub.choices[name].get_default("func") is None:
                sub.choices[name].set_defaults(func=mod.run)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
        return args.func(args)
    except CLIError as e:
        print(f"workbench: {e}", file=sys.stderr)
        ap.print_usage(sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
