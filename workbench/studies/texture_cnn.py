"""A tiny fully convolutional texture classifier trained in the project (PyTorch trains it; our
compiled kernels run it), so accuracy and compute both vary with the input resolution.

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


def train(train_sizes=(16, 24, 32, 48, 64), n_per_class: int = 120, epochs: int = 12,
          seed: int = 0) -> nets.Net:
    """Train conv16-pool-conv32-pool-conv32-GAP-dense3 with PyTorch; return it as a `nets.Net`.
    The GAP is a compiled average pool followed by the dense head, so any input >= 12 px works."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    crops, ys = windows("train", n_per_class, seed)
    X = {s: torch.from_numpy(np.stack([at_size(c, s) for c in crops]).transpose(0, 3, 1, 2) - 0.5)
         for s in train_sizes}
    Y = torch.from_numpy(ys)
    shapes = [(16, 3), (32, 16), (32, 32)]
    params = []
    for f, c in shapes:
        params += [torch.nn.Parameter(torch.randn(f, c, 3, 3) * (2 / (9 * c)) ** 0.5),
                   torch.nn.Parameter(torch.zeros(f))]
    params += [torch.nn.Parameter(torch.randn(3, 32) * 0.1), torch.nn.Parameter(torch.zeros(3))]

    def forward(x):
        for i in range(3):
            x = F.relu(F.conv2d(x, params[2 * i], params[2 * i + 1], padding=1))
            if i < 2:
                x = F.max_pool2d(x, 2)
        return F.linear(x.mean(dim=(2, 3)), params[6], params[7])

    opt = torch.optim.Adam(params, lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)       # small batches: one thread, and no idle OpenMP spinners left
    try:                           # to compete with our own parallel kernels afterwards
        for _ in range(epochs):
            perm = torch.randperm(len(Y))
            for i in range(0, len(Y), 32):
                idx = perm[i:i + 32]
                x = X[train_sizes[int(rng.integers(len(train_sizes)))]][idx]
                opt.zero_grad()
                F.cross_entropy(forward(x), Y[idx]).backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    w = [np.ascontiguousarray(p.detach().numpy(), dtype=np.float32) for p in params]
    layers = (nets.Conv("conv1", "input", w[0], w[1], 1, 1, "relu"),
              nets.MaxPool("pool1", "conv1", 2, 2),
              nets.Conv("conv2", "pool1", w[2], w[3], 1, 1, "relu"),
              nets.MaxPool("pool2", "conv2", 2, 2),
              nets.Conv("conv3", "pool2", w[4], w[5], 1, 1, "relu"),
              nets.GlobalAvgPool("gap", "conv3"),
              nets.Dense("logits", "gap", w[6], w[7]))
    return nets.Net("texture_cnn", layers, blocks=("pool1", "pool2", "conv3"), logits="logits",
                    mean=(0.5,) * 3, std=(1.0,) * 3, pretrained=True,
                    source=f"trained in-project on scikit-image brick/grass/gravel at {list(train_sizes)} "
                           f"px (seed {seed}, {epochs} epochs, {3 * n_per_class} windows)",
                    block_labels=("block1", "block2", "block3"))
