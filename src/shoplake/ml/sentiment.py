"""Batched sentiment inference over lake partitions.

Loads any sequence-classification model by hub id, local directory or lake URI (``s3://…``, ``gs://…``,
copied to a local cache first), or shoplake's own *embedding-head* models (a sentence encoder plus a linear
head, see ``shoplake.ml.sentiment_head``). Texts are sorted by length and batched with dynamic padding, run under
``torch.inference_mode`` in bf16 on CUDA or fp32 on CPU (bf16, dynamic int8 or ONNX Runtime there when asked);
partitions stream through in chunks, so memory stays flat whatever the partition size, and output row *i* is
input row *i*.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shoplake.config import SENTIMENT_PRECISIONS
from shoplake.io.lake import PartitionWriter, filesystem, iter_partition_batches
from shoplake.jobconfig import check_options, option
from shoplake.progress import Progress

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: a shoplake embedding-head model directory holds this file
HEAD_MANIFEST = "shoplake_model.json"
#: a model version that adopts a hub model (or a directory) holds this file: ``{"uri", "revision"}``
MODEL_REF = "model_ref.json"

#: ``sentiment_status`` of a row a model supporting its language scored, and of one no configured model supports
SCORED, UNSUPPORTED = "scored", "unsupported_language"
#: the route of every language without a route of its own
ANY_LANGUAGE = "*"

#: the five sentiment classes, worst to best; class *i* stands for *i + 1* stars
FIVE_CLASSES = ("very_negative", "negative", "neutral", "positive", "very_positive")


def normalise_label(name: str) -> str:
    """``"Very Negative"`` / ``"very-negative"`` / ``"VERY_NEGATIVE"`` → ``"very_negative"`` (labels such as
    ``"1 star"`` or ``"LABEL_0"`` are mapped by :func:`five_class_order` from their order)."""
    return re.sub(r"[^a-z]+", "_", str(name).lower()).strip("_")


def five_class_order(labels: Sequence[str]) -> list[int] | None:
    """Indexes of a five-label model's outputs in :data:`FIVE_CLASSES` order, or ``None`` if it is not one.

    Named labels (``Very Negative`` … ``Very Positive``) are matched by name; otherwise five labels are taken in their
    own order (``1 star`` … ``5 stars``, ``LABEL_0`` … ``LABEL_4``: the hub's five-class review models list them
    worst first).
    """
    if len(labels) != 5:
        return None
    names = [normalise_label(x) for x in labels]
    if sorted(names) == sorted(FIVE_CLASSES):
        return [names.index(c) for c in FIVE_CLASSES]
    return list(range(5))


def five_class_positive_prob(probs: np.ndarray) -> np.ndarray:
    """THE mapping of five class probabilities (:data:`FIVE_CLASSES` order) to one ``positive_prob``:
    ``P(positive) + P(very positive) + ½ · P(neutral)``.

    A neutral review counts half positive, so a confident 3-star review scores 0.5 (the binary models' undecided
    point) and the value stays a probability-like score in [0, 1]. The Steam pipeline's language routing uses it when
    a five-class model scores a language, and the product review results carry it beside the five probabilities.
    """
    probs = np.asarray(probs, dtype=np.float32)
    return probs[:, 3] + probs[:, 4] + 0.5 * probs[:, 2]


SENTIMENT_SCHEMA = pa.schema(
    [
        pa.field("recommendationid", pa.string()),
        pa.field("language_code", pa.string()),
        pa.field("sentiment_status", pa.string()),  # scored | unsupported_language (then the scores are null)
        pa.field("sentiment_label", pa.string()),
        pa.field("sentiment_score", pa.float32()),  # probability of the predicted label
        pa.field("positive_prob", pa.float32()),
        pa.field("model_id", pa.string()),
        pa.field("model_revision", pa.string()),
        pa.field("model_language", pa.string()),  # the route that chose the model: a language code or "*"
    ]
)


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


@dataclass(frozen=True)
class ModelRoute:
    """Which model scores the texts of one language (``*``: every language without a route of its own)."""

    language: str
    uri: str
    revision: str = ""


_LANG_RE = re.compile(r"^([a-z]{2,3}|\*)$")


def parse_model_map(text: str) -> tuple[ModelRoute, ...]:
    """Parse ``SHOPLAKE_SENTIMENT_MODELS``: ``en=<model>[@revision],*=<model>[@revision]``.

    Languages are the curated ``language_code`` values (ISO 639-1, ``und`` when Steam's name is unknown) or ``*``.
    A model is a hub id (with its pinned revision after ``@``), a local directory or a lake URI.

    Raises:
        ValueError: an entry without ``=``, a bad language code, a language named twice, or an empty map.
    """
    routes: dict[str, ModelRoute] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        lang, sep, model = entry.partition("=")
        lang, model = lang.strip().lower(), model.strip()
        if not sep or not model or not _LANG_RE.match(lang):
            raise ValueError(f"sentiment model map entry {entry!r} is not <language>=<model>[@revision]")
        if lang in routes:
            raise ValueError(f"sentiment model map names language {lang!r} twice")
        uri, at, revision = model.rpartition("@")
        if not at or not uri or "/" in revision:  # no pinned revision (an @ inside a path is part of it)
            uri, revision = model, ""
        routes[lang] = ModelRoute(lang, uri, revision)
    if not routes:
        raise ValueError("the sentiment model map is empty")
    return tuple(routes.values())


def format_model_map(routes: Iterable[ModelRoute]) -> str:
    """The map as ``SHOPLAKE_SENTIMENT_MODELS`` spells it (inverse of :func:`parse_model_map`)."""
    return ",".join(f"{r.language}={r.uri}" + (f"@{r.revision}" if r.revision else "") for r in routes)


class TextClassifier:
    """Tokenise → forward → positive-class probability, for one loaded model."""

    model_id: str
    revision: str
    #: linear layers whose weights :func:`prepack_cpu_linears` laid out for oneDNN (fp32 / bf16 on a CPU), else 0
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

    def positive_index(self) -> int:
        labels = dict(enumerate(x.lower() for x in self.labels()))
        for idx, name in labels.items():
            if name.startswith("pos"):
                return idx
        return max(labels) if labels else 1

    def class_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Softmax over the model's labels for each text (rows in input order, columns in :meth:`labels` order)."""
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

    def five_class_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The five class probabilities in :data:`FIVE_CLASSES` order; ``ValueError`` for a model of other labels."""
        order = five_class_order(self.labels())
        if order is None:
            raise ValueError(f"{self.model_id} has labels {self.labels()}, not five sentiment classes")
        return self.class_proba(texts)[:, order]

    def positive_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of the positive class for each text, in input order (a five-class model's five probabilities
        mapped by :func:`five_class_positive_prob`)."""
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


class OnnxModel:
    """A transformer exported to ONNX and run by ONNX Runtime on the CPU, called like the torch model it replaces
    (``model(**encoded).logits`` / ``.last_hidden_state``); int8 quantises the weights dynamically (activations
    stay float). Exports are cached on disk by model, revision and precision, so a scoring job pays once."""

    def __init__(self, session: Any, config: Any, output: str) -> None:
        self.session = session
        self.config = config
        self.output = output
        self.inputs = [i.name for i in session.get_inputs()]

    @classmethod
    def build(cls, model: Any, tokenizer: Any, output: str, cache_dir: Path, key: str, *, quantize: bool) -> OnnxModel:
        import onnxruntime as ort
        import torch

        target = cache_dir / hashlib.sha256(key.encode()).hexdigest()[:16] / "model.onnx"
        if not target.exists():
            cls._export(model, tokenizer, output, target, quantize=quantize)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        log.info("ONNX Runtime session on %s (%s)", target, "int8 weights" if quantize else "fp32")
        return cls(session, model.config, output)

    @staticmethod
    def _export(model: Any, tokenizer: Any, output: str, target: Path, *, quantize: bool) -> None:
        import tempfile

        import torch

        sample = tokenizer(["a short review", "a somewhat longer review text"], padding=True, return_tensors="pt")
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

        class Positional(torch.nn.Module):  # ONNX inputs are positional; the model takes keywords
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *args: torch.Tensor) -> torch.Tensor:
                return getattr(self.model(**dict(zip(names, args, strict=True))), output)

        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            fp32 = Path(tmp) / "fp32.onnx"
            axes = {n: {0: "batch", 1: "tokens"} for n in names}
            axes[output] = {0: "batch"} if output == "logits" else {0: "batch", 1: "tokens"}
            # attention exported as plain matrix products and softmax: ONNX Runtime runs that faster on the CPU than
            # the exported scaled-dot-product kernel (133 vs 101 reviews/s for the default model, 2 threads)
            attention = use_attention(model, "eager")
            try:
                torch.onnx.export(
                    Positional().eval(),  # eval: the exporter restores the wrapper's mode after, and the model's
                    tuple(sample[n] for n in names),
                    str(fp32),
                    input_names=names,
                    output_names=[output],
                    dynamic_axes=axes,
                    opset_version=17,
                    dynamo=False,
                )
            finally:
                if attention:
                    use_attention(model, attention)
            final = fp32
            if quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                final = Path(tmp) / "int8.onnx"
                # weights of the matrix products only (embeddings stay fp32), one scale per output channel
                quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8, per_channel=True,
                                 op_types_to_quantize=["MatMul"])  # fmt: skip
            final.replace(target)  # whole or not at all: another process may be loading the cache

    def __call__(self, **enc: torch.Tensor) -> Any:
        import torch

        ids = enc["input_ids"]  # token types the engine does not send are all 0 (one segment)
        feeds = {n: (enc[n] if n in enc else torch.zeros_like(ids)).cpu().numpy() for n in self.inputs}
        return _Outputs(**{self.output: torch.from_numpy(self.session.run(None, feeds)[0])})

    def eval(self) -> OnnxModel:
        return self


class CompiledModel:
    """A model under ``torch.compile`` (dynamic shapes, so batches of every size share one compilation; frozen
    weights on the CPU, where the compiler then pre-packs them for its matrix kernels), called like the model. If
    compiling fails — an image without a C++ compiler, an operator the compiler does not take — it logs why and
    runs the plain model: slower, never a failed run."""

    def __init__(self, model: Any, device: str) -> None:
        import torch

        self.model, self.config = model, model.config
        self.compiled: Any = torch.compile(model, dynamic=True, options={"freezing": device == "cpu"})

    def __call__(self, **enc: torch.Tensor) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(**enc)
            except Exception as exc:  # the compiler's failures have no common type
                log.warning("torch.compile failed (%s: %s); running the model uncompiled", type(exc).__name__, exc)
                self.compiled = None
        return self.model(**enc)

    def parameters(self) -> Any:
        return self.model.parameters()


@dataclass
class _Outputs:
    logits: Any = None
    last_hidden_state: Any = None


#: rows tokenised at a time: the next chunk is tokenised while the GPU runs the last one's batches
TOKENIZE_ROWS = 4096


def auto_batch_tokens(device: str) -> int:
    """Padded tokens per forward pass when ``batch_tokens`` is 0: large on a GPU (the matrix units need long
    matrices to be busy), small on a CPU (batches that stay in its caches: on the 2-core dev machine 1,024 and
    2,048 tokens ran fastest, 16,384 at half their speed)."""
    return 65536 if device == "cuda" else 1024


def plan_batches(
    lengths: np.ndarray, *, batch_size: int, batch_tokens: int, multiple: int = 8
) -> list[tuple[int, int]]:
    """``[(lo, hi), …]`` over ``lengths`` sorted ascending: consecutive rows whose padded size (rows × the last
    row's length, rounded up to ``multiple``) stays within ``batch_tokens``, at most ``batch_size`` rows; a row
    longer than the budget alone still gets a batch of its own."""
    out, lo, n = [], 0, len(lengths)
    while lo < n:
        hi = lo + 1
        while hi < n and hi - lo < batch_size:
            width = -(-int(lengths[hi]) // multiple) * multiple
            if (hi - lo + 1) * width > batch_tokens:
                break
            hi += 1
        out.append((lo, hi))
        lo = hi
    return out


def run_sorted_batches(
    tokenizer: Any,
    texts: Sequence[str],
    forward: Any,
    *,
    batch_size: int,
    max_length: int,
    device: str,
    width: int | None = None,
    batch_tokens: int = 0,
) -> np.ndarray:
    """Run ``forward(encoded batch) -> tensor`` over length-sorted, dynamically padded batches.

    Texts are tokenised a chunk at a time (the fast tokenizer, one call per chunk), sorted by token count and cut
    into batches of about ``batch_tokens`` padded tokens (at most ``batch_size`` rows), each padded only to its own
    longest text (rounded up to a multiple of 8). On CUDA the batches go through pinned memory with non-blocking
    copies and their results stay on the device until the chunk is done — one host sync per chunk, not per batch —
    and the next chunk is tokenised while the GPU runs this one. The model runs in the dtype its weights were cast
    to (:func:`place_module`). Results come back in input order, one row per text (``width`` columns, or a vector
    when ``width`` is None).
    """
    import torch

    n = len(texts)
    out = np.zeros((n,) if width is None else (n, width), dtype=np.float32)
    budget = batch_tokens or auto_batch_tokens(device)
    cuda = device == "cuda"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    progress = Progress(n, "texts through the model", log)

    def launch(start: int) -> tuple[int, np.ndarray, torch.Tensor, Any]:
        chunk = [t if isinstance(t, str) else "" for t in texts[start : start + TOKENIZE_ROWS]]
        ids = tokenizer(
            chunk, truncation=True, max_length=max_length, padding=False,
            return_attention_mask=False, return_token_type_ids=False,
        )["input_ids"]  # fmt: skip
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        results = None
        for lo, hi in plan_batches(lengths[order], batch_size=batch_size, batch_tokens=budget):
            rows = order[lo:hi]
            lens = lengths[rows]
            cols = max(1, min(-(-int(lens[-1]) // 8) * 8, max(max_length, int(lens[-1]))))
            host = np.full((hi - lo, cols), pad, dtype=np.int64)
            for r, i in enumerate(rows):
                host[r, : lens[r]] = ids[i]
            input_ids, lens_t = torch.from_numpy(host), torch.from_numpy(lens)
            if cuda:
                input_ids = input_ids.pin_memory().to(device, non_blocking=True)
                lens_t = lens_t.pin_memory().to(device, non_blocking=True)
            mask = (torch.arange(cols, device=device)[None, :] < lens_t[:, None]).to(torch.long)
            res = forward({"input_ids": input_ids, "attention_mask": mask}).float()
            if results is None:
                results = torch.empty((len(ids), *res.shape[1:]), dtype=torch.float32, device=device)
            results[lo:hi] = res
        if results is None:  # an empty chunk
            results = torch.empty((0,), dtype=torch.float32)
        done = None
        if cuda:  # copy back without blocking; the caller waits on the event when it needs the numbers
            host_out = torch.empty(results.shape, dtype=torch.float32, pin_memory=True)
            host_out.copy_(results, non_blocking=True)
            done = torch.cuda.Event()
            done.record()
            results = host_out
        return start, order, results, done

    def collect(pending: tuple[int, np.ndarray, torch.Tensor, Any]) -> None:
        start, order, results, done = pending
        if done is not None:
            done.synchronize()
        out[start + order] = results.numpy()
        progress.update(len(order))

    pending = None
    with torch.inference_mode():
        for start in range(0, n, TOKENIZE_ROWS):
            launched = launch(start)  # on CUDA, tokenising this chunk overlapped the GPU's work on the last one
            if pending is not None:
                collect(pending)
            pending = launched
        if pending is not None:
            collect(pending)
    return out


def place_module(module: Any, device: str, dtype: torch.dtype) -> Any:
    """``module`` in eval mode on ``device`` with its weights in ``dtype`` (bf16 weights on CUDA: the matrix
    units' native type, no autocast casting the weights again on every call)."""
    module.eval()
    return module.to(device=device, dtype=dtype)


def attention_of(model: Any) -> str | None:
    """The attention kernel a transformers model runs (``sdpa``, ``eager``, …); None for any other model."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


def use_attention(model: Any, name: str) -> str | None:
    """Switch a transformers model's attention kernel to ``name`` (``eager``: plain matrix products and softmax;
    ``sdpa``: PyTorch's fused kernel; :data:`CPU_ATTENTION`); returns the one it had, None for a model that cannot
    switch (it keeps its own)."""
    before = attention_of(model)
    if not before or not hasattr(model, "set_attn_implementation"):
        return None
    if name == CPU_ATTENTION:
        _register_cpu_attention()
    try:
        model.set_attn_implementation(name)
    except (ValueError, ImportError) as exc:  # an architecture without the attention interface
        log.info("%s keeps %s attention (%s)", type(model).__name__, before, exc)
        return None
    return before


#: shoplake's attention for bf16 on a CPU (:func:`cpu_attention`), registered with transformers under this name
CPU_ATTENTION = "shoplake_cpu"


def cpu_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Inference attention as plain matrix products, for bf16 on a CPU, where PyTorch's fused SDPA kernel is the
    slower one: the query is scaled before the product (a tensor of ``head_dim`` columns, not the L × L scores),
    the additive padding mask is added in place, no attention weights are returned (see README, "Sentiment
    throughput"). Same arithmetic as transformers' eager attention up to rounding."""
    import torch

    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        scores += attention_mask
    out = torch.matmul(scores.softmax(dim=-1), value)
    return out.transpose(1, 2).contiguous(), None


def _register_cpu_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(CPU_ATTENTION, cpu_attention)
    AttentionMaskInterface.register(CPU_ATTENTION, eager_mask)  # the additive mask eager attention takes


#: glibc's malloc settings for CPU inference: blocks up to 32 MiB (its largest) from the heap, not a fresh mmap
#: whose pages the kernel zeroes on every forward pass; freed memory kept up to 1 GiB for the next batch
MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD = 32 << 20, 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)


def tune_cpu_allocator() -> bool:
    """Set :data:`MALLOC_MMAP_THRESHOLD` / :data:`MALLOC_TRIM_THRESHOLD` in this process (glibc's ``mallopt``).

    The attention and feed-forward tensors of a CPU forward pass are a few MiB each: with glibc's default, sliding
    threshold they were mapped and unmapped on every pass: bf16 with plain attention scored 172.6 reviews/s, 213.0
    with these settings (2,000 Steam reviews, 2 cores, two runs). False, and nothing changed, where the C library is
    not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):  # musl, macOS, Windows: their allocators, as they are
        return False
    if done:
        log.debug("glibc malloc: mmap threshold %d, trim threshold %d", MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD)
    return done


def prepack_cpu_linears(model: Any, batch_tokens: int) -> int:
    """Lay out the weight of every ``torch.nn.Linear`` in a bf16 or fp32 model on the CPU once, in oneDNN's blocked
    format for batches of about ``batch_tokens`` rows (what ``torch.compile`` does to frozen weights), and have each
    layer call oneDNN's linear kernel on it instead of PyTorch's default path with the plain weight on every call.
    The same numbers (fp32 up to summation order); on the 2-core dev CPU a forward pass of the default model
    1.15x–1.18x as fast in bf16 and 1.8x–2.0x in fp32 (see README, "Sentiment throughput"). The plain weights stay
    as they are. Returns how many layers were packed: 0, and the model as it was, where this PyTorch or CPU has no
    oneDNN packing for them."""
    import functools

    import torch

    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    try:
        packed = [torch.ops.mkldnn._reorder_linear_weight(m.weight.detach(), batch_tokens) for m in linears]
        if linears:  # a kernel that packs but will not run here fails now, not on every batch
            _packed_linear(packed[0], None, torch.zeros(1, linears[0].in_features, dtype=linears[0].weight.dtype))
    except (RuntimeError, AttributeError, NotImplementedError) as exc:  # no oneDNN, or no bf16 in it
        log.info("linear weights left unpacked (%s: %s)", type(exc).__name__, exc)
        return 0
    for module, weight in zip(linears, packed, strict=True):
        bias = None if module.bias is None else module.bias.detach()
        module.forward = functools.partial(_packed_linear, weight, bias)
    return len(linears)


def _packed_linear(weight: torch.Tensor, bias: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def cpu_bf16_native() -> bool | None:
    """Whether this x86 CPU multiplies bf16 natively (AVX512_BF16 or AMX, as PyTorch detects them); None where that
    cannot be told: another architecture (Arm's bf16 is not probed), a PyTorch without the probes."""
    import platform

    import torch

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return None


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors, padding excluded, L2-normalised (the all-MiniLM-L6-v2 sentence embedding)."""
    import torch

    hidden = hidden.float()  # bf16 token vectors: sum in fp32
    m = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * m).sum(dim=1)
    pooled = summed / m.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=1)


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


def looks_like_path(uri: str) -> bool:
    """A local path or a lake URI rather than a hub id (``org/name``)."""
    return "://" in uri or uri.startswith(("/", "./", "../", "~")) or uri.count("/") > 1


def load_classifier(
    uri: str, *, revision: str | None = None, cfg: EngineConfig | None = None, cache_dir: str | Path = "/tmp"
) -> TextClassifier:
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
    if manifest.exists():
        from safetensors.torch import load_file

        meta = json.loads(manifest.read_text())
        encoder_dir = str(Path(path) / meta["encoder_dir"])
        tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
        encoder = AutoModel.from_pretrained(encoder_dir)
        weights = load_file(str(Path(path) / meta["head_file"]))
        head = torch.nn.Linear(weights["weight"].shape[1], weights["weight"].shape[0])
        head.load_state_dict(weights)
        clf: TextClassifier = EmbeddingHeadClassifier(tokenizer, encoder, head, meta["labels"], **kw)
        clf.model_id, clf.revision = meta["model_id"], meta["revision"]
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
        tune_cpu_allocator()
        # fp32 and bf16 (not int8 or ONNX, which replace the layers; not compiled, which packs the weights itself)
        if cfg.precision in ("auto", "fp32", "bf16") and not cfg.compile:
            clf.packed_linears = prepack_cpu_linears(clf.model, cfg.batch_tokens or auto_batch_tokens(device))
        if dtype == torch.bfloat16:  # on CUDA and in fp32 on a CPU the fused SDPA kernel stays
            use_attention(clf.model, CPU_ATTENTION)
            if cpu_bf16_native() is False:
                log.warning(
                    "precision=bf16 on a CPU without native bf16 instructions (AVX512_BF16 or AMX): its speed-up was "
                    "measured with them, and here PyTorch emulates the bf16 products in fp32; compare it with fp32 "
                    "(bench/sentiment_throughput.py --model … --precision bf16) or set precision fp32 "
                    "(SHOPLAKE_SENTIMENT_PRECISION)"
                )
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


class Router:
    """Routes each text to the model of its language; models load lazily, once, when a language first needs one."""

    def __init__(self, routes: Sequence[ModelRoute], cfg: EngineConfig, cache_dir: str | Path = "/tmp") -> None:
        self.routes = {r.language: r for r in routes}
        self.cfg = cfg
        self.cache_dir = cache_dir
        self._loaded: dict[tuple[str, str], TextClassifier] = {}

    @classmethod
    def single(cls, clf: TextClassifier, language: str = ANY_LANGUAGE) -> Router:
        """A router over one loaded classifier (for ``language``; ``*``: every language)."""
        router = cls([ModelRoute(language, clf.model_id, clf.revision)], clf.cfg)
        router._loaded[(clf.model_id, clf.revision)] = clf
        return router

    def route(self, language: str | None) -> ModelRoute | None:
        """The route of ``language``: its own, else ``*``, else ``None`` (no configured model supports it)."""
        return self.routes.get(language or "und") or self.routes.get(ANY_LANGUAGE)

    def classifier(self, route: ModelRoute) -> TextClassifier:
        key = (route.uri, route.revision)
        if key not in self._loaded:
            self._loaded[key] = load_classifier(
                route.uri, revision=route.revision or None, cfg=self.cfg, cache_dir=self.cache_dir
            )
        return self._loaded[key]

    def models(self) -> dict[str, str]:
        """``{language route: "model_id@revision"}`` of the models loaded so far (small: for XCom)."""
        loaded = {(r.uri, r.revision): lang for lang, r in self.routes.items()}
        return {loaded[k]: f"{c.model_id}@{c.revision}" for k, c in self._loaded.items() if k in loaded}


def score_texts(
    clf: TextClassifier | Router,
    ids: Sequence[str | None],
    texts: Sequence[str | None],
    languages: Sequence[str | None] | None = None,
) -> pa.Table:
    """Score one chunk; rows keep the input order. Missing texts score as empty strings.

    Each language goes to the model of its route, one batched call per model. Rows of a language no configured
    model supports get ``sentiment_status = 'unsupported_language'`` and null scores and model columns — never an
    English model's confident guess at another language.
    """
    router = clf if isinstance(clf, Router) else Router.single(clf)
    n = len(ids)
    langs = list(languages) if languages is not None else [None] * n
    groups: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        route = router.route(lang)
        if route is not None:
            groups.setdefault(route.language, []).append(i)
    pos = np.full(n, np.nan, dtype=np.float32)
    model_id: list[str | None] = [None] * n
    revision: list[str | None] = [None] * n
    model_language: list[str | None] = [None] * n
    for key, idx in groups.items():
        model = router.classifier(router.routes[key])
        scores = model.positive_proba([t if isinstance(t := texts[i], str) else "" for i in idx])
        pos[idx] = scores
        for i in idx:
            model_id[i], revision[i], model_language[i] = model.model_id, model.revision, key
    scored = ~np.isnan(pos)
    positive = pos >= 0.5
    return pa.table(
        {
            "recommendationid": pa.array(list(ids), pa.string()),
            "language_code": pa.array(langs, pa.string()),
            "sentiment_status": pa.array(np.where(scored, SCORED, UNSUPPORTED), pa.string()),
            "sentiment_label": pa.array(
                [("positive" if p else "negative") if s else None for p, s in zip(positive, scored, strict=True)],
                pa.string(),
            ),
            "sentiment_score": pa.array(np.where(positive, pos, 1.0 - pos).astype(np.float32), from_pandas=True),
            "positive_prob": pa.array(pos, from_pandas=True),
            "model_id": pa.array(model_id, pa.string()),
            "model_revision": pa.array(revision, pa.string()),
            "model_language": pa.array(model_language, pa.string()),
        },
        schema=SENTIMENT_SCHEMA,
    )


def score_partition(
    clf: TextClassifier | Router,
    in_path: str,
    out_path: str,
    *,
    id_col: str = "recommendationid",
    text_col: str = "review_text",
    lang_col: str = "language_code",
    out_id: str = "recommendationid",
) -> dict[str, Any]:
    """Stream a curated partition through the model(s) into an enriched partition (replaced whole).

    The output has :data:`SENTIMENT_SCHEMA` with its id column named ``out_id``.

    Logs progress (rows done / total, rate, ETA) about every 30 seconds. A partition without ``lang_col`` is
    scored as language ``und`` (only a ``*`` route, or a single classifier, scores it).

    Returns:
        ``{"path", "rows", "scored", "unsupported_language", "models"}`` (``models``: route → model@revision).
    """
    from shoplake.io.lake import partition_files

    router = clf if isinstance(clf, Router) else Router.single(clf)
    fs, files = partition_files(in_path)
    total, has_lang = 0, True
    for f in files:
        with fs.open(f, "rb") as fh:
            meta = pq.ParquetFile(fh)
            total += meta.metadata.num_rows
            has_lang = has_lang and lang_col in meta.schema_arrow.names
    columns = [id_col, text_col, *([lang_col] if has_lang else [])]
    counts = {SCORED: 0, UNSUPPORTED: 0}
    progress = Progress(total, f"rows of {in_path} scored", log)
    schema = SENTIMENT_SCHEMA.set(0, pa.field(out_id, pa.string()))
    with PartitionWriter(out_path, schema) as writer:
        for batch in iter_partition_batches(in_path, columns, router.cfg.chunk_rows):
            langs = batch.column(lang_col).to_pylist() if has_lang else None
            table = score_texts(router, batch.column(id_col).to_pylist(), batch.column(text_col).to_pylist(), langs)
            table = table.rename_columns([out_id, *table.column_names[1:]])
            writer.write(table)
            status = table["sentiment_status"].to_pylist()
            counts[SCORED] += status.count(SCORED)
            counts[UNSUPPORTED] += status.count(UNSUPPORTED)
            progress.update(table.num_rows)
    models = router.models()
    if counts[UNSUPPORTED]:
        log.warning(
            "%s of %s rows in languages no configured model supports (null scores, status %s); "
            "route them with SHOPLAKE_SENTIMENT_MODELS, e.g. '*=<multilingual model>@<revision>'",
            counts[UNSUPPORTED], writer.rows, UNSUPPORTED,
        )  # fmt: skip
    log.info("wrote %s rows of %s to %s with %s", writer.rows, in_path, out_path, models)
    return {"path": out_path, "rows": writer.rows, **counts, "models": models}
