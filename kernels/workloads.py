"""Workload tables from the papers, as frozen dataclasses. Every row carries its `source`.

- RESNET18_CONV2D: the 12 distinct conv2d layers of ResNet-18 (C1-C12), batch 1, "SAME" padding
  (K // 2), used for the single-operator experiments of the TVM and AutoTVM papers.
- MOBILENET_DEPTHWISE: the 9 distinct 3x3 depthwise conv2d layers of MobileNet (D1-D9), batch 1.
- DCGAN_CONV2D_TRANSPOSE: the 4 transposed convolutions of the DCGAN generator (64x64 output,
  ngf=128) that the TVM paper runs end to end.

`row.params(...)` gives keyword arguments for the matching kernels module's `make` (and the
registry's `make` / `reference` / `flops`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ._common import conv_out_size

TVM_TABLE2 = ("TVM: An Automated End-to-End Optimizing Compiler for Deep Learning (Chen et al., "
              "OSDI 2018), Table 2")
_RESNET_SRC = (TVM_TABLE2 + ": all conv2d operators of ResNet-18 (C1-C12), also the single-operator "
               "workloads of Learning to Optimize Tensor Programs (AutoTVM, Chen et al., NeurIPS "
               "2018). Shapes match "
               "apache/tvm python/tvm/relay/testing/resnet.py; padding is SAME (K//2); "
               "row order as recalled in shared/reference/autotvm.md sec. 7")
_MOBILENET_SRC = (TVM_TABLE2 + ": all depthwise conv2d operators of MobileNet (D1-D9). Values "
                  "recalled, not checked against the PDF (shared/reference/autotvm.md sec. 7 "
                  "[recall]); consistent with MobileNets (Howard et al. 2017) Table 1; padding 1")
_DCGAN_SRC = ("TVM (Chen et al., OSDI 2018), Sec. 6 end-to-end evaluation (DCGAN; the paper has no "
              "per-layer table). Layers of the DCGAN generator (Radford et al., ICLR 2016, Fig. 1) "
              "as built by apache/tvm python/tvm/relay/testing/dcgan.py: ngf=128, 4x4 kernels, "
              "stride 2, pad (k-1)//2 = 1, output_padding 0")


def _params(row, **extra) -> dict:
    """A row as keyword arguments of its kernels module's `make` (every field but name/source;
    `kernel` is spelled `kernel_size` there)."""
    out = {("kernel_size" if f.name == "kernel" else f.name): getattr(row, f.name)
           for f in fields(row) if f.name not in ("name", "source")}
    out.update(extra)
    return out


class _Row:
    def params(self, dtype: str = "float32") -> dict:
        """Keyword arguments for the registry operator's make / reference / flops."""
        return _params(self, dtype=dtype)


class _SlidingWindow(_Row):
    """Output size of a conv-like row (symmetric padding, no dilation), via the kernels' helper."""
    height: int
    width: int
    kernel: int
    stride: int
    padding: int

    @property
    def out_height(self) -> int:
        return conv_out_size(self.height, self.kernel, self.stride, self.padding, self.padding)

    @property
    def out_width(self) -> int:
        return conv_out_size(self.width, self.kernel, self.stride, self.padding, self.padding)


@dataclass(frozen=True)
class Conv2DWorkload(_SlidingWindow):
    name: str
    batch: int
    height: int
    width: int
    in_channel: int
    out_channel: int
    kernel: int
    stride: int
    padding: int
    source: str

    def params(self, layout: str = "NCHW", dtype: str = "float32", dilation: int = 1) -> dict:
        return _params(self, layout=layout, dtype=dtype, dilation=dilation)

    @property
    def flops(self) -> int:
        return (2 * self.batch * self.out_channel * self.out_height * self.out_width
                * self.in_channel * self.kernel * self.kernel)

    def scaled(self, height: int, width: int | None = None) -> "Conv2DWorkload":
        """The same layer at another input resolution (for resolution studies)."""
        return replace(self, name=f"{self.name}@{height}", height=height,
                       width=height if width is None else width)


@dataclass(frozen=True)
class DepthwiseConv2DWorkload(_SlidingWindow):
    name: str
    batch: int
    height: int
    width: int
    channel: int
    multiplier: int
    kernel: int
    stride: int
    padding: int
    source: str


@dataclass(frozen=True)
class Conv2DTransposeWorkload(_Row):
    name: str
    batch: int
    height: int
    width: int
    in_channel: int
    out_channel: int
    kernel: int
    stride: int
    padding: int
    output_padding: int
    source: str

    @property
    def out_height(self) -> int:
        return (self.height - 1) * self.stride - 2 * self.padding + self.kernel + self.output_padding

    @property
    def out_width(self) -> int:
        return (self.width - 1) * self.stride - 2 * self.padding + self.kernel + self.output_padding


def _conv(name, hw, ic, oc, k, s):
    return Conv2DWorkload(name, 1, hw, hw, ic, oc, k, s, k // 2, _RESNET_SRC)


RESNET18_CONV2D: tuple[Conv2DWorkload, ...] = (
    _conv("C1", 224, 3, 64, 7, 2),
    _conv("C2", 56, 64, 64, 3, 1),
    _conv("C3", 56, 64, 64, 1, 1),
    _conv("C4", 56, 64, 128, 3, 2),
    _conv("C5", 56, 64, 128, 1, 2),
    _conv("C6", 28, 128, 128, 3, 1),
    _conv("C7", 28, 128, 256, 3, 2),
    _conv("C8", 28, 128, 256, 1, 2),
    _conv("C9", 14, 256, 256, 3, 1),
    _conv("C10", 14, 256, 512, 3, 2),
    _conv("C11", 14, 256, 512, 1, 2),
    _conv("C12", 7, 512, 512, 3, 1),
)


def _dw(name, hw, c, s):
    return DepthwiseConv2DWorkload(name, 1, hw, hw, c, 1, 3, s, 1, _MOBILENET_SRC)


MOBILENET_DEPTHWISE: tuple[DepthwiseConv2DWorkload, ...] = (
    _dw("D1", 112, 32, 1),
    _dw("D2", 112, 64, 2),
    _dw("D3", 56, 128, 1),
    _dw("D4", 56, 128, 2),
    _dw("D5", 28, 256, 1),
    _dw("D6", 28, 256, 2),
    _dw("D7", 14, 512, 1),
    _dw("D8", 14, 512, 2),
    _dw("D9", 7, 1024, 1),
)


def _dc(name, hw, ic, oc):
    return Conv2DTransposeWorkload(name, 1, hw, hw, ic, oc, 4, 2, 1, 0, _DCGAN_SRC)


DCGAN_CONV2D_TRANSPOSE: tuple[Conv2DTransposeWorkload, ...] = (
    _dc("G2", 4, 1024, 512),    # 4x4 -> 8x8   (ngf*8 -> ngf*4)
    _dc("G3", 8, 512, 256),     # 8x8 -> 16x16
    _dc("G4", 16, 256, 128),    # 16x16 -> 32x32
    _dc("G5", 32, 128, 3),      # 32x32 -> 64x64 RGB
)

TABLES: dict[str, tuple] = {
    "resnet18_conv2d": RESNET18_CONV2D,
    "mobilenet_depthwise": MOBILENET_DEPTHWISE,
    "dcgan_conv2d_transpose": DCGAN_CONV2D_TRANSPOSE,
}

#: which registry operator each table's rows parametrize
OPERATOR_OF_TABLE = {"resnet18_conv2d": "conv2d", "mobilenet_depthwise": "depthwise_conv2d",
                     "dcgan_conv2d_transpose": "conv2d_transpose"}

ALL: dict[str, object] = {w.name: w for table in TABLES.values() for w in table}


def get(name: str):
    """A workload row by name ("C6", "D3", "G4")."""
    try:
        return ALL[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(ALL)}") from None


def as_dict(row) -> dict:
    return asdict(row)
