"""Shared by the schedule tests: matmul workloads, numpy checks and error assertions."""
import re

import numpy as np
import pytest

import workbench as wb
from workbench import te


def matmul(M=64, N=64, K=64, dtype="float32"):
    A = te.placeholder((M, K), dtype, name="A")
    B = te.placeholder((K, N), dtype, name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return A, B, C


def run_matmul(s, A, B, C, seed=0):
    """Build s and compare against numpy; returns the kernel."""
    rng = np.random.default_rng(seed)
    (M, K), (_, N) = A.shape, B.shape
    a = rng.random((M, K), dtype=np.float32)
    b = rng.random((K, N), dtype=np.float32)
    c = np.zeros((M, N), np.float32)
    f = wb.build(s, [A, B, C])
    f(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
    return f


def schedule_error(fn, *patterns):
    """fn() raises a ScheduleError whose message matches every regex in patterns."""
    with pytest.raises(wb.ScheduleError) as info:
        fn()
    msg = str(info.value)
    for p in patterns:
        assert re.search(p, msg), f"{p!r} not in {msg!r}"
    return info.value
