"""Roofline: arithmetic intensity vs GFLOP/s against this machine's measured ceilings.

The ceilings are measured once and cached in ~/.cache/workbench/roofline.json (keyed by CPU model
and core count): compute = numpy sgemm (OpenBLAS, all cores) on 1024^3, the best FLOP rate a
library reaches here; memory = numpy copy of 64 MB arrays (read + write bytes per second).

    r = Roofline(); r.add("naive", flops, bytes, seconds); r.add_explorer(explorer)
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import ipywidgets as W
import numpy as np

from .widgets_util import bokeh_setup, bokeh_widget, esc


@dataclass(frozen=True)
class Ceilings:
    peak_gflops: float
    bandwidth_gbs: float
    cpu: str
    cores: int
    measured_at: float


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cache_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "workbench" / "roofline.json"


def measure_ceilings(*, repeat: int = 5) -> Ceilings:
    """Best of `repeat` runs of each probe (the ceiling is what the machine can reach)."""
    n = 1024
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    peak = 2 * n ** 3 / best / 1e9
    src = np.ones(16 * 1024 * 1024, np.float32)          # 64 MB: far beyond the caches
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeat))
    bw = 2 * src.nbytes / best / 1e9
    return Ceilings(peak, bw, _cpu_model(), os.cpu_count() or 1, time.time())


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def ceilings(*, refresh: bool = False, path: Path | None = None) -> Ceilings:
    """Cached ceilings for this CPU (measured on first use, a few seconds)."""
    path = path or cache_path()
    key = f"{_cpu_model()}|{os.cpu_count()}"
    cache = {}
    if path.exists():
        try:
            cache = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            cache = {}
    if not refresh and key in cache:
        return Ceilings(**cache[key])
    c = measure_ceilings()
    cache[key] = asdict(c)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache, indent=1))
    except OSError:
        pass                      # a read-only home still gets a roofline, just not a cached one
    return c


def compulsory_bytes(args) -> int:
    """Bytes every input is read once and the output written once (the intensity's denominator)."""
    return int(sum(np.prod([int(x) for x in t.shape], dtype=np.int64) * np.dtype(t.dtype).itemsize
                   for t in args))


class Roofline(W.VBox):
    """`refresh=True` measures the ceilings again (do it on an idle machine: a busy one gives a
    roof below what kernels then reach, which the chart points out)."""

    def __init__(self, ceilings_: Ceilings | None = None, *, refresh: bool = False):
        super().__init__()
        self.ceil = ceilings_ or ceilings(refresh=refresh)
        bokeh_setup()
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure
        self.src = ColumnDataSource(dict(ai=[], gflops=[], name=[], color=[]))
        fig = figure(height=360, sizing_mode="stretch_width", x_axis_type="log", y_axis_type="log",
                     x_axis_label="arithmetic intensity (FLOP / byte, compulsory traffic)",
                     y_axis_label="GFLOP/s", title="Roofline of this machine",
                     tools="pan,wheel_zoom,box_zoom,reset,save")
        ridge = self.ceil.peak_gflops / self.ceil.bandwidth_gbs
        xs = np.logspace(-2, 3, 200)
        fig.line(xs, np.minimum(self.ceil.peak_gflops, xs * self.ceil.bandwidth_gbs), line_width=3,
                 color="#333333", legend_label=f"roof: {self.ceil.peak_gflops:.0f} GFLOP/s, "
                 f"{self.ceil.bandwidth_gbs:.1f} GB/s (ridge {ridge:.1f} FLOP/B)")
        fig.scatter("ai", "gflops", source=self.src, size=11, color="color", alpha=0.85)
        fig.add_tools(HoverTool(tooltips=[("", "@name"), ("FLOP/B", "@ai{0.00}"), ("GFLOP/s", "@gflops{0.00}")]))
        fig.legend.location = "top_left"
        fig.toolbar.logo = None
        self.figure = fig
        self.info = W.HTML(f'<div style="font-size:12px;color:#555">Ceilings measured on {esc(self.ceil.cpu)} '
                           f'({self.ceil.cores} cores): numpy sgemm 1024³ and a 64 MB copy; cached in '
                           f'<code>{esc(cache_path())}</code>.</div>')
        self.children = [W.HTML('<div style="font-size:16px;font-weight:600">Roofline</div>'),
                         bokeh_widget(fig), self.info]
        self.add_class("wb-roofline")

    def add(self, name: str, flops: float, nbytes: float, seconds: float, color: str = "#1f77b4") -> None:
        if seconds <= 0 or nbytes <= 0:
            raise ValueError(f"{name}: seconds and bytes must be positive")
        d = {k: list(v) for k, v in self.src.data.items()}
        d["ai"].append(flops / nbytes)
        d["gflops"].append(flops / seconds / 1e9)
        d["name"].append(name)
        d["color"].append(color)
        self.src.data = d
        if flops / seconds / 1e9 > 1.05 * self.ceil.peak_gflops and "above the roof" not in self.info.value:
            self.info.value += ('<div style="font-size:12px;color:#b00">A point is above the roof: the ceilings '
                                'were measured while the machine was busy. Roofline(refresh=True) '
                                'measures them again.</div>')

    def add_explorer(self, explorer, color: str = "#d62728") -> int:
        """Every measured step of a ScheduleExplorer as a point; returns how many were added."""
        wl = explorer.session.workload
        nbytes = compulsory_bytes(wl.args)
        n = 0
        for k, r in explorer.session.results():
            if r.seconds:
                label = "default" if k == 0 else explorer.session.history[k].steps[-1].to_python()
                self.add(f"{wl.name} step {k}: {label}", wl.flops, nbytes, r.seconds, color)
                n += 1
        return n
