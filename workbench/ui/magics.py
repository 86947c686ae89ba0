"""`%workbench` line magic:

    %workbench explore matmul M=512 N=512 K=512     ScheduleExplorer on a catalog operator
    %workbench tune matmul M=256 N=256 K=256 trials=32   tuner run streaming into a TuningDashboard
    %workbench vta C6 threads=2                      VTATimeline of a ResNet-18 layer (or: gemm M=.. K=.. N=..)
    %workbench open LOG.jsonl                        TuningDashboard of a finished log
    %workbench roofline                              Roofline of this machine
"""
from __future__ import annotations

import ast
import shlex

USAGE = __doc__


def parse_params(tokens) -> dict:
    """key=value tokens -> dict; values are Python literals where they parse (ints, tuples,
    "1,64,56,56" -> tuple), strings otherwise."""
    out = {}
    for tok in tokens:
        if "=" not in tok:
            raise ValueError(f"expected key=value, got {tok!r}")
        k, v = tok.split("=", 1)
        try:
            val = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            val = v
        out[k.strip()] = val
    return out


def run_line(line: str):
    """Parse and run one %workbench line; returns the app (displayed as the cell's result)."""
    words = shlex.split(line)
    if not words or words[0] in ("help", "-h", "--help"):
        print(USAGE)
        return None
    cmd, rest = words[0], words[1:]
    if cmd == "explore":
        from .explorer import ScheduleExplorer
        if not rest:
            raise ValueError("usage: %workbench explore OPERATOR [key=value ...]")
        return ScheduleExplorer(rest[0], **parse_params(rest[1:]))
    if cmd == "open":
        from .dashboard import TuningDashboard
        if not rest:
            raise ValueError("usage: %workbench open LOG.jsonl [LOG2.jsonl ...]")
        dash = TuningDashboard()
        for path in rest:
            dash.load(path)
        return dash
    if cmd == "tune":
        from .dashboard import TuningDashboard
        if not rest:
            raise ValueError("usage: %workbench tune OPERATOR [key=value ...] [trials=N] [tuner=xgb|random]")
        params = parse_params(rest[1:])
        trials = int(params.pop("trials", 32))
        tuner = str(params.pop("tuner", "xgb"))
        return TuningDashboard.tune_catalog(rest[0], params, n_trial=trials, tuner=tuner)
    if cmd == "vta":
        from .timeline import VTATimeline
        if not rest:
            return VTATimeline.resnet_layer("C6")
        params = parse_params(rest[1:])
        threads = int(params.pop("threads", 2))
        if rest[0].lower() == "gemm":
            return VTATimeline.gemm(nthreads=threads, **params)
        return VTATimeline.resnet_layer(rest[0], nthreads=threads)
    if cmd == "roofline":
        from .roofline import Roofline
        return Roofline()
    raise ValueError(f"unknown %workbench command {cmd!r}; commands: explore, tune, vta, open, roofline")


def load_ipython_extension(ipython):
    def workbench(line):
        try:
            return run_line(line)
        except (ValueError, KeyError, FileNotFoundError, TypeError) as e:
            print(f"%workbench: {e}")
            return None
    workbench.__doc__ = USAGE
    ipython.register_magic_function(workbench, "line", "workbench")
