"""`workbench tune` and `workbench best`: headless tuning of a catalog operator's CPU template.

    workbench tune matmul M=1024 N=1024 K=1024 --log mm.jsonl --trials 64 [--tuner xgb]
    workbench best matmul M=1024 N=1024 K=1024 --log mm.jsonl

Progress goes to stderr (tqdm), the summary to stdout. Re-running `tune` with the same log
resumes: `--trials` counts the configs already logged.
"""
from __future__ import annotations

import inspect
import math
import sys

TUNERS = ("xgb", "random", "grid", "ga")


def task_for(op_name: str, pairs) -> "object":
    """The tune.Task of a catalog operator's cpu_template with `name=value` parameters."""
    from kernels import registry
    from workbench.cli import CLIError, parse_params

    from .task import Task
    op = registry.get(op_name)
    template = getattr(op.module, "cpu_template", None)
    if template is None:
        raise CLIError(f"{op_name} has no CPU tuning template; operators with one: "
                       + ", ".join(n for n in registry.names()
                                   if hasattr(registry.get(n).module, "cpu_template")))
    params = parse_params(op, pairs)
    sig = list(inspect.signature(template).parameters.values())[1:]
    names = {p.name for p in sig}
    extra = {k: v for k, v in params.items() if k not in names and v not in (None, 1, "NCHW")}
    if extra:
        raise CLIError(f"{op_name}'s tuning template does not take {extra}; it takes "
                       f"{', '.join(p.name for p in sig)}")
    args = []
    for p in sig:
        if p.name in params:
            args.append(params[p.name])
        elif p.default is not inspect.Parameter.empty:
            args.append(p.default)
        else:
            raise CLIError(f"{op_name}: give {p.name}=...")
    try:
        return Task(template, args=tuple(args))
    except (TypeError, ValueError) as e:
        raise CLIError(f"bad parameters for {op_name}: {e}") from None


def add_parser(sub):
    from kernels import registry
    ops = [n for n in registry.names() if hasattr(registry.get(n).module, "cpu_template")]
    p = sub.add_parser("tune", help="tune a catalog operator's CPU template (resumable log)")
    p.add_argument("op", choices=ops)
    p.add_argument("params", nargs="*", help="name=value overrides of the default parameters")
    p.add_argument("--log", required=True, help="JSON-lines tuning log (appended; resumes)")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--tuner", choices=TUNERS, default="xgb")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="threads each kernel runs with")
    p.add_argument("--number", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--timeout", type=float, default=10.0, help="build and run timeout (s)")
    p.add_argument("--batch", type=int, default=None,
                   help="configs per batch (default: one per builder process)")
    p.add_argument("--early-stopping", type=int, default=None)
    p.add_argument("--transfer", default=None, help="a log of other shapes of this template")
    p.add_argument("--dask", default=None, help="scheduler address: measure on a Dask cluster")
    b = sub.add_parser("best", help="the best logged config of a catalog operator")
    b.add_argument("op", choices=ops)
    b.add_argument("params", nargs="*")
    b.add_argument("--log", required=True)


def _make_tuner(args, task):
    from . import GATuner, GridTuner, RandomTuner, XGBTuner
    if args.tuner == "xgb":
        return XGBTuner(task, seed=args.seed, transfer=args.transfer)
    if args.tuner == "random":
        return RandomTuner(task, seed=args.seed)
    if args.tuner == "ga":
        return GATuner(task, seed=args.seed)
    return GridTuner(task)


def run(args) -> int:
    from workbench.cli import CLIError

    from . import DaskMeasure, LocalMeasure, MeasureOptions, best_config, progress_bar
    from .log import best_record, record_cost
    task = task_for(args.op, args.params)
    if args.cmd == "best":
        rec = best_record(args.log, task)
        if rec is None:
            raise CLIError(f"{args.log} has no successful record of {task.workload_key}")
        cost = record_cost(rec)
        cfg = best_config(args.log, task)
        print(f"{task.name}{task.args}: best {cost * 1e3:.4f} ms "
              f"({task.flop / cost / 1e9:.1f} GFLOP/s, {rec['measure'].get('num_threads', '?')} thread(s))")
        print(f"config {cfg.index}: {cfg.values()}")
        s, _ = task.instantiate(cfg)
        print(s.trace.to_python(), end="")
        return 0
    if args.trials < 1:
        raise CLIError("--trials must be >= 1")
    try:
        opts = MeasureOptions(number=args.number, repeat=args.repeat, num_threads=args.threads,
                              build_timeout=args.timeout, run_timeout=args.timeout)
    except ValueError as e:
        raise CLIError(str(e)) from None
    measure = DaskMeasure(args.dask, opts) if args.dask else LocalMeasure(opts)
    tuner = _make_tuner(args, task)
    print(f"tuning {task.name}{task.args}: {len(task.space)} configs, {args.tuner}, "
          f"log {args.log}", file=sys.stderr)
    try:
        tuner.tune(args.trials, log=args.log, measure=measure, batch_size=args.batch,
                   early_stopping=args.early_stopping,
                   callbacks=[progress_bar(args.trials, desc=args.op, file=sys.stderr)])
    finally:
        measure.close()
    if tuner.best_cost == math.inf:
        print(f"no valid config among {tuner.trials_done} trials (see the error codes in {args.log})")
        return 1
    print(f"{tuner.trials_done} trials; best config {tuner.best_index}: "
          f"{tuner.best_cost * 1e3:.4f} ms, {task.flop / tuner.best_cost / 1e9:.1f} GFLOP/s")
    return 0
