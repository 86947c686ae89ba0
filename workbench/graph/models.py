"""ResNet-18, MobileNet-V2 and a DCGAN generator written in PyTorch (torchvision is not a
dependency), with seeded random weights and random batch-norm statistics so that folding them is
exercised. `make(name, seed)` -> (module in eval mode, example input).

    model, x = models.make("resnet18", image=64)
    g = graph.from_torch(model, x)
"""
from __future__ import annotations


def _torch():
    try:
        import torch
        return torch
    except ImportError as e:     # torch is an optional extra
        raise ImportError("workbench.graph.models needs PyTorch (pip install 'workbench[torch]')") from e


def _basic_block(nn, cin, cout, stride):
    class BasicBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.down is None else self.down(x)
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + idt)
    return BasicBlock()


def resnet18(num_classes: int = 1000):
    nn = _torch().nn
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_basic_block(nn, cin, cout, stride), _basic_block(nn, cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def _inverted_residual(nn, cin, cout, stride, expand):
    hidden = cin * expand

    class InvertedResidual(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            if expand != 1:
                layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(True)]
            layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                       nn.BatchNorm2d(hidden), nn.ReLU6(True),
                       nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)
    return InvertedResidual()


def mobilenet_v2(num_classes: int = 1000):
    nn = _torch().nn
    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(True)]
    cin = 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            layers.append(_inverted_residual(nn, cin, c, s if i == 0 else 1, t))
            cin = c
    layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(True),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, num_classes)]
    return nn.Sequential(*layers)


def dcgan_generator(nz: int = 100, ngf: int = 64, channels: int = 3):
    """The DCGAN paper's generator: (N, nz, 1, 1) -> (N, channels, 64, 64)."""
    nn = _torch().nn
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh())


def randomize(model, seed: int = 0):
    """Seeded weights (PyTorch's default init under the seed) and random batch-norm statistics."""
    torch = _torch()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
    return model.eval()


MODELS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "dcgan": dcgan_generator}


def make(name: str, seed: int = 0, image: int = 64, batch: int = 1):
    """(model, example input): images of image x image for the classifiers, a latent vector for the
    DCGAN generator."""
    torch = _torch()
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {list(MODELS)}")
    torch.manual_seed(seed)
    model = randomize(MODELS[name](), seed)
    gen = torch.Generator().manual_seed(seed + 1)
    shape = (batch, 100, 1, 1) if name == "dcgan" else (batch, 3, image, image)
    return model, torch.randn(*shape, generator=gen)
