"""Images that ship inside installed packages (nothing is downloaded): scikit-image's photos,
textures and faces, scikit-learn's sample photos. Plus resizing and JPEG round trips through Pillow."""
from __future__ import annotations

import io

import numpy as np

# scikit-image's bundled RGB photos (a name missing from an installed version is skipped)
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina",
                  "immunohistochemistry")
TEXTURES = ("brick", "grass", "gravel")


def photos(limit: int | None = None) -> dict:
    """name -> HxWx3 uint8 RGB photo: scikit-image's, the stereo motorcycle pair, scikit-learn's
    china/flower (11 images with scikit-image 0.26)."""
    from skimage import data
    from sklearn.datasets import load_sample_images
    out = {}
    for name in SKIMAGE_PHOTOS:
        try:
            out[name] = np.ascontiguousarray(getattr(data, name)())
        except (AttributeError, ModuleNotFoundError, OSError):
            continue
    left, right, _ = data.stereo_motorcycle()
    out["motorcycle_left"], out["motorcycle_right"] = left, right
    sample = load_sample_images()
    for fname, img in zip(sample.filenames, sample.images):
        out[fname.rsplit("/", 1)[-1].split(".")[0]] = img
    names = sorted(out)[:limit]
    return {n: out[n] for n in names}


def textures() -> dict:
    """name -> 512x512 uint8 grayscale texture (brick, grass, gravel)."""
    from skimage import data
    return {n: getattr(data, n)() for n in TEXTURES}


def faces() -> tuple:
    """scikit-image's lfw_subset: (200, 25, 25) float in [0, 1]; labels 1 = face (the first 100),
    0 = non-face, as in scikit-image's gallery example."""
    from skimage import data
    x = data.lfw_subset()
    return x, (np.arange(len(x)) < 100).astype(np.int64)


def resize(image: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """Bilinear resize with antialiasing (Pillow) of a uint8 or [0, 1] float image, gray or RGB;
    returns float32 in [0, 1] with the same channel layout."""
    from PIL import Image
    width = height if width is None else width
    if height < 1 or width < 1:
        raise ValueError(f"resize: target size must be positive, got {height}x{width}")
    u8 = to_uint8(image)
    out = Image.fromarray(u8).resize((width, height), Image.BILINEAR, reducing_gap=None)
    return np.asarray(out, np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> tuple:
    """Encode with Pillow at `quality` (1-95) and decode: (float32 image in [0, 1], bytes)."""
    from PIL import Image
    if not 1 <= quality <= 100:
        raise ValueError(f"jpeg quality must be in 1..100, got {quality}")
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="JPEG", quality=int(quality))
    data = buf.getvalue()
    return np.asarray(Image.open(io.BytesIO(data)), np.float32) / 255.0, len(data)


def gray_to_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
