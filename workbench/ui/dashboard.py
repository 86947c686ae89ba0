"""TuningDashboard: watch a tuner live (or open finished logs), several runs overlaid.

    dash = TuningDashboard(); dash                      # shows it
    dash.load("xgb.jsonl"); dash.load("random.jsonl")   # finished logs
    dash.follow("running.jsonl")                        # tail a log a tuner is writing
    cb = dash.callback("xgb")                           # or pass cb to a tuner's callbacks=[...]
    dash.attach(queue)                                  # or feed TrialRecords through a queue
"""
from __future__ import annotations

import importlib
import queue as queue_mod
import threading
import time
from pathlib import Path

import ipywidgets as W
import numpy as np
import traitlets as T

from .records import (TrialRecord, best_so_far, embed, error_counts, knob_effects, rank_correlation,
                      read_log)
from .widgets_util import bokeh_setup, bokeh_widget, esc

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


class TuningDashboard(W.VBox):
    """Traits: `n_records` (records drawn), `best_gflops`, `runs` (names)."""

    n_records = T.Int(0)
    best_gflops = T.Float(0.0)
    runs = T.List(T.Unicode())

    def __init__(self, *, refresh_s: float = 0.5):
        super().__init__()
        self._lock = threading.Lock()
        self._records: dict = {}           # run -> list of TrialRecord
        self._dirty = False
        self._last_draw = 0.0
        self.refresh_s = refresh_s
        self._stop = threading.Event()
        self._threads: list = []
        bokeh_setup()
        self._build()

    # -- layout -----------------------------------------------------------------------------------
    def _build(self):
        from bokeh.layouts import gridplot
        from bokeh.models import ColorBar, ColumnDataSource, FactorRange, HoverTool, LinearColorMapper
        from bokeh.plotting import figure
        self.src_best = ColumnDataSource(dict(xs=[], ys=[], ts=[], color=[], run=[]))
        self.src_pts = ColumnDataSource(dict(x=[], y=[], gflops=[], predicted=[], run=[], knobs=[],
                                             color=[], trial=[]))
        self.src_knob = ColumnDataSource(dict(value=[], gflops=[], run=[], color=[]))
        self.src_knob_mean = ColumnDataSource(dict(value=[], mean=[]))
        self.src_err = ColumnDataSource(dict(kind=[], count=[]))
        opts = dict(height=260, sizing_mode="stretch_width", tools="pan,wheel_zoom,box_zoom,reset,save")
        p1 = figure(title="Best GFLOP/s so far vs trials", x_axis_label="trial", y_axis_label="GFLOP/s", **opts)
        p1.multi_line("xs", "ys", color="color", legend_field="run", line_width=2, source=self.src_best)
        p2 = figure(title="Best GFLOP/s so far vs wall time", x_axis_label="seconds", y_axis_label="GFLOP/s",
                    **opts)
        p2.multi_line("ts", "ys", color="color", line_width=2, source=self.src_best)
        p3 = figure(title="Cost model: predicted vs measured", x_axis_label="predicted",
                    y_axis_label="measured GFLOP/s", **opts)
        p3.scatter("predicted", "gflops", color="color", source=self.src_pts, size=6, alpha=0.7)
        p3.add_tools(HoverTool(tooltips=[("run", "@run"), ("trial", "@trial"), ("knobs", "@knobs")]))
        self.fig_pred = p3
        self.mapper = LinearColorMapper(palette="Viridis256", low=0, high=1)
        p4 = figure(title="Explored configurations (PCA of the knobs), colour = GFLOP/s",
                    x_axis_label="PC 1", y_axis_label="PC 2", **opts)
        p4.scatter("x", "y", source=self.src_pts, size=8, alpha=0.85,
                   fill_color={"field": "gflops", "transform": self.mapper}, line_color=None)
        p4.add_tools(HoverTool(tooltips=[("run", "@run"), ("trial", "@trial"), ("GFLOP/s", "@gflops{0.0}"),
                                         ("knobs", "@knobs")]))
        p4.add_layout(ColorBar(color_mapper=self.mapper, width=8), "right")
        self.knob_range = FactorRange()
        p5 = figure(title="Per-knob effect", x_range=self.knob_range, y_axis_label="GFLOP/s", **opts)
        p5.scatter("value", "gflops", color="color", source=self.src_knob, size=6, alpha=0.6)
        p5.scatter("value", "mean", source=self.src_knob_mean, size=14, marker="dash", color="black",
                   line_width=3)
        self.fig_knob = p5
        self.err_range = FactorRange()
        p6 = figure(title="Errors by kind (select a kind below for messages)", x_range=self.err_range,
                    y_axis_label="trials", **opts)
        p6.vbar(x="kind", top="count", width=0.7, color="#c0392b", source=self.src_err)
        for p in (p1, p2, p3, p4, p5, p6):
            p.toolbar.logo = None
        p1.legend.location = "bottom_right"
        self.grid = gridplot([[p1, p2], [p4, p3], [p5, p6]], sizing_mode="stretch_width", merge_tools=False)
        self.summary = W.HTML()
        self.summary.add_class("wb-dash-summary")
        self.knob = W.Dropdown(description="knob", options=[], layout=W.Layout(width="260px"))
        self.knob.observe(lambda _c: self._draw_knob(), "value")
        self.err_kind = W.Select(options=[], rows=4, layout=W.Layout(width="260px"))
        self.err_kind.observe(lambda _c: self._draw_err_messages(), "value")
        self.err_msgs = W.HTML()
        self.children = [W.HTML('<div style="font-size:16px;font-weight:600">Tuning dashboard</div>'),
                         self.summary, bokeh_widget(self.grid),
                         W.HBox([self.knob, W.HTML("&nbsp;&nbsp;"), W.VBox([W.HTML("<b>error kinds</b>"),
                                                                             self.err_kind]),
                                 self.err_msgs])]
        self.add_class("wb-dashboard")

    # -- feeding ----------------------------------------------------------------------------------
    def add(self, records, *, draw: bool | None = None) -> None:
        """Add TrialRecords (thread-safe). Redraws at most every `refresh_s` unless draw=True."""
        with self._lock:
            for r in records:
                if not isinstance(r, TrialRecord):
                    r = TrialRecord.from_any(r)
                self._records.setdefault(r.run, []).append(r)
            self._dirty = True
        now = time.monotonic()
        if draw or (draw is None and now - self._last_draw >= self.refresh_s):
            self.redraw()

    def load(self, path, run: str | None = None) -> "TuningDashboard":
        """Add a finished JSONL log; runs are named by the records (else the file) unless `run` is given."""
        recs = read_log(path, run=run)
        self.add(recs, draw=True)
        return self

    def callback(self, run: str = "run", flops: float | None = None):
        """A function for a tuner's callbacks: called with records (or tuner results)."""
        counter = {"n": 0}

        def cb(*results):
            items = []
            if len(results) == 3 and hasattr(results[0], "task"):   # tune's (tuner, configs, results)
                tuner, configs, res = results
                nonlocal flops
                flops = flops or tuner.task.flop
                predicted = getattr(tuner, "predicted", {})
                results = ([{"config": c.values(), "cost": r.cost if r.ok else None,
                             "error": r.error_msg or None if not r.ok else None,
                             "error_kind": r.error_name if not r.ok else None,
                             "predicted": predicted.get(c.index),
                             "timestamp": r.timestamp} for c, r in zip(configs, res)],)
            for res in results:
                for r in (res if isinstance(res, (list, tuple)) else [res]):
                    rec = r if isinstance(r, TrialRecord) else TrialRecord.from_any(
                        r, run=run, index=counter["n"], flops=flops)
                    if not rec.timestamp:
                        rec = TrialRecord(**{**rec.__dict__, "timestamp": time.time()})
                    counter["n"] += 1
                    items.append(rec)
            self.add(items)
        return cb

    def attach(self, q: "queue_mod.Queue") -> threading.Thread:
        """Drain TrialRecords from a queue in a background thread until None arrives or stop()."""
        def loop():
            while not self._stop.is_set():
                try:
                    item = q.get(timeout=0.2)
                except queue_mod.Empty:
                    if self._dirty:
                        self.redraw()
                    continue
                if item is None:
                    break
                self.add([item])
            self.redraw()
        return self._start(loop, "dashboard-queue")

    def follow(self, path, run: str | None = None, poll_s: float = 0.5) -> threading.Thread:
        """Tail a JSONL log a tuner is writing (another thread or process) until stop()."""
        path = Path(path)
        run = run or path.stem

        def loop():
            pos, buf = 0, ""
            while not self._stop.is_set():
                if path.exists():
                    with open(path) as fh:
                        fh.seek(pos)
                        chunk = fh.read()
                        pos = fh.tell()
                    buf += chunk
                    *lines, buf = buf.split("\n")
                    recs = []
                    for line in lines:
                        if line.strip():
                            try:
                                import json
                                recs.append(TrialRecord.from_any(json.loads(line), run=run,
                                                                 index=self._count(run) + len(recs)))
                            except ValueError:
                                continue
                    if recs:
                        self.add(recs)
                    elif self._dirty:
                        self.redraw()
                self._stop.wait(poll_s)
            self.redraw()
        return self._start(loop, "dashboard-follow")

    def run_tuner(self, fn, name: str = "run", log: str | None = None) -> threading.Thread:
        """Run fn(callback, log_path) in a background thread (the notebook stays responsive)."""
        log = log or f"{name}.jsonl"
        cb = self.callback(name)

        def loop():
            try:
                fn(cb, log)
            except Exception as e:                # shown, not raised into a dead thread
                self.summary.value += f'<div style="color:#b00">tuner failed: {esc(e)}</div>'
            self.redraw()
        return self._start(loop, "dashboard-tuner")

    @classmethod
    def tune_catalog(cls, op: str, params: dict, *, n_trial: int = 32, tuner: str = "xgb"):
        """%workbench tune: a tuner on a catalog operator's CPU template, streaming here."""
        try:
            tune = importlib.import_module("workbench.tune")
            kernels_mod = importlib.import_module(f"kernels.{op}")
            template = getattr(kernels_mod, "cpu_template")
            Tuner = {"xgb": tune.XGBTuner, "random": tune.RandomTuner}[tuner]
        except (ImportError, AttributeError, KeyError) as e:
            raise ValueError(f"tuning {op} needs workbench.tune and kernels.{op}.cpu_template "
                             f"(not available in this build: {e})") from None
        import inspect
        names = [n for n in inspect.signature(template).parameters][1:]     # after cfg
        missing = [n for n in names if n not in params and
                   inspect.signature(template).parameters[n].default is inspect.Parameter.empty]
        if missing or set(params) - set(names):
            raise ValueError(f"{op}.cpu_template takes {', '.join(names)}; got {', '.join(params) or 'nothing'}")
        task = tune.Task(template, args=tuple(params[n] for n in names if n in params))
        dash = cls()
        log = f"{op}-{tuner}.jsonl"
        dash.run_tuner(lambda cb, log: Tuner(task).tune(n_trial=n_trial, log=log, callbacks=[cb]),
                       name=f"{op}-{tuner}", log=log)
        return dash

    def _start(self, fn, name):
        self._stop.clear()
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following/attached threads (tuner threads finish on their own)."""
        self._stop.set()
        for t in self._threads:
            if t.name != "dashboard-tuner":
                t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        self.redraw()

    def _count(self, run):
        with self._lock:
            return len(self._records.get(run, []))

    def records(self, run: str | None = None) -> list:
        with self._lock:
            if run is not None:
                return list(self._records.get(run, []))
            return [r for rs in self._records.values() for r in rs]

    # -- drawing ----------------------------------------------------------------------------------
    def redraw(self) -> None:
        with self._lock:
            runs = {k: list(v) for k, v in self._records.items()}
            self._dirty = False
        self._last_draw = time.monotonic()
        colors = {run: PALETTE[n % len(PALETTE)] for n, run in enumerate(runs)}
        best = dict(xs=[], ys=[], ts=[], color=[], run=[])
        for run, recs in runs.items():
            xs, ys, ts = best_so_far(recs)
            for key, val in (("xs", xs), ("ys", ys), ("ts", ts), ("color", colors[run]), ("run", run)):
                best[key].append(val)
        self.src_best.data = best
        allrecs = [r for recs in runs.values() for r in recs]
        ok = [r for r in allrecs if r.ok]
        xy = embed(ok) if len(ok) >= 2 else np.zeros((len(ok), 2))
        self.src_pts.data = dict(x=list(xy[:, 0]), y=list(xy[:, 1]), gflops=[r.gflops for r in ok],
                                 predicted=[r.predicted if r.predicted is not None else float("nan") for r in ok],
                                 run=[r.run for r in ok], color=[colors[r.run] for r in ok],
                                 knobs=[", ".join(f"{k}={v}" for k, v in r.config.items()) for r in ok],
                                 trial=[r.index for r in ok])
        if ok:
            g = [r.gflops for r in ok]
            self.mapper.low, self.mapper.high = min(g), max(max(g), min(g) + 1e-9)
        rho = rank_correlation(ok)
        n_pred = sum(r.predicted is not None for r in ok)
        self.fig_pred.title.text = ("Cost model: predicted vs measured" +
                                    (f" (Spearman ρ = {rho:.2f}, {n_pred} trials)" if rho is not None
                                     else " (no predictions in the records)" if not n_pred else ""))
        knobs = sorted({k for r in ok for k in r.config})
        if list(self.knob.options) != knobs:
            keep = self.knob.value
            self.knob.options = knobs
            self.knob.value = keep if keep in knobs else (knobs[0] if knobs else None)
        self._draw_knob()
        errs = error_counts(allrecs)
        self._errors = errs
        kinds = sorted(errs, key=lambda k: -len(errs[k]))
        self.err_range.factors = kinds
        self.src_err.data = dict(kind=kinds, count=[len(errs[k]) for k in kinds])
        if list(self.err_kind.options) != kinds:
            self.err_kind.options = kinds
        self._draw_err_messages()
        self._summary(runs)
        self.n_records = len(allrecs)
        self.best_gflops = max((r.gflops for r in ok), default=0.0)
        self.runs = list(runs)

    def _draw_knob(self):
        knob = self.knob.value
        if not knob:
            self.src_knob.data = dict(value=[], gflops=[], run=[], color=[])
            self.src_knob_mean.data = dict(value=[], mean=[])
            return
        with self._lock:
            runs = {k: list(v) for k, v in self._records.items()}
        colors = {run: PALETTE[n % len(PALETTE)] for n, run in enumerate(runs)}
        eff = knob_effects([r for rs in runs.values() for r in rs], knob)
        self.knob_range.factors = list(eff)
        pts = [(str(v), r.gflops, r.run) for rs in runs.values() for r in rs
               if r.ok and knob in r.config for v in [_text(r.config[knob])]]
        self.src_knob.data = dict(value=[p[0] for p in pts], gflops=[p[1] for p in pts],
                                  run=[p[2] for p in pts], color=[colors[p[2]] for p in pts])
        self.src_knob_mean.data = dict(value=list(eff), mean=[float(np.mean(v)) for v in eff.values()])
        self.fig_knob.title.text = f"Per-knob effect: {knob} (dash = mean)"

    def _draw_err_messages(self):
        kind = self.err_kind.value
        msgs = getattr(self, "_errors", {}).get(kind, []) if kind else []
        uniq = {}
        for m in msgs:
            uniq[m] = uniq.get(m, 0) + 1
        items = "".join(f"<li><code>{esc(m[:300])}</code>{f' ×{n}' if n > 1 else ''}</li>"
                        for m, n in list(uniq.items())[:20])
        self.err_msgs.value = (f'<div style="font-size:12px;max-height:120px;overflow:auto"><b>{esc(kind)}</b>'
                               f'<ul>{items}</ul></div>') if kind else ""

    def _summary(self, runs):
        rows = []
        for n, (run, recs) in enumerate(runs.items()):
            ok = [r for r in recs if r.ok]
            b = max(ok, key=lambda r: r.gflops) if ok else None
            cfg = ", ".join(f"{k}={v}" for k, v in b.config.items()) if b else "—"
            rows.append(f"<tr><td><span style='color:{PALETTE[n % len(PALETTE)]}'>■</span> {esc(run)}</td>"
                        f"<td style='text-align:right'>{len(recs)}</td><td style='text-align:right'>"
                        f"{len(recs) - len(ok)}</td><td style='text-align:right'><b>"
                        f"{b.gflops if b else 0:.2f}</b></td><td><code>{esc(cfg)}</code></td></tr>")
        self.summary.value = ("<table style='font-size:12.5px' cellpadding='3'><tr style='background:#f0f0f0'>"
                              "<th>run</th><th>trials</th><th>errors</th><th>best GFLOP/s</th>"
                              f"<th>best configuration</th></tr>{''.join(rows)}</table>") if rows else \
            "<i>no records yet</i>"


def _text(v):
    return "x".join(str(x) for x in v) if isinstance(v, (list, tuple)) else v
