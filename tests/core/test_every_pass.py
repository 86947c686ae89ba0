"""Every pass's output, run by the loop-IR interpreter, computes what numpy does: a wrong answer
names the pass that introduced it."""
import numpy as np
import pytest

import workbench as wb
from kernels import registry
from workbench.ir import interp


def _schedules(op_name, out):
    """A few schedules per operator: default, split with a tail + vectorize, tile + parallel + unroll."""
    def default(s):
        pass

    def split_vec(s):
        ax = s[out].op.axis
        io, ii = s[out].split(ax[-1], factor=3)        # 3 rarely divides: a tail loop
        if len(ax) > 1:
            s[out].parallel(ax[0])

    def tile_unroll(s):
        ax = s[out].op.axis
        if len(ax) >= 2:
            xo, yo, xi, yi = s[out].tile(ax[-2], ax[-1], 2, 4)
            s[out].vectorize(yi)
            s[out].unroll(xi)
        else:
            o, i = s[out].split(ax[0], factor=4)
            s[out].vectorize(i)
    return {"default": default, "split_vec": split_vec, "tile_unroll": tile_unroll}


# tiny shapes: the interpreter runs Python per statement, once per pass
CASES = [("matmul", dict(M=5, N=8, K=3)), ("relu", None), ("softmax", None),
         ("conv2d", dict(batch=1, in_channel=2, height=5, width=4, out_channel=2, kernel_size=3, padding=1)),
         ("pool2d", None), ("bias_add", None)]


def _params(name, given):
    if given is not None:
        return given
    return registry.get(name).small_params[0]


@pytest.mark.parametrize("op_name,params", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("sched", ["default", "split_vec", "tile_unroll"])
def test_every_pass_matches_numpy(op_name, params, sched):
    op = registry.get(op_name)
    params = _params(op_name, params)
    inputs, out = op.make(**params)
    assert op.flops(**params) < 20000, "keep interpreter cases tiny"
    s = wb.create_schedule(out)
    _schedules(op_name, out)[sched](s)
    func = wb.lower(s, inputs + [out], verify=True)
    arrays = op.random_inputs(seed=1, **params)
    expected = op.reference(*arrays, **params)
    tol = 1e-4 if out.dtype.startswith("float") else 0
    for pass_name, body in func.history:
        got = np.zeros(out.shape, out.dtype)
        interp.run(func, [a.copy() for a in arrays] + [got], body)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol,
                                   err_msg=f"{op_name}/{sched}: wrong after pass {pass_name!r}")


def test_interpreter_catches_out_of_bounds_and_failed_asserts():
    from workbench import te
    X = te.placeholder((6,), name="X")
    I = te.placeholder((3,), name="I", dtype="int32")
    G = te.compute((3,), lambda i: X[I[i]], name="G")
    s = wb.create_schedule(G)
    func = wb.lower(s, [X, I, G])
    x, g = np.arange(6, dtype="float32"), np.zeros(3, "float32")
    interp.run(func, [x, np.array([5, 0, 2], "int32"), g])
    np.testing.assert_array_equal(g, [5, 0, 2])
    with pytest.raises(IndexError, match="index out of bounds"):             # the lowered check
        interp.run(func, [x, np.array([5, 6, 2], "int32"), g])
    with pytest.raises(IndexError, match="interpreter: access X"):           # the interpreter's own
        interp.run(func, [x, np.array([5, 6, 2], "int32"), g], func.body_after("loop_partition"))
