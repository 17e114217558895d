"""The adopted-hub-model path (``<org>/<name>@<commit>``) end to end at a real model's size, offline.

No hub is reachable here, so the model is built: a five-label sequence classifier with the architecture and size of
``distilbert-base-multilingual-cased`` (DistilBERT, 6 layers × 768, a 119,547-token vocabulary: 135M parameters,
what five-class multilingual hub models such as ``tabularisai/multilingual-sentiment-analysis`` fine-tune), random
weights, labels ``Very Negative`` … ``Very Positive``; its tokenizer is all-MiniLM-L6-v2's WordPiece vocabulary padded
to that size (same sizes, other tokens). It is laid out as huggingface_hub's cache holds a downloaded revision
(``models--<org>--<name>/snapshots/<commit>/``, ``refs/main``) and every step runs the DAG's own job file in a fresh
process with ``HF_HUB_CACHE`` set and ``HF_HUB_OFFLINE=1`` — the code path a user with hub access takes after the
download, through ``from_pretrained(id, revision=commit)``:

1. ``product_review_sentiment``: ``train_review_sentiment.py --model <id>@<commit>`` evaluates it on the window's
   held-out reviews beside the baselines and adopts it as a version (``model_ref.json`` names it; the first version
   is promoted), then ``score_review_sentiment.py`` scores the day through the pointer;
2. the Steam route ``*=<id>@<commit>``: ``score_sentiment.py`` scores a curated day of Steam sample review texts.

    python bench/hub_model_e2e.py [--size real|tiny] [--lake DIR] [--days 30] [--steam-reviews 500]

The product reviews are the Sephora sample's last ``--days`` days curated by the curate job of
``product_reviews_daily`` (``--no-curate``: the lake already holds them). Prints one JSON line: the model's
parameters and bytes on disk, and per step wall seconds and the peak RSS of its process tree (``bench/scale.py``'s
measurement), rows and rows/s. The weights are random: the evaluation's figures are a random model's (near chance)
and say nothing about the real model's quality; sizes, memory and speed are what this measures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import measured  # noqa: E402

REPO_ID = "shoplake-bench/multilingual-sentiment-5"
LABELS = ("Very Negative", "Negative", "Neutral", "Positive", "Very Positive")
SHAPES = {
    # distilbert-base-multilingual-cased
    "real": {"vocab_size": 119547, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072},
    "tiny": {"vocab_size": 30522, "dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64},
}


def build_model(size: str, out: Path, seed: int = 0) -> dict[str, int]:
    """The five-label DistilBERT of ``size`` with random weights and a padded MiniLM WordPiece tokenizer."""
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizerFast

    from shoplake.ml.sentiment_head import default_encoder_dir

    shape = SHAPES[size]
    out.mkdir(parents=True, exist_ok=True)
    vocab = Path(default_encoder_dir(), "vocab.txt").read_text().splitlines()
    vocab += [f"[pad{i}]" for i in range(shape["vocab_size"] - len(vocab))]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    DistilBertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True).save_pretrained(out)
    torch.manual_seed(seed)
    cfg = DistilBertConfig(**shape, max_position_embeddings=512, num_labels=5, id2label=dict(enumerate(LABELS)),
                           label2id={v: k for k, v in enumerate(LABELS)})  # fmt: skip
    model = DistilBertForSequenceClassification(cfg).eval()
    model.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    return {"parameters": params, "bytes": sum(f.stat().st_size for f in out.iterdir())}


def install_in_hub_cache(model_dir: Path, cache: Path, repo_id: str) -> str:
    """Lay ``model_dir`` out as huggingface_hub's cache holds a downloaded revision (blobs named by their SHA-256,
    ``snapshots/<commit>/`` linking to them, ``refs/main``); returns the commit (40 hex, from the files' hashes)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    files = sorted(f for f in model_dir.iterdir() if f.is_file())
    commit = hashlib.sha1(b"".join(hashlib.sha256(f.read_bytes()).digest() for f in files)).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for f in files:
        blob = repo / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        if not blob.exists():
            shutil.copyfile(f, blob)
        link = snapshot / f.name
        if not link.exists():
            link.symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return commit


def write_steam_day(lake: str, ds: str, n: int) -> int:
    """A curated Steam partition of ``n`` sample review texts (the columns the scoring job reads)."""
    import pyarrow as pa

    from sentiment_throughput import labelled_reviews
    from shoplake.io.lake import write_partition
    from shoplake.paths import STEAM_REVIEWS, Zone, partition_path

    texts = [t for t, _ in labelled_reviews(n)]
    table = pa.table({"recommendationid": [str(i) for i in range(n)], "review_text": texts,
                      "language_code": ["en"] * n})  # fmt: skip
    counts = {"in": n, "curated": n, "quarantined": 0}  # the curate step's bookkeeping, which scoring checks
    write_partition(table, partition_path(lake, Zone.CURATED, STEAM_REVIEWS, ds), counts=counts)
    return n


def run(lake: str, ds: str, days: int, size: str, steam_reviews: int, work: Path) -> dict:
    """Build, install, then the three jobs in fresh processes; returns the JSON line's fields."""
    model = build_model(size, work / "model")
    cache = work / "hub"
    commit = install_in_hub_cache(work / "model", cache, REPO_ID)
    shutil.rmtree(work / "model")  # only the cache holds it now
    ref = f"{REPO_ID}@{commit}"
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "SHOPLAKE_LAKE_ROOT": lake}  # fmt: skip
    py, common = sys.executable, ["--ds", ds, "--lake-root", lake, "--device", "cpu"]
    steps: dict[str, dict] = {}

    def step(name: str, script: str, args: list[str]) -> dict:
        log = work / f"{name}.log"
        wall, peak = measured([py, str(ROOT / script), *common, *args], env, log)
        out = json.loads([line for line in log.read_text().splitlines() if line.startswith("{")][-1])
        steps[name] = {"wall_s": round(wall, 1), "peak_rss_mb": round(peak)}
        return out

    trained = step("adopt_product_review_model", "jobs/train/train_review_sentiment.py",
                   ["--model", ref, "--window-days", str(days), "--retrain-days", "0", "--mlflow-uri", "none",
                    "--min-rows", "20"])  # fmt: skip
    metrics = json.loads(Path(trained["path"], "metrics.json").read_text())
    steps["adopt_product_review_model"] |= {"held_out_rows": metrics["n"], "kind": metrics["model"]["kind"],
                                            "promoted": trained["promoted"]}  # fmt: skip
    scored = step("score_product_reviews", "jobs/gpu/score_review_sentiment.py", [])
    steps["score_product_reviews"]["rows"] = scored["rows"]
    write_steam_day(lake, ds, steam_reviews)
    routed = step("score_steam_star_route", "jobs/gpu/score_sentiment.py", ["--models", f"*={ref}"])
    steps["score_steam_star_route"] |= {"rows": routed["rows"], "models": routed["models"]}
    for name in ("score_product_reviews", "score_steam_star_route"):
        s = steps[name]
        s["rows_per_s_incl_start"] = round(s["rows"] / s["wall_s"], 1)
    return {"size": size, "model": ref, **model, "model_ref": json.loads(Path(trained["path"], "model_ref.json")
            .read_text()), "steps": steps}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SHAPES), default="real")
    p.add_argument("--lake", default="", help="lake root (default: a temporary folder, removed after)")
    p.add_argument("--ds", default="", help="the day (default: the Sephora sample's last submission day)")
    p.add_argument("--days", type=int, default=30, help="days of product reviews in the window")
    p.add_argument("--steam-reviews", type=int, default=500, help="Steam sample reviews scored by the '*' route")
    p.add_argument("--no-curate", action="store_true", help="the lake already holds the curated product reviews")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-e2e-") as tmp:
        lake = a.lake or str(Path(tmp) / "lake")
        from shoplake.config import Settings

        cfg = Settings.from_env({**os.environ, "SHOPLAKE_LAKE_ROOT": lake})
        sys.path.insert(0, str(ROOT / "scripts"))
        from demo_reviews import curate_days, last_day

        ds = a.ds or last_day(cfg.product_reviews_path)
        if not a.no_curate:
            import datetime as dt

            end = dt.date.fromisoformat(ds)
            curate_days(cfg, [str(end - dt.timedelta(days=d)) for d in range(a.days - 1, -1, -1)])
        result = run(lake, ds, a.days, a.size, a.steam_reviews, Path(tmp))
    print(json.dumps(result))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
