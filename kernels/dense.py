"""dense (fully connected): out[b, o] = sum_i data[b, i] * weight[o, i] (+ bias[o]).

Weight is (out_dim, in_dim) as in TVM topi / PyTorch Linear. Stages: "data", "weight", optional
"bias", the reduction "dense" and, with a bias, the elementwise "dense_bias" (a reduction must be
a whole compute body, so the bias is its own stage; schedules usually inline or fuse it)."""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import acc_dtype, out_dtype_of


def compute(data: te.Tensor, weight: te.Tensor, bias: te.Tensor | None = None,
            out_dtype: str | None = None) -> te.Tensor:
    (batch, in_dim), (out_dim, in_dim2) = data.shape, weight.shape
    if in_dim != in_dim2:
        raise ValueError(f"dense: data is {data.shape} but weight is {weight.shape} (out_dim, in_dim)")
    if bias is not None and bias.shape != (out_dim,):
        raise ValueError(f"dense: bias must have shape ({out_dim},), got {bias.shape}")
    out_dtype = out_dtype_of(data.dtype, out_dtype)
    k = te.reduce_axis((0, in_dim), name="k")
    mm = te.compute((batch, out_dim), lambda b, o: te.sum(
        data[b, k].astype(out_dtype) * weight[o, k].astype(out_dtype), axis=k), name="dense")
    if bias is None:
        return mm
    return te.compute((batch, out_dim), lambda b, o: mm[b, o] + bias[o].astype(out_dtype),
                      name="dense_bias")


def make(batch: int, in_dim: int, out_dim: int, bias: bool = True, dtype: str = "float32",
         out_dtype: str | None = None):
    """Returns ([data, weight(, bias)], out)."""
    data = te.placeholder((batch, in_dim), dtype, name="data")
    weight = te.placeholder((out_dim, in_dim), dtype, name="weight")
    inputs = [data, weight]
    b = None
    if bias:
        b = te.placeholder((out_dim,), out_dtype_of(dtype, out_dtype), name="bias")
        inputs.append(b)
    return inputs, compute(data, weight, b, out_dtype)


def reference(data: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
              out_dtype: str | None = None) -> np.ndarray:
    acc = acc_dtype(data.dtype, weight.dtype)
    out = data.astype(acc) @ weight.astype(acc).T
    if bias is not None:
        out = out + bias.astype(acc)
    return out.astype(out_dtype or data.dtype)


def flops(batch: int, in_dim: int, out_dim: int, bias: bool = True, **_) -> int:
    return 2 * batch * in_dim * out_dim + (batch * out_dim if bias else 0)


def cpu_template(cfg, batch: int, in_dim: int, out_dim: int, bias: bool = True,
                 dtype: str = "float32"):
    """CPU tuning template: `_tuning.tile_reduction` on the matrix product (tile_b, tile_o:
    [-1, middle, inner]; tile_k: [-1, inner]; unroll_inner, parallel, auto_unroll_max_step);
    the bias add (if any) runs after it, vectorized along out_dim and parallel over the batch.
    -> (s, [data, weight, (bias,) out])."""
    import workbench as wb

    from ._tuning import tile_reduction
    inputs, out = make(batch, in_dim, out_dim, bias, dtype)
    cfg.add_flop(flops(batch, in_dim, out_dim, bias))
    s = wb.create_schedule(out)
    mm = next(t for t in out.op.input_tensors if t.op.name == "dense") if bias else out
    tile_reduction(cfg, s, mm)
    if bias:
        b, o = out.op.axis
        s[out].vectorize(o)
        s[out].parallel(b)
    return s, [*inputs, out]


# ------------------------------------------------------------------------------------------------
# VTA (accel.vta): TVM's dense_packed template, int8 in, int32 accumulate, >> shift + clip out
def vta_compute(env, batch, in_dim, out_dim, shift=8, clip=(0, 127)):
    """Packed dense: data (b/B, in/BI, B, BI), weight (out/BO, in/BI, BO, BI), output
    (b/B, out/BO, B, BO).  Returns (data, weight, {stage name: tensor}, res)."""
    from . import _vta
    B, BI, BO = env.BATCH, env.BLOCK_IN, env.BLOCK_OUT
    _vta.check_blocks("dense", env, batch=(batch, B), in_dim=(in_dim, BI), out_dim=(out_dim, BO))
    data = te.placeholder((batch // B, in_dim // BI, B, BI), env.inp_dtype, name="data")
    weight = te.placeholder((out_dim // BO, in_dim // BI, BO, BI), env.wgt_dtype, name="weight")
    data_buf = te.compute(data.shape, lambda *i: data(*i), name="data_buf")
    weight_buf = te.compute(weight.shape, lambda *i: weight(*i), name="weight_buf")
    ko = te.reduce_axis((0, in_dim // BI), name="ko")
    ki = te.reduce_axis((0, BI), name="ki")
    acc = te.compute((batch // B, out_dim // BO, B, BO), lambda bo, co, bi, ci: te.sum(
        data_buf[bo, ko, bi, ki].astype(env.acc_dtype)
        * weight_buf[co, ko, ci, ki].astype(env.acc_dtype), axis=[ko, ki]), name="res_gem")
    ewise, res = _vta.epilogue(env, acc, shift, clip)
    return data, weight, {"data_buf": data_buf, "weight_buf": weight_buf, "res_gem": acc,
                          "ewise": ewise}, res


def vta_schedule(env, batch, in_dim, out_dim, *, tile_b=1, tile_ci=1, tile_co=1, oc_nthread=1,
                 shift=8, clip=(0, 127)):
    """The dense_packed schedule with explicit knobs (inner tile sizes in VTA blocks); returns
    (schedule, [data, weight, res])."""
    import workbench as wb
    from . import _vta
    data, weight, st, res = vta_compute(env, batch, in_dim, out_dim, shift, clip)
    gem, ewise = st["res_gem"], st["ewise"]
    s = wb.create_schedule(res)
    x_b, x_c, _, _ = s[res].op.axis
    x_bo, x_bi = s[res].split(x_b, factor=tile_b)
    x_co, x_ci = s[res].split(x_c, factor=tile_co)
    s[res].reorder(x_bo, x_co, x_bi, x_ci)
    store_pt = x_co
    s[gem].compute_at(s[res], store_pt)
    _vta.schedule_epilogue(s, env, ewise, res, store_pt)
    _vta.bind_cthread(s, res, x_co, oc_nthread, x_bo)
    s[st["data_buf"]].set_scope(env.inp_scope)
    s[st["weight_buf"]].set_scope(env.wgt_scope)
    s[gem].set_scope(env.acc_scope)
    b_inn, oc_inn, b_tns, oc_tns = s[gem].op.axis
    ko, ki = s[gem].op.reduce_axis
    k_o, k_i = s[gem].split(ko, factor=tile_ci)
    s[gem].reorder(k_o, b_inn, oc_inn, k_i, b_tns, oc_tns, ki)
    for t in (st["data_buf"], st["weight_buf"]):
        s[t].compute_at(s[gem], k_o)
        s[t].pragma(s[t].op.axis[0], env.dma_copy)
    if hasattr(s[gem], "tensorize"):
        s[gem].tensorize(b_tns, env.gemm)
    s[res].pragma(x_bi, env.dma_copy)
    return s, [data, weight, res]


def vta_template(cfg, batch, in_dim, out_dim, env=None, shift=8, clip=(0, 127)):
    """AutoTVM template (TVM's dense_packed knobs): tile_b, tile_ci, tile_co (two-way splits in
    VTA blocks) and oc_nthread (1 or 2 virtual threads).  ``env`` is the accel.vta.Env."""
    if env is None:
        raise ValueError("dense vta_template: pass env (an accel.vta.Env)")
    cfg.define_split("tile_b", batch // env.BATCH, num_outputs=2)
    cfg.define_split("tile_ci", in_dim // env.BLOCK_IN, num_outputs=2)
    cfg.define_split("tile_co", out_dim // env.BLOCK_OUT, num_outputs=2)
    cfg.define_knob("oc_nthread", [1, 2])
    return vta_schedule(env, batch, in_dim, out_dim, tile_b=cfg["tile_b"].size[-1],
                        tile_ci=cfg["tile_ci"].size[-1], tile_co=cfg["tile_co"].size[-1],
                        oc_nthread=cfg["oc_nthread"].val, shift=shift, clip=clip)


def vta_reference(data: np.ndarray, weight: np.ndarray, shift=8, clip=(0, 127)) -> np.ndarray:
    """int8 data (batch, in), weight (out, in) -> int32 accumulate (wrapping) -> >> shift,
    clip -> int8."""
    from ._vta import requantize
    acc = data.astype(np.int64) @ weight.astype(np.int64).T
    return requantize(acc.astype(np.int32), shift, clip)
