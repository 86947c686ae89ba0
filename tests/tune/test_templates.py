"""Every CPU template: random configs compute what numpy does; the matmul and conv2d spaces
contain the hand schedules of kernels.cpu_schedules."""
import numpy as np
import pytest

import kernels
import workbench as wb
from kernels import cpu_schedules, registry
from workbench import tune

CASES = [
    ("matmul", kernels.matmul.cpu_template, dict(M=8, N=32, K=12)),
    ("batch_matmul", kernels.batch_matmul.cpu_template, dict(batch=2, M=6, N=16, K=5)),
    ("dense", kernels.dense.cpu_template, dict(batch=3, in_dim=10, out_dim=16, bias=True)),
    ("dense", kernels.dense.cpu_template, dict(batch=2, in_dim=7, out_dim=8, bias=False)),
    ("conv2d", kernels.conv2d.cpu_template, dict(batch=1, in_channel=4, height=6, width=6,
                                                 out_channel=16, kernel_size=3, stride=1, padding=1)),
    ("depthwise_conv2d", kernels.depthwise_conv2d.cpu_template,
     dict(batch=1, channel=4, height=7, width=6, kernel_size=3, stride=2, padding=1)),
    ("conv2d_transpose", kernels.conv2d_transpose.cpu_template,
     dict(batch=1, in_channel=3, height=4, width=4, out_channel=2, kernel_size=4, stride=2, padding=1)),
]


@pytest.mark.parametrize("op,template,params", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_random_configs_match_numpy(op, template, params):
    task = tune.Task(template, args=tuple(params.values()))
    assert len(task.space) > 1 and task.flop > 0
    rng = np.random.default_rng(0)
    reg = registry.get(op)
    arrays = reg.random_inputs(seed=1, **params)
    expected = reg.reference(*arrays, **params)
    for i in [0] + task.space.sample(rng, 3):
        f = task.build(i)
        out = np.zeros(expected.shape, expected.dtype)
        f(*arrays, out)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4, err_msg=str(task.space.get(i)))


def test_matmul_space_contains_matmul_blocked():
    task = tune.Task(kernels.matmul.cpu_template, args=(64, 128, 32))
    cfg = task.space.from_values({"tile_y": [-1, 4], "tile_x": [-1, 4, 16], "tile_k": [-1, 1],
                                  "pack_b": 1, "unroll_block": 1})
    s, args = task.instantiate(cfg)
    s2, args2 = cpu_schedules.matmul_blocked(64, 128, 32)
    assert str(wb.lower(s, args)) == str(wb.lower(s2, args2))


def test_conv2d_space_contains_conv2d_nchw_blocked():
    task = tune.Task(kernels.conv2d.cpu_template, args=(1, 8, 14, 14, 32, 3, 1, 1))
    cfg = task.space.from_values({"tile_oc": [-1, 16], "tile_ow": [-1, 14], "tile_ic": [-1, 8],
                                  "unroll_kw": 0})
    s, args = task.instantiate(cfg)
    s2, args2 = cpu_schedules.conv2d_nchw_blocked(1, 8, 14, 14, 32, 3, 1, 1)
    assert str(wb.lower(s, args)) == str(wb.lower(s2, args2))
