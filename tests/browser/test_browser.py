"""The notebooks in a real browser: JupyterLab (and Notebook 7 for one) in headless Chromium run
every cell; widgets and Bokeh canvases must render with no error output and no console error; a
primitive button updates the IR and the chart; a VTA slider changes the timeline. Screenshots go
to tests/artifacts/ (gitignored)."""
from __future__ import annotations

import re

import pytest

from .conftest import ARTIFACTS

pytestmark = pytest.mark.slow

RUN_TIMEOUT_MS = 600_000          # a loaded 2-core machine runs notebook 01 in ~2 min
WAIT_MS = 120_000

# console messages that are not failures of ours
_HARMLESS = ("Kernel is running over TCP", "favicon", "[Deprecation]", "DevTools",
             "Failed to load resource: the server responded with a status of 404")

_KERNEL_IDLE = """() => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = p && p.sessionContext && p.sessionContext.session && p.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; }"""

_ALL_RAN = """() => { const p = window.jupyterapp.shell.currentWidget;
  const cells = p.content.widgets.filter(c => c.model.type === 'code');
  const k = p.sessionContext.session.kernel;
  return cells.every(c => c.model.executionCount !== null) && k.status === 'idle'; }"""

# Bokeh data sources in the page (jupyter_bokeh: one document per BokehModel). Bokeh keeps the
# documents in Bokeh.documents and the root views in Bokeh.index (a Map or a plain object).
_MODELS = """(() => { const vals = x => !x ? [] : (typeof x.values === 'function' ? [...x.values()] : Object.values(x));
  const docs = new Set(vals(window.Bokeh.documents));
  try { for (const v of window.Bokeh.index.values()) if (v && v.model) docs.add(v.model.document); } catch (e) {}
  const out = []; for (const d of docs) if (d) out.push(...vals(d._all_models)); return out; })()"""
_CDS_LEN = """([col, other]) => { let best = -1;
  for (const m of %s) { const d = m.type === 'ColumnDataSource' ? m.data : null; if (!d) continue;
    const get = k => d instanceof Map ? d.get(k) : d[k];
    if (get(col) && get(other)) best = Math.max(best, get(col).length); }
  return best; }""" % _MODELS


def open_and_run(page, server, notebook: str, errors: list):
    page.on("console", lambda m: errors.append(f"{m.text} @ {m.location}") if m.type == "error" and
            not any(h in m.text for h in _HARMLESS) else None)
    page.on("pageerror", lambda e: errors.append(f"{e} {getattr(e, 'stack', '')}"))
    page.goto(server.url(notebook), timeout=WAIT_MS)
    page.wait_for_function("() => !!window.jupyterapp", timeout=WAIT_MS)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="attached", timeout=WAIT_MS)
    page.wait_for_function(_KERNEL_IDLE, timeout=WAIT_MS)
    # fire and forget: returning the promise would block evaluate() until every cell ran
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(_ALL_RAN, timeout=RUN_TIMEOUT_MS, polling=500)


# Notebook 7.6 throws this in its own settings loader (notebook_core.js, SettingRegistry load)
# once per page with this notebook; it happens before and outside any widget of ours. Known
# open item: tolerated in the Notebook 7 test only, every other page error still fails it.
NB7_CORE_ERROR = "Cannot read properties of undefined (reading 'schema')"


def assert_clean(page, errors: list):
    from playwright.sync_api import expect
    out = page.locator(".jp-OutputArea-output")
    expect(out.get_by_text("Failed to create view")).to_have_count(0)
    expect(out.get_by_text("Traceback")).to_have_count(0)
    expect(page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")).to_have_count(0)
    assert not errors, f"console errors: {errors[:5]}"


def canvases(page) -> int:
    """Bokeh canvases drawn with a size (Playwright's CSS selectors pierce Bokeh's shadow DOM)."""
    page.locator(".bk-Canvas canvas:visible").first.wait_for(timeout=WAIT_MS)
    return page.locator(".bk-Canvas canvas:visible").count()


def shot(page, locator, name):
    try:
        locator.scroll_into_view_if_needed(timeout=10_000)
        locator.screenshot(path=str(ARTIFACTS / f"{name}.png"), timeout=30_000)
    except Exception:        # a screenshot is an artifact, not the assertion
        page.screenshot(path=str(ARTIFACTS / f"{name}-page.png"))


def test_schedule_explorer_lab(lab, browser):
    from playwright.sync_api import expect
    page, errors = browser.new_page(), []
    try:
        open_and_run(page, lab, "01_schedule_explorer.ipynb", errors)
        ex = page.locator(".wb-explorer").first
        expect(ex).to_be_visible(timeout=WAIT_MS)
        expect(ex.locator(".wb-loop-tree select")).to_be_visible()
        assert canvases(page) >= 2                               # explorer chart + roofline
        n0 = page.evaluate(_CDS_LEN, ["gflops", "label"])
        assert n0 >= 4, n0
        ir = ex.locator(".wb-ir")
        ir_before = ir.inner_text()
        shot(page, ex, "explorer-before")
        # select the reduction loop k in the tree, then move it outward: a primitive from the UI
        sel = ex.locator(".wb-loop-tree select")
        options = sel.evaluate("s => [...s.options].map(o => o.text)")
        label = next(o for o in options if re.search(r"for\s+k\s+in", o))
        sel.select_option(label=label)
        btn = ex.locator("button", has_text="reorder ↑")
        expect(btn).to_be_enabled(timeout=WAIT_MS)
        btn.click()
        expect(ir).not_to_have_text(ir_before, timeout=WAIT_MS)
        page.wait_for_function(f"() => ({_CDS_LEN})(['gflops', 'label']) > {n0}", timeout=WAIT_MS)
        expect(ex.locator(".wb-status")).to_contain_text("GFLOP/s", timeout=WAIT_MS)
        ex.get_by_role("tab", name="Why fast / slow").click()
        expect(ex.locator(".wb-why")).to_contain_text("working set")
        shot(page, ex, "explorer-after-click")
        shot(page, page.locator(".wb-roofline").first, "roofline")
        assert_clean(page, errors)
    finally:
        page.close()
        lab.shutdown_kernels()


def test_autotune_dashboard_lab(lab, browser):
    from playwright.sync_api import expect
    page, errors = browser.new_page(), []
    try:
        open_and_run(page, lab, "02_autotune.ipynb", errors)
        dash = page.locator(".wb-dashboard")
        expect(dash.first).to_be_visible(timeout=WAIT_MS)
        assert dash.count() == 2                                   # live one + the opened log
        assert canvases(page) >= 6
        expect(dash.first.locator(".wb-dash-summary")).to_contain_text("xgb", timeout=WAIT_MS)
        page.wait_for_function(f"() => ({_CDS_LEN})(['knobs', 'gflops']) >= 40", timeout=WAIT_MS)
        shot(page, dash.first, "dashboard")
        assert_clean(page, errors)
    finally:
        page.close()
        lab.shutdown_kernels()


def c6_cycles(nthreads: int) -> str:
    """The cycle count the timeline must show for ResNet-18 C6 (the simulator, run here)."""
    from accel import vta
    from accel.programs import conv2d, workloads
    env = vta.Env.default()
    prog, _ = conv2d.build(env, workloads.RESNET18["C6"], nthreads=nthreads)
    return f"{vta.Simulator(env, functional=False).run(prog).stats.cycles:,} cycles"


def _move_slider(page, slider, to: str):
    """Drag the slider's handle to the left or right end of its track (a user's mouse drag)."""
    track = slider.locator(".noUi-target, .slider").first.bounding_box()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    x = track["x"] + 1 if to == "left" else track["x"] + track["width"] - 1
    page.mouse.move(x, handle["y"] + handle["height"] / 2, steps=8)
    page.mouse.up()


def test_vta_timeline_lab(lab, browser):
    from playwright.sync_api import expect
    page, errors = browser.new_page(), []
    try:
        open_and_run(page, lab, "03_vta_pipeline.ipynb", errors)
        tl = page.locator(".wb-timeline").first
        expect(tl).to_be_visible(timeout=WAIT_MS)
        assert canvases(page) >= 2
        summary = tl.locator(".wb-vta-summary")
        expect(summary).to_contain_text(c6_cycles(2), timeout=WAIT_MS)   # C6, 2 threads, 64-bit bus
        shot(page, tl, "timeline-before")
        slider = tl.locator(".widget-hslider", has_text="virtual threads")
        _move_slider(page, slider, "left")                              # 2 -> 1 thread
        expect(summary).not_to_contain_text(c6_cycles(2), timeout=WAIT_MS)
        expect(summary).to_contain_text(c6_cycles(1), timeout=WAIT_MS)
        shot(page, tl, "timeline-after-slider")
        shot(page, page.locator(".wb-timeline").nth(1), "timeline-aggregate")
        assert_clean(page, errors)
    finally:
        page.close()
        lab.shutdown_kernels()


def test_vta_timeline_notebook7(notebook7, browser):
    from playwright.sync_api import expect
    page, errors = browser.new_page(), []
    try:
        open_and_run(page, notebook7, "03_vta_pipeline.ipynb", errors)
        tl = page.locator(".wb-timeline").first
        expect(tl).to_be_visible(timeout=WAIT_MS)
        assert canvases(page) >= 2
        summary = tl.locator(".wb-vta-summary")
        expect(summary).to_contain_text(c6_cycles(2), timeout=WAIT_MS)
        _move_slider(page, tl.locator(".widget-hslider", has_text="virtual threads"), "left")
        expect(summary).to_contain_text(c6_cycles(1), timeout=WAIT_MS)
        shot(page, tl, "nb7-timeline")
        errors[:] = [e for e in errors if not (e.startswith(NB7_CORE_ERROR) and "notebook_core" in e)]
        assert_clean(page, errors)
    finally:
        page.close()
        notebook7.shutdown_kernels()


@pytest.mark.parametrize("notebook,plots", [("00_core_tour.ipynb", False), ("04_resolution.ipynb", True),
                                            ("05_augmentation_probe.ipynb", True)])
def test_story_notebooks_render_lab(lab, browser, notebook, plots):
    """The notebooks without widgets of their own: every cell runs in JupyterLab with no error
    output or console error, and the studies' Bokeh figures draw."""
    page, errors = browser.new_page(), []
    try:
        open_and_run(page, lab, notebook, errors)
        if plots:
            assert canvases(page) >= 1
        assert_clean(page, errors)
        page.screenshot(path=str(ARTIFACTS / f"{notebook.split('.')[0]}.png"), full_page=True)
    finally:
        page.close()
        lab.shutdown_kernels()
