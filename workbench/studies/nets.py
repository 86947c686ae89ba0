"""Small CNNs for the vision studies, described as data and run by the workbench's own kernels.

A `Net` is a list of layers (conv + bias [+ residual] [+ ReLU/PReLU], max pool, dense) over named
tensors. `CompiledNet` builds every layer with our compiler for one input size (conv2d from
`kernels.cpu_schedules.conv2d_nchw_blocked`, epilogue / pool / global-average-pool / dense / softmax
from the catalog's te computes) and runs them on preallocated buffers; `torch_forward` runs the
same description with PyTorch, the reference every study checks against on every run.

Weights: the MTCNN RNet/ONet state dicts that facenet-pytorch ships (read directly with torch.load:
the package itself imports torchvision, which does not exist here) and a ResNet-18 with seeded
random weights (the control; no ImageNet weights are available offline).
"""
from __future__ import annotations

import importlib.util
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

import kernels
import workbench as wb
from kernels import cpu_schedules
from workbench import te


@dataclass(frozen=True, eq=False)
class Conv:
    """out = act(conv(src, weight) + bias [+ residual]); weight OIHW, symmetric padding."""
    name: str
    src: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0
    act: str = "none"                  # "none" | "relu" | "prelu"
    alpha: np.ndarray | None = None    # PReLU slope per channel
    residual: str | None = None        # tensor added before the activation (ResNet shortcut)


@dataclass(frozen=True, eq=False)
class MaxPool:
    """Max pooling; padding (top, left, bottom, right). PyTorch's ceil_mode is expressed as extra
    bottom/right padding (padded with -inf, so it never wins)."""
    name: str
    src: str
    size: int
    stride: int
    padding: tuple = (0, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class GlobalAvgPool:
    """Mean over H and W: (1, C, H, W) -> (1, C, 1, 1), so a dense head works at any resolution."""
    name: str
    src: str


@dataclass(frozen=True, eq=False)
class Dense:
    """out = act(src.flatten() @ weight.T + bias); src flattened in NCHW order."""
    name: str
    src: str
    weight: np.ndarray
    bias: np.ndarray
    act: str = "none"
    alpha: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Net:
    """A feed-forward CNN over named tensors ("input" is the image, NCHW, batch 1).

    `blocks` name the tensors whose global-average-pooled values are the per-block features;
    `logits` (optional) is a 2-class-or-more output turned into probabilities by softmax.
    `preprocess` maps an RGB image in [0, 1] to the net's input scale."""
    name: str
    layers: tuple
    blocks: tuple
    logits: str | None = None
    input_size: int | None = None          # fixed input side (nets with a dense layer)
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    pretrained: bool = False
    source: str = ""
    block_labels: tuple = field(default=())

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """HxWx3 float image in [0, 1] -> (1, 3, H, W) float32 net input."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{self.name}: expected an HxWx3 RGB image, got shape {image.shape}")
        x = (image.astype(np.float32) - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def conv_shapes(self, size: int) -> list:
        """(name, in_channel, height, width, out_channel, kernel, stride, padding) per conv at an
        input side of `size` (the workloads of the resolution sweep)."""
        shapes, out = {"input": (3, size, size)}, []
        for layer in self.layers:
            c, h, w = shapes[layer.src]
            if isinstance(layer, Conv):
                f, _, k, _ = layer.weight.shape
                oh = (h + 2 * layer.padding - k) // layer.stride + 1
                ow = (w + 2 * layer.padding - k) // layer.stride + 1
                out.append((layer.name, c, h, w, f, k, layer.stride, layer.padding))
                shapes[layer.name] = (f, oh, ow)
            elif isinstance(layer, MaxPool):
                t, lft, b, r = layer.padding
                shapes[layer.name] = (c, (h + t + b - layer.size) // layer.stride + 1,
                                      (w + lft + r - layer.size) // layer.stride + 1)
            elif isinstance(layer, GlobalAvgPool):
                shapes[layer.name] = (c, 1, 1)
            else:
                shapes[layer.name] = (layer.weight.shape[0], 1, 1)
        return out


# ---------------------------------------------------------------- weights

def _ceil_pool(name, src, size, stride, height):
    """MaxPool2d(size, stride, ceil_mode=True) on a square input of side `height`."""
    out = math.ceil((height - size) / stride) + 1
    extra = (out - 1) * stride + size - height
    return MaxPool(name, src, size, stride, (0, 0, extra, extra)), out


def facenet_weights_dir() -> str:
    """facenet-pytorch's data/ directory (located without importing the package)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("facenet-pytorch is not installed: its MTCNN weights (data/rnet.pt, "
                                "data/onet.pt) are the pretrained CNNs of the studies")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def _state_dict(name: str) -> dict:
    import torch       # only to unpickle the shipped weights
    sd = torch.load(os.path.join(facenet_weights_dir(), f"{name}.pt"), map_location="cpu",
                    weights_only=True)
    return {k: np.ascontiguousarray(v.numpy(), dtype=np.float32) for k, v in sd.items()}


def _dense_from_whc(w: np.ndarray, c: int, h: int, wd: int) -> np.ndarray:
    """facenet-pytorch flattens (N, C, H, W) permuted to (N, W, H, C); reorder the dense weight's
    columns so it takes our NCHW flatten instead."""
    return np.ascontiguousarray(w.reshape(-1, wd, h, c).transpose(0, 3, 2, 1).reshape(w.shape[0], -1))


_MTCNN_SRC = ("MTCNN (Zhang et al. 2016) weights shipped in facenet-pytorch 2.6.0 data/*.pt "
              "(trained for face detection, not ImageNet)")
_MTCNN_MEAN, _MTCNN_STD = (127.5 / 255,) * 3, (128 / 255,) * 3   # (x*255 - 127.5) * 0.0078125


def mtcnn_rnet() -> Net:
    """MTCNN RNet (24x24 input): 3 conv blocks, dense 576->128, face/non-face logits."""
    sd = _state_dict("rnet")
    p1, h1 = _ceil_pool("pool1", "prelu1", 3, 2, 22)
    p2, h2 = _ceil_pool("pool2", "prelu2", 3, 2, h1 - 2)
    layers = (
        Conv("prelu1", "input", sd["conv1.weight"], sd["conv1.bias"], act="prelu", alpha=sd["prelu1.weight"]),
        p1,
        Conv("prelu2", "pool1", sd["conv2.weight"], sd["conv2.bias"], act="prelu", alpha=sd["prelu2.weight"]),
        p2,
        Conv("prelu3", "pool2", sd["conv3.weight"], sd["conv3.bias"], act="prelu", alpha=sd["prelu3.weight"]),
        Dense("prelu4", "prelu3", _dense_from_whc(sd["dense4.weight"], 64, h2 - 1, h2 - 1),
              sd["dense4.bias"], act="prelu", alpha=sd["prelu4.weight"]),
        Dense("logits", "prelu4", sd["dense5_1.weight"], sd["dense5_1.bias"]),
    )
    return Net("mtcnn_rnet", layers, blocks=("pool1", "pool2", "prelu3"), logits="logits",
               input_size=24, mean=_MTCNN_MEAN, std=_MTCNN_STD, pretrained=True, source=_MTCNN_SRC,
               block_labels=("block1", "block2", "block3"))


def onet_layers(sd: dict, size: int) -> tuple:
    """ONet's convolutional trunk at input side `size` (48 for the face classifier; any size
    >= 48 works for features)."""
    p1, h = _ceil_pool("pool1", "prelu1", 3, 2, size - 2)
    p2, h = _ceil_pool("pool2", "prelu2", 3, 2, h - 2)
    p3, h = _ceil_pool("pool3", "prelu3", 2, 2, h - 2)
    return (
        Conv("prelu1", "input", sd["conv1.weight"], sd["conv1.bias"], act="prelu", alpha=sd["prelu1.weight"]),
        p1,
        Conv("prelu2", "pool1", sd["conv2.weight"], sd["conv2.bias"], act="prelu", alpha=sd["prelu2.weight"]),
        p2,
        Conv("prelu3", "pool2", sd["conv3.weight"], sd["conv3.bias"], act="prelu", alpha=sd["prelu3.weight"]),
        p3,
        Conv("prelu4", "pool3", sd["conv4.weight"], sd["conv4.bias"], act="prelu", alpha=sd["prelu4.weight"]),
    ), h - 1


def mtcnn_onet(with_head: bool = True, size: int = 48) -> Net:
    """MTCNN ONet: 4 conv blocks; with_head adds dense 1152->256 and the face logits (48x48 only).
    Without the head it is fully convolutional (the feature extractor of the augmentation probe);
    build it for the side it will run at, since ceil-mode pooling pads by the input size."""
    sd = _state_dict("onet")
    if with_head and size != 48:
        raise ValueError(f"mtcnn_onet: the dense head needs a 48x48 input, got size={size}")
    layers, h = onet_layers(sd, size)
    logits = None
    if with_head:
        layers += (Dense("prelu5", "prelu4", _dense_from_whc(sd["dense5.weight"], 128, h, h),
                         sd["dense5.bias"], act="prelu", alpha=sd["prelu5.weight"]),
                   Dense("logits", "prelu5", sd["dense6_1.weight"], sd["dense6_1.bias"]))
        logits = "logits"
    return Net("mtcnn_onet", layers, blocks=("pool1", "pool2", "pool3", "prelu4"), logits=logits,
               input_size=48 if with_head else None, mean=_MTCNN_MEAN, std=_MTCNN_STD,
               pretrained=True, source=_MTCNN_SRC, block_labels=("block1", "block2", "block3", "block4"))


_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resnet18(seed: int = 0, num_classes: int = 0) -> Net:
    """ResNet-18 (He et al. 2016; torchvision's layout, batch norm folded into conv + bias) with
    seeded random He-normal weights. The control of the probe: random convolutions also encode
    low-level statistics. Residual branches are scaled by 1/sqrt(2) so activations keep their
    scale through 8 blocks (what batch norm would do in a trained net)."""
    rng = np.random.default_rng(seed)

    def conv_w(f, c, k, gain=1.0):
        return (rng.standard_normal((f, c, k, k)) * gain * math.sqrt(2.0 / (c * k * k))).astype(np.float32)

    def zeros(f):
        return np.zeros(f, np.float32)

    layers = [Conv("conv1", "input", conv_w(64, 3, 7), zeros(64), 2, 3, "relu"),
              MaxPool("stem", "conv1", 3, 2, (1, 1, 1, 1))]
    src, c = "stem", 64
    for stage, f in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            stride = 2 if stage > 1 and b == 0 else 1
            pre = f"layer{stage}.{b}"
            short = src
            if stride != 1 or c != f:
                layers.append(Conv(pre + ".down", src, conv_w(f, c, 1), zeros(f), stride, 0))
                short = pre + ".down"
            layers.append(Conv(pre + ".conv1", src, conv_w(f, c, 3), zeros(f), stride, 1, "relu"))
            name = f"layer{stage}" if b == 1 else pre
            layers.append(Conv(name, pre + ".conv1", conv_w(f, f, 3, 1 / math.sqrt(2)), zeros(f),
                               1, 1, "relu", residual=short))
            src, c = name, f
    return Net(f"resnet18_random{seed}", tuple(layers),
               blocks=("stem", "layer1", "layer2", "layer3", "layer4"), mean=_IMAGENET_MEAN,
               std=_IMAGENET_STD, pretrained=False,
               source=f"ResNet-18 structure, random He-normal weights (numpy seed {seed})",
               block_labels=("stem", "block1", "block2", "block3", "block4"))


# ---------------------------------------------------------------- compiled execution

def _oc_block(f: int) -> int:
    """Output-channel block of the packed conv: 16 lanes when the channels allow it, else the
    largest divisor of f up to 16 (RNet's 28 channels -> 14)."""
    return max(d for d in range(1, 17) if f % d == 0)


def _epilogue(shape, act: str, residual: bool):
    """te: out = act(x + bias[c] (+ r)), NCHW; returns (schedule, args)."""
    x = te.placeholder(shape, name="x")
    bias = te.placeholder((shape[1],), name="bias")
    args = [x, bias]
    if residual:
        r = te.placeholder(shape, name="r")
        args.append(r)
    if act == "prelu":
        alpha = te.placeholder((shape[1],), name="alpha")
        args.append(alpha)
    zero = te.const(0.0, "float32")

    def body(n, c, y, w):
        v = x[n, c, y, w] + bias[c]
        if residual:
            v = v + r[n, c, y, w]
        if act == "relu":
            return te.max(v, zero)
        if act == "prelu":
            return te.max(v, zero) + alpha[c] * te.min(v, zero)
        return v
    out = te.compute(shape, body, name="epilogue")
    s = wb.create_schedule(out)
    s[out].parallel(out.op.axis[1])
    return s, args + [out]


class KernelCache:
    """Built kernels keyed by (kind, shape parameters): nets at several resolutions, and several
    nets, share the kernels of identical layers."""

    def __init__(self, threads: int | None = None):
        self._kernels: dict = {}
        self.builds = 0
        self.threads = threads        # None: every core; 1 gives the repeatable latencies

    def get(self, key, make):
        if key not in self._kernels:
            s, args = make()
            k = wb.build(s, args)
            if self.threads is not None:
                k.num_threads = self.threads
            self._kernels[key] = k
            self.builds += 1
        return self._kernels[key]


def _pool_kernel(shape, size, stride, padding, pool_type):
    [data], out = kernels.pool2d.make(*shape, size, stride, padding, pool_type)
    s = wb.create_schedule(out)
    s[out].parallel(out.op.axis[1])
    return s, [data, out]


def _dense_kernel(in_dim, out_dim):
    (data, weight), out = kernels.dense.make(1, in_dim, out_dim, bias=False)
    s = wb.create_schedule(out)
    return s, [data, weight, out]


def _softmax_kernel(n):
    [data], out = kernels.softmax.make((1, n))
    return wb.create_schedule(out), [data, out]


class CompiledNet:
    """`net` compiled for a (1, 3, height, width) input with the workbench's kernels.

    `run(x)` -> dict tensor name -> array (views of internal buffers, copy to keep);
    `features(x)` -> one global-average-pooled vector per block; `probabilities(x)` -> softmax of
    the logits. Buffers are allocated once, so a call only runs compiled code."""

    def __init__(self, net: Net, height: int, width: int | None = None, cache: KernelCache | None = None):
        width = height if width is None else width
        if net.input_size is not None and (height, width) != (net.input_size, net.input_size):
            raise ValueError(f"{net.name} takes a {net.input_size}x{net.input_size} input (it has a dense "
                             f"layer), got {height}x{width}")
        self.net, self.height, self.width = net, height, width
        self.cache = cache if cache is not None else KernelCache()
        self.buffers = {"input": np.zeros((1, 3, height, width), np.float32)}
        self.steps = []          # (callable, args) in order
        self.flops = 0
        for layer in net.layers:
            self._add(layer)
        self._gap = []
        for b in net.blocks:
            n, c, h, w = self.buffers[b].shape
            k = self.cache.get(("gap", c, h, w), lambda: _pool_kernel((n, c, h, w), (h, w), 1, 0, "avg"))
            self._gap.append((k, b, np.zeros((1, c, 1, 1), np.float32)))
        if net.logits is not None:
            n = self.buffers[net.logits].shape[1]
            self._softmax = (self.cache.get(("softmax", n), lambda: _softmax_kernel(n)),
                             np.zeros((1, n), np.float32))

    def _add(self, layer):
        src = self.buffers.get(layer.src)
        if src is None:
            raise ValueError(f"{self.net.name}: layer {layer.name} reads unknown tensor {layer.src!r}")
        _, c, h, w = src.shape
        if isinstance(layer, Conv):
            f, c2, k, _ = layer.weight.shape
            if c2 != c:
                raise ValueError(f"{self.net.name}: {layer.name} expects {c2} channels, {layer.src} has {c}")
            oh = (h + 2 * layer.padding - k) // layer.stride + 1
            ow = (w + 2 * layer.padding - k) // layer.stride + 1
            if oh < 1 or ow < 1:
                raise ValueError(f"{self.net.name}: input {self.height}x{self.width} is too small for "
                                 f"{layer.name} ({h}x{w} before a {k}x{k} stride-{layer.stride} conv)")
            key = ("conv", c, h, w, f, k, layer.stride, layer.padding)
            conv = self.cache.get(key, lambda: cpu_schedules.conv2d_nchw_blocked(
                1, c, h, w, f, k, layer.stride, layer.padding, oc_block=_oc_block(f)))
            raw = np.zeros((1, f, oh, ow), np.float32)
            self.steps.append((conv, (src, layer.weight, raw)))
            self.flops += kernels.conv2d.flops(1, c, h, w, f, k, layer.stride, layer.padding)
            self._finish(layer, raw)
        elif isinstance(layer, MaxPool):
            t, lft, b, r = layer.padding
            if min(h + t + b, w + lft + r) < layer.size:
                raise ValueError(f"{self.net.name}: input {self.height}x{self.width} is too small for "
                                 f"{layer.name} ({h}x{w} before a {layer.size}x{layer.size} pool)")
            shape = (1, c, h, w)
            k = self.cache.get(("maxpool", shape, layer.size, layer.stride, layer.padding),
                               lambda: _pool_kernel(shape, layer.size, layer.stride, layer.padding, "max"))
            out = np.zeros((1, c, (h + t + b - layer.size) // layer.stride + 1,
                            (w + lft + r - layer.size) // layer.stride + 1), np.float32)
            self.steps.append((k, (src, out)))
            self.buffers[layer.name] = out
        elif isinstance(layer, GlobalAvgPool):
            shape = (1, c, h, w)
            k = self.cache.get(("gap", c, h, w), lambda: _pool_kernel(shape, (h, w), 1, 0, "avg"))
            out = np.zeros((1, c, 1, 1), np.float32)
            self.steps.append((k, (src, out)))
            self.buffers[layer.name] = out
        elif isinstance(layer, Dense):
            out_dim, in_dim = layer.weight.shape
            if in_dim != c * h * w:
                raise ValueError(f"{self.net.name}: {layer.name} takes {in_dim} inputs, {layer.src} has {c * h * w}")
            k = self.cache.get(("dense", in_dim, out_dim), lambda: _dense_kernel(in_dim, out_dim))
            raw = np.zeros((1, out_dim), np.float32)
            self.steps.append((k, (src.reshape(1, in_dim), layer.weight, raw)))
            self.flops += 2 * in_dim * out_dim
            self._finish(layer, raw.reshape(1, out_dim, 1, 1))
        else:
            raise TypeError(f"{self.net.name}: unknown layer {layer!r}")

    def _finish(self, layer, raw):
        """The fused epilogue: bias, shortcut, activation."""
        shape = raw.shape
        residual = getattr(layer, "residual", None)
        if residual is not None and self.buffers[residual].shape != shape:
            raise ValueError(f"{self.net.name}: shortcut {residual} {self.buffers[residual].shape} does not "
                             f"match {layer.name} {shape}")
        k = self.cache.get(("epilogue", shape, layer.act, residual is not None),
                           lambda: _epilogue(shape, layer.act, residual is not None))
        out = np.zeros(shape, np.float32)
        args = [raw, layer.bias] + ([self.buffers[residual]] if residual else [])
        args += [layer.alpha] if layer.act == "prelu" else []
        self.steps.append((k, (*args, out)))
        self.buffers[layer.name] = out

    def run(self, x: np.ndarray) -> dict:
        if x.shape != self.buffers["input"].shape:
            raise ValueError(f"{self.net.name} compiled for input {self.buffers['input'].shape}, got {x.shape}")
        np.copyto(self.buffers["input"], x)
        for k, args in self.steps:
            k(*args)
        return self.buffers

    def time(self, x: np.ndarray, calls: int = 50):
        """Seconds per forward over `calls` single calls (a `workbench.runtime.TimingResult`; its
        `.min` is the figure to quote on a shared machine: other processes only ever add time)."""
        from workbench.runtime.timing import measure
        self.run(x)

        def run(n):
            t = time.perf_counter()
            for _ in range(n):
                for k, args in self.steps:
                    k(*args)
            return time.perf_counter() - t
        return measure(run, number=1, repeat=calls)

    def features(self, x: np.ndarray) -> list:
        self.run(x)
        out = []
        for k, b, buf in self._gap:
            k(self.buffers[b], buf)
            out.append(buf.reshape(-1).copy())
        return out

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if self.net.logits is None:
            raise ValueError(f"{self.net.name} has no classifier head")
        self.run(x)
        k, buf = self._softmax
        k(self.buffers[self.net.logits].reshape(1, -1), buf)
        return buf[0].copy()


# ---------------------------------------------------------------- PyTorch reference

def torch_forward(net: Net, x: np.ndarray) -> dict:
    """The same description run by PyTorch (float32): name -> array, plus "gap:<block>" features
    and "probabilities" when the net has logits."""
    import torch
    import torch.nn.functional as F
    t = {"input": torch.from_numpy(np.ascontiguousarray(x))}
    with torch.no_grad():
        for layer in net.layers:
            src = t[layer.src]
            if isinstance(layer, MaxPool):
                top, left, bottom, right = layer.padding
                p = F.pad(src, (left, right, top, bottom), value=float("-inf"))
                t[layer.name] = F.max_pool2d(p, layer.size, layer.stride)
                continue
            if isinstance(layer, GlobalAvgPool):
                t[layer.name] = src.mean(dim=(2, 3), keepdim=True)
                continue
            if isinstance(layer, Conv):
                v = F.conv2d(src, torch.from_numpy(layer.weight), torch.from_numpy(layer.bias),
                             layer.stride, layer.padding)
                if layer.residual:
                    v = v + t[layer.residual]
            else:
                v = F.linear(src.reshape(1, -1), torch.from_numpy(layer.weight),
                             torch.from_numpy(layer.bias)).reshape(1, -1, 1, 1)
            if layer.act == "relu":
                v = F.relu(v)
            elif layer.act == "prelu":
                v = F.prelu(v, torch.from_numpy(layer.alpha))
            t[layer.name] = v
        out = {k: v.numpy() for k, v in t.items()}
        for b in net.blocks:
            out["gap:" + b] = t[b].mean(dim=(2, 3)).reshape(-1).numpy()
        if net.logits is not None:
            out["probabilities"] = F.softmax(t[net.logits].reshape(1, -1), dim=1)[0].numpy()
    return out


def max_abs_error(compiled: CompiledNet, x: np.ndarray) -> float:
    """Largest |ours - PyTorch| over every block feature (and the probabilities) for input x."""
    ref = torch_forward(compiled.net, x)
    err = max(float(np.abs(f - ref["gap:" + b]).max())
              for f, b in zip(compiled.features(x), compiled.net.blocks))
    if compiled.net.logits is not None:
        err = max(err, float(np.abs(compiled.probabilities(x) - ref["probabilities"]).max()))
    return err
