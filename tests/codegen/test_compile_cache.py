"""The compile cache: structurally equal schedules hit (no lowering, no LLVM), anything that changes
the code misses, the LRU is bounded, and a hit computes what a fresh build computes."""
from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench import te
from workbench.runtime import CompileCache
from workbench.runtime.cache import fingerprint


def _schedule(n=64, factor=16, dtype="float32", scale=2.0, names=("i", "j"), order=None):
    A = te.placeholder((n, n), dtype, name="A")
    B = te.placeholder((n, n), dtype, name="B")
    C = te.compute((n, n), lambda i, j: A[i, j] * scale + B[j, i], name="C")
    s = wb.create_schedule(C)
    i, j = C.op.axis
    jo, ji = s[C].split(j, factor=factor)
    s[C].vectorize(ji)
    return s, (order or (lambda a, b, c: [a, b, c]))(A, B, C)


def test_structurally_equal_schedule_hits():
    cache = CompileCache()
    f1 = wb.build(*_schedule(), cache=cache)
    f2 = wb.build(*_schedule(), cache=cache)
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    assert f2.module is f1.module and f2 is not f1
    a, b = np.random.default_rng(0).random((2, 64, 64), dtype=np.float32)
    c1, c2 = np.zeros((64, 64), "float32"), np.zeros((64, 64), "float32")
    f1(a, b, c1)
    f2(a, b, c2)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_allclose(c2, a * 2 + b.T, rtol=1e-6)


@pytest.mark.parametrize("change", [
    dict(factor=8), dict(scale=3.0), dict(dtype="float64"), dict(n=32),
    dict(order=lambda a, b, c: [b, a, c]),
])
def test_anything_that_changes_the_code_misses(change):
    s0, args0 = _schedule()
    s1, args1 = _schedule(**change)
    host = wb.Target.host()
    assert fingerprint(s0, args0, host, "main") != fingerprint(s1, args1, host, "main")


def test_target_name_and_options_are_part_of_the_key():
    s, args = _schedule()
    host = wb.Target.host()
    k = fingerprint(s, args, host, "main")
    assert k is not None
    assert k != fingerprint(s, args, wb.Target.parse("llvm -mcpu=x86-64"), "main")
    assert k != fingerprint(s, args, host, "other")
    assert k != fingerprint(s, args, host, "main", ("opt", 2))


def test_undo_redo_through_schedule_copy_hits():
    cache = CompileCache()
    s, args = _schedule()
    before = s.copy()
    C = args[2]
    s[C].parallel(s[C].leaf_iter_vars[0])
    wb.build(s, args, cache=cache)
    wb.build(before, args, cache=cache)      # undo
    wb.build(s, args, cache=cache)           # redo
    assert (cache.hits, cache.misses) == (1, 2)


def test_lru_is_bounded_and_cache_can_be_off():
    cache = CompileCache(capacity=2)
    for factor in (2, 4, 8):
        wb.build(*_schedule(factor=factor), cache=cache)
    assert len(cache) == 2
    wb.build(*_schedule(factor=2), cache=cache)        # evicted first: a miss again
    assert cache.misses == 4
    f = wb.build(*_schedule(), cache=None)
    assert f.module is not wb.build(*_schedule(), cache=None).module
    with pytest.raises(TypeError, match="cache must be"):
        wb.build(*_schedule(), cache="yes")
    with pytest.raises(ValueError, match="capacity"):
        CompileCache(0)


def test_default_cache_is_used_by_wb_build():
    cache = wb.runtime.default_cache()
    hits = cache.hits
    wb.build(*_schedule(n=48))
    wb.build(*_schedule(n=48))
    assert cache.hits == hits + 1
