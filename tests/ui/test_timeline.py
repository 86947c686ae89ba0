"""VTATimeline fed by the timing simulator and by a recorded trace; sliders rebuild."""
import numpy as np
import pytest

from accel import vta
from accel.programs import conv2d, gemm, workloads
from workbench.ui.timeline_data import TimelineData, _occupancy, token_pairs

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def c6():
    env = vta.Env.default()
    prog, _ = conv2d.build(env, workloads.RESNET18["C6"], nthreads=2)
    return vta.Simulator(env, functional=False).run(prog)


def test_data_from_result_and_recorded_trace(c6, tmp_path):
    d = TimelineData.from_result(c6)
    assert len(d) == len(c6.events) and d.cycles == c6.stats.cycles
    util = d.utilization()
    for m in ("load", "compute", "store"):
        assert util[m] == (c6.stats.busy[m], c6.stats.stall[m])
    path = tmp_path / "c6.trace.json"
    c6.save_trace(path)
    r = TimelineData.from_chrome_trace(path)
    assert r.cycles == d.cycles and np.array_equal(r.start, d.start) and np.array_equal(r.end, d.end)
    assert r.opcode == d.opcode and list(r.stall) == list(d.stall)
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(ValueError, match="not a readable trace"):
        TimelineData.from_chrome_trace(tmp_path / "junk.json")


def test_occupancy_is_exact():
    s, e = np.array([0, 5, 12]), np.array([10, 7, 13])
    occ = _occupancy(s, e, np.array([0.0, 4, 8, 12, 16]))
    assert list(occ) == [4, 4 + 2 - 0, 2 + 0, 1]


def test_aggregate_conserves_busy_time(c6):
    d = TimelineData.from_result(c6)
    agg = d.aggregate(0, d.cycles, bins=100)
    width = d.cycles / 100
    for m in ("load", "compute", "store"):
        busy = sum(b for b, mod in zip(agg["busy"], agg["module"]) if mod == m) * width
        assert abs(busy - c6.stats.busy[m]) < 1e-6 * d.cycles + 1


def test_token_pairs_match_pushes_and_pops(c6):
    pairs = token_pairs(c6.program.insns)
    sched = c6.schedule
    assert len(pairs) > 0
    for push, pop, _q in pairs:            # a token is consumed after it was produced
        assert sched.end[push] <= sched.start[pop] + 1


def test_timeline_widget_sliders_rebuild(c6):
    from workbench.ui import VTATimeline
    tl = VTATimeline.resnet_layer("C6", nthreads=2)
    assert tl.cycles == c6.stats.cycles and tl.mode == "detail"
    assert len(tl.src_ev.data["left"]) == len(c6.events) and len(tl.src_arrow.data["x0"]) > 0
    assert any("GEMM" in t for t in tl.src_ev.data["text"]) and any("waited on" in t for t in tl.src_ev.data["text"])
    redraws = tl.redraws
    tl.threads_slider.value = 1
    serial = tl.cycles
    assert serial > c6.stats.cycles and tl.redraws > redraws      # double buffering hides loads
    tl.sliders["BUS_WIDTH"].value = 256
    assert tl.cycles < serial
    tl.sliders["LOG_INP_BUFF_SIZE"].value = 13                      # too small for these tiles?
    assert tl.cycles > 0 and tl.status.value
    assert "GEMM utilization" in tl.summary.value


def test_timeline_aggregates_large_programs():
    from workbench.ui import VTATimeline
    env = vta.Env.default()
    tl = VTATimeline(lambda e, n: gemm.build(e, 64, 256, 256, nthreads=n, tiles=gemm.GemmTiles(1, 1, 1))[0],
                     env=env, nthreads=2)
    n_events = len(tl.data)
    assert n_events > 3000 and tl.mode == "aggregate" and len(tl.src_ev.data["left"]) == 0
    assert 0 < len(tl.src_agg.data["left"]) <= 2 * 4 * 500
    tl.zoom(0, tl.cycles / 400)
    assert tl.mode == "detail" and 0 < len(tl.src_ev.data["left"]) <= 3000


def test_timeline_from_recorded_trace(c6, tmp_path):
    from workbench.ui import VTATimeline
    path = tmp_path / "t.json"
    c6.save_trace(path)
    tl = VTATimeline.from_trace(path)
    assert tl.cycles == c6.stats.cycles and len(tl.src_ev.data["left"]) == len(c6.events)
    assert all(s.disabled for s in tl.sliders.values())


def test_perfetto_export(tmp_path):
    import json
    from workbench.ui import VTATimeline
    tl = VTATimeline.gemm(64, 64, 64, nthreads=1)
    p = tl.export_trace(tmp_path / "g.json")
    d = json.loads(p.read_text())
    assert d["otherData"]["cycles"] == tl.cycles and any(e["ph"] == "X" for e in d["traceEvents"])
