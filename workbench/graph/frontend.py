"""Model import: ONNX (with the `onnx` package) and PyTorch (through torch.onnx.export).

Each ONNX node becomes one or more graph nodes of the catalog's operators, with shapes inferred
as they are created. Anything the workbench cannot run exactly is an error naming the node, the op
type and the attribute, with the list of what is supported.
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np

from .builder import GraphBuilder
from .ir import Graph, GraphError

# op type -> attributes the importer understands (any other attribute is an error)
SUPPORTED = {
    "Conv": {"dilations", "group", "kernel_shape", "pads", "strides", "auto_pad"},
    "ConvTranspose": {"dilations", "group", "kernel_shape", "pads", "strides", "output_padding",
                      "auto_pad"},
    "Gemm": {"alpha", "beta", "transA", "transB"},
    "MatMul": set(),
    "BatchNormalization": {"epsilon", "momentum", "training_mode"},
    "Relu": set(), "Sigmoid": set(), "Tanh": set(), "Identity": set(), "PRelu": set(),
    "Clip": {"min", "max"},
    "Add": set(), "Mul": set(),
    "MaxPool": {"kernel_shape", "pads", "strides", "ceil_mode", "auto_pad", "dilations",
                "storage_order"},
    "AveragePool": {"kernel_shape", "pads", "strides", "ceil_mode", "auto_pad",
                    "count_include_pad"},
    "GlobalAveragePool": set(),
    "Flatten": {"axis"},
    "Reshape": {"allowzero"},
    "Concat": {"axis"},
    "Softmax": {"axis"},
    "Constant": {"value"},
}


def _unsupported(node, what: str):
    return GraphError(f"node {node.name or node.output[0]!r} ({node.op_type}): {what}; supported "
                      f"operators: {', '.join(sorted(SUPPORTED))}")


def _attrs(node) -> dict:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(node, attrs, nd=2):
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise _unsupported(node, f"attribute auto_pad={attrs['auto_pad']!r} is not supported "
                                 "(only explicit pads)")
    p = list(attrs.get("pads", [0] * 2 * nd))
    if len(p) != 2 * nd:
        raise _unsupported(node, f"attribute pads={p} is not 2-D")
    return (p[0], p[1], p[2], p[3])      # ONNX: (top, left, bottom, right) = our order


def _pair(node, attrs, key, default=1):
    v = list(attrs.get(key, [default, default]))
    if len(v) != 2:
        raise _unsupported(node, f"attribute {key}={v} is not 2-D (only 2-D operators)")
    return (int(v[0]), int(v[1]))


def from_onnx(model, input_shapes: dict | None = None) -> Graph:
    """Import an ONNX model (a path, bytes or onnx.ModelProto) as a Graph. `input_shapes` overrides
    symbolic input dimensions (name -> shape)."""
    import onnx
    from onnx import numpy_helper
    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(os.fspath(model))
    elif isinstance(model, bytes):
        model = onnx.load_from_string(model)
    if not isinstance(model, onnx.ModelProto):
        raise TypeError(f"from_onnx: expected a path or an onnx.ModelProto, got {type(model).__name__}")
    g = model.graph
    b = GraphBuilder([o.name for o in g.output])
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for name, arr in inits.items():
        b.names[name] = b.const(arr, name)
    for vi in g.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        if tt.elem_type != onnx.TensorProto.FLOAT:
            raise GraphError(f"graph input {vi.name!r}: element type "
                             f"{onnx.TensorProto.DataType.Name(tt.elem_type)} is not supported "
                             "(float32 models only)")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if input_shapes and vi.name in input_shapes:
            dims = list(input_shapes[vi.name])
        if any(d is None or d <= 0 for d in dims):
            raise GraphError(f"graph input {vi.name!r} has symbolic shape {dims}; pass "
                             f"input_shapes={{{vi.name!r}: (...)}}")
        b.names[vi.name] = b.input(vi.name, dims)
    for node in g.node:
        _convert(b, node, inits)
    outputs = []
    for o in g.output:
        if o.name not in b.names:
            raise GraphError(f"graph output {o.name!r} is produced by no node")
        outputs.append(b.names[o.name])
    from .passes import dead_node_elimination
    return dead_node_elimination(b.graph(outputs))


def _convert(b: GraphBuilder, node, inits) -> None:
    op = node.op_type
    if op not in SUPPORTED:
        raise _unsupported(node, f"operator {op!r} is not supported")
    attrs = _attrs(node)
    for k in attrs:
        if k not in SUPPORTED[op]:
            raise _unsupported(node, f"attribute {k!r} (= {attrs[k]!r}) is not supported for {op}; "
                                     f"supported attributes: {sorted(SUPPORTED[op]) or 'none'}")
    ins = [b.names.get(i) if i else None for i in node.input]
    for i, n in zip(node.input, ins):
        if i and n is None:
            raise GraphError(f"node {node.name!r} ({op}): input {i!r} is not defined")
    out = node.output[0]

    def const_of(i):
        v = b.value(ins[i]) if i < len(ins) and ins[i] else None
        return v

    def emit(opname, inputs, a=None, layout=""):
        b.names[out] = b.add(opname, inputs, a or {}, out, layout)

    if op == "Conv":
        dil = _pair(node, attrs, "dilations")
        group = int(attrs.get("group", 1))
        w = const_of(1)
        wshape = b.shape(ins[1])
        a = dict(strides=_pair(node, attrs, "strides"), padding=_pads(node, attrs), dilation=dil)
        C = b.shape(ins[0])[1]
        if group == 1:
            conv = b.add("conv2d", [ins[0], ins[1]], a)
        elif group == C and wshape[1] == 1 and w is not None:
            wk = b.const(w.reshape(C, wshape[0] // C, *wshape[2:]), ins[1] + "_dw")
            conv = b.add("depthwise_conv2d", [ins[0], wk], a)
        else:
            raise _unsupported(node, f"attribute group={group} is not supported (1, or depthwise "
                                     f"with group == channels = {C} and constant weights)")
        if len(ins) > 2 and ins[2]:
            emit("bias_add", [conv, ins[2]], dict(axis=1))
        else:
            b.names[out] = conv
    elif op == "ConvTranspose":
        if int(attrs.get("group", 1)) != 1 or _pair(node, attrs, "dilations") != (1, 1):
            raise _unsupported(node, f"attributes group={attrs.get('group', 1)} / dilations="
                                     f"{attrs.get('dilations')} are not supported (1 only)")
        p = _pads(node, attrs)
        if (p[0], p[1]) != (p[2], p[3]):
            raise _unsupported(node, f"attribute pads={list(p)} is not supported (symmetric only)")
        a = dict(strides=_pair(node, attrs, "strides"), padding=(p[0], p[1]),
                 output_padding=_pair(node, attrs, "output_padding", 0))
        conv = b.add("conv2d_transpose", [ins[0], ins[1]], a)
        if len(ins) > 2 and ins[2]:
            emit("bias_add", [conv, ins[2]], dict(axis=1))
        else:
            b.names[out] = conv
    elif op in ("Gemm", "MatMul"):
        w = const_of(1)
        if w is None or w.ndim != 2 or len(b.shape(ins[0])) != 2:
            raise _unsupported(node, "only 2-D data times a constant 2-D weight is supported")
        if op == "Gemm" and int(attrs.get("transA", 0)):
            raise _unsupported(node, "attribute transA=1 is not supported")
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        trans_b = int(attrs.get("transB", 0)) if op == "Gemm" else 0
        weight = (w if trans_b else w.T) * np.float32(alpha)       # dense wants (out, in)
        wk = b.const(weight.astype(np.float32), ins[1] + "_dense")
        dense = b.add("dense", [ins[0], wk], {})
        bias = const_of(2) if op == "Gemm" else None
        if bias is not None:
            if bias.size not in (1, weight.shape[0]):
                raise _unsupported(node, f"bias of shape {bias.shape} is not supported (per output)")
            bk = b.const(np.broadcast_to(bias.reshape(-1) * np.float32(beta),
                                         (weight.shape[0],)).astype(np.float32), ins[2] + "_bias")
            emit("bias_add", [dense, bk], dict(axis=1))
        elif op == "Gemm" and len(ins) > 2 and ins[2]:
            raise _unsupported(node, "a non-constant bias C is not supported")
        else:
            b.names[out] = dense
    elif op == "BatchNormalization":
        if int(attrs.get("training_mode", 0)):
            raise _unsupported(node, "attribute training_mode=1 is not supported (inference only)")
        emit("batch_norm", ins[:5], dict(epsilon=float(attrs.get("epsilon", 1e-5))))
    elif op in ("Relu", "Sigmoid", "Tanh"):
        emit(op.lower(), ins[:1])
    elif op == "PRelu":
        emit("prelu", [ins[0], _prelu_slope(b, node, ins, const_of(1))])
    elif op == "Identity":
        b.names[out] = ins[0]
    elif op == "Clip":
        lo, hi = attrs.get("min", -np.inf), attrs.get("max", np.inf)
        for k, i in (("min", 1), ("max", 2)):
            if i < len(ins) and ins[i]:
                v = const_of(i)
                if v is None or v.size != 1:
                    raise _unsupported(node, f"a non-constant or non-scalar {k} input is not "
                                             "supported")
                v = float(v.reshape(-1)[0])
                lo, hi = (v, hi) if k == "min" else (lo, v)
        emit("clip", ins[:1], dict(min=float(lo), max=float(hi)))
    elif op in ("Add", "Mul"):
        emit(op.lower(), ins[:2])
    elif op in ("MaxPool", "AveragePool"):
        if int(attrs.get("ceil_mode", 0)) and op == "AveragePool":
            raise _unsupported(node, "attribute ceil_mode=1 is not supported for AveragePool")
        if op == "MaxPool" and (_pair(node, attrs, "dilations") != (1, 1)
                                or int(attrs.get("storage_order", 0))):
            raise _unsupported(node, "attributes dilations/storage_order are not supported")
        pads = _pads(node, attrs)
        if int(attrs.get("ceil_mode", 0)):
            pads = _ceil_mode_pads(b.shape(ins[0])[2:], _pair(node, attrs, "kernel_shape"),
                                   _pair(node, attrs, "strides"), pads)
        if op == "AveragePool" and not int(attrs.get("count_include_pad", 0)) and any(pads):
            raise _unsupported(node, "attribute count_include_pad=0 with padding is not supported "
                                     "(the catalog's avg pool counts padded zeros)")
        emit("max_pool2d" if op == "MaxPool" else "avg_pool2d", ins[:1],
             dict(pool_size=_pair(node, attrs, "kernel_shape"), strides=_pair(node, attrs, "strides"),
                  padding=pads))
    elif op == "GlobalAveragePool":
        emit("global_avg_pool2d", ins[:1])
    elif op == "Flatten":
        shape = b.shape(ins[0])
        axis = int(attrs.get("axis", 1)) % max(len(shape), 1)
        emit("reshape", ins[:1], dict(shape=(int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))))
    elif op == "Reshape":
        target = const_of(1)
        if target is None:
            raise _unsupported(node, "a non-constant target shape is not supported")
        if int(attrs.get("allowzero", 0)):
            raise _unsupported(node, "attribute allowzero=1 is not supported")
        src = b.shape(ins[0])
        shape = [src[d] if v == 0 else int(v) for d, v in enumerate(target.tolist())]
        if shape.count(-1) == 1:
            shape[shape.index(-1)] = int(np.prod(src)) // int(np.prod([d for d in shape if d != -1]))
        emit("reshape", ins[:1], dict(shape=tuple(shape)))
    elif op == "Concat":
        emit("concat", ins, dict(axis=int(attrs["axis"])))
    elif op == "Softmax":
        rank = len(b.shape(ins[0]))
        if int(attrs.get("axis", -1)) % rank != rank - 1:
            raise _unsupported(node, f"attribute axis={attrs['axis']} is not supported (last axis only)")
        emit("softmax", ins[:1])
    elif op == "Constant":
        if "value" not in attrs:
            raise _unsupported(node, f"attributes {sorted(attrs)} are not supported (value only)")
        from onnx import numpy_helper
        b.names[out] = b.const(numpy_helper.to_array(attrs["value"]), out)


def _ceil_mode_pads(size, kernel, strides, pads) -> tuple:
    """MaxPool with ceil_mode=1 as a floor-mode pool with extra bottom/right padding (max pooling
    pads with -inf, so the extra rows never win). PyTorch's rule: the output rounds up, except
    that the last window must start inside the input or its leading padding."""
    extra = []
    for d, (n, k, s) in enumerate(zip(size, kernel, strides)):
        lo, hi = pads[d], pads[d + 2]
        out = -(-(n + lo + hi - k) // s) + 1
        if (out - 1) * s >= n + lo:
            out -= 1
        extra.append(max(0, (out - 1) * s + k - (n + lo + hi)))
    return (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])


def _prelu_slope(b: GraphBuilder, node, ins, slope) -> str:
    """PRelu's slope as a per-channel constant (C,) of the data's axis 1 (relay's nn.prelu)."""
    shape = b.shape(ins[0])
    if slope is None:
        raise _unsupported(node, "a non-constant slope is not supported")
    aligned = (1,) * (len(shape) - slope.ndim) + tuple(slope.shape)
    channels = shape[1] if len(shape) > 1 else 1
    if slope.ndim > len(shape) or any(d != 1 for k, d in enumerate(aligned) if k != 1) \
            or aligned[1] not in (1, channels):
        raise _unsupported(node, f"slope of shape {tuple(slope.shape)} for data {tuple(shape)} is "
                                 "not supported (a scalar or one slope per channel of axis 1)")
    alpha = np.broadcast_to(slope.reshape(-1).astype(np.float32), (channels,))
    return b.const(np.ascontiguousarray(alpha), ins[1] + "_prelu")


def torch_to_onnx(module, example_inputs, input_names=("input",), output_names=("output",)) -> bytes:
    """A torch.nn.Module as ONNX bytes: torch.onnx.export (TorchScript exporter, opset 17, eval
    mode), its warnings silenced. The same bytes feed onnxruntime as the baseline."""
    import torch
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    module = module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(example_inputs), buf, dynamo=False, opset_version=17,
                          input_names=list(input_names), output_names=list(output_names))
    return buf.getvalue()


def from_torch(module, example_inputs, input_names=("input",), output_names=("output",)) -> Graph:
    """Export a torch.nn.Module to ONNX (`torch_to_onnx`) and import the result."""
    return from_onnx(torch_to_onnx(module, example_inputs, input_names, output_names))
