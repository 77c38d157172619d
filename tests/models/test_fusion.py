import pytest
import torch

from reelcast.config import ModelConfig
from reelcast.models.fusion import FusionModel, ModelSpec, modality_dropout


def spec(**kw):
    base = dict(
        modalities=["text", "video", "audio"],
        text_dim=24,
        video_dim=40,
        video_frames=6,
        audio_channels=8,
        audio_length=50,
        audio_dim=32,
    )
    base.update(kw)
    return ModelSpec(**base)


def batch(s: ModelSpec, n=5, mask=None):
    g = torch.Generator().manual_seed(0)
    b = {
        "text": torch.randn(n, s.text_dim, generator=g),
        "video": torch.randn(n, s.video_frames, s.video_dim, generator=g),
        "audio": torch.randn(n, s.audio_channels, s.audio_length, generator=g),
        "mask": torch.ones(n, len(s.modalities), dtype=torch.bool) if mask is None else mask,
    }
    return b


@pytest.mark.parametrize("fusion", ["concat", "attention"])
@pytest.mark.parametrize("temporal", ["conv", "gru", "lstm"])
def test_logit_shapes(fusion, temporal):
    s = spec(temporal=temporal)
    m = FusionModel(s, ModelConfig(fusion=fusion, hidden=[16, 8])).eval()
    assert m(batch(s)).shape == (5, 8)
    if fusion == "concat":  # input width comes from the encoders: 24 + 40 + 32
        assert m.classifier[0].in_features == 96


def test_default_widths_give_3840():
    s = spec(text_dim=768, video_dim=2048, audio_dim=1024)
    assert FusionModel(s, ModelConfig()).fused_dim == 3840


@pytest.mark.parametrize("fusion", ["concat", "attention"])
def test_masked_modality_has_no_influence(fusion):
    s = spec()
    m = FusionModel(s, ModelConfig(fusion=fusion, hidden=[16, 8])).eval()
    mask = torch.tensor([[True, False, True]] * 5)
    b1 = batch(s, mask=mask)
    b2 = {**b1, "video": torch.randn_like(b1["video"]) * 100}
    assert torch.allclose(m(b1), m(b2), atol=1e-5)
    # and the film with everything masked still gets logits
    b3 = batch(s, mask=torch.zeros(5, 3, dtype=torch.bool))
    assert torch.isfinite(m(b3)).all()


def test_modality_dropout_keeps_one_modality():
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(1000, 3, dtype=torch.bool)
    out = modality_dropout(mask, 0.6, g)
    assert out.any(1).all() and 0.3 < (~out).float().mean() < 0.6
    partial = torch.tensor([[True, False, False]] * 10)
    assert torch.equal(modality_dropout(partial, 0.9, g), partial)  # a lone modality is never dropped


@pytest.mark.parametrize("fusion", ["concat", "attention"])
def test_a_branch_no_film_has_is_skipped_with_the_same_answer(fusion):
    s = spec()
    m = FusionModel(s, ModelConfig(fusion=fusion, hidden=[16, 8])).eval()
    calls = []
    m.heads["audio"].register_forward_hook(lambda *a: calls.append(1))
    mask = torch.tensor([[True, True, True]] + [[True, True, False]] * 4)
    b = batch(s, mask=mask)
    with torch.no_grad():
        mixed = m(b)  # film 0 has audio, so the audio branch runs for the batch
        assert len(calls) == 1
        rest = m({k: v[1:] for k, v in b.items()})  # nobody has audio: the branch is skipped
    assert len(calls) == 1 and torch.allclose(rest, mixed[1:], atol=1e-6)
