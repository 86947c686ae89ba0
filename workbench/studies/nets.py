"""The studies' CNNs: PyTorch modules (the weights and the reference) compiled and run by the
workbench's graph layer (`graph.from_torch` -> `graph.optimize` -> `graph.build`: fused groups,
blocked layouts, planned memory).

A `Net` is a trunk module whose forward returns (per-block feature maps, logits or None) plus
what the studies need around it (input scale, block labels, provenance). `CompiledNet` exports
the trunk with the outputs a study asks for -- each block's global-average-pooled features, the
logits, the softmax probabilities -- as named outputs of one ONNX graph, so the intermediate values
come out of the same compiled network run; `max_abs_error` compares every output with PyTorch.

Weights: the MTCNN RNet/ONet state dicts that facenet-pytorch ships (read directly with
torch.load: the package itself imports torchvision, which does not exist here) and the graph
layer's ResNet-18 with seeded random weights and batch-norm statistics (the control; no ImageNet
weights are available offline).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

OUTPUTS = ("features", "logits", "probabilities")


@dataclass(frozen=True, eq=False)
class Net:
    """A CNN for the studies. `trunk(x, head)` -> (list of block feature maps, logits or None);
    `head=False` skips the classifier (nets whose dense head fixes the input size run their
    convolutional blocks at any size). `preprocess` maps an RGB image in [0, 1] to the net's input."""
    name: str
    trunk: object                       # torch.nn.Module in eval mode
    block_labels: tuple
    has_head: bool = False
    input_size: int | None = None       # the side the classifier head needs (None: any)
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    pretrained: bool = False
    source: str = ""

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """HxWx3 float image in [0, 1] -> (1, 3, H, W) float32 net input."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{self.name}: expected an HxWx3 RGB image, got shape {image.shape}")
        x = (image.astype(np.float32) - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def output_names(self, outputs) -> tuple:
        """The graph's output names for `outputs` (a subset of OUTPUTS)."""
        bad = [o for o in outputs if o not in OUTPUTS]
        if bad or not outputs:
            raise ValueError(f"{self.name}: outputs must be a non-empty subset of {OUTPUTS}, got "
                             f"{tuple(outputs)}")
        if not self.has_head and ({"logits", "probabilities"} & set(outputs)):
            raise ValueError(f"{self.name} has no classifier head (outputs: features only)")
        names = []
        for o in OUTPUTS:
            if o in outputs:
                names += [f"gap_{b}" for b in self.block_labels] if o == "features" else [o]
        return tuple(names)

    def module(self, outputs):
        """A torch module whose forward returns the tensors named by `output_names(outputs)`."""
        import torch

        trunk, wanted = self.trunk, tuple(o for o in OUTPUTS if o in outputs)
        head = bool({"logits", "probabilities"} & set(wanted))

        class Outputs(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.trunk = trunk

            def forward(self, x):
                blocks, logits = self.trunk(x, head)
                out = []
                for o in wanted:
                    if o == "features":    # exported as GlobalAveragePool + Flatten
                        out += [torch.nn.functional.adaptive_avg_pool2d(b, 1).flatten(1) for b in blocks]
                    elif o == "logits":
                        out.append(logits)
                    else:
                        out.append(torch.softmax(logits, dim=1))
                return tuple(out)
        return Outputs().eval()


def torch_forward(net: Net, x: np.ndarray, outputs=("features",)) -> dict:
    """PyTorch's values of the outputs (name -> array, batch dimension dropped): the reference."""
    import torch
    with torch.no_grad():
        vals = net.module(outputs)(torch.from_numpy(np.ascontiguousarray(x)))
    return {n: v.numpy()[0] for n, v in zip(net.output_names(outputs), vals)}


def net_graph(net: Net, height: int, width: int | None = None, outputs=("features",)):
    """`net` at a (1, 3, height, width) input with `outputs`, imported from PyTorch
    (`graph.from_torch`) and optimized (`graph.optimize`: folding, layouts, fusion)."""
    import torch

    from workbench import graph
    width = height if width is None else width
    names = net.output_names(outputs)
    if {"logits", "probabilities"} & set(outputs) and net.input_size is not None \
            and (height, width) != (net.input_size, net.input_size):
        raise ValueError(f"{net.name}'s classifier takes a {net.input_size}x{net.input_size} "
                         f"input, got {height}x{width}")
    example = torch.zeros(1, 3, height, width)
    module = net.module(outputs)
    try:
        with torch.no_grad():
            module(example)
    except RuntimeError as e:     # PyTorch's own shape error, in one line
        raise ValueError(f"{net.name}: input {height}x{width} is too small for its layers "
                         f"({str(e).splitlines()[0]})") from None
    return graph.optimize(graph.from_torch(module, example, output_names=names))


class CompiledNet:
    """`net` compiled by the graph layer for a (1, 3, height, width) input, with the outputs asked
    for (default: block features, plus probabilities when the net has a head).

    `features(x)` -> one global-average-pooled vector per block; `probabilities(x)`; `run(x)` ->
    dict output name -> array; `time(x)` -> the graph module's Profile. `threads`: threads per
    kernel (1: the machine is shared and libgomp's barriers collapse when it is oversubscribed);
    `log`: a tuning log whose best configs the convolutions use."""

    def __init__(self, net: Net, height: int, width: int | None = None, outputs=None,
                 threads: int | None = 1, log=None):
        from workbench import graph
        width = height if width is None else width
        outputs = tuple(outputs) if outputs is not None else \
            (("features", "probabilities") if net.has_head else ("features",))
        self.net, self.height, self.width, self.outputs = net, height, width, outputs
        self.names = net.output_names(outputs)
        self.graph = net_graph(net, height, width, outputs)
        self.module = graph.build(self.graph, log=log, num_threads=threads)
        self.flops = sum(st.flops for st in self.module.steps)

    def run(self, x: np.ndarray) -> dict:
        shape = (1, 3, self.height, self.width)
        if x.shape != shape:
            raise ValueError(f"{self.net.name} compiled for input {shape}, got {x.shape}")
        return self.module.run({"input": x})

    def features(self, x: np.ndarray) -> list:
        if "features" not in self.outputs:
            raise ValueError(f"{self.net.name} was compiled without its block features")
        return self.block_features(self.run(x))

    def block_features(self, out: dict) -> list:
        """The per-block feature vectors in a `run` result."""
        return [out[f"gap_{b}"][0] for b in self.net.block_labels]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if "probabilities" not in self.outputs:
            raise ValueError(f"{self.net.name} was compiled without probabilities (outputs "
                             f"{self.outputs}); it {'has' if self.net.has_head else 'has no'} "
                             "classifier head")
        return self.run(x)["probabilities"][0]

    def time(self, x: np.ndarray, repeat: int = 5, min_time: float = 0.1):
        """Whole-network latency (`graph.Profile`: .latency is the median of `repeat` batches)."""
        return self.module.time({"input": x}, repeat=repeat, min_time=min_time)

    def max_abs_error(self, x: np.ndarray) -> float:
        """Largest |ours - PyTorch| over every output (block features, logits, probabilities)."""
        ref = torch_forward(self.net, x, self.outputs)
        out = self.run(x)
        return max(float(np.abs(out[n][0] - ref[n]).max()) for n in self.names)


# ---------------------------------------------------------------- MTCNN (facenet-pytorch weights)

def facenet_weights_dir() -> str:
    """facenet-pytorch's data/ directory (located without importing the package)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("facenet-pytorch is not installed: its MTCNN weights (data/rnet.pt, "
                                "data/onet.pt) are the pretrained CNNs of the studies")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def state_dict(name: str) -> dict:
    """facenet-pytorch's data/<name>.pt as name -> float32 torch tensor."""
    import torch
    sd = torch.load(os.path.join(facenet_weights_dir(), f"{name}.pt"), map_location="cpu",
                    weights_only=True)
    return {k: v.float() for k, v in sd.items()}


def _dense_from_whc(w, c: int, h: int, wd: int):
    """facenet-pytorch flattens (N, C, H, W) permuted to (N, W, H, C) before its dense layer;
    reorder the weight's columns so a plain NCHW flatten (an ONNX Flatten) feeds it instead."""
    return w.reshape(-1, wd, h, c).permute(0, 3, 2, 1).reshape(w.shape[0], -1).contiguous()


def _mtcnn_trunk(sd: dict, convs, pools, dense, out_side: int):
    """MTCNN's conv/PReLU/ceil-mode-max-pool trunk with facenet-pytorch's layer names.
    convs: (in, out, kernel) per conv; pools: (size, stride) after conv i (None: none);
    dense: names of the head's (dense, prelu) pair and its final dense layer."""
    import torch
    from torch import nn
    (dense_name, prelu_name), final = dense

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            for i, (c, f, k) in enumerate(convs, 1):
                setattr(self, f"conv{i}", nn.Conv2d(c, f, k))
                setattr(self, f"prelu{i}", nn.PReLU(f))
                if pools[i - 1]:
                    setattr(self, f"pool{i}", nn.MaxPool2d(*pools[i - 1], ceil_mode=True))
            w = sd[f"{dense_name}.weight"]
            setattr(self, dense_name, nn.Linear(w.shape[1], w.shape[0]))
            setattr(self, prelu_name, nn.PReLU(w.shape[0]))
            setattr(self, final, nn.Linear(w.shape[0], sd[f"{final}.weight"].shape[0]))

        def forward(self, x, head=True):
            blocks = []
            for i in range(1, len(convs) + 1):
                x = getattr(self, f"prelu{i}")(getattr(self, f"conv{i}")(x))
                if pools[i - 1]:
                    x = getattr(self, f"pool{i}")(x)
                blocks.append(x)
            if not head:
                return blocks, None
            x = getattr(self, prelu_name)(getattr(self, dense_name)(x.flatten(1)))
            return blocks, getattr(self, final)(x)

    trunk = Trunk()
    own = trunk.state_dict()
    weights = {k: v for k, v in sd.items() if k in own}
    w = sd[f"{dense_name}.weight"]
    weights[f"{dense_name}.weight"] = _dense_from_whc(w, convs[-1][1], out_side, out_side)
    with torch.no_grad():
        trunk.load_state_dict(weights, strict=True)
    return trunk.eval()


_MTCNN_SRC = ("MTCNN (Zhang et al. 2016) weights shipped in facenet-pytorch 2.6.0 data/*.pt "
              "(trained for face detection, not ImageNet)")
_MTCNN_MEAN, _MTCNN_STD = (127.5 / 255,) * 3, (128 / 255,) * 3   # (x*255 - 127.5) * 0.0078125


def mtcnn_rnet() -> Net:
    """MTCNN RNet (24x24 for its classifier): 3 conv blocks, dense 576->128, face/non-face logits."""
    trunk = _mtcnn_trunk(state_dict("rnet"), [(3, 28, 3), (28, 48, 3), (48, 64, 2)],
                         [(3, 2), (3, 2), None], (("dense4", "prelu4"), "dense5_1"), 3)
    return Net("mtcnn_rnet", trunk, ("block1", "block2", "block3"), has_head=True, input_size=24,
               mean=_MTCNN_MEAN, std=_MTCNN_STD, pretrained=True, source=_MTCNN_SRC)


def mtcnn_onet() -> Net:
    """MTCNN ONet: 4 conv blocks (any input >= 48 px), dense 1152->256 and face logits (48x48)."""
    trunk = _mtcnn_trunk(state_dict("onet"), [(3, 32, 3), (32, 64, 3), (64, 64, 3), (64, 128, 2)],
                         [(3, 2), (3, 2), (2, 2), None], (("dense5", "prelu5"), "dense6_1"), 3)
    return Net("mtcnn_onet", trunk, ("block1", "block2", "block3", "block4"), has_head=True,
               input_size=48, mean=_MTCNN_MEAN, std=_MTCNN_STD, pretrained=True, source=_MTCNN_SRC)


# ---------------------------------------------------------------- ResNet-18 (random, the control)

_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# graph.models.resnet18 is a Sequential: stem = conv, bn, relu, maxpool (index 3), then two
# BasicBlocks per stage (indices 4-11), then pool, flatten, fc
_RESNET_TAPS = {3: "stem", 5: "block1", 7: "block2", 9: "block3", 11: "block4"}


def resnet18(seed: int = 0) -> Net:
    """The graph layer's ResNet-18 (torchvision's layout) with seeded random weights and random
    batch-norm statistics (`graph.models.make`); the 1000-way head is random too."""
    import torch
    from workbench.graph import models
    seq, _ = models.make("resnet18", seed=seed)

    class Trunk(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seq = seq

        def forward(self, x, head=True):
            blocks = []
            for i, m in enumerate(self.seq):
                if i == 12 and not head:
                    break
                x = m(x)
                if i in _RESNET_TAPS:
                    blocks.append(x)
            return blocks, (x if head else None)

    return Net(f"resnet18_random{seed}", Trunk().eval(), tuple(_RESNET_TAPS.values()),
               has_head=True, mean=_IMAGENET_MEAN, std=_IMAGENET_STD, pretrained=False,
               source=f"ResNet-18 structure (workbench.graph.models), random weights and "
                      f"batch-norm statistics (torch seed {seed})")
