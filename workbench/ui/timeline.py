"""VTATimeline: the load / compute / store pipeline of a VTA program as a Gantt chart, with
hardware sliders that rebuild, re-simulate and redraw (a live design-space exploration).

    VTATimeline.resnet_layer("C6", nthreads=2)      # ResNet-18 conv layer (accel.programs.conv2d)
    VTATimeline.gemm(M=256, K=256, N=256)           # blocked GEMM (accel.programs.gemm)
    VTATimeline(builder=lambda env, nthreads: program)
    VTATimeline.from_trace("run.trace.json")        # a recorded Perfetto trace (no sliders)
"""
from __future__ import annotations

import time
from pathlib import Path

import ipywidgets as W
import numpy as np
import traitlets as T

from .timeline_data import MODULES, TimelineData, queue_name
from .widgets_util import bokeh_setup, bokeh_widget, esc

DETAIL_LIMIT = 3000        # events drawn one by one; more than that in the window: aggregated
ARROW_LIMIT = 400
_ROWS = ["store", "compute", "load", "fetch"]
_COLORS = {"LOAD": "#4e79a7", "GEMM": "#f28e2b", "ALU": "#59a14f", "STORE": "#b07aa1", "FINISH": "#555555"}
_SLIDERS = (  # (Env field, label, options)
    ("LOG_BLOCK", "block", [(f"{1 << v}", v) for v in (3, 4, 5)]),
    ("LOG_INP_BUFF_SIZE", "inp buffer", [(f"{(1 << v) // 1024} KB", v) for v in range(13, 18)]),
    ("LOG_WGT_BUFF_SIZE", "wgt buffer", [(f"{(1 << v) // 1024} KB", v) for v in range(15, 20)]),
    ("LOG_ACC_BUFF_SIZE", "acc buffer", [(f"{(1 << v) // 1024} KB", v) for v in range(15, 19)]),
    ("BUS_WIDTH", "bus width", [(f"{v} bit", v) for v in (32, 64, 128, 256)]),
    ("CMD_QUEUE_DEPTH", "cmd queue", [(str(v), v) for v in (2, 4, 8, 32, 128, 512)]),
    ("DEP_QUEUE_DEPTH", "token queue", [(str(v), v) for v in (1, 2, 4, 16, 1024)]),
)


def _color(opcode: str, stall: bool) -> str:
    if stall:
        return "#e15759"
    return _COLORS.get(opcode.split(".")[0], "#999999")


class VTATimeline(W.VBox):
    """Traits: `cycles` of the current simulation, `redraws` (count), `mode` ("detail" | "aggregate")."""

    cycles = T.Int(0)
    redraws = T.Int(0)
    mode = T.Unicode("detail")

    def __init__(self, builder=None, *, env=None, nthreads: int = 2, title: str = "VTA program",
                 data: TimelineData | None = None, macs: int | None = None):
        super().__init__()
        from accel import vta
        self.builder = builder
        self.env = env or vta.Env.default()
        self.nthreads = nthreads
        self.title_text = title
        self.macs = macs
        self.result = None
        self.data = data
        self.timings: dict = {}
        self._busy_range = False
        bokeh_setup()
        self._build()
        if builder is not None:
            self.rebuild()
        elif data is not None:
            self._draw(full=True)

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def resnet_layer(cls, name: str = "C6", *, nthreads: int = 2, env=None):
        from accel.programs import conv2d, workloads
        try:
            wl = workloads.RESNET18[name]
        except KeyError:
            raise ValueError(f"unknown ResNet-18 layer {name!r}; layers: {', '.join(workloads.RESNET18)}") from None
        return cls(lambda e, n: conv2d.build(e, wl, nthreads=n)[0], env=env, nthreads=nthreads,
                   title=f"ResNet-18 {name}: {wl.height}x{wl.width}, {wl.in_filter}->{wl.out_filter}, "
                   f"{wl.kernel}x{wl.kernel}/{wl.stride}", macs=wl.macs)

    @classmethod
    def gemm(cls, M: int = 256, K: int = 256, N: int = 256, *, nthreads: int = 2, env=None):
        from accel.programs import gemm
        return cls(lambda e, n: gemm.build(e, M, K, N, nthreads=n)[0], env=env, nthreads=nthreads,
                   title=f"GEMM {M}x{K} @ {K}x{N} (int8)", macs=M * K * N)

    @classmethod
    def from_result(cls, result, title: str = "VTA simulation"):
        tl = cls(data=TimelineData.from_result(result), title=title, env=result.program.env)
        tl.result = result
        tl._summary()
        return tl

    @classmethod
    def from_trace(cls, path, title: str | None = None):
        return cls(data=TimelineData.from_chrome_trace(path), title=title or f"trace {Path(path).name}")

    # -- layout ---------------------------------------------------------------------------------
    def _build(self):
        from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter, Range1d, Segment
        from bokeh.plotting import figure
        self.src_ev = ColumnDataSource(dict(left=[], right=[], bottom=[], top=[], color=[], module=[],
                                            opcode=[], insn=[], text=[], cycles=[], alpha=[]))
        self.src_agg = ColumnDataSource(dict(left=[], right=[], bottom=[], top=[], color=[], module=[],
                                             busy=[], stall=[], alpha=[]))
        self.src_arrow = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[], queue=[]))
        self.x_range = Range1d(0, 1)
        fig = figure(height=300, sizing_mode="stretch_width", y_range=_ROWS, x_range=self.x_range,
                     x_axis_label="cycle", tools="xpan,xwheel_zoom,box_zoom,reset,save",
                     active_scroll="xwheel_zoom", title=self.title_text)
        r_ev = fig.quad(left="left", right="right", bottom="bottom", top="top", color="color",
                        fill_alpha="alpha", line_color=None, source=self.src_ev)
        r_agg = fig.quad(left="left", right="right", bottom="bottom", top="top", color="color",
                         fill_alpha="alpha", line_color=None, source=self.src_agg)
        fig.add_glyph(self.src_arrow, Segment(x0="x0", y0="y0", x1="x1", y1="y1", line_color="#333333",
                                              line_alpha=0.35, line_width=1))
        fig.add_tools(HoverTool(renderers=[r_ev], tooltips=[("insn", "@insn"), ("", "@text"),
                                                            ("cycles", "@cycles")]))
        fig.add_tools(HoverTool(renderers=[r_agg], tooltips=[("module", "@module"),
                                                             ("busy", "@busy{0%}"), ("stall", "@stall{0%}")]))
        fig.toolbar.logo = None
        fig.ygrid.grid_line_color = None
        fig.xaxis.formatter = NumeralTickFormatter(format="0,0")     # cycles, not 5.000e+4
        self.figure = fig
        self.x_range.on_change("start", self._on_range)
        self.x_range.on_change("end", self._on_range)
        self.sliders = {}
        controls = []
        for field, label, options in _SLIDERS:
            cur = getattr(self.env, field)
            opts = options if any(v == cur for _, v in options) else \
                sorted(options + [(str(cur), cur)], key=lambda o: o[1])
            sl = W.SelectionSlider(options=opts, value=cur, description=label, continuous_update=False,
                                   layout=W.Layout(width="330px"), style={"description_width": "96px"})
            sl.observe(self._on_slider, "value")
            self.sliders[field] = sl
            controls.append(sl)
        self.threads_slider = W.SelectionSlider(options=[("1 serial", 1), ("2 overlap", 2)],
                                                value=self.nthreads, description="virtual threads",
                                                continuous_update=False, layout=W.Layout(width="330px"),
                                                style={"description_width": "96px"})
        self.threads_slider.observe(self._on_slider, "value")
        controls.append(self.threads_slider)
        self.export_btn = W.Button(description="export Perfetto trace", icon="download",
                                   layout=W.Layout(width="200px"))
        self.export_btn.on_click(lambda _b: self.export_trace())
        self.status = W.HTML()
        self.status.add_class("wb-vta-status")
        self.summary = W.HTML()
        self.summary.add_class("wb-vta-summary")
        legend = " ".join(f'<span style="color:{c}">■</span> {k}' for k, c in _COLORS.items()) + \
            ' <span style="color:#e15759">■</span> stall (hover: what it waited on) · lines: dependency tokens'
        ctl = W.VBox([W.HTML("<b>Hardware</b> <span style='color:#777;font-size:12px'>(a move recompiles, "
                             "re-simulates, redraws)</span>")] + controls +
                     [self.export_btn], layout=W.Layout(width="350px", min_width="350px"))
        if self.builder is None:
            for c in controls:
                c.disabled = True
        self.children = [W.HTML(f'<div style="font-size:16px;font-weight:600">VTA timeline</div>'),
                         W.HBox([ctl, W.VBox([self.status, bokeh_widget(fig),
                                              W.HTML(f'<div style="font-size:11px">{legend}</div>'),
                                              self.summary], layout=W.Layout(flex="1 1 auto", width="100%"))])]
        self.add_class("wb-timeline")

    # -- simulate and draw ----------------------------------------------------------------------
    def rebuild(self) -> None:
        """Compile for the current env and threads, simulate (timing only), redraw."""
        from accel import vta
        t0 = time.perf_counter()
        try:
            prog = self.builder(self.env, self.nthreads)
            t1 = time.perf_counter()
            res = vta.Simulator(self.env, functional=False).run(prog)
        except Exception as e:   # a configuration that does not fit the layer: say why, keep the last chart
            self.status.value = f'<div style="color:#b00">{esc(type(e).__name__)}: {esc(e)}</div>'
            return
        t2 = time.perf_counter()
        self.result = res
        self.data = TimelineData.from_result(res)
        self._draw(full=True)
        t3 = time.perf_counter()
        self.timings = {"compile": t1 - t0, "simulate": t2 - t1, "draw": t3 - t2, "total": t3 - t0}
        self.status.value = (f'<div style="font-size:12px;color:#555">{len(prog.insns):,} instructions · '
                             f'compile {1e3 * (t1 - t0):.0f} ms · simulate {1e3 * (t2 - t1):.0f} ms · '
                             f'draw {1e3 * (t3 - t2):.0f} ms</div>')
        self._summary()

    def _draw(self, full: bool = False, x0: float | None = None, x1: float | None = None) -> None:
        d = self.data
        if d is None:
            return
        if full:
            self._busy_range = True
            self.x_range.start, self.x_range.end = 0, max(1, d.cycles)
            self._busy_range = False
            x0, x1 = 0, max(1, d.cycles)
        idx = d.window(x0, x1)
        insns = getattr(d.program, "insns", None)
        if len(idx) <= DETAIL_LIMIT:
            self.mode = "detail"
            row = {m: _ROWS.index(m) for m in MODULES}
            ys = np.array([row[MODULES[m]] for m in d.module[idx]], dtype=float)
            half = np.where(d.stall[idx], 0.18, 0.36)
            texts = []
            for k in idx:
                if d.stall[k]:
                    texts.append(f"stall before {d.opcode[k]}: waited on {d.waited_on[k]}")
                elif insns is not None and 0 <= d.insn[k] < len(insns):
                    from accel.vta.disasm import format_insn
                    texts.append(format_insn(insns[d.insn[k]], int(d.insn[k])))
                else:
                    texts.append(d.opcode[k])
            self.src_ev.data = dict(left=d.start[idx], right=d.end[idx], bottom=ys + 0.5 - half,
                                    top=ys + 0.5 + half,
                                    color=[_color(d.opcode[k], d.stall[k]) for k in idx],
                                    module=[MODULES[m] for m in d.module[idx]],
                                    opcode=[d.opcode[k] for k in idx], insn=d.insn[idx], text=texts,
                                    cycles=d.end[idx] - d.start[idx],
                                    alpha=np.where(d.stall[idx], 0.55, 0.9))
            self.src_agg.data = {k: [] for k in self.src_agg.data}
            self._draw_arrows(idx)
        else:
            self.mode = "aggregate"
            agg = d.aggregate(x0, x1, bins=500)
            row = {m: _ROWS.index(m) for m in MODULES}
            n = len(agg["left"])
            ys = np.array([row[m] for m in agg["module"]], dtype=float)
            # per bin and module two stacked quads: busy share (blue) then stall share (red)
            busy, stall = np.array(agg["busy"]), np.array(agg["stall"])
            base = ys + 0.1
            left, right = list(agg["left"]) * 2, list(agg["right"]) * 2
            self.src_agg.data = dict(left=left, right=right,
                                     bottom=np.concatenate([base, base + 0.8 * busy]),
                                     top=np.concatenate([base + 0.8 * busy, base + 0.8 * (busy + stall)]),
                                     color=["#4e79a7"] * n + ["#e15759"] * n, module=agg["module"] * 2,
                                     busy=np.concatenate([busy, busy]), stall=np.concatenate([stall, stall]),
                                     alpha=np.full(2 * n, 0.85))
            self.src_ev.data = {k: [] for k in self.src_ev.data}
            self.src_arrow.data = dict(x0=[], y0=[], x1=[], y1=[], queue=[])
        self.cycles = int(d.cycles)
        self.redraws += 1

    def _draw_arrows(self, idx):
        d = self.data
        if d.arrows is None or not len(d.arrows) or self.result is None:
            self.src_arrow.data = dict(x0=[], y0=[], x1=[], y1=[], queue=[])
            return
        sched = self.result.schedule
        visible = set(int(d.insn[k]) for k in idx)
        from accel.vta import isa
        insns = d.program.insns
        row = {m: _ROWS.index(m) + 0.5 for m in MODULES}
        out = dict(x0=[], y0=[], x1=[], y1=[], queue=[])
        for push, pop, q in d.arrows:
            if push in visible or pop in visible:
                out["x0"].append(sched.end[push])
                out["y0"].append(row[MODULES[isa.stage_of(insns[push])]])
                out["x1"].append(sched.start[pop])
                out["y1"].append(row[MODULES[isa.stage_of(insns[pop])]])
                out["queue"].append(queue_name(int(q)))
                if len(out["x0"]) >= ARROW_LIMIT:
                    break
        self.src_arrow.data = out

    def _on_range(self, attr, old, new):
        if self._busy_range or self.data is None:
            return
        x0, x1 = self.x_range.start, self.x_range.end
        if x0 is None or x1 is None:
            return
        self._busy_range = True
        try:
            self._draw(x0=x0, x1=x1)
        finally:
            self._busy_range = False

    def zoom(self, x0: float, x1: float) -> None:
        """Show cycles [x0, x1] (as the browser's zoom does)."""
        self._busy_range = True
        self.x_range.start, self.x_range.end = x0, x1
        self._busy_range = False
        self._draw(x0=x0, x1=x1)

    def _on_slider(self, change):
        if self.builder is None:
            return
        if change["owner"] is self.threads_slider:
            self.nthreads = change["new"]
        else:
            field = next(f for f, s in self.sliders.items() if s is change["owner"])
            try:
                self.env = self.env.replace(**{field: change["new"]})
            except Exception as e:
                self.status.value = f'<div style="color:#b00">{esc(e)}</div>'
                return
        self.rebuild()

    def set(self, nthreads: int | None = None, **env_changes) -> None:
        """Change hardware parameters / virtual threads as the sliders do, then rebuild."""
        if nthreads is not None:
            self.nthreads = nthreads
        self.env = self.env.replace(**env_changes)
        for f, v in env_changes.items():
            if f in self.sliders:
                sl = self.sliders[f]
                sl.unobserve(self._on_slider, "value")
                if v not in [o[1] for o in sl.options]:
                    sl.options = sorted(list(sl.options) + [(str(v), v)], key=lambda o: o[1])
                sl.value = v
                sl.observe(self._on_slider, "value")
        self.rebuild()

    def _summary(self):
        d = self.data
        if d is None:
            return
        util = d.utilization()
        cyc = max(1, d.cycles)
        bars = []
        for m in ("load", "compute", "store"):
            b, s = util[m]
            bars.append(f"<tr><td>{m}</td><td><div style='width:260px;height:12px;background:#eee;display:flex'>"
                        f"<div style='width:{100 * b / cyc:.1f}%;background:#4e79a7'></div>"
                        f"<div style='width:{100 * s / cyc:.1f}%;background:#e15759'></div></div></td>"
                        f"<td style='text-align:right'>busy {b / cyc:.0%}</td><td style='text-align:right'>"
                        f"stall {s / cyc:.0%}</td></tr>")
        head = f"<b>{d.cycles:,} cycles</b> ({d.cycles / d.freq_mhz / 1e3:.3f} ms @ {d.freq_mhz} MHz)"
        if self.result is not None:
            st = self.result.stats
            head += f" · GEMM utilization <b>{st.utilization:.1%}</b> · {st.gops:.1f} GOPS"
            causes = {}
            for m, cs in st.stall_by_cause.items():
                for c, n in cs.items():
                    causes[f"{m} on {c}"] = n
            top = sorted(causes.items(), key=lambda kv: -kv[1])[:4]
            if top:
                head += "<br>stalls: " + ", ".join(f"{esc(k)} {v / cyc:.0%}" for k, v in top)
        self.summary.value = (f"<div style='font-size:12.5px'>{head}<table style='font-size:12px'>"
                              f"{''.join(bars)}</table></div>")

    def export_trace(self, path=None) -> Path | None:
        """Write the simulation as Perfetto / chrome://tracing JSON."""
        if self.result is None:
            self.status.value = '<div style="color:#b00">no simulation to export</div>'
            return None
        path = Path(path or "vta_timeline.trace.json")
        self.result.save_trace(path)
        self.status.value = (f'<div>wrote <code>{esc(path)}</code>: open it at ui.perfetto.dev '
                             '(Open trace file)</div>')
        return path
