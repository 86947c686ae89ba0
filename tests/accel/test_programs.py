import numpy as np
import pytest

from accel import vta
from accel.programs import conv2d, gemm, layout
from accel.programs.workloads import OFFLOADED, RESNET18, Conv2DWorkload
from accel.vta import isa

from vta_arrays import int8


@pytest.mark.parametrize("shape, nthreads, tiles", [
    ((16, 16, 16), 1, None),
    ((48, 64, 80), 1, gemm.GemmTiles(tm=8, tn=5, tk=2)),
    ((48, 64, 80), 2, gemm.GemmTiles(tm=8, tn=5, tk=2)),
    ((96, 128, 32), 2, None),
    ((64, 32, 32), 2, gemm.GemmTiles(tm=1, tn=2, tk=1)),
])
def test_gemm_bit_exact(env, rng, shape, nthreads, tiles):
    M, K, N = shape
    a, w = int8(rng, (M, K)), int8(rng, (N, K))
    c, res = gemm.run(env, a, w, nthreads=nthreads, tiles=tiles)
    np.testing.assert_array_equal(c, gemm.reference(a, w))
    assert res.stats.counters["gemm_counter"] * env.MACS_PER_CYCLE == M * K * N
    assert not res.stats.tokens_left


@pytest.mark.parametrize("cfg", [dict(LOG_BATCH=1, LOG_ACC_BUFF_SIZE=17),
                                 dict(LOG_BLOCK=5, LOG_INP_BUFF_SIZE=16, LOG_WGT_BUFF_SIZE=20,
                                      LOG_ACC_BUFF_SIZE=18),
                                 dict(LOG_BLOCK=3, LOG_INP_BUFF_SIZE=14, LOG_WGT_BUFF_SIZE=16,
                                      LOG_ACC_BUFF_SIZE=16)])
def test_gemm_other_shapes_of_hardware(rng, cfg):
    env = vta.Env(**cfg)
    M, K, N = 4 * env.BATCH, 4 * env.BLOCK_IN, 3 * env.BLOCK_OUT
    a, w = int8(rng, (M, K)), int8(rng, (N, K))
    for nt in (1, 2):
        c, _ = gemm.run(env, a, w, nthreads=nt)
        np.testing.assert_array_equal(c, gemm.reference(a, w))


def test_gemm_rejects_bad_shapes(env):
    with pytest.raises(ValueError, match="K=20"):
        gemm.build(env, 16, 20, 16)
    with pytest.raises(ValueError, match="tiles"):
        gemm.build(env, 32, 32, 32, tiles=gemm.GemmTiles(3, 1, 1))


SMALL_CONVS = [
    Conv2DWorkload("3x3s1", 8, 8, 32, 32, 3, 1, 1),
    Conv2DWorkload("3x3s2", 9, 11, 16, 48, 3, 1, 2),
    Conv2DWorkload("1x1s2", 12, 12, 32, 16, 1, 0, 2),
    Conv2DWorkload("5x5p2", 7, 7, 16, 16, 5, 2, 1),
]


@pytest.mark.parametrize("wl", SMALL_CONVS, ids=lambda w: w.name)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_conv2d_bit_exact(env, rng, wl, nthreads):
    x = int8(rng, (wl.batch, wl.in_filter, wl.height, wl.width))
    k = int8(rng, (wl.out_filter, wl.in_filter, wl.kernel, wl.kernel))
    out, res = conv2d.run(env, wl, x, k, nthreads=nthreads, shift=9, clip=(-20, 90))
    np.testing.assert_array_equal(out, conv2d.reference(wl, x, k, shift=9, clip=(-20, 90)))
    assert res.stats.counters["alu_counter"] == 3 * wl.out_filter // 16 * wl.out_height \
        * wl.out_width


def test_conv2d_explicit_tiles_with_width_split_and_batch(rng):
    env = vta.Env(LOG_BATCH=1)
    wl = Conv2DWorkload("batched", 6, 12, 32, 32, 3, 1, 1, batch=2)
    x = int8(rng, (2, 32, 6, 12))
    k = int8(rng, (32, 32, 3, 3))
    tiles = conv2d.ConvTiles(tco=1, th=3, tw=4, tci=1)   # several column tiles, partial pads
    for nt in (1, 2):
        out, _ = conv2d.run(env, wl, x, k, nthreads=nt, tiles=tiles, shift=6)
        np.testing.assert_array_equal(out, conv2d.reference(wl, x, k, shift=6))


def test_resnet_layer_bit_exact_and_faster_double_buffered(env, rng):
    wl = RESNET18["C11"]
    x = int8(rng, (1, wl.in_filter, wl.height, wl.width))
    k = int8(rng, (wl.out_filter, wl.in_filter, 3, 3))
    ref = conv2d.reference(wl, x, k)
    cycles = {}
    for nt in (1, 2):
        out, res = conv2d.run(env, wl, x, k, nthreads=nt)
        np.testing.assert_array_equal(out, ref)
        cycles[nt] = res.stats.cycles
    assert cycles[2] < cycles[1]


def test_resnet_layers_tile_and_schedule(env):
    assert len(OFFLOADED) == 10 and RESNET18["C2"].macs == 56 * 56 * 64 * 64 * 9
    sim = vta.Simulator(env, functional=False, events=False)
    for name in ("C2", "C4", "C9"):
        prog, _ = conv2d.build(env, RESNET18[name], nthreads=2)
        res = sim.run(prog)
        assert res.stats.counters["gemm_counter"] * 256 == RESNET18[name].macs
        assert 0 < res.stats.utilization < 1


def test_programs_encode_and_decode_exactly(env, rng):
    wl = SMALL_CONVS[1]
    prog, _ = conv2d.build(env, wl, nthreads=2)
    assert vta.isa.decode_program(prog.binary(), env) == list(prog.insns)
    # the uop DRAM image decodes to what the kernels recorded
    uops = prog.uop_list()
    assert uops and all(isinstance(u, isa.Uop) for u in uops)
    assert "LOAD.UOP" in prog.listing() and "FINISH" in prog.listing()


def test_layout_round_trips(env, rng):
    x = int8(rng, (2, 32, 5, 7))
    np.testing.assert_array_equal(layout.unpack_nchw(layout.pack_nchw(x, vta.Env(LOG_BATCH=1))), x)
    a = int8(rng, (32, 48))
    np.testing.assert_array_equal(layout.unpack_matrix(layout.pack_matrix(a, 16, 16)), a)
    with pytest.raises(ValueError, match="channels C"):
        layout.pack_nchw(int8(rng, (1, 20, 2, 2)), env)
