"""A frozen BERT encoder read straight from a model folder, without importing transformers.

Importing transformers and building a model through it costs 2.5-4 s of a cold `reelcast predict` that
otherwise takes about as long in total (benchmarks/startup.py). For inference with a plain BERT (the
defaults bert-base-uncased and all-MiniLM-L6-v2 both are), the forward pass is a few lines of torch and
the tokenizer is the `tokenizers` library transformers itself wraps, so a model folder holding
config.json, tokenizer.json and model.safetensors is read here. Anything else (another architecture,
relative positions, an old checkpoint format, a tokenizer whose settings transformers would rewrite)
is left to transformers: `load_lean_bert` returns None for it. tests/encoders/test_bert.py checks the
two paths give the same vectors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

_PREFIX = "bert."  # checkpoints saved from BertForPreTraining and the like carry it
# tokenizer_config.json settings under which transformers rebuilds tokenizer.json's normalizer.
_NORMALIZER_KEYS = {"do_lower_case": "lowercase", "strip_accents": "strip_accents"}


class Encoded(dict):
    """Token ids and masks as tensors, moved to a device like transformers' BatchEncoding."""

    def to(self, device: Any) -> Encoded:
        """The same tensors on `device`."""
        return Encoded({k: v.to(device) for k, v in self.items()})


class LeanTokenizer:
    """tokenizer.json through the `tokenizers` library, called like a transformers fast tokenizer."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path))
        self.tok.no_padding()
        self.tok.no_truncation()
        self.pad_id = self.tok.token_to_id("[PAD]") or 0

    def __call__(
        self,
        texts: list[str],
        padding: bool = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
    ) -> Encoded | dict[str, list[list[int]]]:
        """input_ids, token_type_ids and attention_mask of each text (padded to the longest if asked)."""
        if truncation and max_length:
            self.tok.enable_truncation(max_length)
        else:
            self.tok.no_truncation()
        encs = self.tok.encode_batch(list(texts))
        if return_tensors is None:
            return {"input_ids": [e.ids for e in encs]}
        width = max((len(e.ids) for e in encs), default=0) if padding else None
        rows = [_padded(e, width, self.pad_id) for e in encs]
        return Encoded({k: torch.tensor([r[k] for r in rows], dtype=torch.long) for k in rows[0]})


def _padded(enc, width: int | None, pad_id: int) -> dict[str, list[int]]:
    extra = 0 if width is None else width - len(enc.ids)
    return {
        "input_ids": list(enc.ids) + [pad_id] * extra,
        "token_type_ids": list(enc.type_ids) + [0] * extra,
        "attention_mask": [1] * len(enc.ids) + [0] * extra,
    }


class _Config:
    def __init__(self, d: dict):
        self.hidden_size = int(d["hidden_size"])
        self.heads = int(d["num_attention_heads"])
        self.layers = int(d["num_hidden_layers"])
        self.eps = float(d.get("layer_norm_eps", 1e-12))


class _Output:
    def __init__(self, last_hidden_state: torch.Tensor):
        self.last_hidden_state = last_hidden_state


class LeanBert:
    """BERT's encoder stack (absolute positions, post-norm, exact GELU) over weights by their HF names."""

    def __init__(self, config: dict, weights: dict[str, torch.Tensor]):
        self.config = _Config(config)
        self.w = weights

    def _ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        h = self.config.hidden_size
        return F.layer_norm(x, (h,), self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.config.eps)

    def _dense(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    @torch.inference_mode()
    def __call__(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> _Output:
        """The last hidden states (batch, tokens, hidden) of the padded batch."""
        w, n = self.w, input_ids.shape[1]
        types = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
        x = (
            w["embeddings.word_embeddings.weight"][input_ids]
            + w["embeddings.token_type_embeddings.weight"][types]
            + w["embeddings.position_embeddings.weight"][:n]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        b, heads = len(input_ids), self.config.heads
        d = self.config.hidden_size // heads
        keep = attention_mask.bool()[:, None, None, :]  # (batch, 1, 1, tokens): padding is never attended
        for i in range(self.config.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (
                self._dense(x, f"{p}.attention.self.{t}").view(b, n, heads, d).transpose(1, 2)
                for t in ("query", "key", "value")
            )
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=1 / math.sqrt(d))
            ctx = ctx.transpose(1, 2).reshape(b, n, heads * d)
            x = self._ln(
                self._dense(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm"
            )
            h = F.gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = self._ln(self._dense(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        return _Output(x)

    def eval(self) -> LeanBert:
        """Itself: it has no training mode."""
        return self

    def to(self, device_or_dtype: Any) -> LeanBert:
        """The weights on a device, or in a dtype (as `torch.Tensor.to`)."""
        self.w = {k: v.to(device_or_dtype) for k, v in self.w.items()}
        return self


def _is_plain_bert(config: dict) -> bool:
    return (
        config.get("model_type") == "bert"
        and config.get("architectures", ["BertModel"])[0]
        in ("BertModel", "BertForMaskedLM", "BertForPreTraining")
        and config.get("position_embedding_type", "absolute") == "absolute"
        and config.get("hidden_act", "gelu") == "gelu"
    )


def _tokenizer_kept(folder: Path, tokenizer_json: dict) -> bool:
    """Whether transformers would use tokenizer.json as it is (no settings that rebuild it)."""
    cfg_file = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text(encoding="utf-8")) if cfg_file.is_file() else {}
    if cfg.get("tokenizer_class", "BertTokenizer") not in ("BertTokenizer", "BertTokenizerFast"):
        return False
    norm = tokenizer_json.get("normalizer") or {}
    return all(cfg[k] == norm.get(n) for k, n in _NORMALIZER_KEYS.items() if k in cfg and cfg[k] is not None)


def _weight_names(layers: int) -> list[str]:
    emb = [
        f"embeddings.{e}.weight" for e in ("word_embeddings", "position_embeddings", "token_type_embeddings")
    ]
    names = [*emb, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    parts = [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "attention.output.LayerNorm",
        "intermediate.dense",
        "output.dense",
        "output.LayerNorm",
    ]
    for i in range(layers):
        names += [f"encoder.layer.{i}.{p}.{s}" for p in parts for s in ("weight", "bias")]
    return names


def local_folder(name_or_path: str) -> Path | None:
    """The folder of a local model, or of a hub id already in the Hugging Face cache (no network)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.is_absolute() or name_or_path.count("/") > 1:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(name_or_path, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def load_lean_bert(name_or_path: str) -> tuple[LeanBert, LeanTokenizer] | None:
    """(model, tokenizer) for a plain BERT folder with tokenizer.json and model.safetensors, else None."""
    folder = local_folder(name_or_path)
    if folder is None:
        return None
    files = [folder / f for f in ("config.json", "tokenizer.json", "model.safetensors")]
    if not all(f.is_file() for f in files):
        return None
    config = json.loads(files[0].read_text(encoding="utf-8"))
    if not _is_plain_bert(config) or not _tokenizer_kept(
        folder, json.loads(files[1].read_text(encoding="utf-8"))
    ):
        return None
    from safetensors.torch import load_file

    weights = {k.removeprefix(_PREFIX): v for k, v in load_file(str(files[2])).items()}
    names = _weight_names(int(config["num_hidden_layers"]))
    if any(n not in weights or weights[n].dtype != torch.float32 for n in names):
        # Old names (gamma/beta), another layout or half precision: transformers knows how to read them.
        return None
    weights = {n: weights[n] for n in names}
    return LeanBert(config, weights), LeanTokenizer(files[1])
