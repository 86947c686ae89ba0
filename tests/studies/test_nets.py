"""The studies' CNNs compiled by the workbench match PyTorch, and our MTCNN description matches
facenet-pytorch's own forward pass (re-implemented here: the package imports torchvision)."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.studies import nets


def _facenet_rnet_forward(sd, x):
    """facenet_pytorch.models.mtcnn.RNet.forward, op for op (permute before the dense layer)."""
    t = {k: torch.from_numpy(v) for k, v in sd.items()}
    x = torch.from_numpy(x)
    x = F.prelu(F.conv2d(x, t["conv1.weight"], t["conv1.bias"]), t["prelu1.weight"])
    x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    x = F.prelu(F.conv2d(x, t["conv2.weight"], t["conv2.bias"]), t["prelu2.weight"])
    x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    x = F.prelu(F.conv2d(x, t["conv3.weight"], t["conv3.bias"]), t["prelu3.weight"])
    x = x.permute(0, 3, 2, 1).contiguous()
    x = F.prelu(F.linear(x.view(x.shape[0], -1), t["dense4.weight"], t["dense4.bias"]), t["prelu4.weight"])
    return F.softmax(F.linear(x, t["dense5_1.weight"], t["dense5_1.bias"]), dim=1)[0].numpy()


def _facenet_onet_forward(sd, x):
    t = {k: torch.from_numpy(v) for k, v in sd.items()}
    x = torch.from_numpy(x)
    for i, pool in ((1, 3), (2, 3), (3, 2)):
        x = F.prelu(F.conv2d(x, t[f"conv{i}.weight"], t[f"conv{i}.bias"]), t[f"prelu{i}.weight"])
        x = F.max_pool2d(x, pool, 2, ceil_mode=True)
    x = F.prelu(F.conv2d(x, t["conv4.weight"], t["conv4.bias"]), t["prelu4.weight"])
    x = x.permute(0, 3, 2, 1).contiguous()
    x = F.prelu(F.linear(x.view(x.shape[0], -1), t["dense5.weight"], t["dense5.bias"]), t["prelu5.weight"])
    return F.softmax(F.linear(x, t["dense6_1.weight"], t["dense6_1.bias"]), dim=1)[0].numpy()


@pytest.fixture(scope="module")
def cache():
    return nets.KernelCache(threads=1)


@pytest.mark.parametrize("name,size,forward", [("rnet", 24, _facenet_rnet_forward),
                                                ("onet", 48, _facenet_onet_forward)])
def test_mtcnn_matches_facenet_pytorch(cache, name, size, forward):
    net = nets.mtcnn_rnet() if name == "rnet" else nets.mtcnn_onet()
    cn = nets.CompiledNet(net, size, cache=cache)
    sd = nets._state_dict(name)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = net.preprocess(rng.random((size, size, 3), np.float32))
        np.testing.assert_allclose(cn.probabilities(x), forward(sd, x), atol=1e-5)
        assert nets.max_abs_error(cn, x) < 1e-4


@pytest.mark.parametrize("size", [61])          # odd: every stage has a ragged edge
def test_random_resnet18_features_match_torch(cache, size):
    net = nets.resnet18(seed=3)
    cn = nets.CompiledNet(net, size, cache=cache)
    x = net.preprocess(np.random.default_rng(1).random((size, size, 3), np.float32))
    ref = nets.torch_forward(net, x)
    feats = cn.features(x)
    assert len(feats) == 5
    for f, b in zip(feats, net.blocks):
        scale = max(1.0, float(np.abs(ref["gap:" + b]).max()))
        assert np.abs(f - ref["gap:" + b]).max() / scale < 1e-4, b
    assert cn.flops > 0


def test_resnet18_is_seeded():
    a, b, c = nets.resnet18(0), nets.resnet18(0), nets.resnet18(1)
    assert np.array_equal(a.layers[0].weight, b.layers[0].weight)
    assert not np.array_equal(a.layers[0].weight, c.layers[0].weight)


def test_bad_inputs(cache):
    with pytest.raises(ValueError, match="24x24"):
        nets.CompiledNet(nets.mtcnn_rnet(), 32, cache=cache)
    with pytest.raises(ValueError, match="too small"):
        nets.CompiledNet(nets.mtcnn_onet(with_head=False), 8, cache=cache)
    cn = nets.CompiledNet(nets.mtcnn_rnet(), 24, cache=cache)
    with pytest.raises(ValueError, match="compiled for input"):
        cn.run(np.zeros((1, 3, 25, 25), np.float32))
    with pytest.raises(ValueError, match="RGB"):
        nets.mtcnn_rnet().preprocess(np.zeros((24, 24)))
    with pytest.raises(ValueError, match="no classifier head"):
        nets.CompiledNet(nets.mtcnn_onet(with_head=False), 48, cache=cache).probabilities(
            np.zeros((1, 3, 48, 48), np.float32))


def test_weights_are_read_from_the_installed_package():
    d = nets.facenet_weights_dir()
    assert {"rnet.pt", "onet.pt"} <= set(os.listdir(d))


@pytest.mark.parametrize("size", [48, 53, 64])
def test_onet_trunk_pools_in_ceil_mode_at_any_size(size):
    """Our ceil-mode padding equals PyTorch's MaxPool2d(ceil_mode=True) at the size it is built for."""
    sd = nets._state_dict("onet")
    net = nets.mtcnn_onet(with_head=False, size=size)
    x = net.preprocess(np.random.default_rng(2).random((size, size, 3), np.float32))
    ref = torch.from_numpy(x)
    t = {k: torch.from_numpy(v) for k, v in sd.items()}
    for i, pool in ((1, 3), (2, 3), (3, 2)):
        ref = F.max_pool2d(F.prelu(F.conv2d(ref, t[f"conv{i}.weight"], t[f"conv{i}.bias"]),
                                   t[f"prelu{i}.weight"]), pool, 2, ceil_mode=True)
    ref = F.prelu(F.conv2d(ref, t["conv4.weight"], t["conv4.bias"]), t["prelu4.weight"])
    out = nets.torch_forward(net, x)["prelu4"]
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-5)
