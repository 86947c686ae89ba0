"""ScheduleExplorer: pick a loop, apply a legal primitive, see the IR, the check, the speed and
why — after every step, with undo/redo along the trace.

    from workbench.ui import ScheduleExplorer
    ScheduleExplorer("matmul", M=512, N=512, K=512)          # a catalog operator
    ScheduleExplorer.from_tensors([A, B, C])                   # your own te compute
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

import ipywidgets as W
import traitlets as T

from workbench.schedule.errors import ScheduleError

from .session import ExplorerSession, StepResult, Workload
from .widgets_util import Worker, badge, bokeh_setup, bokeh_widget, diff_html, esc, highlight, section

_KIND_MARK = {"parallel": "parallel", "vectorized": "vectorized", "unrolled": "unrolled"}
_BTN = W.Layout(width="auto", min_width="84px")
_IND = "\u00a0\u00a0"      # <option> text collapses ordinary spaces
# the loop tree reads like code: monospace, and tall enough for a blocked matmul
_CSS = ("<style>.wb-loop-tree select{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}"
        ".wb-explorer .widget-button{font-size:12px}</style>")


def _search_support():
    """(available, reason): "Search from here" needs the tuner's Task.from_schedule."""
    try:
        tune = importlib.import_module("workbench.tune")
    except ImportError:
        return False, "needs workbench.tune (the tuner), which this build does not have yet"
    task = getattr(tune, "Task", None)
    if task is None or not hasattr(task, "from_schedule") or not hasattr(tune, "XGBTuner"):
        return False, "needs workbench.tune.Task.from_schedule and XGBTuner, not in this build yet"
    return True, "tune the rest of the schedule from here (XGBoost cost model)"


class ScheduleExplorer(W.VBox):
    """The explorer app. Traits: `position` (steps applied), `selected` ("stage|axis"),
    `busy` (a measurement is running), `measured` (number of measurements finished)."""

    position = T.Int(0)
    selected = T.Unicode("")
    busy = T.Bool(False)
    measured = T.Int(0)

    def __init__(self, op: str | Workload = "matmul", *, cost_model=None, measure: bool = True,
                 min_time: float = 0.05, **params):
        super().__init__()
        workload = op if isinstance(op, Workload) else Workload.from_catalog(op, **params)
        self.session = ExplorerSession(workload, cost_model=cost_model, min_time=min_time)
        self.measure = measure
        self._worker = Worker("explorer")
        self.last_result: StepResult | None = None
        self.timings: dict = {}          # phase -> seconds of the last update (benchmarks read it)
        bokeh_setup()
        self._build()
        self._refresh(select_first=True)

    @classmethod
    def from_tensors(cls, args, *, name: str = "custom", flops: int | None = None, reference=None,
                     **kwargs):
        """An explorer for your own compute: args = inputs..., output (te tensors)."""
        return cls(Workload.from_tensors(args, name=name, flops=flops, reference=reference), **kwargs)

    # -- layout ---------------------------------------------------------------------------------
    def _build(self):
        wl = self.session.workload
        self.title = W.HTML(f'<div style="font-size:16px;font-weight:600">Schedule explorer: '
                            f'{esc(wl.title())} <span style="color:#777;font-weight:400">'
                            f'({wl.flops / 1e6:,.1f} MFLOP)</span></div>')
        self.tree = W.Select(options=[], rows=14, layout=W.Layout(width="100%"))
        self.tree.add_class("wb-loop-tree")
        self.tree.observe(self._on_select, "value")
        # loop controls
        self.factor = W.Dropdown(options=[], description="factor", layout=W.Layout(width="150px"),
                                 style={"description_width": "44px"})
        self.btn = {}
        for name, tip in (("split", "split the selected loop by the factor"),
                          ("reorder ↑", "swap with the loop outside it"),
                          ("reorder ↓", "swap with the loop inside it"),
                          ("fuse", "fuse with the next (inner) loop"),
                          ("vectorize", "run the loop as SIMD lanes"), ("parallel", "run on all cores"),
                          ("unroll", "replicate the body per iteration"),
                          ("compute_at", "compute the stage inside the chosen loop"),
                          ("compute_inline", "substitute the stage into its readers"),
                          ("compute_root", "compute the whole stage at the top level"),
                          ("cache_write", "accumulate into a local buffer, then copy out"),
                          ("undo", "undo the last step"), ("redo", "redo"),
                          ("export", "write a standalone script of this schedule"),
                          ("search from here", "")):
            b = W.Button(description=name, tooltip=tip, layout=_BTN)
            b.on_click(lambda _b, n=name: self._on_button(n))
            self.btn[name] = b
        self.btn["undo"].icon, self.btn["redo"].icon = "undo", "repeat"
        self.at_choice = W.Dropdown(options=[], layout=W.Layout(width="220px"))
        ok, reason = _search_support()
        self.btn["search from here"].disabled = not ok
        self.btn["search from here"].tooltip = reason
        self.search_note = W.HTML("" if ok else f'<span style="color:#888;font-size:11px">'
                                  f'Search from here: {esc(reason)}</span>')
        loop_box = W.VBox([section("Loop"), W.HBox([self.factor, self.btn["split"]]),
                           W.HBox([self.btn["reorder ↑"], self.btn["reorder ↓"], self.btn["fuse"]]),
                           W.HBox([self.btn["vectorize"], self.btn["parallel"], self.btn["unroll"]])])
        stage_box = W.VBox([section("Stage"), W.HBox([self.at_choice, self.btn["compute_at"]]),
                            W.HBox([self.btn["compute_inline"], self.btn["compute_root"],
                                    self.btn["cache_write"]])])
        hist_box = W.HBox([self.btn["undo"], self.btn["redo"], self.btn["export"],
                           self.btn["search from here"]])
        self.steps_html = W.HTML()
        left = W.VBox([section("Loop nest (click a loop)"), self.tree, loop_box, stage_box,
                       section("Steps"), hist_box, self.search_note, self.steps_html],
                      layout=W.Layout(width="400px", min_width="400px", margin="0 12px 0 0"))
        # right: IR, why, diff, script
        self.ir_html = W.HTML()
        self.ir_html.add_class("wb-ir")
        self.why_html = W.HTML()
        self.why_html.add_class("wb-why")
        self.diff_a = W.Dropdown(description="from", layout=W.Layout(width="150px"),
                                 style={"description_width": "36px"})
        self.diff_b = W.Dropdown(description="to", layout=W.Layout(width="150px"),
                                 style={"description_width": "24px"})
        self.diff_html = W.HTML()
        for d in (self.diff_a, self.diff_b):
            d.observe(lambda _c: self._show_diff(), "value")
        self.script_html = W.HTML()
        self.tabs = W.Tab(children=[self.ir_html, self.why_html,
                                    W.VBox([W.HBox([self.diff_a, self.diff_b]), self.diff_html]),
                                    self.script_html])
        for k, t in enumerate(("Lowered IR", "Why fast / slow", "Diff", "Script")):
            self.tabs.set_title(k, t)
        self.status = W.HTML()
        self.status.add_class("wb-status")
        self.chart = self._make_chart()
        right = W.VBox([self.status, self.tabs, self.chart], layout=W.Layout(flex="1 1 auto", width="100%"))
        self.children = [W.HTML(_CSS), self.title, W.HBox([left, right])]
        self.add_class("wb-explorer")

    def _make_chart(self):
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure
        self.chart_src = ColumnDataSource(dict(step=[], gflops=[], label=[], ms=[], predicted=[]))
        fig = figure(height=230, sizing_mode="stretch_width", title="Measured GFLOP/s after each step",
                     x_axis_label="step", y_axis_label="GFLOP/s", toolbar_location="right",
                     tools="pan,wheel_zoom,box_zoom,reset,save")
        fig.line("step", "gflops", source=self.chart_src, line_width=2, color="#1f77b4")
        fig.scatter("step", "gflops", source=self.chart_src, size=9, color="#1f77b4", legend_label="measured")
        if self.session.cost_model is not None:
            fig.scatter("step", "predicted", source=self.chart_src, size=8, marker="diamond",
                        color="#ff7f0e", legend_label="cost model")
        fig.legend.location = "top_left"
        fig.xaxis.ticker.desired_num_ticks = 10
        fig.add_tools(HoverTool(tooltips=[("step", "@step"), ("primitive", "@label"),
                                          ("GFLOP/s", "@gflops{0.00}"), ("time", "@ms{0.000} ms")]))
        self.figure = fig
        return bokeh_widget(fig)

    # -- structure refresh ------------------------------------------------------------------------
    def _tree_options(self, analysis):
        s = self.session.schedule()
        at = {}
        for st in s.stages:
            if st.attach == "at":
                at.setdefault((st.attach_stage.name, st.attach_ivar.name), []).append(st)
        opts = []

        def emit(st, depth):
            if st.attach == "inline":
                opts.append((f"{_IND * depth}{st.name}: inlined", f"{st.name}|"))
                return
            scope = "" if st.scope == "global" else f" ({st.scope})"
            opts.append((f"{_IND * depth}■ {st.name}{scope}", f"{st.name}|"))
            for d, iv in enumerate(st.leaf_iter_vars, start=depth):
                kind = st.kinds.get(iv)
                rng = f"{kind}({iv.extent})" if kind else f"range({iv.extent})"
                warn = analysis.for_loop(st.name, iv.name) if analysis else []
                mark = " ⚠" if any(f.severity == "warn" for f in warn) else \
                    (" ·" if warn else "")
                red = " (reduce)" if iv.kind == "reduce" else ""
                opts.append((f"{_IND * (d + 1)}for {iv.name} in {rng}{red}{mark}", f"{st.name}|{iv.name}"))
                for child in at.get((st.name, iv.name), []):
                    emit(child, d + 2)

        for st in s.stages:
            if not st.is_placeholder and st.attach != "at":
                emit(st, 0)
        return opts

    def _refresh(self, select_first: bool = False):
        t0 = time.perf_counter()
        sess = self.session
        self.position = sess.position
        try:
            s, func, lower_s = sess.lower_text(sess.trace)
            ir = str(func)
            from .analysis import analyze
            analysis = analyze(s)
            err = None
        except Exception as e:         # a schedule that does not lower: show why, keep the UI
            ir, analysis, lower_s, err = "", None, 0.0, f"{type(e).__name__}: {e}"
        t1 = time.perf_counter()
        keep = self.tree.value
        opts = self._tree_options(analysis)
        self.tree.unobserve(self._on_select, "value")
        self.tree.options = opts
        values = [v for _, v in opts]
        if keep in values and not select_first:
            self.tree.value = keep
        else:
            loops = [v for v in values if not v.endswith("|")]
            self.tree.value = loops[-1] if loops else (values[0] if values else None)
        self.tree.observe(self._on_select, "value")
        self.selected = self.tree.value or ""
        self._update_controls()
        self.ir_html.value = highlight(ir) if not err else f'<pre style="color:#b00">{esc(err)}</pre>'
        self.why_html.value = self._why_html(analysis)
        self._update_steps()
        self.timings["lower"] = lower_s
        self.timings["ir"] = time.perf_counter() - t0
        self.timings["analysis+tree"] = time.perf_counter() - t1
        self._measure()

    def _update_steps(self):
        """Step list, undo/redo state, diff choices and script (main thread: user actions)."""
        sess = self.session
        self._update_step_list()
        self.btn["undo"].disabled = not sess.can_undo
        self.btn["redo"].disabled = not sess.can_redo
        labels = [(f"step {k}", k) for k in range(len(sess.history))]
        for d, default in ((self.diff_a, max(0, sess.position - 1)), (self.diff_b, sess.position)):
            d.unobserve_all("value")
            d.options = labels
            d.value = default
            d.observe(lambda _c: self._show_diff(), "value")
        self._show_diff()
        self.script_html.value = highlight(self._script_text())

    def _update_step_list(self):
        """Only the step list HTML (safe from the measuring thread)."""
        sess = self.session
        rows = []
        for k, t in enumerate(sess.history):
            line = "start (default schedule)" if k == 0 else t.steps[-1].to_python()
            r = sess.cached(t)
            perf = f" — {r.gflops:.2f} GFLOP/s" if r is not None and r.gflops else ""
            style = "font-weight:700;background:#eef5ff" if k == sess.position else \
                ("color:#999" if k > sess.position else "")
            rows.append(f'<div style="{style}"><code>{k:>2}</code> {esc(line)}{perf}</div>')
        self.steps_html.value = f'<div style="font-size:12px;max-height:180px;overflow:auto">{"".join(rows)}</div>'

    def _script_text(self) -> str:
        wl = self.session.workload
        head = f"# {wl.title()}: s = wb.create_schedule(outputs), then\n"
        return head + self.session.trace.to_python()

    def _show_diff(self):
        a, b = self.diff_a.value, self.diff_b.value
        if a is None or b is None:
            return
        try:
            self.diff_html.value = diff_html(self.session.diff(a, b))
        except Exception as e:
            self.diff_html.value = f'<pre style="color:#b00">{esc(e)}</pre>'

    def _why_html(self, analysis) -> str:
        if analysis is None:
            return "<i>no analysis (the schedule does not lower)</i>"
        m = analysis.machine
        caches = ", ".join(f"{n} {b // 1024:,} KB" for n, b in zip(("L1", "L2", "L3"), m.cache_bytes))
        out = [f'<div style="font-size:12px;color:#555;margin-bottom:4px">Machine: {caches}; '
               f'{m.vector_bits}-bit vectors; {m.cores} cores</div>']
        if analysis.findings:
            items = []
            for f in analysis.findings:
                color = "#c0392b" if f.severity == "warn" else "#2c7be5"
                where = f"{f.stage}.{f.axis}" if f.axis else f.stage
                fix = f'<div style="margin-left:18px"><code>{esc(f.fix)}</code></div>' if f.fix else ""
                items.append(f'<li style="margin-bottom:4px">{badge(f.severity, color)}<b>{esc(where)}</b>: '
                             f'{esc(f.message)}{fix}</li>')
            out.append(f'<ul class="wb-findings" style="padding-left:16px;font-size:12.5px">{"".join(items)}</ul>')
        else:
            out.append('<div style="color:#2e7d32">No problems found by the model.</div>')
        colors = {"L1": "#2e7d32", "L2": "#7cb342", "L3": "#f9a825", "DRAM": "#c0392b"}
        for st in analysis.stages:
            acc = {a.tensor: a for a in st.accesses}
            head = "".join(f"<th>{esc(t)} stride</th>" for t in acc)
            rows = []
            for lp in st.loops:
                strides = "".join(
                    f"<td style='text-align:right'>{'' if a.strides[lp.depth] is None else a.strides[lp.depth]}</td>"
                    for a in acc.values())
                flag = "⚠" if analysis.for_loop(st.stage, lp.axis) else ""
                rows.append(f"<tr><td style='padding-left:{6 + 10 * lp.depth}px'><code>{esc(lp.axis)}</code>"
                            f" {flag}</td><td style='text-align:right'>{lp.extent}</td><td>{lp.kind}</td>"
                            f"<td style='text-align:right'>{_kb(lp.working_set)}</td>"
                            f"<td>{badge(lp.fits, colors[lp.fits])}</td>{strides}</tr>")
            note = f"<div style='color:#888'>{esc(st.note)}</div>" if st.note else ""
            out.append(f"<div style='margin-top:6px;font-weight:600'>stage {esc(st.stage)}</div>{note}"
                       "<table style='font-size:12px;border-collapse:collapse' cellpadding='3'>"
                       f"<tr style='background:#f0f0f0'><th>loop</th><th>extent</th><th>kind</th>"
                       f"<th>working set</th><th>fits</th>{head}</tr>{''.join(rows)}</table>")
        out.append("<div style='font-size:11px;color:#888;margin-top:4px'>Working set: the data one run of "
                   "the loop touches (strided walks count whole 64-byte lines). Strides in elements per "
                   "iteration.</div>")
        return "".join(out)

    def _update_controls(self):
        sess = self.session
        stage, _, axis = (self.selected or "|").partition("|")
        loop = sess.loop_choices(stage, axis) if stage and axis else {}
        sc = sess.stage_choices(stage) if stage else {}
        facs = loop.get("split", [])
        self.factor.options = [(f"{f}" if ok else f"{f} (tail)", f) for f, ok in facs]
        self.factor.disabled = not facs
        self.btn["split"].disabled = not facs
        self.btn["reorder ↑"].disabled = not loop.get("move_out")
        self.btn["reorder ↓"].disabled = not loop.get("move_in")
        self.btn["fuse"].disabled = not loop.get("fuse_next")
        for p in ("vectorize", "parallel", "unroll"):
            self.btn[p].disabled = not loop.get(p)
        at = sc.get("compute_at", [])
        self.at_choice.options = [(f"at {p}.{a}", f"{p}|{a}") for p, a in at]
        self.at_choice.disabled = self.btn["compute_at"].disabled = not at
        for p in ("compute_inline", "compute_root", "cache_write"):
            self.btn[p].disabled = not sc.get(p)
        self._loop_choices = loop

    # -- events -----------------------------------------------------------------------------------
    def _on_select(self, change):
        self.selected = change["new"] or ""
        self._update_controls()

    def select(self, stage: str, axis: str = ""):
        """Select a loop (as a click in the tree does)."""
        self.tree.value = f"{stage}|{axis}"

    def _on_button(self, name: str):
        stage, _, axis = (self.selected or "|").partition("|")
        sess = self.session
        try:
            if name == "undo":
                sess.undo()
            elif name == "redo":
                sess.redo()
            elif name == "export":
                self.export()
                return
            elif name == "search from here":
                self.search_from_here()
                return
            elif name == "split":
                sess.apply("split", stage, axis, factor=self.factor.value)
            elif name in ("reorder ↑", "reorder ↓"):
                sess.apply("reorder", stage, *self._loop_choices["move_out" if "↑" in name else "move_in"])
            elif name == "fuse":
                names = [n for n, _, _, _ in sess.loops(stage)]
                sess.apply("fuse", stage, axis, names[names.index(axis) + 1])
            elif name in ("vectorize", "parallel", "unroll"):
                sess.apply(name, stage, axis)
            elif name == "compute_at":
                parent, _, pax = self.at_choice.value.partition("|")
                sess.apply("compute_at", stage, parent, pax)
            elif name in ("compute_inline", "compute_root"):
                sess.apply(name, stage)
            elif name == "cache_write":
                sess.apply("cache_write", None, stage, "local")
        except (ScheduleError, KeyError, ValueError, TypeError) as e:
            self.status.value = f'<div style="color:#b00">{esc(e)}</div>'
            return
        self._refresh()

    def apply(self, primitive: str, stage: str | None, *args, **kwargs):
        """Apply a primitive by name, as the buttons do (for scripts and tests)."""
        self.session.apply(primitive, stage, *args, **kwargs)
        self._refresh()

    def undo(self):
        self._on_button("undo")

    def redo(self):
        self._on_button("redo")

    # -- measurement (background thread) ----------------------------------------------------------
    def _measure(self):
        trace = self.session.trace
        hit = self.session.cached(trace)
        if hit is not None and ((hit.seconds is not None and not hit.preliminary) or hit.error):
            self._show_result(hit)
            return
        self.busy = True
        self.status.value = ('<div style="color:#555">measuring step '
                             f'{self.session.position}… (the notebook stays usable)</div>')
        t0 = time.perf_counter()
        self._worker.submit(self._measure_job, trace, t0)

    def _measure_job(self, generation, trace, t0):
        def first(res):
            if generation == self._worker.generation:
                self.timings["first_point"] = time.perf_counter() - t0
                self._show_result(res)
        try:
            res = self.session.evaluate(trace, measure=self.measure, on_first=first)
        except Exception as e:          # never let a worker die silently
            res = StepResult(trace, error=f"{type(e).__name__}: {e}")
        if generation != self._worker.generation:
            return                      # a newer step was requested meanwhile
        self.timings["measure"] = time.perf_counter() - t0
        self._show_result(res)
        self.busy = False
        self.measured += 1

    def _show_result(self, res: StepResult):
        self.last_result = res
        if res.error:
            self.status.value = f'<div style="color:#b00"><b>step {self.session.position}</b>: {esc(res.error)}</div>'
        elif res.seconds is None:
            self.status.value = f"<div>step {self.session.position}: lowered in {res.lower_s * 1e3:.1f} ms</div>"
        else:
            check = badge("✓ matches numpy", "#2e7d32") if res.correct else \
                (badge("✗ differs from numpy", "#c0392b") if res.correct is False else "")
            pred = f" · cost model {res.predicted:.2f}" if res.predicted is not None else ""
            if res.preliminary:
                pred += ' <span style="color:#888">(one call; timing repeats…)</span>'
            self.status.value = (
                f'<div style="font-size:13px"><b>step {self.session.position}</b> {check} '
                f'<b style="font-size:15px">{res.gflops:.2f} GFLOP/s</b> ({res.seconds * 1e3:.3f} ms){pred}'
                f' <span style="color:#888">· max |err| {res.max_abs_err:.2g} · lower '
                f'{res.lower_s * 1e3:.0f} ms · build {res.build_s * 1e3:.0f} ms</span></div>')
        self._update_chart()
        self._update_step_list()

    def _update_chart(self):
        rows = [(k, r) for k, r in self.session.results() if r.gflops is not None]
        hist = self.session.history
        self.chart_src.data = dict(
            step=[k for k, _ in rows], gflops=[r.gflops for _, r in rows],
            label=[hist[k].steps[-1].to_python() if k else "default" for k, _ in rows],
            ms=[r.seconds * 1e3 for _, r in rows],
            predicted=[r.predicted if r.predicted is not None else float("nan") for _, r in rows])

    def wait(self, timeout: float = 120.0) -> StepResult | None:
        """Block until the pending measurement is shown (scripts, tests, benchmarks)."""
        t_end = time.monotonic() + timeout
        while self.busy and time.monotonic() < t_end:
            time.sleep(0.01)
        if self.busy:
            raise TimeoutError(f"measurement still running after {timeout:.0f} s")
        return self.last_result

    # -- export and search --------------------------------------------------------------------------
    def export(self, path: str | Path | None = None) -> Path | None:
        from workbench.export import write_script
        wl = self.session.workload
        path = Path(path or f"{wl.name}_schedule.py")
        try:
            write_script(wl.name, wl.params, self.session.trace, path)
        except ValueError as e:
            self.status.value = f'<div style="color:#b00">export: {esc(e)}</div>'
            return None
        self.status.value = (f'<div>exported to <code>{esc(path)}</code>: run '
                             f'<code>python {esc(path)}</code> to rebuild, check and time it</div>')
        return path

    def search_from_here(self, n_trial: int = 32):
        """Tune what the user has not fixed (tune.Task.from_schedule), streaming into a dashboard."""
        ok, reason = _search_support()
        if not ok:
            self.status.value = f'<div style="color:#b00">search from here: {esc(reason)}</div>'
            return None
        from .dashboard import TuningDashboard
        from IPython.display import display
        tune = importlib.import_module("workbench.tune")
        task = tune.Task.from_schedule(self.session.schedule(), list(self.session.workload.args))
        dash = TuningDashboard()
        display(dash)
        dash.run_tuner(lambda cb, log: tune.XGBTuner(task).tune(n_trial=n_trial, log=log, callbacks=[cb]),
                       name="from-here")
        return dash

    def close(self):
        self._worker.shutdown()
        super().close()


def _kb(n: int) -> str:
    from .machine import fmt_bytes
    return fmt_bytes(n)
