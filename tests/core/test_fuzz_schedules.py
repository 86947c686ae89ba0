"""Differential fuzzer: random legal schedules of every catalog operator must compute what numpy
computes. Each run draws new schedules; a failure prints the seed and the schedule's trace.
Reproduce with WB_FUZZ_SEED=<seed> WB_FUZZ_N=<n> pytest tests/core/test_fuzz_schedules.py."""
import os
import random

import numpy as np
import pytest

import workbench as wb
from kernels import registry

from .random_schedule import random_schedule

N = int(os.environ.get("WB_FUZZ_N", "200"))
BASE_SEED = int(os.environ.get("WB_FUZZ_SEED", random.randrange(2**31)))


def _tolerance(dtype):
    return (0, 0) if not dtype.startswith("float") else (1e-4, 1e-4)


@pytest.mark.parametrize("op_name", registry.names())
def test_random_schedules_match_numpy(op_name):
    op = registry.get(op_name)
    failures = []
    for n in range(N):
        seed = BASE_SEED + n
        rng = random.Random(seed)
        params = op.small_params[rng.randrange(len(op.small_params))]
        inputs, out = op.make(**params)
        s = random_schedule(out, rng)
        where = f"{op_name} params={params} seed={seed} (WB_FUZZ_SEED={seed} WB_FUZZ_N=1)\n{s.trace.to_python()}"
        try:
            f = wb.build(s, inputs + [out])
            arrays = op.random_inputs(seed=seed % 1000, **params)
            got = np.zeros(out.shape, out.dtype)
            f(*arrays, got)
        except Exception as e:  # a legal schedule must build and run
            failures.append(f"{type(e).__name__}: {e}\n{where}")
            continue
        expected = op.reference(*arrays, **params)
        rtol, atol = _tolerance(out.dtype)
        if not np.allclose(got, expected, rtol=rtol, atol=atol):
            err = np.max(np.abs(got.astype("float64") - expected))
            failures.append(f"max abs error {err}\n{where}")
        if len(failures) >= 3:
            break
    assert not failures, f"{len(failures)} failing schedule(s), base seed {BASE_SEED}:\n\n" + "\n\n".join(failures)
