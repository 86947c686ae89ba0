"""Study B: do CNN layers encode data augmentations? (toy analogue of Yan & Huang, IJCNN 2021)

For every base photo and augmentation, `views` copies are made at stratified random extents; each
view goes through the backbones, compiled end to end by the workbench's graph layer (checked against
PyTorch on every run), and the global-average-pooled output of each block -- a named output of the
compiled graph -- is its feature. A pairwise ranking probe per
(backbone, augmentation, block) says which of two views of one image is augmented more, scored on
held-out images. Backbones: MTCNN ONet (pretrained, on faces, fully convolutional trunk) and a
ResNet-18 with seeded random weights (the control); the pixel-statistics baseline goes beside them.

What this is not: the paper probes ImageNet-pretrained ResNets on ImageNet; we have neither offline.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import augment, images, nets, probe

BACKBONES = {"mtcnn_onet": lambda seed: nets.mtcnn_onet(),
             "resnet18_random": lambda seed: nets.resnet18(seed)}


@dataclass(frozen=True)
class ProbeConfig:
    size: int = 112                       # side of every view fed to the backbones
    views: int = 12                       # views per (image, augmentation)
    images: int | None = None             # first N photos (None: all 11)
    augmentations: tuple = augment.ORDER
    backbones: tuple = tuple(BACKBONES)
    folds: int | None = None              # None: leave-one-image-out
    min_gap: float = 0.05                 # pairs need extents this far apart (fraction of range)
    checks: int = 3                       # views per backbone compared with PyTorch
    threads: int = 1                      # one thread per kernel: libgomp's barriers collapse when
    seed: int = 0                         # the machine is oversubscribed (measured 10x slower)

    @classmethod
    def quick(cls) -> "ProbeConfig":
        return cls(size=64, views=6, images=4, checks=1)

    def __post_init__(self):
        for a in self.augmentations:
            augment.get(a)
        for b in self.backbones:
            if b not in BACKBONES:
                raise ValueError(f"unknown backbone {b!r}; choose from {', '.join(BACKBONES)}")
        if self.views < 2:
            raise ValueError(f"views must be >= 2 (pairs are made of views), got {self.views}")
        if self.size < 48:
            raise ValueError(f"size must be >= 48 (ONet's trunk needs it), got {self.size}")


@dataclass
class ProbeResult:
    config: ProbeConfig
    accuracy: list = field(default_factory=list)     # rows: backbone, augmentation, block, accuracy, pairs
    importance: list = field(default_factory=list)   # rows: backbone, augmentation, block, weight_share, drop
    checks: list = field(default_factory=list)       # rows: backbone, max_abs_err, inputs, gflop, ms_per_forward
    notes: dict = field(default_factory=dict)

    def table(self, name: str) -> list:
        if name not in ("accuracy", "importance", "checks"):
            raise ValueError(f"no table {name!r}; tables: accuracy, importance, checks")
        return getattr(self, name)

    def accuracy_matrix(self, backbone: str) -> tuple:
        """(blocks, augmentations, accuracy array blocks x augmentations) for one backbone."""
        rows = [r for r in self.accuracy if r["backbone"] == backbone]
        blocks = list(dict.fromkeys(r["block"] for r in rows))
        augs = list(dict.fromkeys(r["augmentation"] for r in rows))
        m = np.full((len(blocks), len(augs)), np.nan)
        for r in rows:
            m[blocks.index(r["block"]), augs.index(r["augmentation"])] = r["accuracy"]
        return blocks, augs, m


def _extents(aug, n, rng):
    """n stratified random extents over the augmentation's range, shuffled."""
    u = (np.arange(n) + rng.random(n)) / n
    return rng.permutation(aug.low + u * (aug.high - aug.low))


def collect(config: ProbeConfig, progress: bool = True):
    """Views and features: returns (features[backbone][aug] = list of per-block arrays,
    pixels[aug], extents[aug], groups[aug], checks rows)."""
    from tqdm.auto import tqdm
    rng = np.random.default_rng(config.seed)
    photos = images.photos(config.images)
    compiled = {b: nets.CompiledNet(BACKBONES[b](config.seed), config.size, outputs=("features",),
                                    threads=config.threads) for b in config.backbones}
    feats = {b: {} for b in config.backbones}
    pixels, extents, groups = {}, {}, {}
    errs = {b: 0.0 for b in config.backbones}
    checked = {b: 0 for b in config.backbones}
    seconds = {b: 0.0 for b in config.backbones}
    forwards = 0
    bar = tqdm(total=len(config.augmentations) * len(photos) * config.views, desc="views",
               disable=not progress)
    for aname in config.augmentations:
        aug = augment.get(aname)
        per_block = {b: [] for b in config.backbones}
        px, ex, gr = [], [], []
        for gi, (pname, photo) in enumerate(photos.items()):
            for vi, e in enumerate(_extents(aug, config.views, rng)):
                view = aug.apply(photo, float(e), config.size, rng)
                px.append(augment.pixel_stats(view))
                ex.append(e)
                gr.append(gi)
                for b, cn in compiled.items():
                    x = cn.net.preprocess(view)
                    t = time.perf_counter()
                    per_block[b].append(cn.features(x))
                    seconds[b] += time.perf_counter() - t
                    if vi == 0 and checked[b] < config.checks:    # first view of the first images
                        errs[b] = max(errs[b], cn.max_abs_error(x))
                        checked[b] += 1
                forwards += 1
                bar.update()
        for b in config.backbones:
            feats[b][aname] = [np.stack([v[k] for v in per_block[b]])
                               for k in range(len(compiled[b].net.block_labels))]
        pixels[aname], extents[aname], groups[aname] = np.stack(px), np.array(ex), np.array(gr)
    bar.close()
    checks = [{"backbone": b, "max_abs_err": errs[b], "inputs_checked": checked[b],
               "gflop_per_forward": compiled[b].flops / 1e9,
               "ms_per_forward": 1e3 * seconds[b] / max(forwards, 1),
               "pretrained": compiled[b].net.pretrained, "weights": compiled[b].net.source}
              for b in config.backbones]
    labels = {b: compiled[b].net.block_labels for b in config.backbones}
    return feats, pixels, extents, groups, checks, labels, list(photos)


def run(config: ProbeConfig = ProbeConfig(), progress: bool = True) -> ProbeResult:
    from tqdm.auto import tqdm
    feats, pixels, extents, groups, checks, labels, names = collect(config, progress)
    result = ProbeResult(config, checks=checks,
                         notes={"images": names, "pairs_split": "leave-one-image-out"
                                if config.folds is None else f"{config.folds}-fold by image"})
    jobs = [(a, b) for a in config.augmentations for b in config.backbones]
    for aname, b in tqdm(jobs, desc="probe", disable=not progress):
        aug = augment.get(aname)
        pairs = probe.make_pairs(extents[aname], groups[aname], config.min_gap * (aug.high - aug.low),
                                 seed=config.seed)
        blocks = feats[b][aname]
        for label, f in zip(labels[b], blocks):
            result.accuracy.append({"backbone": b, "augmentation": aname, "block": label,
                                    "accuracy": probe.pair_accuracy(f, pairs, config.folds),
                                    "pairs": len(pairs.label)})
        imp = probe.block_importance(blocks, pairs, config.folds)
        for label, share, drop in zip(labels[b], imp["weight_share"], imp["drop"]):
            result.importance.append({"backbone": b, "augmentation": aname, "block": label,
                                      "weight_share": float(share), "drop": float(drop),
                                      "all_blocks_accuracy": imp["all_blocks"]})
        if b == config.backbones[0]:
            result.accuracy.append({"backbone": "pixel_stats", "augmentation": aname, "block": "stats",
                                    "accuracy": probe.pair_accuracy(pixels[aname], pairs, config.folds),
                                    "pairs": len(pairs.label)})
    return result


def summary(result: ProbeResult) -> list:
    """The paper's three qualitative claims, checked on our numbers (one line each)."""
    lines = []
    for b in result.config.backbones:
        blocks, augs, m = result.accuracy_matrix(b)
        first, last = m[0], m[-1]
        lines.append(f"{b}: mean accuracy by block " + ", ".join(
            f"{blk} {v:.2f}" for blk, v in zip(blocks, np.nanmean(m, axis=1))))
        lines.append(f"{b}: augmentations above 75% in some block: "
                     f"{sum(bool(np.nanmax(m[:, j]) > 0.75) for j in range(len(augs)))}/{len(augs)}; "
                     f"first block beats last on {int(np.sum(first > last))}/{len(augs)}")
        imp = [r for r in result.importance if r["backbone"] == b and r["block"] == blocks[0]]
        order = sorted(imp, key=lambda r: -r["weight_share"])
        lines.append(f"{b}: first-block weight share, largest first: " + ", ".join(
            f"{r['augmentation']} {r['weight_share']:.2f}" for r in order))
    return lines
