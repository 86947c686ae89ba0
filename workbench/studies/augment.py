"""The six augmentations of "Do CNNs Encode Data Augmentations?" (Yan & Huang), in numpy (there is
no torchvision here). Each has an `extent` range; a larger extent is a stronger augmentation:

  scale       zoom factor z in [1, 1/sqrt(0.08)]: a random crop of area fraction 1/z^2
              (torchvision RandomResizedCrop's scale range [0.08, 1]), resized to the output
  aspect      width/height ratio r in [3/4, 4/3] of a random crop of half the image's area,
              resized to a square output (content squashed horizontally as r grows)
  brightness  factor in [0.6, 1.4]: x * b, as torchvision (blend with black)
  contrast    factor in [0.6, 1.4]: blend with the mean gray level
  saturation  factor in [0.6, 1.4]: blend with the grayscale image
  hue         shift in [0, 0.1] turns of the hue circle (ranked by magnitude)

Photometric augmentations work on the centre square of the photo resized to the output size;
geometric ones crop from the full photo, so the crop's position is a nuisance the probe must ignore.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .images import resize


@dataclass(frozen=True)
class Augmentation:
    name: str
    low: float
    high: float
    geometric: bool
    description: str

    def apply(self, image: np.ndarray, extent: float, size: int, rng: np.random.Generator | None = None,
              center: bool = False) -> np.ndarray:
        """`image` (HxWx3 uint8 or float in [0, 1]) augmented at `extent`, as size x size float32.
        `center` puts geometric crops in the middle (deterministic) instead of at random."""
        if not self.low - 1e-9 <= extent <= self.high + 1e-9:
            raise ValueError(f"{self.name}: extent {extent} outside [{self.low}, {self.high}]")
        rng = np.random.default_rng(0) if rng is None else rng
        if self.geometric:
            return _APPLY[self.name](image, extent, size, rng, center)
        return _APPLY[self.name](center_square(image, size), extent)


def center_square(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return resize(image[y:y + side, x:x + side], size)


def _crop(image, ch, cw, size, rng, center, out_w=None):
    h, w = image.shape[:2]
    ch, cw = max(1, min(h, int(round(ch)))), max(1, min(w, int(round(cw))))
    if center:
        y, x = (h - ch) // 2, (w - cw) // 2
    else:
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return resize(image[y:y + ch, x:x + cw], size, out_w or size)


def _scale(image, zoom, size, rng, center):
    side = min(image.shape[:2]) / zoom          # square crop of area fraction 1/zoom^2 of the square
    return _crop(image, side, side, size, rng, center)


def _aspect(image, ratio, size, rng, center):
    h, w = image.shape[:2]
    area = 0.5 * min(h, w) ** 2
    cw, ch = math.sqrt(area * ratio), math.sqrt(area / ratio)
    return _crop(image, ch, cw, size, rng, center)


def _gray(x):
    return x @ np.array([0.299, 0.587, 0.114], np.float32)


def _brightness(x, b):
    return np.clip(x * b, 0.0, 1.0)


def _contrast(x, c):
    m = _gray(x).mean()
    return np.clip(m + c * (x - m), 0.0, 1.0)


def _saturation(x, s):
    g = _gray(x)[..., None]
    return np.clip(g + s * (x - g), 0.0, 1.0)


def _hue(x, shift):
    from skimage.color import hsv2rgb, rgb2hsv
    hsv = rgb2hsv(x)
    hsv[..., 0] = (hsv[..., 0] + shift) % 1.0
    return hsv2rgb(hsv).astype(np.float32)


_APPLY = {"scale": _scale, "aspect": _aspect, "brightness": _brightness, "contrast": _contrast,
          "saturation": _saturation, "hue": _hue}

AUGMENTATIONS = {a.name: a for a in (
    Augmentation("scale", 1.0, 1.0 / math.sqrt(0.08), True, "zoom: crop area fraction 1/z^2"),
    Augmentation("aspect", 0.75, 4.0 / 3.0, True, "crop width/height ratio, squashed to a square"),
    Augmentation("brightness", 0.6, 1.4, False, "x * b"),
    Augmentation("contrast", 0.6, 1.4, False, "blend with the mean gray level"),
    Augmentation("saturation", 0.6, 1.4, False, "blend with the grayscale image"),
    Augmentation("hue", 0.0, 0.1, False, "hue shift in turns"),
)}
# the paper's Fig. 1b orders augmentations "roughly by complexity"; ours, low-level first
ORDER = ("brightness", "saturation", "contrast", "hue", "aspect", "scale")


def get(name: str) -> Augmentation:
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(ORDER)}")
    return AUGMENTATIONS[name]


def pixel_stats(x: np.ndarray) -> np.ndarray:
    """The pixel-statistics baseline: per-channel mean and std, HSV saturation/value mean and
    std, the circular mean hue, gradient energy and its horizontal/vertical balance (15 numbers)."""
    from skimage.color import rgb2hsv
    hsv = rgb2hsv(x)
    ang = 2 * np.pi * hsv[..., 0]
    g = _gray(x)
    gx, gy = np.abs(np.diff(g, axis=1)).mean(), np.abs(np.diff(g, axis=0)).mean()
    return np.array([*x.mean(axis=(0, 1)), *x.std(axis=(0, 1)), hsv[..., 1].mean(), hsv[..., 1].std(),
                     hsv[..., 2].mean(), hsv[..., 2].std(),
                     (np.cos(ang) * hsv[..., 1]).mean(), (np.sin(ang) * hsv[..., 1]).mean(),
                     gx + gy, gx / (gx + gy + 1e-8), gy / (gx + gy + 1e-8)], np.float32)
