"""The studies' CNNs compiled by the graph layer match PyTorch, and our MTCNN modules match
facenet-pytorch's own forward pass (re-implemented here: the package imports torchvision)."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.studies import nets


def _facenet_rnet_forward(t, x):
    """facenet_pytorch.models.mtcnn.RNet.forward, op for op (permute before the dense layer)."""
    x = torch.from_numpy(x)
    x = F.prelu(F.conv2d(x, t["conv1.weight"], t["conv1.bias"]), t["prelu1.weight"])
    x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    x = F.prelu(F.conv2d(x, t["conv2.weight"], t["conv2.bias"]), t["prelu2.weight"])
    x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    x = F.prelu(F.conv2d(x, t["conv3.weight"], t["conv3.bias"]), t["prelu3.weight"])
    x = x.permute(0, 3, 2, 1).contiguous()
    x = F.prelu(F.linear(x.view(x.shape[0], -1), t["dense4.weight"], t["dense4.bias"]), t["prelu4.weight"])
    return F.softmax(F.linear(x, t["dense5_1.weight"], t["dense5_1.bias"]), dim=1)[0].numpy()


def _facenet_onet_trunk(t, x):
    """ONet's conv blocks as facenet-pytorch computes them: the four block outputs."""
    x, blocks = torch.from_numpy(x), []
    for i, pool in ((1, 3), (2, 3), (3, 2)):
        x = F.prelu(F.conv2d(x, t[f"conv{i}.weight"], t[f"conv{i}.bias"]), t[f"prelu{i}.weight"])
        x = F.max_pool2d(x, pool, 2, ceil_mode=True)
        blocks.append(x)
    blocks.append(F.prelu(F.conv2d(x, t["conv4.weight"], t["conv4.bias"]), t["prelu4.weight"]))
    return blocks


def _facenet_onet_forward(t, x):
    x = _facenet_onet_trunk(t, x)[-1].permute(0, 3, 2, 1).contiguous()
    x = F.prelu(F.linear(x.view(x.shape[0], -1), t["dense5.weight"], t["dense5.bias"]), t["prelu5.weight"])
    return F.softmax(F.linear(x, t["dense6_1.weight"], t["dense6_1.bias"]), dim=1)[0].numpy()


@pytest.mark.parametrize("name,size,forward", [("rnet", 24, _facenet_rnet_forward),
                                                ("onet", 48, _facenet_onet_forward)])
def test_mtcnn_matches_facenet_pytorch(name, size, forward):
    net = nets.mtcnn_rnet() if name == "rnet" else nets.mtcnn_onet()
    cn = nets.CompiledNet(net, size)
    assert cn.outputs == ("features", "probabilities")
    t = nets.state_dict(name)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = net.preprocess(rng.random((size, size, 3), np.float32))
        np.testing.assert_allclose(cn.probabilities(x), forward(t, x), atol=1e-5)
        assert cn.max_abs_error(x) < 1e-4
    # the graph layer fused the PReLUs into the convolutions' epilogues
    assert not [n for n in cn.graph.ops() if n.op.startswith("prelu")
                and cn.graph[n.inputs[0]].group != n.group]


@pytest.mark.parametrize("size", [48, 53, 64])
def test_onet_blocks_pool_in_ceil_mode_at_any_size(size):
    """The features of ONet's trunk (ceil-mode pools imported from ONNX) equal facenet-pytorch's
    block outputs, global-average-pooled, at sizes where ceil and floor mode differ."""
    net = nets.mtcnn_onet()
    cn = nets.CompiledNet(net, size, outputs=("features",))
    x = net.preprocess(np.random.default_rng(2).random((size, size, 3), np.float32))
    ref = [b.mean(dim=(2, 3))[0].numpy() for b in _facenet_onet_trunk(nets.state_dict("onet"), x)]
    for ours, theirs in zip(cn.features(x), ref, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("size", [61])          # odd: every stage has a ragged edge
def test_random_resnet18_features_match_torch(size):
    net = nets.resnet18(seed=3)
    cn = nets.CompiledNet(net, size, outputs=("features", "logits"))
    x = net.preprocess(np.random.default_rng(1).random((size, size, 3), np.float32))
    ref = nets.torch_forward(net, x, ("features", "logits"))
    out = cn.run(x)
    assert set(out) == {"gap_stem", "gap_block1", "gap_block2", "gap_block3", "gap_block4", "logits"}
    feats = cn.features(x)
    assert [f.shape[0] for f in feats] == [64, 64, 128, 256, 512]
    for f, b in zip(feats, net.block_labels):
        scale = max(1.0, float(np.abs(ref["gap_" + b]).max()))
        assert np.abs(f - ref["gap_" + b]).max() / scale < 1e-4, b
        assert np.abs(f).max() > 1e-3, b                # random BN statistics keep activations alive
    assert cn.max_abs_error(x) < 1e-3 and cn.flops > 0


def test_resnet18_is_seeded():
    a, b, c = (nets.resnet18(s).trunk.seq[0].weight.detach().numpy() for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_inputs():
    with pytest.raises(ValueError, match="24x24"):
        nets.CompiledNet(nets.mtcnn_rnet(), 32)
    with pytest.raises(ValueError, match="too small"):
        nets.CompiledNet(nets.mtcnn_onet(), 8, outputs=("features",))
    with pytest.raises(ValueError, match="subset"):
        nets.CompiledNet(nets.mtcnn_rnet(), 24, outputs=("boxes",))
    cn = nets.CompiledNet(nets.mtcnn_rnet(), 24)
    with pytest.raises(ValueError, match="compiled for input"):
        cn.run(np.zeros((1, 3, 25, 25), np.float32))
    with pytest.raises(ValueError, match="RGB"):
        nets.mtcnn_rnet().preprocess(np.zeros((24, 24)))
    trunk = nets.CompiledNet(nets.mtcnn_onet(), 56, outputs=("features",))
    with pytest.raises(ValueError, match="without probabilities"):
        trunk.probabilities(np.zeros((1, 3, 56, 56), np.float32))


def test_weights_are_read_from_the_installed_package():
    d = nets.facenet_weights_dir()
    assert {"rnet.pt", "onet.pt"} <= set(os.listdir(d))
