"""Schedules the fuzzer once broke, kept as fixed cases."""
import numpy as np

import workbench as wb
from kernels import registry


def _run(op_name, params, script):
    op = registry.get(op_name)
    inputs, out = op.make(**params)
    s = wb.create_schedule(out)
    exec(script, {"s": s})
    f = wb.build(s, inputs + [out])
    arrays = op.random_inputs(seed=0, **params)
    got = np.zeros(out.shape, out.dtype)
    f(*arrays, got)
    np.testing.assert_allclose(got, op.reference(*arrays, **params), rtol=1e-5, atol=1e-5)


def test_llvm_slp_after_loop_vectorizer_verifies():
    # LLVM 22's SLP vectorizer broke dominance on this kernel; the engine retries without SLP
    _run("bias_add", {"shape": (2, 3, 5, 4), "axis": 1}, """
s.cache_write('bias_add', 'local')
s['bias_add'].unroll('i3')
s['bias_add.local'].reorder('i3', 'i0', 'i2', 'i1')
s['bias_add.local'].unroll('i1')
s['bias_add.local'].split('i0', nparts=16)
s['bias_add.local'].reorder('i3', 'i2', 'i0.outer', 'i0.inner', 'i1')
""")


def test_region_of_producer_at_unsplit_consumer_axis():
    # the producer's region start is in the consumer's leaf variables; an unsplit root axis shares
    # its Var with the leaf, which was once substituted twice
    _run("pool2d", {"batch": 1, "channel": 5, "height": 6, "width": 7, "pool_size": 3, "stride": 2,
                    "padding": 1, "pool_type": "avg", "layout": "NHWC"}, """
s['pad'].compute_at('pool_sum', 'i1')
s['pool_sum'].compute_at('pool2d', 'i3')
s['pad'].split('i2', factor=5)
s['pool2d'].split('i1', factor=4)
s['pool_sum'].reorder('i0', 'i2', 'i3', 'rh', 'rw', 'i1')
s['pool_sum'].fuse('i2', 'i3')
""")
