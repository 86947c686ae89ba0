import numpy as np
import pytest

from workbench import te, tune
from workbench.tune.space import ConfigSpace, SplitEntity


def _space():
    sp = ConfigSpace()
    sp.define_split("a", 24, num_outputs=3)
    sp.define_split("b", 20, policy="power2")
    sp.define_split("c", 12, policy="verbose", max_factor=6)
    sp.define_split("d", 100, policy="candidate", candidate=[[-1, 10], [-1, 4]])
    sp.define_reorder("r", ["x", "y", "z"], policy="all")
    sp.define_annotate("an", ["x", "y"], policy="try_unroll_vec")
    sp.define_knob("k", [0, 16, 64])
    return sp


def test_split_policies():
    sp = _space()
    sizes = [e.size for e in sp.knobs["a"].entities]
    assert all(24 % (s[1] * s[2]) == 0 for s in sizes) and (-1, 2, 3) in sizes
    assert [e.size for e in sp.knobs["b"].entities] == [(-1, 1), (-1, 2), (-1, 4), (-1, 8), (-1, 16)]
    assert [e.size[1] for e in sp.knobs["c"].entities] == [1, 2, 3, 4, 6]
    assert [e.size for e in sp.knobs["d"].entities] == [(-1, 10), (-1, 4)]
    assert len(sp.knobs["r"]) == 6 and len(sp.knobs["an"]) == 6
    f = ConfigSpace()
    f.define_split("x", 64, num_outputs=2, filter=lambda e: e.size[1] >= 8)
    assert [e.size[1] for e in f.knobs["x"].entities] == [8, 16, 32, 64]


def test_index_round_trip_mixed_radix():
    sp = _space()
    assert len(sp) == int(np.prod(sp.dims))
    rng = np.random.default_rng(0)
    for i in [0, 1, len(sp) - 1, *rng.integers(len(sp), size=50)]:
        ks = sp.point2knob(int(i))
        assert sp.knob2point(ks) == i
        cfg = sp.get(int(i))
        assert sp.from_values(cfg.values()).index == i
        assert cfg.to_json()["index"] == i
    # the first knob is the least significant digit
    assert sp.point2knob(1)[0] == 1 and sp.point2knob(sp.dims[0])[:2] == [0, 1]
    with pytest.raises(IndexError):
        sp.get(len(sp))


def test_sample_walk_filter_without_schedules():
    sp = _space()
    sp.multi_filter(lambda c: c["k"].val != 64)
    rng = np.random.default_rng(1)
    got = sp.sample(rng, 40)
    assert len(set(got)) == 40 and all(sp.get(i)["k"].val != 64 for i in got)
    i = got[0]
    j = sp.random_walk(i, rng)
    assert j != i and sum(a != b for a, b in zip(sp.point2knob(i), sp.point2knob(j))) == 1
    all_valid = list(sp.enumerate())
    assert len(all_valid) == len(sp) * 2 // 3


def test_split_apply_and_annotate_errors():
    A = te.placeholder((64,), name="A")
    C = te.compute((64,), lambda i: A[i] * 2.0, name="C")
    import workbench as wb
    s = wb.create_schedule(C)
    axes = SplitEntity((-1, 4, 8)).apply(s, C, C.op.axis[0])
    assert [ax.extent for ax in axes] == [2, 4, 8]
    from workbench.tune.space import AnnotateEntity
    with pytest.raises(tune.InstantiationError, match="Too large factor for unrolling"):
        AnnotateEntity(("unroll", "none", "none")).apply(s, C, axes, axis_lens=[2, 4, 8], max_unroll=1)
    with pytest.raises(tune.InstantiationError, match="Wrong size of lanes"):
        AnnotateEntity(("none", "none", "vec")).apply(s, C, axes, axis_lens=[2, 4, 8], vec_size=[16])


def test_illegal_config_is_instantiation_error():
    import kernels

    def bad(cfg, n):
        A = te.placeholder((n,), name="A")
        C = te.compute((n,), lambda i: A[i] + 1.0, name="C")
        import workbench as wb
        s = wb.create_schedule(C)
        cfg.define_knob("vec_reduce", [0, 1])
        if cfg["vec_reduce"].val:
            s[C].vectorize(A.op.axis[0] if hasattr(A.op, "axis") else "nope")   # illegal
        return s, [A, C]
    task = tune.Task(bad, args=(8,))
    with pytest.raises(tune.InstantiationError):
        task.instantiate(1)
    task.instantiate(0)
    assert "kernels.matmul.cpu_template" in tune.Task(kernels.matmul.cpu_template, args=(8, 8, 8)).workload_key
