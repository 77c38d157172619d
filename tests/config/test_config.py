import pytest

from reelcast.config import Config, split_names


def test_defaults_match_the_design():
    cfg = Config()
    assert cfg.text.model == "bert-base-uncased" and cfg.video.model == "microsoft/resnet-50"
    assert cfg.train.lr == 1e-4 and cfg.train.epochs == 50 and cfg.train.patience == 10
    assert cfg.train.batch_size == 16 and cfg.model.hidden == [512, 256]
    assert cfg.media.num_frames == 30 and cfg.media.audio_seconds == 30.0 and cfg.audio.dim == 1024


def test_toml_round_trip_and_overrides(tmp_path):
    cfg = Config()
    cfg.override(["train.lr=0.001", "model.hidden=[64, 32]", "split.splits=75-15-10", "data.text_col=Plot"])
    path = tmp_path / "run.toml"
    cfg.save(path)
    back = Config.load(path)
    assert back.train.lr == 0.001 and back.model.hidden == [64, 32]
    assert back.split.splits == "75-15-10" and back.data.text_col == "Plot"
    assert back.data.revenue_col is None  # unset values survive as unset
    assert back.to_dict() == cfg.to_dict()


def test_bad_keys_and_values_are_named(tmp_path):
    with pytest.raises(KeyError, match="train.learning_rate"):
        Config().override(["train.learning_rate=1"])
    with pytest.raises(ValueError, match="train.epochs"):
        Config().override(["train.epochs=many"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = 'x'\n")
    with pytest.raises(ValueError, match="bad.toml"):
        Config.load(bad)


def test_split_names():
    assert split_names("all") == ["70-20-10", "75-15-10", "80-10-10"]
    assert split_names("80-10-10,70-20-10") == ["80-10-10", "70-20-10"]
    with pytest.raises(ValueError, match="60-20-20"):
        split_names("60-20-20")
