"""The trace replays on a fresh schedule, prints as Python and round-trips through JSON."""
import pytest

import workbench as wb
from workbench.schedule import Trace

from .test_golden_ir import CASES


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_round_trip(name):
    s, args = CASES[name]()
    fresh, fargs = _fresh(name)
    exec(s.trace.to_python(), {"s": fresh})
    assert str(wb.lower(fresh, fargs)) == str(wb.lower(s, args))
    assert fresh.trace == s.trace


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_round_trip(name):
    s, args = CASES[name]()
    trace = Trace.from_json(s.trace.to_json())
    assert trace == s.trace
    fresh, fargs = _fresh(name)
    trace.replay(fresh)
    assert str(wb.lower(fresh, fargs)) == str(wb.lower(s, args))


def _fresh(name):
    """A schedule of the same tensors as CASES[name] with no primitives applied."""
    s, args = CASES[name]()
    outputs = s.outputs
    return wb.create_schedule(outputs), args


def test_schedule_summary_lists_stages_and_loops():
    s, _ = CASES["cache_write"]()
    text = str(s)
    assert "C.local (local): at C.j.outer; loops i, j, k" in text
    assert "C: root; loops i.outer, j.outer, i.inner, j.inner" in text
