"""Kernel.bind: the public zero-overhead call the graph executor runs every kernel through. The
same argument checks as a call (once, at bind time), the same run-time check errors, thread
count read at each call, and the libgomp helper-thread rule in a forked child."""
import multiprocessing as mp
import os

import numpy as np
import pytest

import workbench as wb
from workbench import te
from workbench.runtime import BoundCall


def gather_kernel():
    X = te.placeholder((10, 4), name="X")
    Idx = te.placeholder((6,), "int32", name="I")
    G = te.compute((6, 4), lambda i, j: X[Idx[i], j], name="G")
    s = wb.create_schedule(G)
    s[G].parallel(G.op.axis[0])
    return wb.build(s, [X, Idx, G])


def test_bind_runs_on_the_bound_arrays_and_sees_in_place_updates():
    f = gather_kernel()
    x, g = np.random.rand(10, 4).astype("float32"), np.zeros((6, 4), "float32")
    idx = np.array([0, 3, 9, 2, 1, 5], "int32")
    bound = f.bind(x, idx, g)
    assert isinstance(bound, BoundCall) and bound.arrays[2] is g
    bound()
    np.testing.assert_array_equal(g, x[idx])
    np.copyto(x, np.random.rand(10, 4).astype("float32"))    # new values, same buffer
    idx[:] = [9, 8, 7, 6, 5, 4]
    for threads in (1, 2):
        f.num_threads = threads                             # read at each call
        g[:] = 0
        bound()
        np.testing.assert_array_equal(g, x[idx])


def test_bind_checks_arguments_once_like_a_call():
    f = gather_kernel()
    x, idx, g = np.zeros((10, 4), "float32"), np.zeros(6, "int32"), np.zeros((6, 4), "float32")
    with pytest.raises(TypeError, match="takes 3 arrays"):
        f.bind(x, idx)
    with pytest.raises(TypeError, match="expects dtype int32"):
        f.bind(x, idx.astype("int64"), g)
    with pytest.raises(ValueError, match="expects shape"):
        f.bind(x, idx, np.zeros((6, 5), "float32"))
    with pytest.raises(ValueError, match="not C-contiguous"):
        f.bind(np.zeros((4, 10), "float32").T, idx, g)
    with pytest.raises(ValueError, match="read-only"):
        ro = g.copy()
        ro.flags.writeable = False
        f.bind(x, idx, ro)
    whole = np.zeros((16, 4), "float32")
    with pytest.raises(ValueError, match="shares memory"):
        f.bind(whole[:10], idx, whole[4:10])


def test_bound_call_raises_index_error_and_stays_usable():
    f = gather_kernel()
    x, g = np.random.rand(10, 4).astype("float32"), np.zeros((6, 4), "float32")
    idx = np.array([0, 3, 9, 2, 1, 5], "int32")
    bound = f.bind(x, idx, g)
    idx[2] = 10
    with pytest.raises(IndexError, match=r"X\[I\[i\], j\]"):
        bound()
    idx[2] = 2
    bound()
    np.testing.assert_array_equal(g, x[idx])


def _child(bound, q):
    bound.kernel.num_threads = 2
    bound()
    q.put(float(bound.arrays[2].sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_bound_parallel_call_in_forked_child_does_not_hang():
    f = gather_kernel()
    f.num_threads = 2
    x, g = np.ones((10, 4), "float32"), np.zeros((6, 4), "float32")
    bound = f.bind(x, np.arange(6, dtype="int32"), g)
    bound()                                  # the parent's libgomp pool now exists
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(bound, q))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        pytest.fail("bound parallel kernel hung in a forked child")
    assert p.exitcode == 0 and q.get(timeout=10) == 24.0
