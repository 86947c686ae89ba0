"""The papers' workload tables: row counts, sources, values, and that every row builds."""
from __future__ import annotations

import dataclasses

import pytest

from kernels import registry, workloads as W


def test_row_counts_and_names():
    assert [w.name for w in W.RESNET18_CONV2D] == [f"C{i}" for i in range(1, 13)]
    assert [w.name for w in W.MOBILENET_DEPTHWISE] == [f"D{i}" for i in range(1, 10)]
    assert len(W.DCGAN_CONV2D_TRANSPOSE) == 4
    assert len(W.ALL) == 12 + 9 + 4


@pytest.mark.parametrize("row", list(W.ALL.values()), ids=list(W.ALL))
def test_every_row_cites_a_source_and_is_frozen(row):
    assert dataclasses.is_dataclass(row)
    assert isinstance(row.source, str) and len(row.source) > 20
    assert "Table" in row.source or "Sec." in row.source
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.height = 1


def test_known_values():
    c6 = W.get("C6")
    assert (c6.height, c6.in_channel, c6.out_channel, c6.kernel, c6.stride, c6.padding) == (
        28, 128, 128, 3, 1, 1)
    c1 = W.get("C1")
    assert (c1.height, c1.in_channel, c1.out_channel, c1.kernel, c1.stride, c1.padding) == (
        224, 3, 64, 7, 2, 3)
    assert (c1.out_height, c1.out_width) == (112, 112)
    assert c6.flops == 2 * 128 * 28 * 28 * 128 * 9
    assert W.get("D9").channel == 1024 and W.get("D9").height == 7
    assert all(w.kernel == 3 and w.padding == 1 for w in W.MOBILENET_DEPTHWISE)
    assert [w.out_height for w in W.DCGAN_CONV2D_TRANSPOSE] == [8, 16, 32, 64]
    assert W.DCGAN_CONV2D_TRANSPOSE[-1].out_channel == 3
    with pytest.raises(KeyError, match="C6"):
        W.get("C13")


@pytest.mark.parametrize("table", list(W.TABLES))
def test_rows_build_graphs_of_the_right_shape(table):
    op = registry.get(W.OPERATOR_OF_TABLE[table])
    for row in W.TABLES[table]:
        params = row.params()
        _, out = op.make(**params)
        assert out.shape[-2:] == (row.out_height, row.out_width), row.name
        assert op.flops(**params) > 0
    nhwc = W.get("C2").params(layout="NHWC")
    _, out = registry.get("conv2d").make(**nhwc)
    assert out.shape == (1, 56, 56, 64)
    assert registry.get("conv2d").flops(**W.get("C6").params()) == W.get("C6").flops


def test_scaled_resolution_variant():
    c2 = W.get("C2").scaled(50)
    assert (c2.height, c2.width, c2.name, c2.out_height) == (50, 50, "C2@50", 50)
