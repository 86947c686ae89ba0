"""Explorer model without widgets: primitives, undo/redo, legal-choice lists, evaluation."""
import numpy as np
import pytest

import workbench as wb
from workbench.ui.session import ExplorerSession, Workload


@pytest.fixture
def mm():
    return ExplorerSession(Workload.from_catalog("matmul", M=32, N=48, K=16), min_time=0.001, repeat=1)


def test_apply_undo_redo(mm):
    mm.apply("split", "C", "i", factor=8)
    mm.apply("reorder", "C", "i.outer", "k", "i.inner", "j")
    assert [n for n, *_ in mm.loops("C")] == ["i.outer", "k", "i.inner", "j"]
    assert mm.undo() and [n for n, *_ in mm.loops("C")] == ["i.outer", "i.inner", "j", "k"]
    assert mm.can_redo and mm.redo() and len(mm.trace) == 2
    mm.undo()
    mm.apply("vectorize", "C", "j")           # a new step drops the redo branch
    assert not mm.can_redo and [s.primitive for s in mm.trace] == ["split", "vectorize"]
    assert mm.undo() and mm.undo() and not mm.undo() and len(mm.trace) == 0


def test_illegal_primitive_raises_and_keeps_state(mm):
    with pytest.raises(wb.ScheduleError, match="reduction axis"):
        mm.apply("vectorize", "C", "k")
    assert mm.position == 0 and len(mm.history) == 1


def test_legal_choices(mm):
    c = mm.loop_choices("C", "k")
    assert not c["vectorize"] and not c["parallel"] and c["unroll"]          # k is a reduction
    assert c["move_in"] is None and c["move_out"] == ["i", "k", "j"]
    assert [f for f, ok in c["split"] if ok] == [2, 4, 8]
    c = mm.loop_choices("C", "j")
    assert c["vectorize"] and c["parallel"] and not c["fuse_next"]            # j, k differ in kind
    assert (32, False) in c["split"] and all(48 % f == 0 for f, ok in c["split"] if ok)
    assert mm.loop_choices("C", "i")["fuse_next"]
    mm.apply("vectorize", "C", "j")
    assert not mm.loop_choices("C", "j")["parallel"]                         # already vectorized
    assert mm.stage_choices("C") == {"compute_at": [], "compute_inline": False, "compute_root": False,
                                     "cache_write": False}


def test_stage_choices_multi_stage():
    s = ExplorerSession(Workload.from_catalog("softmax", shape=(4, 10)))
    ch = s.stage_choices("softmax_max")
    assert ("softmax_exp", "i0") in ch["compute_at"] and not ch["compute_inline"]   # a reduction
    assert s.stage_choices("softmax_exp")["compute_inline"]
    assert not s.stage_choices("softmax")["compute_inline"]                         # the output
    s.apply("compute_at", "softmax_max", "softmax_exp", "i0")
    assert s.stage_choices("softmax_max")["compute_root"]


def test_every_offered_choice_applies(mm):
    """The lists are exactly what the core accepts: every offered move applies cleanly."""
    mm.apply("split", "C", "j", factor=16)
    for name, *_ in mm.loops("C"):
        ch = mm.loop_choices("C", name)
        for prim in ("vectorize", "parallel", "unroll"):
            if ch[prim]:
                mm.apply(prim, "C", name)
                mm.undo()
        for f, _ in ch["split"][:3]:
            mm.apply("split", "C", name, factor=f)
            mm.undo()


def test_evaluate_checks_and_measures(mm):
    mm.apply("reorder", "C", "i", "k", "j")
    r = mm.evaluate()
    assert r.error is None and r.correct and r.gflops > 0 and "for" in r.ir
    assert r.analysis is not None and mm.cached(mm.trace) is r
    assert [k for k, _ in mm.results()] == [1]


def test_trace_replay_and_load(mm):
    mm.apply("split", "C", "i", factor=4)
    mm.apply("parallel", "C", "i.outer")
    t = mm.trace
    other = ExplorerSession(mm.workload)
    other.load_trace(t)
    assert other.position == 2 and str(other.schedule()) == str(mm.schedule())
    assert other.undo() and len(other.trace) == 1


def test_custom_compute_and_diff():
    from workbench import te
    A = te.placeholder((16, 16), name="A")
    B = te.compute((16, 16), lambda i, j: A[j, i] * 2.0, name="B")
    s = ExplorerSession(Workload.from_tensors([A, B], reference=lambda a: (a.T * 2.0)))
    s.apply("reorder", "B", "j", "i")
    r = s.evaluate()
    assert r.correct and r.error is None
    d = s.diff(0, 1)
    assert d.startswith("--- step 0") and "+" in d


def test_failure_is_reported_not_raised(mm, monkeypatch):
    monkeypatch.setattr(wb, "build", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    r = mm.evaluate()
    assert r.error == "RuntimeError: boom" and r.gflops is None
    assert np.isfinite(r.lower_s)
