"""CPU compute + schedule for one fused group (TVM's "op strategy" + x86 schedules).

`lower_group(g, names)` returns a `GroupProgram`: the te schedule, its argument tensors, and, per
argument, which graph value feeds it and the compile-time transform (weight packing) applied to a
constant on the way. Every group is compiled by our compiler (wb.build): the anchor operator gets a
fast schedule (blocked NCHW[x]c convolution with the epilogue fused into its output stage; packed
dense; row-wise depthwise), elementwise/injective stages are inlined into the output stage, which
is fused, vectorized and parallelized.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np

import workbench as wb
from kernels import conv2d_nchwc, conv2d_winograd, transform
from kernels._common import dilate
from workbench import te

from .ir import Graph
from .ops import Pattern
from .ops import get as get_op
from .passes import conv_block


@dataclass
class GroupProgram:
    schedule: object
    args: list                        # te placeholders, then the output tensor
    sources: list                     # graph value name per placeholder
    transforms: dict = field(default_factory=dict)   # placeholder index -> fn(np) -> np (consts)
    anchor: str = ""                  # the op that decided the schedule
    config: dict = field(default_factory=dict)       # schedule knobs used (for printing/tasks)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def group_inputs(g: Graph, names) -> list:
    members = set(names)
    ext = []
    for nm in names:
        for i in g[nm].inputs:
            if i not in members and i not in ext:
                ext.append(i)
    return ext


def anchor_of(g: Graph, names) -> str | None:
    for nm in names:
        if get_op(g[nm].op).pattern >= Pattern.COMM_REDUCE:
            return nm
    return None


def lower_group(g: Graph, names, *, tuned: dict | None = None) -> GroupProgram:
    """te + schedule for the fused group `names` (topologically ordered, last is the output)."""
    ext = group_inputs(g, names)
    holders = {i: te.placeholder(g[i].shape, g[i].dtype, name=f"in_{_safe(i)}") for i in ext}
    transforms: dict = {}
    tensors = dict(holders)
    anchor = anchor_of(g, names)
    special: dict = {}                 # te tensors the schedule needs to find
    for nm in names:
        node = g[nm]
        ins = [tensors[i] for i in node.inputs]
        if nm == anchor and node.op in ("conv2d", "conv2d_transpose", "dense") \
                and node.inputs[1] in g.params:
            tensors[nm] = _blocked_anchor(g, node, ins, holders, ext, transforms, special,
                                          tuned or {})
        else:
            tensors[nm] = get_op(node.op).compute(ins, node)
            if nm == anchor:
                special["anchor"] = tensors[nm]
    out = tensors[names[-1]]
    args = [holders[i] for i in ext] + [out]
    s = wb.create_schedule(out)
    prog = GroupProgram(s, args, ext, {ext.index(k): v for k, v in transforms.items()},
                        g[anchor].op if anchor else "injective")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # a vectorize that stays a loop is fine here
        if "blocked" in special:
            _schedule_blocked(s, special, out, prog.config, tuned or {})
        elif anchor and g[anchor].op == "conv2d_winograd_nchwc":
            _schedule_winograd(s, out, prog.config)
        elif anchor and g[anchor].op in ("conv2d_nchwc", "depthwise_conv2d_nchwc"):
            special["blocked"] = special["anchor"]
            _schedule_blocked(s, special, out, prog.config, tuned or {})
        elif anchor and g[anchor].op in ("max_pool2d_nchwc", "avg_pool2d_nchwc"):
            _schedule_pool_nchwc(s, out)
        elif anchor is None and [g[n].op for n in names] == ["layout_transform"]:
            _schedule_layout_transform(s, out)
        elif anchor and g[anchor].op == "depthwise_conv2d":
            _schedule_depthwise(s, special["anchor"], out)
        else:
            _schedule_generic(s, out)
    return prog


# -- computes -------------------------------------------------------------------------------------
def _blocked_anchor(g, node, ins, holders, ext, transforms, special, tuned):
    """conv2d / conv2d_transpose / dense computed in a blocked layout from a kernel packed at
    compile time, followed by the stage that returns to the graph's layout (inlined later)."""
    w = g.params[node.inputs[1]]
    wname = node.inputs[1]
    data = ins[0]
    if node.op == "dense":
        O, I = w.shape
        ob = conv_block(O)
        packed = te.placeholder((O // ob, I, ob), "float32", name=f"in_{_safe(wname)}")
        transforms[wname] = lambda a, ob=ob: np.ascontiguousarray(
            a.reshape(a.shape[0] // ob, ob, -1).transpose(0, 2, 1))
        k = te.reduce_axis((0, I), name="k")
        blocked = te.compute((data.shape[0], O // ob, ob), lambda b, oo, oi: te.sum(
            data[b, k] * packed[oo, k, oi], axis=k), name="dense_blocked")
        holders[wname] = packed
        special.update(blocked=blocked, kind="dense")
        return te.compute((data.shape[0], O), lambda b, o: blocked[b, o // ob, o % ob], name="dense")
    if node.op == "conv2d":
        F = w.shape[0]
        ob = conv_block(F)
        transforms[wname] = lambda a, ob=ob: conv2d_nchwc.pack_kernel(a, ob)
        kshape = (F // ob, *w.shape[1:], ob)
        stride, padding, dilation = node.attr("strides"), node.attr("padding"), node.attr("dilation")
    elif conv2d_nchwc.deconv_phase_geometry(data.shape[2:], w.shape[2:], node.attr("strides"),
                                            node.attr("padding"), node.attr("output_padding")):
        # conv2d_transpose by output phases: each of the stride x stride output phases is a small
        # stride-1 convolution of the undilated input (no multiplications by inserted zeros)
        C, F, KH, KW = w.shape
        ob = conv_block(F)
        stride, padding = node.attr("strides"), node.attr("padding")
        transforms[wname] = lambda a, ob=ob: conv2d_nchwc.pack_deconv_kernel(a, stride, padding, ob)
        sh, sw = stride
        kshape = (F // ob, sh, sw, C, -(-KH // sh), -(-KW // sw), ob)
        packed = te.placeholder(kshape, "float32", name=f"in_{_safe(wname)}")
        holders[wname] = packed
        phases, out = conv2d_nchwc.deconv_phase_compute(data, packed, stride, padding,
                                                        node.attr("output_padding"), (KH, KW))
        special.update(blocked=phases, kind="deconv")
        return out
    else:   # conv2d_transpose = stride-1 conv over the dilated input with the flipped kernel
        C, F, KH, KW = w.shape
        ob = conv_block(F)
        transforms[wname] = lambda a, ob=ob: conv2d_nchwc.pack_kernel(
            np.ascontiguousarray(a.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]), ob)
        kshape = (F // ob, C, KH, KW, ob)
        sh, sw = node.attr("strides")
        ph, pw = node.attr("padding")
        oph, opw = node.attr("output_padding")
        data = dilate(data, (1, 1, sh, sw), name="dilate")
        stride, dilation = 1, 1
        padding = (KH - 1 - ph, KW - 1 - pw, KH - 1 - ph + oph, KW - 1 - pw + opw)
    packed = te.placeholder(kshape, "float32", name=f"in_{_safe(wname)}")
    holders[wname] = packed
    blocked = conv2d_nchwc.compute(data, packed, stride, padding, dilation, in_block=0)
    special.update(blocked=blocked, kind="conv")
    return transform.nchwc_to_nchw(blocked, name=node.op)


# -- schedules ------------------------------------------------------------------------------------
def _inline_injective(s, keep=()):
    """Inline every non-output, non-reduction compute stage (elementwise epilogues, unblocking,
    padding of a pool); `keep` stages stay where they are."""
    keep_ops = {id(t.op) for t in keep}
    for st in s.stages:
        if st.is_placeholder or st.is_output or st.op.reduce_axis or id(st.op) in keep_ops:
            continue
        st.compute_inline()


def _stage_named(s, prefix):
    return [st for st in s.stages if not st.is_placeholder and st.name.startswith(prefix)]


def _schedule_blocked(s, special, out, config, tuned):
    """TVM x86 conv2d_NCHWc (conv2d_nchwc.schedule_register_block: a register block of output
    columns x rows x output-channel vectors, default or tuned, the reduction outside it, output
    rows in parallel); the epilogue (bias, ReLU, residual add, unblocking) runs in the output
    stage per register block. Also blocked dense and the phase-decomposed conv2d_transpose."""
    blocked = special["blocked"]
    for st in _stage_named(s, "dilate"):
        st.compute_inline()
    pad_ops = _stage_named(s, "pad")
    _inline_injective(s, keep=[st.op.output(0) for st in pad_ops])
    conv2d_nchwc.schedule_pad(s)
    if special.get("kind") == "deconv":
        _schedule_deconv(s, blocked, out, config)
        return
    dense = special.get("kind") == "dense"
    if out.op is blocked.op:
        acc = s.cache_write(blocked, "local")
        outer = blocked
    else:
        acc, outer = blocked, out
    oax = list(s[outer].op.axis)
    if dense:                                # (batch, O) or (batch, O/ob, ob)
        if len(oax) == 3:
            b, oo, oi = oax
        else:
            ob = blocked.shape[2]
            b, o = oax
            oo, oi = s[outer].split(o, factor=ob)
        s[outer].parallel(s[outer].fuse(b, oo))
        s[acc].compute_at(s[outer], s[outer].leaf_iter_vars[0])
        ab, aoo, aoi = s[acc].op.axis
        (k,) = s[acc].op.reduce_axis
        s[acc].reorder(k, aoi)
        s[acc].vectorize(aoi)
        s[outer].vectorize(oi)
        config.update(kind="dense_blocked", ob=blocked.shape[2])
        return
    FO, OH, OW, ob = blocked.shape[1:]
    blocks = conv2d_nchwc.default_blocks(OH, OW, ob, FO)
    if ob > 1:      # a tuned register block (conv2d_nchwc.cpu_template's knobs, same workload)
        blocks.update({k: v for k, v in tuned.items() if k in blocks})
    conv2d_nchwc.schedule_register_block(s, acc, outer, **blocks)
    config.update(kind="conv_nchwc", ob=ob, **blocks, **({"tuned": dict(tuned)} if tuned else {}))


def _schedule_winograd(s, out, config):
    """Winograd F(2x2, 3x3): padded input and input transform materialized, the batched GEMM in
    register blocks, the output transform and the fused epilogue in the output stage."""
    (V,) = [st.op.output(0) for st in _stage_named(s, "wino_V")]
    (M,) = [st.op.output(0) for st in _stage_named(s, "wino_M")]
    pads = [st.op.output(0) for st in _stage_named(s, "pad")]
    _inline_injective(s, keep=pads + [V, M])
    conv2d_nchwc.schedule_pad(s)
    conv2d_winograd.schedule(s, V, M, out)
    config.update(kind="conv_winograd", ob=out.shape[-1])


def _schedule_deconv(s, phases, out, config):
    """Phase-decomposed conv2d_transpose: each phase's register block (owb columns x one vector of
    output channels) accumulates in registers; the interleaving + epilogue is the output stage."""
    acc = s.cache_write(phases, "local")
    n, fo, py, px, yy, xx, fi = s[phases].op.axis
    ob, OWs = phases.shape[6], phases.shape[5]
    owb = max(d for d in range(1, (65 if ob == 1 else 15)) if OWs % d == 0)
    xo, xi = s[phases].split(xx, factor=owb)
    s[phases].reorder(n, fo, py, px, yy, xo, xi, fi)
    s[phases].parallel(s[phases].fuse(n, fo, py, px, yy))
    s[acc].compute_at(s[phases], xo)
    *_, xb, fb = s[acc].op.axis
    s[acc].reorder(*s[acc].op.reduce_axis, xb, fb)
    if ob == 1:
        s[acc].vectorize(xb)
    else:
        s[acc].unroll(xb)
        s[acc].vectorize(fb)
        s[phases].vectorize(fi)
    _schedule_root_output(s, out)
    config.update(kind="deconv_phases", ob=ob, ow_block=owb)


def _schedule_root_output(s, out):
    """The output stage fused to one loop, vectorized by 16, parallel over chunks."""
    st = s[out]
    data_axes = list(st.op.axis)
    fused = st.fuse(*data_axes) if len(data_axes) > 1 else data_axes[0]
    total = int(np.prod(st.op.shape))
    if total >= 64:
        xo, xi = st.split(fused, factor=16)
        st.vectorize(xi)
        if total >= 4096:
            st.parallel(xo)


def _schedule_layout_transform(s, out):
    """NCHW <-> NCHW[x]c: rows in parallel; the innermost axis vectorized when it is the one
    contiguous in the output (x of NCHW; the channel lanes of NCHW[x]c)."""
    st = s[out]
    ax = list(st.op.axis)
    st.parallel(st.fuse(*ax[:3]))
    if len(ax) == 4 or ax[-1].extent <= 64:
        st.vectorize(ax[-1])


def _schedule_pool_nchwc(s, out):
    """Blocked pooling: the padding and the window reduction inlined/computed per output row, the
    channel lanes vectorized, rows of all channel blocks in parallel."""
    _inline_injective(s)
    for st in s.stages:
        if st.is_placeholder or st.attach == "inline":
            continue
        n, c, y, x, i = st.op.axis
        if st.op.reduce_axis:
            st.reorder(n, c, y, x, *st.op.reduce_axis, i)
        st.parallel(st.fuse(n, c, y))
        st.vectorize(i)


def _schedule_depthwise(s, dw, out):
    """Depthwise: one output row per task (rows of all channels in parallel), taps outside the
    vectorized row."""
    pad_ops = _stage_named(s, "pad")
    _inline_injective(s, keep=[st.op.output(0) for st in pad_ops])
    conv2d_nchwc.schedule_pad(s)
    if out.op is dw.op:
        acc = s.cache_write(dw, "local")
        outer = dw
    else:
        acc, outer = dw, out
    n, c, y, x = s[outer].op.axis
    s[outer].parallel(s[outer].fuse(n, c))
    s[acc].compute_at(s[outer], y)
    _, _, _, ax = s[acc].op.axis
    ry, rx = s[acc].op.reduce_axis
    OW = dw.shape[3]
    if OW > 64:
        axo, axi = s[acc].split(ax, factor=16)
        s[acc].reorder(axo, ry, rx, axi)
        s[acc].vectorize(axi)
    else:
        s[acc].reorder(ry, rx, ax)
        s[acc].vectorize(ax)
    if OW <= 64:
        s[outer].vectorize(x)


def _schedule_generic(s, out):
    """Inline injective stages; reductions at the root with their outer axes in parallel; the
    output stage fused to one loop, vectorized by 16 and parallel over the chunks."""
    _inline_injective(s)
    for st in s.stages:
        if st.is_placeholder or st.attach == "inline":
            continue
        data_axes = list(st.op.axis)
        if st.op.reduce_axis:
            if len(data_axes) > 1:
                st.parallel(st.fuse(*data_axes[:-1]) if len(data_axes) > 2 else data_axes[0])
            else:
                st.parallel(data_axes[0])
            continue
        _schedule_root_output(s, st.op.output(0))
