"""Bokeh figures of the two studies (imported lazily: the studies run headless without Bokeh).
Every function takes a study's tables (lists of row dicts) and returns a Bokeh layout;
`save_html` writes it with inline resources, so the file opens offline."""
from __future__ import annotations

import math

from bokeh.layouts import column, gridplot, row
from bokeh.models import ColumnDataSource, HoverTool, Whisker
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

COLORS = Category10_10


def save_html(layout, path, title: str) -> str:
    from bokeh.embed import file_html
    from bokeh.resources import INLINE
    html = file_html(layout, INLINE, title)
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    return str(path)


def _fig(title, x_label, y_label, **kw):
    p = figure(title=title, width=kw.pop("width", 430), height=kw.pop("height", 320),
               toolbar_location="above", **kw)
    p.xaxis.axis_label, p.yaxis.axis_label = x_label, y_label
    return p


# ---------------------------------------------------------------- study B

def probe_accuracy(accuracy: list, importance: list):
    """Per backbone: held-out pairwise accuracy by block, one line per augmentation (the pixel
    baseline dashed at the right); and the first block's weight share per augmentation."""
    backbones = [b for b in dict.fromkeys(r["backbone"] for r in accuracy) if b != "pixel_stats"]
    augs = list(dict.fromkeys(r["augmentation"] for r in accuracy))
    base = {r["augmentation"]: r["accuracy"] for r in accuracy if r["backbone"] == "pixel_stats"}
    plots = []
    for b in backbones:
        blocks = list(dict.fromkeys(r["block"] for r in accuracy if r["backbone"] == b))
        p = _fig(f"{b}: pairwise accuracy by block", "block", "held-out pair accuracy",
                 x_range=blocks + ["pixels"], y_range=(0.3, 1.02))
        for i, a in enumerate(augs):
            ys = [next(r["accuracy"] for r in accuracy if r["backbone"] == b and r["augmentation"] == a
                       and r["block"] == blk) for blk in blocks]
            p.line(blocks, ys, color=COLORS[i % 10], line_width=2, legend_label=a)
            p.scatter(blocks, ys, color=COLORS[i % 10], size=6)
            if a in base:
                p.scatter(["pixels"], [base[a]], color=COLORS[i % 10], marker="square", size=8)
        p.line(blocks + ["pixels"], [0.5] * (len(blocks) + 1), color="gray", line_dash="dashed")
        p.legend.location, p.legend.label_text_font_size = "bottom_left", "8pt"
        q = _fig(f"{b}: first block's share of |w| (Fig. 1b analogue)", "augmentation",
                 "weight share", x_range=augs)
        shares = [next((r["weight_share"] for r in importance if r["backbone"] == b and r["augmentation"] == a
                        and r["block"] == blocks[0]), math.nan) for a in augs]
        q.vbar(x=augs, top=shares, width=0.7, color=COLORS[0])
        q.line(augs, [1 / len(blocks)] * len(augs), color="gray", line_dash="dashed")
        q.xaxis.major_label_orientation = 0.8
        plots.append(row(p, q))
    return column(*plots)


# ---------------------------------------------------------------- study A

def a1_latency(network: list, tuning_cost: list | None = None):
    """ResNet-18 per resolution and arm (tuned per resolution, 224's configs reused, fallback):
    conv time relative to 224 beside FLOPs relative to 224, conv GFLOP/s (Winograd layers count
    their direct FLOPs; resolutions where odd feature maps run fewer convs on Winograd than 224
    are circled), the end-to-end latency, and the tuning cost with and without transfer from
    224's records.
    Conv time = the sum of each conv kernel's fastest time over the interleaved rounds: on a
    shared machine it filters load spikes that a whole-network batch rarely escapes."""
    arms = list(dict.fromkeys(r["arm"] for r in network))
    ref = min(network, key=lambda r: abs(r["flops_vs_ref"] - 1.0))["resolution"]
    p = _fig(f"conv time / conv time({ref:.0f}) vs FLOPs / FLOPs({ref:.0f})", "input resolution",
             f"ratio to {ref:.0f}")
    q = _fig("conv GFLOP/s (circled: fewer Winograd convs than at the reference)", "input resolution",
             "effective GFLOP/s")
    w = _fig("ResNet-18 end to end (fastest round)", "input resolution", "ms per image")
    for i, arm in enumerate(arms):
        sel = sorted((r for r in network if r["arm"] == arm), key=lambda r: r["resolution"])
        base = next(r for r in sel if r["resolution"] == ref)
        src = ColumnDataSource({"x": [r["resolution"] for r in sel],
                                "ratio": [r["conv_ms"] / base["conv_ms"] for r in sel],
                                "gflops": [r["conv_gflop"] / r["conv_ms"] * 1e3 for r in sel],
                                "ms": [r["ms"] for r in sel], "conv_ms": [r["conv_ms"] for r in sel],
                                "wino": [r.get("winograd_convs", "") for r in sel]})
        for f, y in ((p, "ratio"), (q, "gflops"), (w, "ms")):
            f.line("x", y, source=src, color=COLORS[i], line_width=2, legend_label=arm)
            f.scatter("x", y, source=src, color=COLORS[i], size=6, legend_label=arm)
        if i == 0:
            xs = [r["resolution"] for r in sel]
            p.line(xs, [r["flops_vs_ref"] for r in sel], color="black", line_dash="dashed",
                   legend_label="FLOPs")
            w.line("x", "conv_ms", source=src, color="gray", line_dash="dotted",
                   legend_label=f"{arm}: convs only")
    ref_wino = {r.get("winograd_convs") for r in network if r["resolution"] == ref}
    if None in ref_wino or "" in ref_wino:          # tables from before the Winograd pass
        odd = [r for r in network if r["resolution"] == 200]
    else:
        odd = [r for r in network if r["winograd_convs"] < max(ref_wino)]
    if odd:
        q.scatter([r["resolution"] for r in odd], [r["conv_gflop"] / r["conv_ms"] * 1e3 for r in odd],
                  marker="circle",
                  size=18, fill_alpha=0, line_color="red", line_width=2)
    for f in (p, q, w):
        f.legend.location, f.legend.label_text_font_size = "top_left", "8pt"
        f.add_tools(HoverTool(tooltips=[("r", "@x"), ("ms", "@ms{0.0}"), ("conv ms", "@conv_ms{0.0}"),
                                        ("conv GFLOP/s", "@gflops{0.0}"), ("Winograd convs", "@wino")]))
    figs = [p, q, w]
    if tuning_cost:
        c = _fig("tuning: trials to 95% of the best (median over tasks)", "input resolution", "trials")
        sel = sorted(tuning_cost, key=lambda r: r["resolution"])
        xs = [r["resolution"] for r in sel]
        for i, (key, label) in enumerate((("cold_median_trials_to_95", "from scratch"),
                                          ("warm_median_trials_to_95", "transfer from 224"))):
            c.line(xs, [r[key] for r in sel], color=COLORS[i], line_width=2, legend_label=label)
            c.scatter(xs, [r[key] for r in sel], color=COLORS[i], size=6, legend_label=label)
        c.legend.location, c.legend.label_text_font_size = "top_left", "8pt"
        figs.append(c)
    return gridplot([figs[:2], figs[2:]])


def a1_vta(vta_rows: list):
    arms = list(dict.fromkeys(r["arm"] for r in vta_rows))
    p = _fig("VTA simulator: conv cycles per image", "input resolution", "cycles (offloaded convs)")
    q = _fig("VTA simulator: DRAM bytes per image", "input resolution", "bytes")
    for i, arm in enumerate(arms):
        res = sorted({r["resolution"] for r in vta_rows})
        ran = [r for r in vta_rows if r["arm"] == arm and r.get("cycles") not in (None, "")]  # tiles fit
        cyc = [sum(r["cycles"] * r["count"] for r in ran if r["resolution"] == x) for x in res]
        byt = [sum(r["dram_bytes"] * r["count"] for r in ran if r["resolution"] == x) for x in res]
        p.line(res, cyc, color=COLORS[i], line_width=2, legend_label=arm)
        q.line(res, byt, color=COLORS[i], line_width=2, legend_label=arm)
    for f in (p, q):
        f.legend.location = "top_left"
    return row(p, q)


def a2_accuracy(rows: list):
    """Accuracy with bootstrap 95% intervals against detail, JPEG bytes and crop, per model."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    figs = []
    for axis, xkey, label in (("detail", "value", "stored resolution (px)"),
                              ("jpeg_quality", "bytes_mean", "JPEG bytes per image"),
                              ("crop", "value", "centre-crop ratio")):
        p = _fig(f"accuracy vs {axis.replace('_', ' ')}", label, "accuracy (95% bootstrap CI)")
        for i, m in enumerate(models):
            sel = sorted((r for r in rows if r["model"] == m and r["axis"] == axis), key=lambda r: r[xkey])
            if not sel:
                continue
            src = ColumnDataSource({"x": [r[xkey] for r in sel], "y": [r["accuracy"] for r in sel],
                                    "lo": [r["ci_low"] for r in sel], "hi": [r["ci_high"] for r in sel]})
            p.line("x", "y", source=src, color=COLORS[i], line_width=2, legend_label=m)
            p.scatter("x", "y", source=src, color=COLORS[i], size=6)
            p.add_layout(Whisker(source=src, base="x", lower="lo", upper="hi", line_color=COLORS[i]))
        p.legend.location = "bottom_right"
        figs.append(p)
    return row(*figs)


def a3_pareto(policies: list):
    """Accuracy against mean latency, bytes and FLOPs per image for every policy point."""
    kinds = list(dict.fromkeys(r["policy"] for r in policies))
    figs = []
    for cost, label in (("latency_ms", "mean latency (ms)"), ("bytes_mean", "bytes read per image"),
                        ("flops_mean", "FLOPs per image")):
        p = _fig(f"accuracy vs {label}", label, "accuracy")
        for i, k in enumerate(kinds):
            sel = sorted((r for r in policies if r["policy"] == k), key=lambda r: r[cost])
            src = ColumnDataSource({"x": [r[cost] for r in sel], "y": [r["accuracy"] for r in sel],
                                    "param": [r["param"] for r in sel]})
            if k != "oracle":
                p.line("x", "y", source=src, color=COLORS[i], line_width=1.5, legend_label=k)
            p.scatter("x", "y", source=src, color=COLORS[i], size=8 if k == "oracle" else 6,
                      marker="star" if k == "oracle" else "circle", legend_label=k)
        p.add_tools(HoverTool(tooltips=[("param", "@param"), ("accuracy", "@y{0.000}"), ("cost", "@x")]))
        p.legend.location, p.legend.label_text_font_size = "bottom_right", "8pt"
        figs.append(p)
    return gridplot([figs])
