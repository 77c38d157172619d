"""Frozen frame encoders: the tiny ResNet through the real from_pretrained path, ids, MobileNetV2 layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from reelcast.encoders.frames import (
    create_frame_encoder,
    fold_batchnorm,
    frame_encoder_id,
    list_frame_encoders,
    save_tiny_resnet,
)
from reelcast.encoders.mobilenet import MobileNetV2, load_mobilenet_v2, packaged_weights_path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_resnet(tmp_path_factory.mktemp("enc") / "tiny-resnet", seed=0)


def frames(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def reference_features(model_dir, x: np.ndarray) -> np.ndarray:
    """The textbook pipeline: unmodified HF model, ImageNet statistics written out here."""
    from transformers import ResNetModel

    model = ResNetModel.from_pretrained(str(model_dir)).eval()
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    t = (t - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        return model(pixel_values=t).pooler_output.flatten(1).numpy()


def test_local_directory_shape_dtype_and_dim_from_model(tiny_dir):
    enc = create_frame_encoder(str(tiny_dir), precision="fp32")
    hidden = json.loads((tiny_dir / "config.json").read_text())["hidden_sizes"]
    assert enc.dim == hidden[-1]
    out = enc.encode(frames(5))
    assert out.shape == (5, enc.dim) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.std(axis=0).max() > 0  # different frames, different features


def test_matches_unoptimised_reference(tiny_dir):
    # BN folding, channels_last and the fused normalisation must not change the numbers.
    x = frames(4, seed=1)
    out = create_frame_encoder(str(tiny_dir), precision="fp32").encode(x)
    ref = reference_features(tiny_dir, x)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_deterministic(tiny_dir):
    x = frames(3, seed=2)
    a = create_frame_encoder(str(tiny_dir), precision="fp32").encode(x)
    enc = create_frame_encoder(str(tiny_dir), precision="fp32")
    np.testing.assert_array_equal(a, enc.encode(x))
    np.testing.assert_array_equal(enc.encode(x), enc.encode(x))


def test_batch_equals_single_images(tiny_dir):
    x = frames(7, seed=3)
    batched = create_frame_encoder(str(tiny_dir), batch_size=4, precision="fp32").encode(x)
    single = create_frame_encoder(str(tiny_dir), batch_size=1, precision="fp32")
    one_by_one = np.concatenate([single.encode(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-5)


def test_threads_setting_is_scoped_to_encode(tiny_dir):
    x = frames(3, seed=5)
    before = torch.get_num_threads()
    ref = create_frame_encoder(str(tiny_dir), precision="fp32").encode(x)
    one = create_frame_encoder(str(tiny_dir), precision="fp32", threads=1).encode(x)
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(one, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch's inductor imports
def test_torch_compile_matches_eager(tiny_dir):
    x = frames(5, size=32, seed=6)  # 5 frames, forward batch 4: the last batch is padded, not recompiled
    eager = create_frame_encoder(str(tiny_dir), batch_size=4, precision="fp32").encode(x)
    enc = create_frame_encoder(str(tiny_dir), batch_size=4, precision="fp32", torch_compile=True)
    np.testing.assert_allclose(enc.encode(x), eager, rtol=1e-4, atol=1e-4)
    assert enc.torch_compile  # compiled, not silently fallen back to eager


def test_encoder_id_follows_the_weights(tmp_path):
    d = save_tiny_resnet(tmp_path / "m", seed=0)
    first = create_frame_encoder(str(d), precision="fp32").encoder_id
    assert first == frame_encoder_id(str(d), precision="fp32")
    assert first == create_frame_encoder(str(d), precision="fp32").encoder_id  # stable
    save_tiny_resnet(d, seed=1)  # new weights in the same place
    second = create_frame_encoder(str(d), precision="fp32").encoder_id
    assert second != first
    seeds = {frame_encoder_id(f"tiny-resnet:{s}", precision="fp32") for s in (0, 1)}
    assert len(seeds) == 2
    # Registered in-memory tiny models match what their saved copies compute.
    a = create_frame_encoder("tiny-resnet:1", precision="fp32").encode(frames(2))
    b = create_frame_encoder(str(d), precision="fp32").encode(frames(2))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_hub_id_is_the_id_and_precision_is_part_of_it():
    assert frame_encoder_id("microsoft/resnet-50", precision="fp32") == "microsoft/resnet-50"
    assert frame_encoder_id("microsoft/resnet-50", precision="bf16") == "microsoft/resnet-50+bf16"
    with pytest.raises(ValueError, match="precision"):
        frame_encoder_id("tiny-resnet", precision="fp16")


def test_bf16_close_to_fp32(tiny_dir):
    x = frames(3, seed=4)
    fp32 = create_frame_encoder(str(tiny_dir), precision="fp32").encode(x)
    enc = create_frame_encoder(str(tiny_dir), precision="bf16")
    bf16 = enc.encode(x)
    assert enc.encoder_id.endswith("+bf16") and bf16.dtype == np.float32
    cos = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cos.min() > 0.999


def test_rejects_bad_input(tiny_dir):
    enc = create_frame_encoder(str(tiny_dir), precision="fp32")
    with pytest.raises(ValueError, match="uint8"):
        enc.encode(frames(2).astype(np.float32))
    with pytest.raises(ValueError, match="N, H, W, 3"):
        enc.encode(frames(2)[..., :2])
    assert enc.encode(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0, enc.dim)
    with pytest.raises(ValueError, match="integer seed"):
        create_frame_encoder("tiny-resnet:abc")


def test_fold_batchnorm_keeps_outputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 2)
        net[1].bias.uniform_(-1, 1)
    net.eval()
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad():
        before = net(x)
        fold_batchnorm(net)
        after = net(x)
    assert isinstance(net[1], nn.Identity)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)


def test_mobilenet_v2_layout_matches_torchvision_keys():
    assert {"mobilenet_v2", "tiny-resnet"} <= set(list_frame_encoders())
    state = MobileNetV2().state_dict()
    # The nesting torchvision uses: Conv2dNormActivation (.0/.1), InvertedResidual.conv, classifier.1.
    for key in (
        "features.0.0.weight",
        "features.0.1.running_var",
        "features.1.conv.0.0.weight",
        "features.1.conv.1.weight",
        "features.2.conv.1.0.weight",
        "features.17.conv.3.num_batches_tracked",
        "features.18.0.weight",
        "classifier.1.bias",
    ):
        assert key in state, key
    assert len(state) == 314
    # torchvision's documented parameter count for mobilenet_v2.
    assert sum(p.numel() for p in MobileNetV2().parameters()) == 3_504_872
    MobileNetV2().load_state_dict(state, strict=True)


def test_mobilenet_v2_from_state_dict_file(tmp_path):
    path = packaged_weights_path()
    if path is None:  # no ImageNet weights installed: save a seeded model's own state dict instead
        torch.manual_seed(0)
        path = tmp_path / "mobilenet_v2.pth"
        torch.save(MobileNetV2().state_dict(), path)
    model = load_mobilenet_v2(path)
    assert not model.training
    enc = create_frame_encoder(f"mobilenet_v2:{path}", precision="fp32")
    assert enc.dim == model.classifier[1].in_features == 1280
    assert enc.encoder_id.startswith("mobilenet_v2@")
    out = enc.encode(frames(2, size=96))
    assert out.shape == (2, 1280) and np.isfinite(out).all()
    with pytest.raises(Exception, match="not found"):
        create_frame_encoder(f"mobilenet_v2:{tmp_path / 'missing.pth'}")


def test_bf16_is_opt_in_and_auto_follows_the_cpu_flags(monkeypatch):
    import reelcast.encoders.common as common_mod
    from reelcast.config import Config

    hub = "microsoft/resnet-50"
    assert Config().video.precision == "fp32" and frame_encoder_id(hub) == hub  # off by default
    monkeypatch.setattr(common_mod, "cpu_flags", lambda: frozenset({"avx512f", "avx2"}))
    assert frame_encoder_id(hub, precision="auto") == hub
    monkeypatch.setattr(common_mod, "cpu_flags", lambda: frozenset({"avx512f", "amx_tile", "amx_bf16"}))
    assert frame_encoder_id(hub, precision="auto") == hub + "+bf16"
    monkeypatch.setattr(common_mod, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert frame_encoder_id(hub, precision="auto") == hub + "+bf16"
    assert frame_encoder_id(hub, device="meta", precision="auto") == hub  # no bf16 units off CPU/CUDA
