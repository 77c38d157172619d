"""Text encoder: any Hugging Face BERT-family model over the description, [CLS] or mean pooled."""

from __future__ import annotations

import logging
import string
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reelcast.config import TextConfig
from reelcast.encoders.common import load_error, model_id, native_bf16, resolve_device, use_bf16
from reelcast.progress import Progress

log = logging.getLogger(__name__)


def load_text_backbone(name_or_path: str, lean: bool = False) -> tuple[nn.Module, object]:
    """(model, tokenizer) from a hub id or a local directory; lean=True reads a plain BERT folder
    without transformers when it can (frozen inference only: encoders.bert)."""
    if lean:
        from reelcast.encoders.bert import load_lean_bert

        try:
            found = load_lean_bert(name_or_path)
        except Exception as e:  # a corrupt file: the same clear error transformers' path gives
            raise load_error("text", name_or_path, e) from e
        if found is not None:
            return found  # type: ignore[return-value]
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModel.from_pretrained(name_or_path)
    except Exception as e:  # transformers raises OSError, ValueError, HTTP errors...
        raise load_error("text", name_or_path, e) from e
    return model, tokenizer


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """[CLS] vector or attention-masked mean of the last hidden states."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
    raise ValueError(f"text pooling must be cls or mean, got {pooling!r}")


def text_bf16(cfg: TextConfig, device: torch.device) -> bool:
    """Whether the frozen encoder computes in bf16 (auto: where the device has bf16 units)."""
    if cfg.finetune:  # the backbone trains in fp32 with the network
        if cfg.precision == "bf16":
            raise ValueError("text.precision bf16 is for a frozen text encoder; set text.finetune = false")
        return False
    return use_bf16(device, cfg.precision)


def text_encoder_id(cfg: TextConfig, device: str | torch.device = "cpu") -> str:
    """Store id of text vectors: the model and every setting that changes them (no model load)."""
    bf16 = text_bf16(cfg, torch.device(device))
    return f"text:{model_id(cfg.model)}:{cfg.pooling}:{cfg.max_length}" + ("+bf16" if bf16 else "")


class TextEncoder:
    """Frozen text encoder: texts in, one vector per text out."""

    def __init__(self, cfg: TextConfig, device: str = "auto"):
        self.cfg = cfg
        self.device = resolve_device(device)
        self.bf16 = text_bf16(cfg, self.device)
        self.model, self.tokenizer = load_text_backbone(cfg.model, lean=cfg.lean)
        # bf16 weights rather than autocast: autocast converts every weight on every call, and was no
        # faster than fp32 for a plot.
        self.model.eval().to(self.device)
        if self.bf16:
            self.model.to(torch.bfloat16)
            if not native_bf16(self.device):
                log.warning(
                    "text.precision bf16 on a %s without bf16 units (AMX, AVX512-BF16): the text encoder is "
                    "emulated in bf16, slower than fp32",
                    self.device.type.upper(),
                )
        self.dim = int(self.model.config.hidden_size)
        # The id covers everything that changes the output vectors.
        self.encoder_id = text_encoder_id(cfg, self.device)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Padded token ids and attention masks, truncated to max_length."""
        return self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.cfg.max_length, return_tensors="pt"
        )

    def token_counts(self, texts: list[str]) -> list[int]:
        """Untruncated token counts, to warn about descriptions cut at max_length."""
        return [len(ids) for ids in self.tokenizer(texts, truncation=False)["input_ids"]]

    def truncation_warnings(self, texts: list[str]) -> list[list[str]]:
        """Per text, the warning that it was cut at max_length (none for a blank text)."""
        limit, out = self.cfg.max_length, [[] for _ in texts]
        given = [i for i, t in enumerate(texts) if t.strip()]
        counts = self.token_counts([texts[i] for i in given]) if given else []
        for i, n_tokens in zip(given, counts, strict=True):
            if n_tokens > limit:
                out[i].append(f"description has {n_tokens} tokens; only the first {limit} were read")
        return out

    @torch.inference_mode()
    def encode(self, texts: list[str], progress: bool = True) -> np.ndarray:
        """(len(texts), dim) float32; batches are length-sorted to waste little on padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        bs = self.cfg.batch_size
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        with Progress(len(texts), "encode text", "film", enabled=progress and len(batches) > 1) as bar:
            for batch in batches:
                enc = self.tokenize([texts[i] for i in batch]).to(self.device)
                hidden = self.model(**enc).last_hidden_state
                out[batch] = pool(hidden, enc["attention_mask"], self.cfg.pooling).float().cpu().numpy()
                bar.update(len(batch))
        return out


def _char_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return specials + chars + ["##" + c for c in string.ascii_lowercase + string.digits]


def save_tiny_bert(directory: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Write a tiny random BERT with a character-level WordPiece vocabulary as a local HF directory.

    It carries no knowledge of language: it lets tests and the offline demo run the real loading and
    encoding path without network access.
    """
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(_char_vocab()) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True).save_pretrained(directory)
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(_char_vocab()),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
    )
    BertModel(cfg).save_pretrained(directory)
    return directory
