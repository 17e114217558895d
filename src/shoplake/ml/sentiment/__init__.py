"""Batched sentiment inference over lake partitions.

Loads any sequence-classification model by hub id, local directory or lake URI (``s3://…``, ``gs://…``,
copied to a local cache first), or shoplake's own *embedding-head* models (a sentence encoder plus a linear
head, see ``shoplake.ml.sentiment_head``). Texts are sorted by length and batched with dynamic padding, run under
``torch.inference_mode`` in bf16 on CUDA or fp32 on CPU (bf16, dynamic int8 or ONNX Runtime there when asked);
partitions stream through in chunks, so memory stays flat whatever the partition size, and output row *i* is
input row *i*.

The engine is split by responsibility; every public name is importable from here:

- :mod:`~shoplake.ml.sentiment.labels` — label sets, the five-class mapping, the output schema, status codes;
- :mod:`~shoplake.ml.sentiment.classifier` — :class:`EngineConfig`, the loaded model, :func:`load_classifier`;
- :mod:`~shoplake.ml.sentiment.batching` — length-sorted token-budget batches (:func:`run_sorted_batches`);
- :mod:`~shoplake.ml.sentiment.cpu` — CPU attention, allocator, prepacked linear weights, the bf16 probe;
- :mod:`~shoplake.ml.sentiment.export` — ONNX Runtime and ``torch.compile`` wrappers;
- :mod:`~shoplake.ml.sentiment.multilingual` — USE multilingual v3 (the packaged offline encoder of the ``*`` route)
  and the head served over it;
- :mod:`~shoplake.ml.sentiment.routing` — routes by language, :func:`score_texts`, :func:`score_partition`;
- :mod:`~shoplake.ml.sentiment.comprehend` — AWS Comprehend as a route (``*=comprehend``).
"""

from shoplake.ml.sentiment.batching import (
    TOKENIZE_ROWS,
    auto_batch_tokens,
    mean_pool,
    place_module,
    plan_batches,
    run_sorted_batches,
    sentence_embeddings,
)
from shoplake.ml.sentiment.classifier import (
    EmbeddingHeadClassifier,
    EngineConfig,
    TextClassifier,
    directory_revision,
    engine_config,
    load_classifier,
    local_model_dir,
    looks_like_path,
    model_dtype,
    pick_device,
)
from shoplake.ml.sentiment.comprehend import COMPREHEND, ComprehendClassifier
from shoplake.ml.sentiment.cpu import (
    CPU_ATTENTION,
    MALLOC_MMAP_THRESHOLD,
    MALLOC_TRIM_THRESHOLD,
    attention_of,
    cpu_attention,
    cpu_bf16_native,
    prepack_cpu_linears,
    prepare_cpu_model,
    tune_cpu_allocator,
    use_attention,
)
from shoplake.ml.sentiment.export import CompiledModel, OnnxModel
from shoplake.ml.sentiment.labels import (
    ANY_LANGUAGE,
    FIVE_CLASSES,
    HEAD_MANIFEST,
    MODEL_ERROR,
    MODEL_REF,
    SCORED,
    SENTIMENT_SCHEMA,
    TEXT_AND_TITLE,
    UNSUPPORTED,
    ClassScores,
    five_class_order,
    five_class_positive_prob,
    normalise_label,
    review_features,
)
from shoplake.ml.sentiment.multilingual import (
    USE_LANGUAGES,
    USE_MULTILINGUAL,
    MultilingualEncoder,
    MultilingualHeadClassifier,
    encoder_fingerprint,
    linear_softmax,
)
from shoplake.ml.sentiment.routing import (
    ModelRoute,
    Router,
    format_model_map,
    parse_model_map,
    score_partition,
    score_texts,
)

__all__ = [
    "ANY_LANGUAGE",
    "COMPREHEND",
    "CPU_ATTENTION",
    "FIVE_CLASSES",
    "HEAD_MANIFEST",
    "MALLOC_MMAP_THRESHOLD",
    "MALLOC_TRIM_THRESHOLD",
    "MODEL_ERROR",
    "MODEL_REF",
    "SCORED",
    "SENTIMENT_SCHEMA",
    "TEXT_AND_TITLE",
    "TOKENIZE_ROWS",
    "UNSUPPORTED",
    "USE_LANGUAGES",
    "USE_MULTILINGUAL",
    "ClassScores",
    "CompiledModel",
    "ComprehendClassifier",
    "EmbeddingHeadClassifier",
    "EngineConfig",
    "ModelRoute",
    "MultilingualEncoder",
    "MultilingualHeadClassifier",
    "OnnxModel",
    "Router",
    "TextClassifier",
    "attention_of",
    "auto_batch_tokens",
    "cpu_attention",
    "cpu_bf16_native",
    "directory_revision",
    "encoder_fingerprint",
    "engine_config",
    "five_class_order",
    "five_class_positive_prob",
    "format_model_map",
    "linear_softmax",
    "load_classifier",
    "local_model_dir",
    "looks_like_path",
    "mean_pool",
    "model_dtype",
    "normalise_label",
    "parse_model_map",
    "pick_device",
    "place_module",
    "plan_batches",
    "prepack_cpu_linears",
    "prepare_cpu_model",
    "review_features",
    "run_sorted_batches",
    "score_partition",
    "score_texts",
    "sentence_embeddings",
    "tune_cpu_allocator",
    "use_attention",
]
