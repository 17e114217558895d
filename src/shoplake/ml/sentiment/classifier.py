"""The engine's configuration and one loaded model: :class:`TextClassifier` (any sequence classifier),
:class:`EmbeddingHeadClassifier` (shoplake's encoder + head) and :func:`load_classifier`, which finds the model
(hub id, local directory, lake URI, adopted model reference) and prepares it for the device and precision."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.config import SENTIMENT_PRECISIONS, looks_like_path
from shoplake.io.lake import filesystem
from shoplake.jobconfig import check_options, option
from shoplake.ml.sentiment.batching import (
    auto_batch_tokens,
    mean_pool,
    place_module,
    run_sorted_batches,
    sentence_embeddings,
)
from shoplake.ml.sentiment.cpu import attention_of, prepare_cpu_model
from shoplake.ml.sentiment.export import CompiledModel, OnnxModel
from shoplake.ml.sentiment.labels import (
    HEAD_MANIFEST,
    MODEL_REF,
    TEXT_AND_TITLE,
    ClassScores,
    five_class_positive_prob,
    review_features,
)
from shoplake.ml.sentiment.multilingual import (
    USE_MULTILINGUAL,
    MultilingualEncoder,
    MultilingualHeadClassifier,
    check_fingerprint,
    linear_softmax,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Inference knobs (declared once: the scoring and training jobs' flags derive from them)."""

    batch_size: int = option(1024, help="most texts per forward pass", minimum=1)
    batch_tokens: int = option(
        0,
        help="padded tokens per forward pass (length-sorted texts fill a batch up to it); 0 = 65536 on CUDA, "
        "1024 on the CPU",
        minimum=0,
    )
    max_length: int = option(256, help="tokens kept per text (longer texts are truncated)", minimum=1)
    chunk_rows: int = option(4096, help="rows read from Parquet and written back at a time", minimum=1)
    device: str = option("auto", help="auto (CUDA if available), cpu or cuda", enum=["auto", "cpu", "cuda"])
    precision: str = option(
        "auto",
        help="auto (bf16 weights on CUDA, fp32 on CPU), fp32, bf16 (on a CPU with native bf16 instructions the "
        "fast path: about 4.5x one text per call, scores within 0.012), int8 (CPU: torch dynamic quantisation), "
        "onnx-fp32 or onnx-int8 (CPU: the model exported to ONNX Runtime; both int8 paths move scores)",
        enum=list(SENTIMENT_PRECISIONS),
    )
    compile: bool = option(
        False,
        help="torch.compile the model (dynamic shapes; weights frozen on the CPU): 12-30 s once per process; on the "
        "2-core dev CPU slower than bf16 with its prepacked weights; falls back to the plain model if compiling fails",
    )

    def __post_init__(self) -> None:
        check_options(self)


def engine_config(cfg: Any) -> EngineConfig:
    """The :class:`EngineConfig` part of any config that carries its fields (a job config derived from it)."""
    return EngineConfig(**{f.name: getattr(cfg, f.name) for f in fields(EngineConfig)})


def pick_device(requested: str = "auto") -> str:
    """``cuda`` when asked for or available, else ``cpu``; asking for CUDA without one is an error."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda was requested but torch sees no CUDA device")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def local_model_dir(uri: str, cache_dir: str | Path) -> str:
    """A local directory for ``uri``: itself if local, else a cached copy of a remote (lake) directory.

    A hub id (``org/name``) is returned unchanged for ``from_pretrained``. A model root holding ``current.json``
    (written last by training) resolves to the version it points at.
    """
    from shoplake.ml.registry import read_pointer

    fs, root = filesystem(uri)
    pointer = read_pointer(uri) if fs.exists(f"{root}/current.json") else None
    if pointer is not None:
        uri = pointer["path"]
        fs, root = filesystem(uri)
    if "://" not in uri:
        return uri  # a local directory, or a hub id for from_pretrained
    target = Path(cache_dir) / hashlib.sha256(uri.encode()).hexdigest()[:16]
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        fs.get(root.rstrip("/") + "/", str(target) + "/", recursive=True)
        (target / ".complete").write_text(uri)
    return str(target)


class TextClassifier(ClassScores):
    """Tokenise → forward → positive-class probability, for one loaded model."""

    model_id: str
    revision: str
    #: linear layers whose weights ``prepack_cpu_linears`` laid out for oneDNN (fp32 / bf16 on a CPU), else 0
    packed_linears: int = 0

    def __init__(self, tokenizer: Any, model: Any, device: str, dtype: torch.dtype, cfg: EngineConfig) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.dtype = dtype
        self.cfg = cfg
        # never ask for more tokens than the model has positions for (huge reviews are truncated, not errors)
        limit = getattr(model.config, "max_position_embeddings", None) or cfg.max_length
        self.max_length = min(cfg.max_length, limit)

    def _logits(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**enc).logits

    def labels(self) -> list[str]:
        """The model's output labels in output order."""
        id2label = getattr(self.model.config, "id2label", None) or {}
        return [str(id2label[k]) for k in sorted(id2label, key=int)]

    def class_proba(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        """Softmax over the model's labels for each text (rows in input order, columns in :meth:`labels` order); a
        model of one input reads the text alone (``titles`` unused)."""
        import torch

        return run_sorted_batches(
            self.tokenizer,
            texts,
            lambda enc: torch.softmax(self._logits(enc).float(), dim=-1),
            batch_size=self.cfg.batch_size,
            batch_tokens=self.cfg.batch_tokens,
            max_length=self.max_length,
            device=self.device,
            width=len(self.labels()),
        )

    def positive_proba(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`ClassScores.positive_proba`; a binary model's batches compute only the positive column."""
        import torch

        if len(self.labels()) == 5:
            return five_class_positive_prob(self.five_class_proba(texts))
        pos = self.positive_index()
        return run_sorted_batches(
            self.tokenizer,
            texts,
            lambda enc: torch.softmax(self._logits(enc).float(), dim=-1)[:, pos],
            batch_size=self.cfg.batch_size,
            batch_tokens=self.cfg.batch_tokens,
            max_length=self.max_length,
            device=self.device,
        )


class EmbeddingHeadClassifier(TextClassifier):
    """A sentence encoder (mean pooling over tokens) with a linear head: shoplake's offline default."""

    def __init__(self, tokenizer: Any, encoder: Any, head: torch.nn.Linear, labels: list[str], **kw: Any) -> None:
        super().__init__(tokenizer, encoder, **kw)
        self.head = head
        self.head_labels = list(labels)

    def labels(self) -> list[str]:
        return self.head_labels

    def positive_index(self) -> int:
        return self.head_labels.index("positive")

    def _logits(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.model(**enc).last_hidden_state
        return self.head(mean_pool(hidden, enc["attention_mask"]).to(self.head.weight.dtype))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's sentence embeddings (mean pooled, L2-normalised), rows in input order."""
        width = self.head.in_features // len(self.inputs)
        return sentence_embeddings(self.tokenizer, self.model, texts, self.cfg, max_length=self.max_length,
                                   device=self.device, width=width)  # fmt: skip

    def class_proba(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        """A head of one input scores each text in one pass; a head fitted on text and title
        (:data:`TEXT_AND_TITLE`) reads the two embeddings side by side."""
        if self.inputs != TEXT_AND_TITLE:
            return super().class_proba(texts)
        x = review_features(self.embed, texts, titles, self.inputs)
        weight = self.head.weight.detach().float().cpu().numpy()
        return linear_softmax(x, weight, self.head.bias.detach().float().cpu().numpy())


def model_dtype(device: str, precision: str) -> torch.dtype:
    import torch

    if precision == "bf16" or (precision == "auto" and device == "cuda"):
        return torch.bfloat16
    return torch.float32


def directory_revision(path: str | Path) -> str:
    """Content revision of a local model directory: a hash of its config and weight files."""
    digest = hashlib.sha256()
    for f in sorted(Path(path).glob("*")):
        if f.is_file() and (f.suffix in (".json", ".safetensors", ".bin", ".txt")):
            digest.update(f.name.encode())
            digest.update(f.read_bytes() if f.stat().st_size < 1 << 20 else str(f.stat().st_size).encode())
    return "dir-" + digest.hexdigest()[:12]


def load_multilingual_head(path: str | Path, meta: dict[str, Any], cfg: EngineConfig) -> MultilingualHeadClassifier:
    """A head over USE multilingual v3 (``shoplake.ml.sentiment.multilingual``): numpy on the CPU whatever
    ``device`` / ``precision`` say (logged when they ask for more)."""
    from safetensors.numpy import load_file

    encoder = MultilingualEncoder(max_length=cfg.max_length, chunk_rows=cfg.chunk_rows)
    check_fingerprint(meta.get("encoder_fingerprint", {}), encoder.fingerprint, meta["model_id"])
    weights = load_file(str(Path(path) / meta["head_file"]))
    clf = MultilingualHeadClassifier(encoder, weights["weight"], weights["bias"], meta["labels"], cfg)
    clf.model_id, clf.revision = meta["model_id"], meta["revision"]
    clf.inputs = tuple(meta.get("inputs", ("text",)))
    ignored = [f"{k}={v}" for k, v in (("device", cfg.device), ("precision", cfg.precision), ("compile", cfg.compile))
               if v not in ("auto", "cpu", "fp32", False)]  # fmt: skip
    log.info("loaded %s@%s (USE multilingual v3, numpy on %s CPU threads%s)", clf.model_id, clf.revision,
             encoder.threads, f"; {', '.join(ignored)} do not apply to it" if ignored else "")  # fmt: skip
    return clf


def load_classifier(
    uri: str, *, revision: str | None = None, cfg: EngineConfig | None = None, cache_dir: str | Path = "/tmp"
) -> TextClassifier | MultilingualHeadClassifier:
    """Load a classifier from a hub id (pinned ``revision``), a local directory or a lake URI."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    cfg = cfg or EngineConfig()
    device = pick_device(cfg.device)
    dtype = model_dtype(device, cfg.precision)
    if cfg.precision in ("int8", "onnx-fp32", "onnx-int8") and device != "cpu":
        raise ValueError(f"precision={cfg.precision} runs on the CPU; use bf16 on CUDA")
    path = local_model_dir(uri, Path(cache_dir) / "shoplake-models")
    ref = Path(path) / MODEL_REF
    if ref.exists():  # a model version that adopted a hub model or directory after evaluating it
        target = json.loads(ref.read_text())
        return load_classifier(target["uri"], revision=target.get("revision") or None, cfg=cfg, cache_dir=cache_dir)
    manifest = Path(path) / HEAD_MANIFEST
    kw: dict[str, Any] = {"device": device, "dtype": dtype, "cfg": cfg}
    meta = json.loads(manifest.read_text()) if manifest.exists() else None
    if meta is not None and meta.get("encoder") == USE_MULTILINGUAL:
        return load_multilingual_head(path, meta, cfg)
    if meta is not None:
        from safetensors.torch import load_file

        encoder_dir = str(Path(path) / meta["encoder_dir"])
        tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
        encoder = AutoModel.from_pretrained(encoder_dir)
        weights = load_file(str(Path(path) / meta["head_file"]))
        head = torch.nn.Linear(weights["weight"].shape[1], weights["weight"].shape[0])
        head.load_state_dict(weights)
        clf: TextClassifier = EmbeddingHeadClassifier(tokenizer, encoder, head, meta["labels"], **kw)
        clf.model_id, clf.revision = meta["model_id"], meta["revision"]
        clf.inputs = tuple(meta.get("inputs", ("text",)))
    elif Path(path).is_dir():
        # a directory carries its own version: the pinned hub revision does not apply to it
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path)
        clf = TextClassifier(tokenizer, model, **kw)
        clf.model_id, clf.revision = uri, directory_revision(path)
    else:
        if looks_like_path(uri):  # a directory or lake URI that is not there: not a hub id
            raise FileNotFoundError(
                f"sentiment model {uri} does not exist (no model directory, no current.json): create the offline "
                "model with `make sentiment-model` (or jobs/train/train_sentiment_head.py --steam-source DIR; "
                "compose's airflow-init does it on first start), or point SHOPLAKE_SENTIMENT_MODELS at a hub "
                "model@revision"
            )
        if not revision:
            raise ValueError(f"hub model {uri} needs a pinned revision (SHOPLAKE_SENTIMENT_REVISION)")
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        model = AutoModelForSequenceClassification.from_pretrained(path, revision=revision)
        clf = TextClassifier(tokenizer, model, **kw)
        clf.model_id, clf.revision = uri, revision
    place_module(clf.model, device, dtype)
    if isinstance(clf, EmbeddingHeadClassifier):
        place_module(clf.head, device, torch.float32)  # a tiny matrix: kept in fp32 over the fp32 mean pool
    if device == "cpu":
        clf.packed_linears = prepare_cpu_model(
            clf.model, cfg.precision, bf16=dtype == torch.bfloat16, compiled=cfg.compile,
            batch_tokens=cfg.batch_tokens or auto_batch_tokens(device),
        )  # fmt: skip
    if cfg.precision == "int8":
        clf.model = torch.ao.quantization.quantize_dynamic(clf.model, {torch.nn.Linear}, dtype=torch.qint8)
    elif cfg.precision.startswith("onnx-"):
        output = "last_hidden_state" if isinstance(clf, EmbeddingHeadClassifier) else "logits"
        key = f"{clf.model_id}@{clf.revision}:{output}:{cfg.precision}:eager-attention"
        clf.model = OnnxModel.build(clf.model, clf.tokenizer, output, Path(cache_dir) / "shoplake-onnx", key,
                                    quantize=cfg.precision == "onnx-int8")  # fmt: skip
    if cfg.compile and not cfg.precision.startswith("onnx-"):
        clf.model = CompiledModel(clf.model, device)
    attention = attention_of(clf.model)
    log.info("loaded %s@%s on %s (%s%s%s%s)", clf.model_id, clf.revision, device, cfg.precision,
             f", {attention} attention" if attention else "",
             f", {clf.packed_linears} linear layers prepacked" if clf.packed_linears else "",
             ", compiled" if isinstance(clf.model, CompiledModel) else "")  # fmt: skip
    return clf
