"""A2: accuracy of pretrained face CNNs against image detail, JPEG quality and crop, with bootstrap
confidence intervals."""
from __future__ import annotations


import numpy as np

from .. import images, nets
from .config import FACE_MODELS, ResolutionConfig


def bootstrap_ci(correct: np.ndarray, n_boot: int, seed: int = 0, level: float = 0.95) -> tuple:
    """Percentile bootstrap CI of the mean of a 0/1 vector (resampling images)."""
    correct = np.asarray(correct, float)
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, len(correct), (n_boot, len(correct)))].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _center_crop(x: np.ndarray, ratio: float) -> np.ndarray:
    h, w = x.shape[:2]
    ch, cw = max(1, round(h * ratio)), max(1, round(w * ratio))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return x[y0:y0 + ch, x0:x0 + cw]


def accuracy_study(config: ResolutionConfig, progress: bool = True) -> list:
    """Rows: model, axis (detail | jpeg_quality | crop), value, accuracy, ci_low, ci_high,
    bytes_mean (JPEG bytes of the image as stored for that setting), n."""
    from tqdm.auto import tqdm
    faces, labels = images.faces()
    rows = []
    for mname in config.face_models:
        net = FACE_MODELS[mname]()
        cn = nets.CompiledNet(net, net.input_size, outputs=("probabilities",), threads=config.threads)
        size = net.input_size
        settings = ([("detail", d) for d in config.details] + [("jpeg_quality", q) for q in config.qualities]
                    + [("crop", c) for c in config.crops])
        for axis, value in tqdm(settings, desc=f"A2 {mname}", disable=not progress):
            correct, nbytes = [], []
            for img, y in zip(faces, labels):
                if axis == "detail":      # stored at value x value, shown to the net at its size
                    small = images.resize(img, value)
                    _, b = images.jpeg_roundtrip(small, 95)
                    x = images.resize(small, size)
                elif axis == "jpeg_quality":
                    dec, b = images.jpeg_roundtrip(img, value)
                    x = images.resize(dec, size)
                else:
                    crop = _center_crop(img, value)
                    _, b = images.jpeg_roundtrip(crop, 95)
                    x = images.resize(crop, size)
                p = cn.probabilities(net.preprocess(images.gray_to_rgb(x)))
                correct.append(int((p[1] > 0.5) == bool(y)))
                nbytes.append(b)
            lo, hi = bootstrap_ci(np.array(correct), config.bootstrap, config.seed)
            rows.append({"model": mname, "axis": axis, "value": value, "accuracy": float(np.mean(correct)),
                         "ci_low": lo, "ci_high": hi, "bytes_mean": float(np.mean(nbytes)), "n": len(correct)})
    return rows
