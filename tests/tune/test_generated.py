"""The generated space's rules (Task.from_compute): tile order and layout rewrite (packing) of
inputs, checked against numpy on every knob combination of the new rules, and on operators
outside the catalog."""
import itertools

import numpy as np
import pytest

import workbench as wb
from workbench import te, tune
from workbench.tune import layout_rewrite


def _matmul(M, N, K):
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return A, B, C


def _generated(output):
    """The generated space for a 512-bit vector target (16 float lanes), whatever this host has:
    the configs the tests pick by value must exist."""
    return tune.Task.from_compute([output], vector_bits=512, vector_registers=32)


def _values(task, **over):
    """The first config's knob values with some replaced."""
    return {**task.space.get(0).values(), **over}


def test_matmul_space_has_order_and_pack_knobs():
    task = tune.Task.from_compute([_matmul(8, 32, 12)[2]])
    knobs = task.space.knobs
    assert knobs["tile_order"].entities[0].val == "i,j"
    assert [e.val for e in knobs["tile_order"].entities] == ["i,j", "j,i"]
    assert [e.val for e in knobs["pack_B"].entities] == [0, 1]
    assert "pack_A" not in knobs        # A[i, k]: a reduction step already reads the next float


@pytest.mark.parametrize("order,pack_b", list(itertools.product(["i,j", "j,i"], [0, 1])))
def test_order_and_packing_compute_matmul(order, pack_b):
    A, B, C = _matmul(12, 40, 6)
    task = _generated(C)
    cfg = task.space.from_values(_values(task, tile_i=[-1, 2, 3], tile_j=[-1, 2, 4], tile_k=[-1, 3],
                                         tile_order=order, pack_B=pack_b))
    rng = np.random.default_rng(0)
    a = rng.random((12, 6), dtype=np.float32)
    b = rng.random((6, 40), dtype=np.float32)
    out = np.zeros((12, 40), np.float32)
    task.build(cfg)(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5)


def test_packed_layout_makes_the_reduction_loads_contiguous():
    """With pack_B the block reads B_packed[j // T, k, j % T]: consecutive k are T floats apart
    (the tile), not a whole row of B; the outer tile order "j,i" walks row blocks innermost."""
    A, B, C = _matmul(64, 256, 32)
    task = _generated(C)
    cfg = task.space.from_values(_values(task, tile_i=[-1, 1, 4], tile_j=[-1, 4, 16], tile_k=[-1, 1],
                                         tile_order="j,i", pack_B=1))
    text = str(task.lower(cfg))
    assert 'B_packed = allocate([4, 32, 64]' in text
    assert "for j.outer.i.outer.fused" in text
    s, tensors = task.instantiate(cfg)
    assert [t.name for t in tensors] == ["A", "B", "C"]      # the kernel's parameters do not change


def test_packable_inputs_need_bare_distinct_loop_variables():
    X = te.placeholder((8, 8), name="X")
    W = te.placeholder((8, 8), name="W")
    k = te.reduce_axis((0, 4), name="k")
    # X read at an offset, W on its diagonal: neither layout can follow a tiling by renaming dims
    Y = te.compute((4, 8), lambda i, j: te.sum(X[i + k, j] * W[k, k], axis=k), name="Y")
    assert layout_rewrite.packable_inputs(Y.op) == []
    k2 = te.reduce_axis((0, 8), name="k2")
    Z = te.compute((8, 8), lambda i, j: te.sum(X[k2, j] * X[k2, j] + W[i, i], axis=k2), name="Z")
    assert [t.name for t in layout_rewrite.packable_inputs(Z.op)] == ["X"]
    A, B, C = _matmul(4, 4, 4)
    assert layout_rewrite.packable_inputs(C.op) == [B]


def test_rewrite_refuses_a_tile_that_does_not_divide():
    A, B, C = _matmul(6, 10, 4)
    j = C.op.axis[1]
    with pytest.raises(ValueError, match="does not divide"):
        layout_rewrite.rewrite(C, B, {j.var: 4})


def _batch_matmul(b, M, N, K):
    """Y[n, i, j] = sum_k X[n, i, k] * W[n, k, j], written by hand (not the catalog's template)."""
    X = te.placeholder((b, M, K), name="X")
    W = te.placeholder((b, K, N), name="W")
    k = te.reduce_axis((0, K), name="k")
    Y = te.compute((b, M, N), lambda n, i, j: te.sum(X[n, i, k] * W[n, k, j], axis=k), name="Y")
    return X, W, Y


def test_random_generated_configs_match_numpy_on_batch_matmul():
    X, W, Y = _batch_matmul(2, 6, 8, 10)
    task = _generated(Y)
    assert "pack_W" in task.space.knobs and "pack_X" not in task.space.knobs
    assert [e.val for e in task.space.knobs["tile_order"].entities] == ["n,i,j", "n,j,i", "i,j,n"]
    rng = np.random.default_rng(3)
    x = rng.random((2, 6, 10), dtype=np.float32)
    w = rng.random((2, 10, 8), dtype=np.float32)
    want = x @ w
    picks = task.space.sample(rng, 6)
    packed = task.space.from_values(_values(task, pack_W=1, tile_order="n,j,i", tile_n=[-1, 1, 2],
                                            tile_j=[-1, 2, 2]))
    assert "W_packed = allocate([1, 2, 10, 2, 4]" in str(task.lower(packed))
    for i in picks + [packed.index]:
        out = np.zeros((2, 6, 8), np.float32)
        task.build(i)(x, w, out)
        np.testing.assert_allclose(out, want, rtol=1e-5, err_msg=str(task.space.get(i)))


@pytest.mark.filterwarnings("ignore:vectorize.*not honoured")    # padding's select, in tiny tiles
def test_generated_conv_inlines_padding_and_computes_conv2d():
    data = te.placeholder((1, 4, 6, 6), name="data")
    kernel = te.placeholder((8, 4, 3, 3), name="kernel")
    pad = te.compute((1, 4, 8, 8), lambda n, c, y, x: te.if_then_else(
        te.all(y >= 1, y < 7, x >= 1, x < 7), data[n, c, y - 1, x - 1], te.const(0.0)), name="pad")
    rc = te.reduce_axis((0, 4), name="rc")
    ry = te.reduce_axis((0, 3), name="ry")
    rx = te.reduce_axis((0, 3), name="rx")
    out = te.compute((1, 8, 6, 6), lambda n, f, y, x: te.sum(
        pad[n, rc, y + ry, x + rx] * kernel[f, rc, ry, rx], axis=[rc, ry, rx]), name="out")
    task = _generated(out)
    # kernel[f, rc, ry, rx] is walked contiguously by its innermost reduction: nothing to pack
    assert not any(n.startswith("pack_") for n in task.space.knobs)
    assert len(task.space.knobs["tile_order"]) == 4
    cfg = task.space.from_values(_values(task, tile_f=[-1, 2, 2], tile_x=[-1, 1, 3], tile_order="n,y,x,f"))
    assert "pad = allocate" not in str(task.lower(cfg))        # padding inlined into the reduction
    rng = np.random.default_rng(0)
    d = rng.random((1, 4, 6, 6), dtype=np.float32)
    w = rng.random((8, 4, 3, 3), dtype=np.float32)
    import torch
    want = torch.nn.functional.conv2d(torch.from_numpy(d), torch.from_numpy(w), padding=1).numpy()
    got = np.zeros((1, 8, 6, 6), np.float32)
    task.build(cfg)(d, w, got)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_vectorized_tile_is_whole_vectors_when_the_axis_allows():
    wide = _generated(_matmul(8, 64, 4)[2]).space.knobs["tile_j"]
    assert {e.size[2] for e in wide.entities} == {16, 32, 64}
    odd = _generated(_matmul(8, 24, 4)[2]).space.knobs["tile_j"]     # 24 % 16: any inner tile
    assert {e.size[2] for e in odd.entities} == {1, 2, 3, 4, 6, 8, 12, 24}


def test_register_block_fits_the_vector_registers():
    """Inner tiles of at most 28 zmm accumulators (32 registers, 4 left for operands): 8 x 32 floats
    (16 vectors) and 4 x 64 are in the space, 8 x 64 (32 vectors, spills) is not."""
    task = _generated(_matmul(64, 64, 64)[2])
    space = task.space
    blocks = set()
    for i in space.enumerate() if len(space) < 50000 else space.sample(np.random.default_rng(0), 2000):
        c = space.get(i)
        blocks.add((c["tile_i"].size[2], c["tile_j"].size[2]))
    assert {(8, 32), (4, 64), (16, 16)} <= blocks and (8, 64) not in blocks
    assert all(i * -(-j // 16) <= 28 for i, j in blocks)
    l1 = task.template.max_tile_bytes
    for i in space.sample(np.random.default_rng(1), 200):
        c = space.get(i)
        assert 4 * np.prod([c[n].size[1] * c[n].size[2] for n in ("tile_i", "tile_j")]) <= l1
    avx2 = tune.Task.from_compute([_matmul(64, 64, 64)[2]], vector_bits=256, vector_registers=16)
    assert avx2.template.max_accumulators == 12 and avx2.name != task.name
    assert wb.Target.parse("llvm -mcpu=x86-64-v3").vector_registers == 16
    assert wb.Target.parse("llvm -mcpu=skylake-avx512").vector_registers == 32


def test_from_schedule_gets_no_layout_rewrite():
    """The user's trace names the stages it touched; the generated rules leave its tensors alone."""
    A, B, C = _matmul(8, 16, 4)
    s = wb.create_schedule(C)
    s[C].split(C.op.axis[0], factor=4)
    task = tune.Task.from_schedule(s, [A, B, C])
    assert not any(n.startswith("pack_") for n in task.space.knobs)
