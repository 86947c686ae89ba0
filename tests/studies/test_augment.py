"""Each augmentation's direction: a stronger extent gives measurably more of its property."""
import numpy as np
import pytest
from skimage.color import rgb2hsv

from workbench.studies import augment


def _photo():
    """A smooth colourful image with a centred dark disk (for the geometric augmentations)."""
    y, x = np.mgrid[0:200, 0:300] / 300.0
    img = np.stack([0.3 + 0.4 * x, 0.6 - 0.3 * y, 0.4 + 0.2 * np.sin(6 * x)], axis=2)
    disk = (np.mgrid[0:200, 0:300][0] - 100) ** 2 + (np.mgrid[0:200, 0:300][1] - 150) ** 2 < 30 ** 2
    img[disk] = 0.05
    return (img * 255).astype(np.uint8)


def _disk_extent(view):
    dark = view.mean(axis=2) < 0.15
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    return np.ptp(rows) + 1, np.ptp(cols) + 1


def _hue_distance(a, b):
    d = np.abs(rgb2hsv(a)[..., 0] - rgb2hsv(b)[..., 0])
    return np.minimum(d, 1 - d).mean()


PROPERTY = {
    "brightness": lambda v, base: v.mean(),
    "contrast": lambda v, base: (v @ [0.299, 0.587, 0.114]).std(),
    "saturation": lambda v, base: rgb2hsv(v)[..., 1].mean(),
    "hue": lambda v, base: _hue_distance(v, base),
    "scale": lambda v, base: _disk_extent(v)[0],                           # zoom: the disk grows
    "aspect": lambda v, base: _disk_extent(v)[0] / _disk_extent(v)[1],     # wider crop: squashed
}


@pytest.mark.parametrize("name", augment.ORDER)
def test_stronger_means_more(name):
    aug = augment.get(name)
    photo = _photo()
    base = augment.center_square(photo, 96)
    extents = np.linspace(aug.low, aug.high, 4)
    values = [PROPERTY[name](aug.apply(photo, float(e), 96, center=True), base) for e in extents]
    assert all(b > a for a, b in zip(values, values[1:])), (name, values)
    assert values[-1] > values[0] * 1.1 or (name == "hue" and values[-1] > 0.05), (name, values)


def test_views_are_float_images_of_the_requested_size():
    photo = _photo()
    for name in augment.ORDER:
        aug = augment.get(name)
        v = aug.apply(photo, aug.low, 48, np.random.default_rng(0))
        assert v.shape == (48, 48, 3) and v.dtype == np.float32
        assert 0.0 <= v.min() and v.max() <= 1.0


def test_bad_extent_and_unknown_name():
    with pytest.raises(ValueError, match="outside"):
        augment.get("brightness").apply(_photo(), 3.0, 32)
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.get("blur")


def test_pixel_stats_baseline_sees_brightness():
    photo = _photo()
    dim, bright = (augment.pixel_stats(augment.get("brightness").apply(photo, b, 48)) for b in (0.7, 1.3))
    assert bright[:3].mean() > dim[:3].mean()
