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
                                  "unroll_kw": 0, "tile_oh": [-1, 1], "ic_order": "ic_outer",
                                  "unroll_kh": 0})
    assert task.space.is_valid(cfg.index)
    s, args = task.instantiate(cfg)
    s2, args2 = cpu_schedules.conv2d_nchw_blocked(1, 8, 14, 14, 32, 3, 1, 1)
    assert str(wb.lower(s, args)) == str(wb.lower(s2, args2))


CONV = dict(batch=1, in_channel=8, height=8, width=8, out_channel=32, kernel_size=3, stride=1,
            padding=1)


def _accumulators(cfg):
    return cfg["tile_oh"].size[1] * cfg["tile_ow"].size[1] * -(-cfg["tile_oc"].size[1] // 16)


@pytest.mark.parametrize("knob,value", [("tile_oh", [-1, 2]), ("tile_oh", [-1, 4]),
                                        ("ic_order", "ic_outer"), ("ic_order", "ic_mid"),
                                        ("ic_order", "ic_inner"), ("unroll_kh", 1)])
def test_conv2d_new_knobs_compute_what_numpy_does(knob, value):
    """Random valid configs with each new knob value (the input channels split or not) match
    numpy."""
    task = tune.Task(kernels.conv2d.cpu_template, args=tuple(CONV.values()))
    reg = registry.get("conv2d")
    arrays = reg.random_inputs(seed=2, **CONV)
    expected = reg.reference(*arrays, **CONV)
    rng = np.random.default_rng(3)
    picked, split = [], set()
    for i in task.space.sample(rng, len(task.space)):
        cfg = task.space.get(i)
        ic_split = cfg["tile_ic"].size[1] < CONV["in_channel"]
        if cfg[knob].to_json() == value and ic_split not in split:
            picked.append(cfg)
            split.add(ic_split)
        if len(split) == 2:
            break
    assert len(picked) == 2
    for cfg in picked:
        out = np.zeros(expected.shape, expected.dtype)
        task.build(cfg)(*arrays, out)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4, err_msg=str(cfg))


def test_conv2d_space_filters_spilling_blocks_and_has_thousands_of_configs():
    """ResNet-18 C2 (56x56, 64 -> 64, 3x3): blocks of more than 28 vector accumulators are not in
    the space; what is left is thousands of configs, and contains the previous space's blocks."""
    from kernels.conv2d_nchwc import MAX_ACCUMULATORS
    task = tune.Task(kernels.conv2d.cpu_template, args=(1, 64, 56, 56, 64, 3, 1, 1))
    valid = list(task.space.enumerate())
    assert 2000 < len(valid) < len(task.space)
    assert all(_accumulators(task.space.get(i)) <= MAX_ACCUMULATORS for i in valid)
    rng = np.random.default_rng(0)
    invalid = [i for i in rng.integers(len(task.space), size=200) if not task.space.is_valid(i)]
    assert invalid and all(_accumulators(task.space.get(i)) > MAX_ACCUMULATORS for i in invalid)
    old = task.space.from_values({"tile_oc": [-1, 32], "tile_ow": [-1, 8], "tile_ic": [-1, 16],
                                  "unroll_kw": 1, "tile_oh": [-1, 1], "ic_order": "ic_inner",
                                  "unroll_kh": 0})
    assert task.space.is_valid(old.index)
