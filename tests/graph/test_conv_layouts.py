"""The blocked convolution layouts the graph runs: kernel packing OIHW -> OIHW[ib]i[ob]o and back,
and the blocked reference against the plain NCHW one (the oracle for everything downstream)."""
import numpy as np
import pytest

import kernels
from kernels import conv2d_nchwc

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("ib,ob", [(0, 16), (8, 16), (16, 4)])
def test_pack_kernel_roundtrip_and_element_positions(ib, ob):
    w = RNG.standard_normal((32, 16, 3, 3)).astype("float32")
    p = conv2d_nchwc.pack_kernel(w, ob, ib)
    assert p.shape == ((32 // ob, 16 // ib, 3, 3, ib, ob) if ib else (32 // ob, 16, 3, 3, ob))
    np.testing.assert_array_equal(conv2d_nchwc.unpack_kernel(p), w)
    o, i, y, x = 21, 11, 2, 1
    got = p[o // ob, i // ib, y, x, i % ib, o % ob] if ib else p[o // ob, i, y, x, o % ob]
    assert got == w[o, i, y, x]


def test_blocked_reference_matches_nchw():
    x = RNG.standard_normal((1, 16, 7, 7)).astype("float32")
    w = RNG.standard_normal((32, 16, 3, 3)).astype("float32")
    want = kernels.conv2d.reference(x, w, stride=2, padding=1)
    xb = x.reshape(1, 2, 8, 7, 7).transpose(0, 1, 3, 4, 2)
    got = conv2d_nchwc.reference(xb, conv2d_nchwc.pack_kernel(w, 16, 8), 2, 1, 1, in_block=8)
    np.testing.assert_allclose(got.transpose(0, 1, 4, 2, 3).reshape(want.shape), want,
                               rtol=1e-5, atol=1e-5)


def test_pack_kernel_rejects_blocks_that_do_not_divide():
    with pytest.raises(ValueError, match="input channels are not a multiple of 16"):
        conv2d_nchwc.pack_kernel(np.zeros((16, 8, 1, 1), "float32"), 16, 16)
    with pytest.raises(ValueError, match="output channels are not a multiple of 16"):
        conv2d_nchwc.pack_kernel(np.zeros((8, 16, 1, 1), "float32"), 16)
