"""Saved models: format versions, digests of every file, and clear refusals of what is not a model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reelcast.predictor import RevenuePredictor

FORMAT1 = Path(__file__).parent / "fixtures" / "format1"


def load_format1(tiny_bert: Path, tmp_path: Path, **kw) -> RevenuePredictor:
    """The format-1 model written by an earlier reelcast, with the tiny BERT it was trained with."""
    # The checkpoint names the text model and cache by the absolute paths of the run that made it;
    # save_tiny_bert(seed=0) rebuilds that text model bit for bit.
    overrides = {"text": {"model": str(tiny_bert)}, "cache_dir": str(tmp_path / "cache")}
    return RevenuePredictor.load(FORMAT1, overrides=overrides, **kw)


def test_format1_model_with_metadata_is_refused_naming_its_format_and_the_fix(tiny_bert, tmp_path):
    # Its metadata encoder read a missing column as "no keywords, no companies": predictions for films
    # lacking inputs would be silently wrong, so it is refused with the retrain command.
    with pytest.raises(ValueError, match=r"checkpoint format 1 .*retrain it: reelcast train --data"):
        load_format1(tiny_bert, tmp_path)


def test_format1_model_without_metadata_still_loads(tiny_bert, tmp_path):
    import torch

    import reelcast.checkpoint as checkpoint

    state = torch.load(FORMAT1 / "best_multimodal_model.pth", weights_only=True)
    state["tabular"] = None  # a model of the same era that read no metadata
    folder = tmp_path / "format1_text"
    folder.mkdir()
    torch.save(state, folder / "best_multimodal_model.pth")
    state = checkpoint.read(folder)
    assert state["upgraded_from"] == 1 and state["inputs"]["tabular"] is None
    checkpoint.refuse_stale_encoding(state, folder)  # nothing encoded the old way: no refusal


def test_format1_is_read_as_format2(tmp_path):
    import reelcast.checkpoint as checkpoint

    state = checkpoint.read(FORMAT1)
    assert state["format_version"] == checkpoint.FORMAT_VERSION and state["upgraded_from"] == 1
    assert [c["name"] for c in state["ensemble"]["components"]] == [
        "fusion",
        "gbm_classifier",
        "gbm_regressor",
    ]


@pytest.fixture
def saved(tiny_run, tmp_path) -> Path:
    """A private copy of the tiny saved model, free to damage."""
    return Path(shutil.copytree(tiny_run, tmp_path / "model"))


def test_save_records_a_digest_of_every_file(saved):
    listed = json.loads((saved / "model_digests.json").read_text())["files"]
    assert sorted(listed) == ["best_multimodal_model.pth", "config.toml"]


def test_flipped_bytes_in_the_weights_are_refused_naming_the_file(saved):
    from reelcast.checkpoint import ModifiedModel

    pth = saved / "best_multimodal_model.pth"
    data = bytearray(pth.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):  # inside the stored tensors, zip still valid
        data[i] ^= 0xFF
    pth.write_bytes(bytes(data))
    with pytest.raises(ModifiedModel, match=r"best_multimodal_model\.pth: changed since the model was saved"):
        RevenuePredictor.load(saved)
    with pytest.raises(ValueError, match="trust-modified"):  # the CLI maps ValueError to exit 2
        RevenuePredictor.load(saved)


def test_an_edited_config_is_refused_unless_trusted(saved, films_csv):
    from reelcast.checkpoint import ModifiedModel

    cfg = saved / "config.toml"
    cfg.write_text(cfg.read_text() + "\n# edited\n")
    with pytest.raises(ModifiedModel, match=r"config\.toml: changed"):
        RevenuePredictor.load(saved)
    p = RevenuePredictor.load(saved, trust_modified=True)
    assert p.predict_proba(films_csv).shape == (96, 8)


def test_a_missing_digest_file_is_refused_unless_trusted(saved):
    from reelcast.checkpoint import ModifiedModel

    (saved / "model_digests.json").unlink()
    with pytest.raises(ModifiedModel, match="model_digests.json is missing"):
        RevenuePredictor.load(saved)
    assert RevenuePredictor.load(saved, trust_modified=True).thresholds_ is not None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        b"PK\x03\x04 truncated zip",
    ],
    ids=["empty", "random-bytes", "truncated-zip"],
)
def test_what_is_not_a_checkpoint_gets_one_clear_error(tmp_path, content):
    from reelcast.checkpoint import NotAReelcastModel

    pth = tmp_path / "best_multimodal_model.pth"
    pth.write_bytes(content)
    with pytest.raises(NotAReelcastModel, match=r"best_multimodal_model\.pth: not a reelcast model"):
        RevenuePredictor.load(tmp_path)
    assert issubclass(NotAReelcastModel, ValueError)


def test_a_torch_file_of_another_program_is_not_a_reelcast_model(tmp_path):
    import torch

    from reelcast.checkpoint import NotAReelcastModel

    torch.save({"weights": torch.zeros(3)}, tmp_path / "best_multimodal_model.pth")
    with pytest.raises(NotAReelcastModel, match="without a reelcast format version"):
        RevenuePredictor.load(tmp_path / "best_multimodal_model.pth")


def test_a_future_format_names_its_version_and_the_fix(tmp_path):
    import torch

    torch.save({"format_version": 9, "reelcast_version": "9.0"}, tmp_path / "best_multimodal_model.pth")
    with pytest.raises(ValueError, match=r"checkpoint format 9.*install the reelcast that wrote it \(9\.0\)"):
        RevenuePredictor.load(tmp_path)


def test_predict_command_exits_2_on_an_empty_checkpoint(tmp_path):
    from typer.testing import CliRunner

    from reelcast.cli import app

    (tmp_path / "best_multimodal_model.pth").write_bytes(b"")
    r = CliRunner().invoke(app, ["predict", "--model", str(tmp_path), "--description", "A heist."])
    assert r.exit_code == 2, r.output
    assert "not a reelcast model" in r.output and "aborted" not in r.output


@pytest.mark.parametrize(
    ("saved_id", "pinned"), [("text:m:cls:256+bf16", "bf16"), ("text:m:cls:256", "fp32")]
)
def test_an_auto_text_precision_is_read_as_the_one_the_model_was_trained_with(saved_id, pinned):
    from reelcast.checkpoint import trained_config
    from reelcast.config import Config

    cfg = Config()
    cfg.text.precision = "auto"
    state = {"config": cfg.to_dict(), "encoder_ids": {"text": saved_id}}
    assert trained_config(state).text.precision == pinned
    cfg.text.precision = "fp32"
    assert trained_config({**state, "config": cfg.to_dict()}).text.precision == "fp32"  # explicit stays


@pytest.mark.parametrize("saved", ["bf16", "fp32"])
def test_an_auto_video_precision_is_read_as_the_one_the_model_was_trained_with(saved):
    from reelcast.checkpoint import trained_config
    from reelcast.config import Config

    cfg = Config()
    cfg.video.precision = "auto"
    ids = {"video": "mobilenet_v2"}
    state = {"config": cfg.to_dict(), "encoder_ids": ids, "precisions": {"video": saved}}
    assert trained_config(state).video.precision == saved
    # saved before models recorded their precisions: `auto` is left to the machine, as it was then
    del state["precisions"]
    assert trained_config(state).video.precision == "auto"


def test_a_fine_tuned_text_encoder_is_recorded_and_reloaded_as_the_fp32_it_runs_in():
    from reelcast.checkpoint import encoder_precisions, trained_config
    from reelcast.config import Config

    cfg = Config()
    cfg.text.finetune, cfg.text.precision = True, "auto"  # auto never means bf16 for a fine-tuned encoder
    saved = encoder_precisions(cfg, "cpu")
    assert saved["text"] == "fp32"
    assert trained_config({"config": cfg.to_dict(), "precisions": saved}).text.precision == "fp32"


def test_a_saved_model_records_the_precisions_its_encoders_ran_in(tiny_run):
    from reelcast.checkpoint import read

    assert read(tiny_run)["precisions"] == {"text": "fp32", "video": "fp32"}


def test_a_models_video_id_names_the_precision_its_frames_were_encoded_in():
    from reelcast.config import Config
    from reelcast.features.featurize import Featurizer

    cfg = Config()
    cfg.media.mode = "trailers"
    cfg.video.model = "mobilenet_v2"
    cfg.video.precision = "bf16"
    assert Featurizer(cfg, "cpu").encoder_ids(["video"], None)["video"] == "mobilenet_v2+bf16"
    cfg.video.precision = "fp32"
    assert Featurizer(cfg, "cpu").encoder_ids(["video"], None)["video"] == "mobilenet_v2"
