"""Shared pieces of the apps: Bokeh set-up with INLINE resources (no CDN), figure wrapping,
highlighted code, small HTML helpers, and a single background worker per app."""
from __future__ import annotations

import html
import threading
from concurrent.futures import ThreadPoolExecutor

import ipywidgets as W

_loaded = threading.Event()


def bokeh_setup(force: bool = False) -> None:
    """Load BokehJS into the page once per kernel (inline: the machines have no internet).
    jupyter_bokeh needs window.Bokeh before any BokehModel is shown."""
    if _loaded.is_set() and not force:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE
    output_notebook(INLINE, hide_banner=True)
    _loaded.set()


def bokeh_widget(model):
    """A BokehModel that sends its full current state to every new view. jupyter_bokeh delivers
    document patches only to views that exist: a chart updated between the widget's creation
    and its display (a background measurement, a rebuild in the constructor) would otherwise
    show its initial, empty state. ipywidgets counts views in `_view_count` when it is not None."""
    from jupyter_bokeh import BokehModel
    bm = BokehModel(model)
    bm._view_count = 0

    def resync(change):
        if (change["new"] or 0) > (change["old"] or 0):
            bm.render_bundle = BokehModel._model_to_traits(model)
    bm.observe(resync, "_view_count")
    return bm


def highlight(code: str, max_lines: int = 400) -> str:
    """Python-highlighted HTML of printed IR (inline styles, so it needs no CSS)."""
    from pygments import highlight as _hl
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    lines = code.splitlines()
    if len(lines) > max_lines:
        code = "\n".join(lines[:max_lines]) + f"\n# ... {len(lines) - max_lines} more lines"
    body = _hl(code, PythonLexer(), HtmlFormatter(noclasses=True, style="friendly", nowrap=True))
    return f'<pre class="wb-code" style="{CODE_CSS}">{body}</pre>'


CODE_CSS = ("font-size:12px;line-height:1.35;margin:0;padding:8px;background:#f8f8f6;"
            "border:1px solid #e2e2dc;border-radius:4px;overflow:auto;height:340px;white-space:pre")


def diff_html(diff: str) -> str:
    if not diff:
        return "<i>no difference in the lowered IR</i>"
    rows = []
    for line in diff.splitlines():
        color = {"+": "#e6ffec", "-": "#ffebe9", "@": "#ddf4ff"}.get(line[:1], "transparent")
        if line.startswith(("+++", "---")):
            color = "#f0f0f0"
        rows.append(f'<div style="background:{color}">{html.escape(line) or "&nbsp;"}</div>')
    return f'<pre class="wb-diff" style="{CODE_CSS}">{"".join(rows)}</pre>'


def esc(text) -> str:
    return html.escape(str(text))


def badge(text: str, color: str) -> str:
    return (f'<span style="background:{color};color:white;border-radius:3px;padding:1px 6px;'
            f'font-size:11px;margin-right:4px">{esc(text)}</span>')


def section(title: str) -> W.HTML:
    return W.HTML(f'<div style="font-weight:600;font-size:13px;margin:6px 0 2px 0;color:#333">'
                  f'{esc(title)}</div>')


class Worker:
    """One background thread per app: the notebook stays responsive while kernels build and
    time; a newer request makes older pending results stale (`generation`)."""

    def __init__(self, name: str):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.generation = 0

    def submit(self, fn, *args):
        self.generation += 1
        return self._pool.submit(fn, self.generation, *args)

    def shutdown(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
