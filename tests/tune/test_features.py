"""Cost-model features: the itervar features read the loop IR before storage_flatten, and must
equal what the flattened IR gives (the definition: strides of the row-major flat index)."""
import numpy as np
import pytest

import kernels
from workbench import tune
from workbench.lower import schedule_to_ir
from workbench.lower.flatten import storage_flatten
from workbench.tune.features import EXTRACTORS, ITERVAR_LENGTH, itervar_features, loop_features

TASKS = {
    "matmul": lambda: tune.Task(kernels.matmul.cpu_template, args=(64, 128, 32)),
    "conv2d": lambda: tune.Task(kernels.conv2d.cpu_template, args=(1, 16, 14, 14, 32, 3, 1, 1)),
}


@pytest.mark.parametrize("name", list(TASKS))
def test_itervar_features_equal_those_of_the_flattened_ir(name):
    task = TASKS[name]()
    for i in task.space.sample(np.random.default_rng(0), 12):
        s, tensors = task.instantiate(i)
        body = schedule_to_ir(s, list(tensors), "main").body
        flat = loop_features(storage_flatten(body), task.target.cache_bytes)
        direct = itervar_features(task, i)
        assert direct.shape == (ITERVAR_LENGTH,)
        np.testing.assert_array_equal(direct, flat)
        assert flat.any()


def test_strides_are_those_of_the_flat_index():
    # B[k, j] in a (K, N) buffer: j moves the flat index by 1, k by N; the first buffer slot of
    # the innermost loop row holds log2(1 + stride) of its variable
    import workbench as wb
    from workbench import te
    K, N = 8, 32
    A = te.placeholder((K, N), name="A")
    C = te.compute((K, N), lambda k, j: A[k, j] * 2.0, name="C")
    s = wb.create_schedule(C)
    body = schedule_to_ir(s, [A, C], "main").body
    f = loop_features(body).reshape(20, -1)
    strides = np.exp2(f[:2, 8]) - 1            # column 8: first buffer's stride; rows: k, j
    np.testing.assert_allclose(strides, [N, 1], rtol=1e-5)


def test_knob_itervar_features_are_both():
    task = TASKS["matmul"]()
    i = task.space.sample(np.random.default_rng(1), 1)[0]
    both = EXTRACTORS["knob+itervar"](task, i)
    knob = task.space.knob_features(i)
    np.testing.assert_array_equal(both[:len(knob)], knob)
    np.testing.assert_array_equal(both[len(knob):], itervar_features(task, i))
