"""ResNet-18 conv2d workloads (VTA's test_benchmark_topi_conv2d numbering, reference vta.md).

C1 (224x224, 3->64, 7x7, stride 2) runs on the CPU in VTA's flow; C2-C11 are offloaded.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conv2DWorkload:
    name: str
    height: int
    width: int
    in_filter: int
    out_filter: int
    kernel: int
    pad: int
    stride: int
    batch: int = 1

    @property
    def out_height(self) -> int:
        return (self.height + 2 * self.pad - self.kernel) // self.stride + 1

    @property
    def out_width(self) -> int:
        return (self.width + 2 * self.pad - self.kernel) // self.stride + 1

    @property
    def macs(self) -> int:
        return (self.batch * self.out_filter * self.out_height * self.out_width
                * self.in_filter * self.kernel * self.kernel)


RESNET18 = {w.name: w for w in (
    Conv2DWorkload("C1", 224, 224, 3, 64, 7, 3, 2),
    Conv2DWorkload("C2", 56, 56, 64, 64, 3, 1, 1),
    Conv2DWorkload("C3", 56, 56, 64, 128, 3, 1, 2),
    Conv2DWorkload("C4", 56, 56, 64, 128, 1, 0, 2),
    Conv2DWorkload("C5", 28, 28, 128, 128, 3, 1, 1),
    Conv2DWorkload("C6", 28, 28, 128, 256, 3, 1, 2),
    Conv2DWorkload("C7", 28, 28, 128, 256, 1, 0, 2),
    Conv2DWorkload("C8", 14, 14, 256, 256, 3, 1, 1),
    Conv2DWorkload("C9", 14, 14, 256, 512, 3, 1, 2),
    Conv2DWorkload("C10", 14, 14, 256, 512, 1, 0, 2),
    Conv2DWorkload("C11", 7, 7, 512, 512, 3, 1, 1),
)}

OFFLOADED = tuple(f"C{k}" for k in range(2, 12))
