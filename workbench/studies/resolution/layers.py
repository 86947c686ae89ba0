"""ResNet-18's convolutions per input resolution: the analytic layer table, which layer a conv
workload belongs to, and which layers the graph layer runs with Winograd."""
from __future__ import annotations

from dataclasses import dataclass

import kernels
from kernels import conv2d_winograd


RESOLUTIONS = (128, 160, 192, 200, 224, 256, 288)


def nearest_divisor(n: int, factor: int) -> int:
    """The nearest legal config rule: `factor` if it divides n, else the divisor of n closest to
    it (ties: the smaller)."""
    if n < 1 or factor < 1:
        raise ValueError(f"nearest_divisor needs positive integers, got n={n}, factor={factor}")
    divs = [d for d in range(1, n + 1) if n % d == 0]
    return min(divs, key=lambda d: (abs(d - factor), d))


@dataclass(frozen=True)
class ConvLayer:
    """One distinct ResNet-18 convolution at one input resolution; `count` = times it occurs."""
    resolution: int
    name: str
    in_channel: int
    height: int
    out_channel: int
    kernel: int
    stride: int
    padding: int
    count: int

    @property
    def out_size(self) -> int:
        return (self.height + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def flops(self) -> int:
        return kernels.conv2d.flops(1, self.in_channel, self.height, self.height, self.out_channel,
                                    self.kernel, self.stride, self.padding)

    @property
    def shape_key(self) -> tuple:
        return (self.in_channel, self.out_channel, self.kernel, self.stride)

    @property
    def winograd(self) -> bool:
        """True when the graph's `winograd_convs` pass runs this layer as Winograd F(2x2, 3x3)
        (the kernel library's own applicability rule: 3x3, stride 1, pad 1, even output), so it is
        no tuning task of `graph.extract_tasks`."""
        return conv2d_winograd.applicable((1, self.in_channel, self.height, self.height),
                                          (self.kernel, self.kernel), (self.stride, self.stride),
                                          (self.padding,) * 4, (1, 1))


def resnet18_layers(resolution: int) -> list:
    """Distinct convolutions of ResNet-18 (torchvision's layout) at `resolution`, in network
    order, named after the first layer that has the shape (shared shapes are counted)."""
    if resolution < 32:
        raise ValueError(f"ResNet-18 needs resolutions >= 32, got {resolution}")
    convs = [("conv1", 3, resolution, 64, 7, 2, 3)]
    h = (resolution + 6 - 7) // 2 + 1
    h = (h + 2 - 3) // 2 + 1                                   # the stem's 3x3/2 max pool
    c = 64
    for stage, f in enumerate((64, 128, 256, 512), start=1):
        for blk in range(2):
            stride = 2 if stage > 1 and blk == 0 else 1
            pre = f"layer{stage}.{blk}"
            if stride != 1 or c != f:
                convs.append((pre + ".down", c, h, f, 1, stride, 0))
            convs.append((pre + ".conv1", c, h, f, 3, stride, 1))
            h = (h + 2 - 3) // stride + 1
            convs.append((f"layer{stage}" if blk else pre, f, h, f, 3, 1, 1))
            c = f
    seen: dict = {}
    for name, *shape in convs:
        seen.setdefault(tuple(shape), [name, 0])[1] += 1
    return [ConvLayer(resolution, name, *shape, n) for shape, (name, n) in seen.items()]


def layer_shape(layer: ConvLayer) -> str:
    """'64->128 k3 s2 56->28': channels, kernel, stride, input -> output size (table rows)."""
    return (f"{layer.in_channel}->{layer.out_channel} k{layer.kernel} s{layer.stride} "
            f"{layer.height}->{layer.out_size}")


def layer_of(resolution: int, args) -> ConvLayer:
    """The ResNet-18 layer at `resolution` a conv workload belongs to (`args` as a conv task's:
    batch, C, H, W, F, kernel, stride, padding, then the template's blocks, which are ignored)."""
    _, c, h, _, f, k, stride, pad = tuple(args)[:8]
    for layer in resnet18_layers(resolution):
        if (layer.in_channel, layer.height, layer.out_channel, layer.kernel, layer.stride,
                layer.padding) == (c, h, f, k, stride, pad):
            return layer
    raise ValueError(f"{tuple(args)} is not a convolution of ResNet-18 at {resolution} px")


def conv_node_workload(g, node):
    """(args, winograd) of a conv node of an optimized graph: `args` = (batch, C, H, W, F, kernel,
    stride, padding) -- for a direct conv its tuning task's workload, for a Winograd node
    (`conv2d_winograd_nchwc`: data NCHW[ib]c, kernel (4, 4, F/ob, C/ib, ib, ob), always 3x3
    stride 1 pad 1) read from its shapes -- or None for any other node."""
    from workbench.graph.tasks import conv_workload
    if node.op == "conv2d_winograd_nchwc":
        data, w = g[node.inputs[0]].shape, g[node.inputs[1]].shape
        return (data[0], data[1] * data[4], data[2], data[3], w[2] * w[5], 3, 1, 1), True
    args = conv_workload(g, node)
    return (None if args is None else (tuple(args[:8]), False))


def graph_layer_table(g, resolution: int) -> list:
    """ResNet-18's distinct convs at `resolution` as the optimized graph `g` runs them: one row
    per layer of `resnet18_layers` with how many of its convs the graph runs on Winograd and how
    many as a direct (tunable) conv. The analytic `ConvLayer.winograd` must agree (tested)."""
    counts: dict = {}
    for n in g.ops():
        got = conv_node_workload(g, n)
        if got is not None:
            c = counts.setdefault(layer_of(resolution, got[0]).name, [0, 0])
            c[0 if got[1] else 1] += 1
    return [{"resolution": resolution, "layer": l.name, "shape": layer_shape(l), "count": l.count,
             "flops": l.flops, "winograd": l.winograd,
             "graph_winograd_convs": counts.get(l.name, [0, 0])[0],
             "graph_direct_convs": counts.get(l.name, [0, 0])[1]}
            for l in resnet18_layers(resolution)]
