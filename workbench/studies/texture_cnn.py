"""A tiny fully convolutional texture classifier trained in the project (PyTorch trains it; the
graph layer compiles and runs it), so accuracy and compute both vary with the input resolution.

Data: scikit-image's brick / grass / gravel textures (512x512). Training views are random 128x128
windows of the top half of each texture, seen at `train_size` px; test views come from the bottom
half (never seen in training) and are resampled to each test resolution, the "image detail" axis.
Training mixes resolutions (each batch at one of `train_sizes`), as multi-resolution serving needs;
train at a single size to see the train/test resolution discrepancy instead.
"""
from __future__ import annotations

import numpy as np

from . import images, nets

WINDOW = 128          # physical window side in texture pixels


def windows(split: str, n_per_class: int, seed: int) -> tuple:
    """(list of WINDOW x WINDOW uint8 crops, labels) from the top ("train") or bottom ("test") half."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = np.random.default_rng(seed)
    out, labels = [], []
    for label, tex in enumerate(images.textures().values()):
        half = tex[:256] if split == "train" else tex[256:]
        for _ in range(n_per_class):
            y = int(rng.integers(0, half.shape[0] - WINDOW + 1))
            x = int(rng.integers(0, half.shape[1] - WINDOW + 1))
            out.append(half[y:y + WINDOW, x:x + WINDOW])
            labels.append(label)
    return out, np.array(labels)


def at_size(crop: np.ndarray, size: int) -> np.ndarray:
    """One window seen at `size` px, as an RGB float image."""
    return images.gray_to_rgb(images.resize(crop, size))


def _module():
    """conv16-pool-conv32-pool-conv32-GAP-dense3; forward(x, head) -> (blocks, logits)."""
    from torch import nn
    import torch.nn.functional as F

    class TextureCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2, self.conv3 = (nn.Conv2d(3, 16, 3, padding=1),
                                                  nn.Conv2d(16, 32, 3, padding=1),
                                                  nn.Conv2d(32, 32, 3, padding=1))
            self.fc = nn.Linear(32, 3)

        def forward(self, x, head=True):
            b1 = F.max_pool2d(F.relu(self.conv1(x)), 2)
            b2 = F.max_pool2d(F.relu(self.conv2(b1)), 2)
            b3 = F.relu(self.conv3(b2))
            return [b1, b2, b3], (self.fc(F.adaptive_avg_pool2d(b3, 1).flatten(1)) if head else None)
    return TextureCNN()


def train(train_sizes=(16, 24, 32, 48, 64), n_per_class: int = 120, epochs: int = 12,
          seed: int = 0) -> nets.Net:
    """Train the texture CNN with PyTorch (Adam, mixed resolutions); return it as a `nets.Net`
    (the graph layer compiles it). The head averages over space, so any input >= 4 px works."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    crops, ys = windows("train", n_per_class, seed)
    X = {s: torch.from_numpy(np.stack([at_size(c, s) for c in crops]).transpose(0, 3, 1, 2) - 0.5)
         for s in train_sizes}
    Y = torch.from_numpy(ys)
    model = _module()
    torch.manual_seed(seed)        # He-normal convolutions, small dense weights, zero biases
    with torch.no_grad():
        for conv in (model.conv1, model.conv2, model.conv3):
            f, c = conv.weight.shape[:2]
            conv.weight.copy_(torch.randn(f, c, 3, 3) * (2 / (9 * c)) ** 0.5)
            conv.bias.zero_()
        model.fc.weight.copy_(torch.randn(3, 32) * 0.1)
        model.fc.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)       # small batches: one thread, and no idle OpenMP spinners left
    try:                           # to compete with our own parallel kernels afterwards
        for _ in range(epochs):
            perm = torch.randperm(len(Y))
            for i in range(0, len(Y), 32):
                idx = perm[i:i + 32]
                x = X[train_sizes[int(rng.integers(len(train_sizes)))]][idx]
                opt.zero_grad()
                F.cross_entropy(model(x)[1], Y[idx]).backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return nets.Net("texture_cnn", model.eval(), ("block1", "block2", "block3"), has_head=True,
                    mean=(0.5,) * 3, std=(1.0,) * 3, pretrained=True,
                    source=f"trained in-project on scikit-image brick/grass/gravel at {list(train_sizes)} "
                           f"px (seed {seed}, {epochs} epochs, {3 * n_per_class} windows)")
