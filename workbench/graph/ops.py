"""The graph's operators: for each, its fusion pattern (TVM's OpPatternKind), shape inference, the
te compute built from the catalog (`kernels`), and the numpy reference (used for constant folding
and as the oracle in tests).

    OPS["conv2d"].infer(node, [input shapes])  -> output shape
    OPS["conv2d"].compute([te tensors], node)  -> te tensor
    OPS["conv2d"].reference([arrays], node)     -> np.ndarray
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Callable

import numpy as np

import kernels
from kernels import conv2d_nchwc, conv2d_winograd, elemwise, global_pool2d, transform
from kernels._common import window_geometry
from workbench import te


class Pattern(IntEnum):
    """TVM's op patterns, in the same order: a higher value fuses less."""
    ELEMWISE = 0            # out[i] = f(in[i])
    BROADCAST = 1           # out[i] = f(in[broadcast(i)])
    INJECTIVE = 2           # each output reads some input element (reshape, concat, transpose)
    COMM_REDUCE = 3         # a reduction (pooling, global pooling)
    OUT_ELEWISE_FUSABLE = 4  # conv2d, dense: elementwise ops can fuse into their epilogue
    OPAQUE = 8              # fuses with nothing (softmax)


@dataclass(frozen=True)
class OpDef:
    name: str
    pattern: Pattern
    infer: Callable          # (node, in_shapes) -> out shape
    compute: Callable        # (te inputs, node) -> te tensor
    reference: Callable      # (arrays, node) -> array
    arity: tuple = (1, 1)    # (min, max) inputs


OPS: dict[str, OpDef] = {}


def register(name, pattern, infer, compute, reference, arity=(1, 1)):
    OPS[name] = OpDef(name, pattern, infer, compute, reference, arity)


def get(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown graph operator {name!r}; known: {', '.join(sorted(OPS))}") from None


def _same(node, shapes):
    return tuple(shapes[0])


# -- convolutions ----------------------------------------------------------------------------------
def _conv_out(node, shapes, channels_out):
    N, _, H, W = shapes[0]
    KH, KW = shapes[1][-2:]
    _, _, _, (OH, OW) = window_geometry((H, W), (KH, KW), node.attr("strides"), node.attr("padding"),
                                        node.attr("dilation"), node.name)
    return (N, channels_out, OH, OW)


def _conv_args(node):
    return dict(stride=node.attr("strides"), padding=node.attr("padding"),
                dilation=node.attr("dilation"))


register("conv2d", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: _conv_out(n, s, s[1][0]),
         lambda t, n: kernels.conv2d.compute(t[0], t[1], **_conv_args(n)),
         lambda a, n: kernels.conv2d.reference(a[0], a[1], **_conv_args(n)), (2, 2))
# depthwise kernel in the catalog's (C, multiplier, KH, KW) layout (the importer reshapes ONNX's)
register("depthwise_conv2d", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: _conv_out(n, s, s[1][0] * s[1][1]),
         lambda t, n: kernels.depthwise_conv2d.compute(t[0], t[1], **_conv_args(n)),
         lambda a, n: kernels.depthwise_conv2d.reference(a[0], a[1], **_conv_args(n)), (2, 2))



def _nchwc_shape(node, shapes):
    N, _, OH, OW = _conv_out(node, [shapes[0][:4], shapes[1][:4]], 0)
    return (N, shapes[1][0], OH, OW, shapes[1][-1])


# data NCHW[ib]c (in_block=ib), kernel packed (O/ob, I/ib, KH, KW, ib, ob); or data NCHW
# (in_block=0), kernel (O/ob, I, KH, KW, ob)
register("conv2d_nchwc", Pattern.OUT_ELEWISE_FUSABLE, _nchwc_shape,
         lambda t, n: conv2d_nchwc.compute(t[0], t[1], in_block=n.attr("in_block"), **_conv_args(n)),
         lambda a, n: conv2d_nchwc.reference(a[0], a[1], in_block=n.attr("in_block"),
                                             **_conv_args(n)), (2, 2))
# 3x3 stride-1 pad-1 conv by Winograd F(2x2, 3x3): data NCHW[ib]c, kernel (4, 4, O/ob, I/ib, ib, ob)
register("conv2d_winograd_nchwc", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: (s[0][0], s[1][2], s[0][2], s[0][3], s[1][5]),
         lambda t, n: conv2d_winograd.compute(t[0], t[1])[2],
         lambda a, n: conv2d_winograd.reference(a[0], a[1]), (2, 2))
register("depthwise_conv2d_nchwc", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: (*_conv_out(n, [s[0][:4], (0, 0, *s[1][1:3])], s[0][1])[:4], s[0][4]),
         lambda t, n: conv2d_nchwc.depthwise_compute(t[0], t[1], **_conv_args(n)),
         lambda a, n: conv2d_nchwc.depthwise_reference(a[0], a[1], **_conv_args(n)), (2, 2))
register("bias_add_nchwc", Pattern.BROADCAST, _same,
         lambda t, n: elemwise.bias_add_nchwc(t[0], t[1]),
         lambda a, n: a[0] + a[1][None, :, None, None, :], (2, 2))


def _deconv_args(node):
    return dict(stride=node.attr("strides"), padding=node.attr("padding"),
                output_padding=node.attr("output_padding"))


register("conv2d_transpose", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: kernels.conv2d_transpose.output_shape(
             s[0][0], s[0][1], s[0][2], s[0][3], s[1][1], s[1][2:], **_deconv_args(n)),
         lambda t, n: kernels.conv2d_transpose.compute(t[0], t[1], **_deconv_args(n)),
         lambda a, n: kernels.conv2d_transpose.reference(a[0], a[1], **_deconv_args(n)), (2, 2))
register("dense", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: (s[0][0], s[1][0]),
         lambda t, n: kernels.dense.compute(t[0], t[1]),
         lambda a, n: kernels.dense.reference(a[0], a[1]), (2, 2))

# -- elementwise and broadcast ---------------------------------------------------------------------
register("relu", Pattern.ELEMWISE, _same, lambda t, n: kernels.relu.compute(t[0]),
         lambda a, n: kernels.relu.reference(a[0]))
register("clip", Pattern.ELEMWISE, _same,
         lambda t, n: elemwise.clip(t[0], n.attr("min"), n.attr("max")),
         lambda a, n: elemwise.reference_clip(a[0], n.attr("min"), n.attr("max")))
register("sigmoid", Pattern.ELEMWISE, _same, lambda t, n: elemwise.sigmoid(t[0]),
         lambda a, n: elemwise.reference_sigmoid(a[0]))
register("tanh", Pattern.ELEMWISE, _same, lambda t, n: elemwise.tanh(t[0]),
         lambda a, n: elemwise.reference_tanh(a[0]))
for _op in ("add", "mul"):
    register(_op, Pattern.BROADCAST,
             lambda n, s: elemwise.broadcast_shape(s[0], s[1], n.name),
             lambda t, n, _op=_op: elemwise.binary(t[0], t[1], _op),
             lambda a, n, _op=_op: elemwise.reference_binary(a[0], a[1], _op), (2, 2))
register("bias_add", Pattern.BROADCAST, _same,
         lambda t, n: kernels.bias_add.compute(t[0], t[1], n.attr("axis", 1)),
         lambda a, n: kernels.bias_add.reference(a[0], a[1], n.attr("axis", 1)), (2, 2))
register("prelu", Pattern.BROADCAST, _same, lambda t, n: elemwise.prelu(t[0], t[1]),
         lambda a, n: elemwise.reference_prelu(a[0], a[1]), (2, 2))
register("prelu_nchwc", Pattern.BROADCAST, _same, lambda t, n: elemwise.prelu_nchwc(t[0], t[1]),
         lambda a, n: elemwise.reference_prelu(a[0], a[1][None, :, None, None, :], axis=1), (2, 2))
# inputs: data, gamma, beta, mean, var (ONNX order)
register("batch_norm", Pattern.BROADCAST, _same,
         lambda t, n: elemwise.batch_norm(*t, n.attr("epsilon")),
         lambda a, n: elemwise.reference_batch_norm(*a, n.attr("epsilon")), (5, 5))

# -- pooling ---------------------------------------------------------------------------------------
def _pool_args(node):
    return dict(pool_size=node.attr("pool_size"), stride=node.attr("strides"),
                padding=node.attr("padding"), pool_type=node.op[:3])


def _pool_out(node, shapes):
    N, C, H, W = shapes[0]
    _, _, _, (OH, OW) = window_geometry((H, W), node.attr("pool_size"), node.attr("strides"),
                                        node.attr("padding"), 1, node.name)
    return (N, C, OH, OW)


for _op in ("max_pool2d", "avg_pool2d"):
    register(_op, Pattern.OUT_ELEWISE_FUSABLE, _pool_out,
             lambda t, n: kernels.pool2d.compute(t[0], **_pool_args(n)),
             lambda a, n: kernels.pool2d.reference(a[0], **_pool_args(n)))
for _op in ("max_pool2d_nchwc", "avg_pool2d_nchwc"):
    register(_op, Pattern.OUT_ELEWISE_FUSABLE,
             lambda n, s: (*_pool_out(n, [s[0][:4]]), s[0][4]),
             lambda t, n: conv2d_nchwc.pool_compute(t[0], **_pool_args(n)),
             lambda a, n: conv2d_nchwc.pool_reference(a[0], **_pool_args(n)))
register("global_avg_pool2d", Pattern.OUT_ELEWISE_FUSABLE,
         lambda n, s: (s[0][0], s[0][1], 1, 1),
         lambda t, n: global_pool2d.compute(t[0]),
         lambda a, n: global_pool2d.reference(a[0]))
register("softmax", Pattern.OPAQUE, _same, lambda t, n: kernels.softmax.compute(t[0]),
         lambda a, n: kernels.softmax.reference(a[0]))

# -- data movement ---------------------------------------------------------------------------------
register("reshape", Pattern.INJECTIVE, lambda n, s: tuple(n.attr("shape")),
         lambda t, n: transform.reshape(t[0], n.attr("shape")),
         lambda a, n: np.ascontiguousarray(a[0].reshape(n.attr("shape"))))


def _concat_shape(node, shapes):
    axis = node.attr("axis") % len(shapes[0])
    out = list(shapes[0])
    for s in shapes[1:]:
        if len(s) != len(out) or any(a != b for d, (a, b) in enumerate(zip(s, out)) if d != axis):
            raise ValueError(f"{node.name}: concat inputs {shapes} differ off axis {axis}")
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


register("concat", Pattern.INJECTIVE, _concat_shape,
         lambda t, n: transform.concatenate(t, n.attr("axis")),
         lambda a, n: np.concatenate(a, axis=n.attr("axis")), (1, 64))
register("layout_transform", Pattern.INJECTIVE,
         lambda n, s: _layout_shape(s[0], n.attr("src"), n.attr("dst")),
         lambda t, n: _layout_te(t[0], n.attr("src"), n.attr("dst")),
         lambda a, n: _layout_np(a[0], n.attr("src"), n.attr("dst")))


def block_of(layout: str) -> int:
    """16 for "NCHW16c"; 0 for a plain layout."""
    if layout.startswith("NCHW") and layout.endswith("c") and layout[4:-1].isdigit():
        return int(layout[4:-1])
    return 0


def vta_block_of(layout: str):
    """(batch block, channel block) for VTA's "NCHW1n16c"; None for other layouts."""
    m = re.fullmatch(r"NCHW(\d+)n(\d+)c", layout)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _layout_shape(shape, src, dst):
    if src == "NCHW" and block_of(dst):
        b = block_of(dst)
        N, C, H, W = shape
        return (N, C // b, H, W, b)
    if block_of(src) and dst == "NCHW":
        N, CO, H, W, b = shape
        return (N, CO * b, H, W)
    if src == "NCHW" and vta_block_of(dst):
        (bn, bc), (N, C, H, W) = vta_block_of(dst), shape
        return (N // bn, C // bc, H, W, bn, bc)
    if vta_block_of(src) and dst == "NCHW":
        Nb, Cb, H, W, bn, bc = shape
        return (Nb * bn, Cb * bc, H, W)
    raise ValueError(f"layout_transform: {src} -> {dst} is not supported (NCHW <-> NCHW[x]c, "
                     "NCHW <-> NCHW[b]n[x]c)")


def _layout_te(t, src, dst):
    shape = _layout_shape(t.shape, src, dst)
    if vta_block_of(dst):
        bn, bc = vta_block_of(dst)
        return te.compute(shape, lambda n, c, h, w, i, j: t[n * bn + i, c * bc + j, h, w],
                          name="layout_vta")
    if vta_block_of(src):
        bn, bc = vta_block_of(src)
        return te.compute(shape, lambda n, c, h, w: t[n // bn, c // bc, h, w, n % bn, c % bc],
                          name="layout_nchw")
    if src == "NCHW":
        return transform.nchw_to_nchwc(t, block_of(dst))
    return transform.nchwc_to_nchw(t)


def _layout_np(a, src, dst):
    shape = _layout_shape(a.shape, src, dst)
    if vta_block_of(dst):
        N, C, H, W = a.shape
        bn, bc = vta_block_of(dst)
        return np.ascontiguousarray(a.reshape(N // bn, bn, C // bc, bc, H, W)
                                    .transpose(0, 2, 4, 5, 1, 3))
    if vta_block_of(src):
        return np.ascontiguousarray(a.transpose(0, 4, 1, 5, 2, 3).reshape(shape))
    if src == "NCHW":
        return transform.reference_nchw_to_nchwc(a, block_of(dst))
    return transform.reference_nchwc_to_nchw(a)
