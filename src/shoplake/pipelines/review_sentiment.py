"""Product review sentiment in five classes, judged against the star ratings; results published as CSV + Parquet.

Reads ``curated/product_reviews`` (``product_reviews_daily`` curates it: one partition per submission day).

1. :func:`check_window` — enough curated reviews in the window to train and evaluate (else the DAG skips training).
2. :func:`train_review_sentiment` — the window's reviews in time order, the newest ``test_fraction`` held out. With
   no ``--model`` (the offline default) a five-class head (multinomial logistic regression, class-balanced) is
   fitted on the packaged all-MiniLM-L6-v2 embeddings of the older reviews' texts and titles side by side, labels
   = stars, with a per-rating bias chosen out of fold on the training rows; with ``--model`` a hub model
   ``id@revision`` or a directory of a five-label classifier is only evaluated and, if it passes the gate, adopted
   (the version holds ``model_ref.json`` naming it). Either way the held-out reviews are scored and judged against
   their ratings beside a majority baseline and a VADER-binned baseline (``shoplake.ml.review_sentiment``), per
   product where a product has enough rows → ``model/review_sentiment/version=<ds>/`` (``metrics.json`` with
   ``macro_f1``, ``qwk``, ``spearman``; ``confusion.png``); ``current.json`` moves only if the macro-F1 is not
   below the champion's on the same held-out reviews; MLflow like every model. A version younger than
   ``retrain_days`` is kept (no retraining every day of a backfill).
3. :func:`score_review_sentiment` — the day's curated reviews through the current model →
   ``enriched/product_review_sentiment/ds=`` (review id, product, stars, predicted class and label, the five
   probabilities, ``positive_prob`` by ``shoplake.ml.sentiment.five_class_positive_prob``, model id and revision).
4. :func:`publish` — the same rows as a Delta table ``<results root>/product_review_sentiment`` (day ``ds``
   replaced in one commit; any engine reads it) and as one CSV file for consumers without a table reader,
   ``<results root>/product_review_sentiment_csv/ds=<ds>/part-0.csv`` (a file commit: the pointer names the
   version, :mod:`shoplake.io.filecommit`); ``SHOPLAKE_RESULTS_ROOT``: any lake URI. :func:`check_published`
   reads both back and compares them with the enriched rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.sentiment import FIVE_CLASSES, EngineConfig
from shoplake.paths import (
    PRODUCT_REVIEW_SENTIMENT,
    PRODUCT_REVIEWS,
    REVIEW_SENTIMENT_MODEL,
    Zone,
    dataset_path,
    partition_path,
    validate_ds,
    window_days,
)

log = logging.getLogger(__name__)

PROBABILITY_COLUMNS = tuple(f"p_{c}" for c in FIVE_CLASSES)
CSV_FILE = "part-0.csv"


@dataclass(frozen=True, kw_only=True)
class ReviewSentimentTrainConfig(PartitionJob, EngineConfig):
    """Arguments of ``jobs/train/train_review_sentiment.py``."""

    ds: str = option(help="partition date YYYY-MM-DD (the last day of the window)")
    model: str = option(
        "",
        help="empty = train the offline five-class head (MiniLM + head on ratings); else a hub id@revision or a "
        "directory of a five-label classifier to evaluate and adopt (SHOPLAKE_REVIEW_SENTIMENT_MODEL)",
    )
    window_days: int = option(
        1095, help="days of curated reviews, ending at ds, to learn from and hold out (days)", minimum=1, maximum=36500
    )
    test_fraction: float = option(
        0.2, help="share (0.05-0.5) of the window's reviews, the newest, held out for evaluation and the gate",
        minimum=0.05, maximum=0.5,
    )  # fmt: skip
    use_title: bool = option(
        True,
        help="fit the head on each review's title embedding beside its text's (the served head then reads "
        "both; a review without a title reads an empty one); false = the text alone",
    )
    rule_folds: int = option(
        5, help="time-ordered blocks (2-20) of the training reviews: each block is scored by a head fitted on the "
        "others, and the head's decision rule (a bias per rating, toward the ratings' distribution) is chosen on those "
        "out-of-fold scores; 0 = the class-balanced head as fitted", minimum=0, maximum=20,
    )  # fmt: skip
    min_rows: int = option(200, help="fewest curated reviews in the window to train and evaluate", minimum=20)
    min_group_rows: int = option(30, help="fewest held-out reviews of a product for its own figures", minimum=5)
    min_rank_rows: int = option(
        20, help="fewest held-out reviews rated other than the training window's most common rating for the gate to "
        "rank a model above a baseline (fewer: every figure is about those few, and the baseline is served)",
        minimum=1,
    )  # fmt: skip
    retrain_days: int = option(
        7, help="keep the current version when it is younger than this many days (0 = train every run)", minimum=0
    )
    c: float = option(4.0, help="inverse regularisation strength of the head's logistic regression", exclusiveMinimum=0)
    seed: int = option(7, help="seed of the head's solver")
    encoder: str = option(
        "minilm",
        help="sentence encoder of the offline head: minilm (the packaged all-MiniLM-L6-v2, English), "
        "use-multilingual-v3 (the packaged multilingual USE: reviews in other languages, or several) or the absolute "
        "path of a transformers encoder directory under --model-cache or an --encoder-roots directory",
        pattern=r"^(minilm|use-multilingual-v3|/[^\x00-\x1f]+)$",
    )
    encoder_roots: tuple[str, ...] = option(
        (), help="directories an --encoder directory may be under, besides --model-cache (SHOPLAKE_ENCODER_ROOTS)"
    )
    model_cache: str = option("/tmp/shoplake-model-cache", help="local cache for models copied from the lake")
    mlflow_uri: str = option("", help="MLflow tracking URI; empty = SQLite under a local lake, 'none' = off")

    def __post_init__(self) -> None:
        super().__post_init__()
        local_or_lake = "://" in self.model or Path(self.model).expanduser().exists()
        if self.model and "@" not in self.model and not local_or_lake:
            raise ValueError(f"--model {self.model!r}: a hub model needs a pinned revision (id@revision)")
        if self.rule_folds == 1:
            raise ValueError("--rule-folds 1 leaves no training rows to fit the folds' heads on: 0 (off) or 2-20")
        if self.encoder.startswith("/"):
            check_encoder_dir(self.encoder, (self.model_cache, *self.encoder_roots))


def check_encoder_dir(path: str, roots: tuple[str, ...]) -> None:
    """An encoder directory given as a Param: it must resolve (links followed) under one of ``roots`` and hold a
    transformers ``config.json``.

    Raises:
        ValueError: saying which directories are allowed, or what the directory lacks.
    """
    real = Path(path).resolve()
    allowed = [Path(r).expanduser().resolve() for r in roots if r]
    if not any(real == root or root in real.parents for root in allowed):
        raise ValueError(
            f"--encoder {path!r} is not under an allowed directory ({', '.join(map(str, allowed))}): copy the "
            "encoder there, add its directory to SHOPLAKE_ENCODER_ROOTS, or give minilm / use-multilingual-v3"
        )
    if not (real / "config.json").is_file():
        raise ValueError(f"--encoder {path!r} holds no transformers config.json: give a sentence encoder directory")


@dataclass(frozen=True, kw_only=True)
class ReviewSentimentScoreConfig(PartitionJob, EngineConfig):
    """Arguments of ``jobs/gpu/score_review_sentiment.py``."""

    ds: str = option(help="partition date YYYY-MM-DD of the curated reviews to score")
    model_cache: str = option("/tmp/shoplake-model-cache", help="local cache for models copied from the lake")


# ---- the window --------------------------------------------------------------------------------------------------


def window_partitions(lake_root: str, ds: str, days: int) -> list[str]:
    """The curated review partitions of the ``days`` days ending ``ds`` that exist (one listing, not one probe per
    day: a three-year window on an object store)."""
    from shoplake.io.lake import partition_days

    wanted = set(window_days(ds, days))
    have = partition_days(dataset_path(lake_root, Zone.CURATED, PRODUCT_REVIEWS))
    return [partition_path(lake_root, Zone.CURATED, PRODUCT_REVIEWS, d) for d in have if d in wanted]


def check_window(lake_root: str, ds: str, days: int, min_rows: int) -> dict[str, Any]:
    """Whether the window holds enough curated reviews to train: ``{"trainable", "reason", "rows", "days"}``."""
    from shoplake.pipelines.stages import window_gate

    hint = "run product_reviews_daily for more days, widen window_days or lower min_rows"
    return window_gate(window_partitions(lake_root, ds, days), ds, days, min_rows, "product reviews", hint)


def read_window(lake_root: str, ds: str, days: int):
    """The window's curated reviews in submission order (pandas)."""
    import pandas as pd

    from shoplake.io.lake import read_partition

    cols = ["review_id", "product_id", "rating", "review_text", "title", "submitted_at", "incentivised",
            "language_code"]  # fmt: skip
    paths = window_partitions(lake_root, ds, days)
    if not paths:
        raise ValueError(f"no curated {PRODUCT_REVIEWS} partition in the {days} days ending {ds}")
    df = pd.concat([read_partition(p, cols).to_pandas() for p in paths], ignore_index=True)
    return df.sort_values(["submitted_at", "review_id"], kind="stable").reset_index(drop=True)


# ---- training / evaluation -----------------------------------------------------------------------------------------


def _due(lake_root: str, ds: str, retrain_days: int) -> tuple[bool, dict[str, Any] | None]:
    from shoplake.ml.registry import read_current

    current = read_current(lake_root, REVIEW_SENTIMENT_MODEL)
    if current is None or retrain_days == 0 or current["version"] == ds:
        return True, current
    age = (dt.date.fromisoformat(ds) - dt.date.fromisoformat(current["version"])).days
    return not (0 <= age < retrain_days), current


def five_class_predictions(clf: Any, texts: list[str], titles: list[str] | None = None):
    """``(probabilities in FIVE_CLASSES order, predicted stars 1-5)`` of a loaded classifier (``titles`` reach a
    head fitted on text and title; other models read the text alone)."""
    import numpy as np

    probs = clf.five_class_proba(texts, titles)
    return probs, np.argmax(probs, axis=1) + 1


def train_review_sentiment(cfg: ReviewSentimentTrainConfig) -> dict[str, Any]:
    """Fit (or adopt) and evaluate the five-class model on the window; publish the version; gate on macro-F1."""
    due, current = _due(cfg.lake_root, cfg.ds, cfg.retrain_days)
    if not due:
        reason = f"current version {current['version']} is younger than retrain_days={cfg.retrain_days}"
        log.info("not retraining: %s", reason)
        return {"ds": cfg.ds, "trained": False, "reason": reason, "current_version": current["version"]}
    df = read_window(cfg.lake_root, cfg.ds, cfg.window_days)
    if len(df) < cfg.min_rows:
        raise ValueError(
            f"{len(df)} curated product reviews in the {cfg.window_days} days ending {cfg.ds} "
            f"(< --min-rows {cfg.min_rows})"
        )
    cut = round(len(df) * (1 - cfg.test_fraction))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "version"
        model = _fit_or_adopt(cfg, df, cut, out)
        metrics, report = evaluation(cfg, df, cut, model["predicted"])
        published = _publish(cfg, df.iloc[cut:], out, metrics, report, model)
    return {"ds": cfg.ds, "trained": True, "kind": model["kind"], "rows": len(df), "macro_f1": report["macro_f1"],
            "qwk": report["qwk"], **published}  # fmt: skip


def _fit_or_adopt(cfg: ReviewSentimentTrainConfig, df: Any, cut: int, out: Path) -> dict[str, Any]:
    """The held-out rows' predicted stars by the adopted model (``--model``) or a head fitted on the older rows,
    written into ``out``: ``{"predicted", "model_id", "revision", "kind"}``."""
    import numpy as np

    from shoplake.ml.sentiment import (
        MODEL_REF,
        TEXT_AND_TITLE,
        USE_MULTILINGUAL,
        engine_config,
        load_classifier,
        review_features,
    )
    from shoplake.ml.sentiment_head import default_encoder_dir, fit_multiclass_head, save_head_model, sentence_encoder

    engine = engine_config(cfg)
    if cfg.model:
        clf = load_classifier(cfg.model.split("@")[0], revision=_revision(cfg.model), cfg=engine,
                              cache_dir=cfg.model_cache)  # fmt: skip
        _, predicted = five_class_predictions(clf, *_texts_and_titles(df.iloc[cut:]))
        out.mkdir()
        (out / MODEL_REF).write_text(json.dumps({"uri": cfg.model.split("@")[0], "revision": _revision(cfg.model)}))
        return {"predicted": predicted, "model_id": clf.model_id, "revision": clf.revision, "kind": "adopted"}
    encoder = default_encoder_dir() if cfg.encoder in ("", "minilm") else cfg.encoder
    # side by side: the title, when there is one, is the reviewer's own summary of the verdict
    inputs = TEXT_AND_TITLE if cfg.use_title else ("text",)
    emb = review_features(sentence_encoder(encoder, engine).embed, *_texts_and_titles(df), inputs)
    stars_train = df.iloc[:cut]["rating"].to_numpy(dtype=int)
    rule = _decision_rule(cfg, emb[:cut], stars_train)
    head = fit_multiclass_head(emb[:cut], stars_train - 1, 5, seed=cfg.seed, c=cfg.c)
    # the rule lives in the head: the service and the scorer answer the same
    head = replace(head, bias=(head.bias + np.asarray(rule["class_bias"])).astype(np.float32))
    predicted = np.argmax(head.proba(emb[cut:]), axis=1) + 1
    family = "use-multilingual" if encoder == USE_MULTILINGUAL else "minilm"
    model_id = f"shoplake/review-sentiment-{family}-head-5"
    revision = save_head_model(out, encoder, head, model_id=model_id, labels=FIVE_CLASSES,
                               extra={"trained_on": f"{cfg.window_days} days to {cfg.ds}",
                                      "inputs": list(inputs),
                                      "class_bias": rule["class_bias"]})  # fmt: skip
    return {"predicted": predicted, "model_id": model_id, "revision": revision, "kind": "trained",
            "decision_rule": rule}  # fmt: skip


def _texts_and_titles(df: Any) -> tuple[list[str], list[str]]:
    """The reviews' texts and titles (``""`` where none)."""
    return df["review_text"].fillna("").tolist(), df["title"].fillna("").tolist()


def _decision_rule(cfg: ReviewSentimentTrainConfig, emb: Any, stars: Any) -> dict[str, Any]:
    """The per-class bias of the head's decision rule (:func:`shoplake.ml.review_sentiment.choose_class_bias`),
    chosen on out-of-fold probabilities of the training rows: ``rule_folds`` contiguous blocks in submission order,
    each scored by a head fitted on the other blocks. All zeros (the class-balanced head as fitted) when the folds
    are off or the rows too few to choose on."""
    import numpy as np

    from shoplake.ml import review_sentiment as rs
    from shoplake.ml.sentiment_head import fit_multiclass_head

    n, k = len(stars), cfg.rule_folds
    if k == 0 or n < 20 * k:
        reason = "rule_folds is off" if k == 0 else f"{n} training reviews are too few for {k} folds of 20"
        return {"class_bias": [0.0] * 5, "reason": f"{reason}: the class-balanced head as fitted"}
    oof = np.zeros((n, 5))
    for block in np.array_split(np.arange(n), k):
        rest = np.ones(n, dtype=bool)
        rest[block] = False
        if len(set(stars[rest].tolist())) < 2:
            return {"class_bias": [0.0] * 5, "reason": "a fold's other blocks hold one rating: the balanced head"}
        oof[block] = fit_multiclass_head(emb[rest], stars[rest] - 1, 5, seed=cfg.seed, c=cfg.c).proba(emb[block])
    rule = rs.choose_class_bias(stars, oof, stars)
    log.info("decision rule: class bias %s (%s); out-of-fold %s against the balanced head's %s", rule["class_bias"],
             rule["reason"], rule["chosen"], rule["balanced"])  # fmt: skip
    return {**rule, "folds": k}


def evaluation(cfg: ReviewSentimentTrainConfig, df: Any, cut: int, predicted: Any) -> tuple[dict, dict]:
    """``(metrics.json, the model's report)``: the held-out stars against the predicted ones, beside the majority
    and VADER baselines on the same rows, per product and per language."""
    from shoplake.ml import review_sentiment as rs

    train_df, test_df = df.iloc[:cut], df.iloc[cut:]
    stars_train = train_df["rating"].to_numpy(dtype=int)
    stars_test = test_df["rating"].to_numpy(dtype=int)
    report = rs.five_class_report(stars_test, predicted)
    predictions = {
        "majority": rs.majority_stars(stars_train, len(stars_test)),
        "vader": rs.vader_stars(test_df["review_text"].fillna("").tolist()),
    }
    baselines = {name: (rs.five_class_report(stars_test, p), p) for name, p in predictions.items()}
    metrics = {
        **{k: report[k] for k in ("macro_f1", "qwk", "spearman", "accuracy", "mean_abs_star_error", "n")},
        "per_class_f1": report["per_class_f1"],
        "per_class": rs.per_class_intervals(stars_test, predicted, min_rows=cfg.min_group_rows),
        "three_class": report["three_class"],
        "confusion": report["confusion"],
        "ci95": rs.bootstrap_intervals(stars_test, predicted),
        "baselines": {
            name: {k: b[k] for k in ("macro_f1", "qwk", "spearman", "accuracy", "mean_abs_star_error")}
            | {
                "three_class_macro_f1": b["three_class"]["macro_f1"],
                "ci95": rs.bootstrap_intervals(stars_test, p),
                "lead": rs.macro_f1_lead(stars_test, predicted, p),
            }
            for name, (b, p) in baselines.items()
        },
        "by_product": rs.report_by_group(test_df["product_id"].tolist(), stars_test, predicted, cfg.min_group_rows),
        "by_language": rs.report_by_group(
            test_df["language_code"].fillna("und").tolist(), stars_test, predicted, cfg.min_group_rows, interval=True
        ),
        "split": {
            "train": len(train_df),
            "test": len(test_df),
            "test_from": str(test_df["submitted_at"].iloc[0]),
            "test_to": str(test_df["submitted_at"].iloc[-1]),
            "test_stars": {int(s): int((stars_test == s).sum()) for s in range(1, 6)},
            "train_stars": {int(s): int((stars_train == s).sum()) for s in range(1, 6)},
        },
        "gate_metric": "macro_f1",
        "notes": "classes are stars: very_negative = 1 ... very_positive = 5; baselines on the same held-out rows",
    }
    return metrics, report


def _publish(
    cfg: ReviewSentimentTrainConfig, test_df: Any, out: Path, metrics: dict, report: dict, model: dict[str, Any]
) -> dict[str, Any]:
    """The confusion plot, then the version published and gated on macro-F1 against the baselines (the majority
    rating published in the model's place when it wins) and the champion re-scored on the same held-out reviews."""
    import numpy as np

    from shoplake.ml import review_sentiment as rs
    from shoplake.ml.baselines import MAJORITY_CLASS, majority_class, majority_pointer
    from shoplake.ml.plots import plot_confusion
    from shoplake.ml.publishing import Gate, Tracking, publish_model_version
    from shoplake.ml.sentiment import engine_config, load_classifier

    model_id, revision, kind = model["model_id"], model["revision"], model["kind"]
    metrics["model"] = {"kind": kind, "model_id": model_id, "revision": revision}
    metrics["decision_rule"] = model.get("decision_rule") or {
        "class_bias": None,
        "reason": "an adopted model's own",
    }
    stars_test, (test_texts, test_titles) = test_df["rating"].to_numpy(dtype=int), _texts_and_titles(test_df)
    plot_confusion(out / "confusion.png", report["confusion"], FIVE_CLASSES,
                   f"review sentiment vs stars, held-out {len(test_df)} reviews ({cfg.ds})")  # fmt: skip

    def champion(pointer: dict[str, Any]) -> dict[str, Any]:
        """The champion's macro-F1 on these reviews and the model's paired lead over its predictions."""
        if pointer.get("model") == MAJORITY_CLASS:  # its constant rating on these reviews
            theirs = np.full(len(stars_test), majority_class(pointer) + 1)
        else:
            clf = load_classifier(pointer["path"], cfg=engine_config(cfg), cache_dir=cfg.model_cache)
            theirs = five_class_predictions(clf, test_texts, test_titles)[1]
        return {"score": rs.five_class_report(stars_test, theirs)["macro_f1"],
                "lead": rs.macro_f1_lead(stars_test, model["predicted"], theirs)}  # fmt: skip

    flat = {k: v for k, v in metrics.items() if isinstance(v, int | float) and v is not None}
    flat |= {f"{b}_{k}": v for b, m in metrics["baselines"].items() for k, v in m.items() if isinstance(v, int | float)}
    return publish_model_version(
        lake_root=cfg.lake_root, name=REVIEW_SENTIMENT_MODEL, ds=cfg.ds, metrics=metrics, config=cfg,
        local_dir=out, pointer={"model_id": model_id, "revision": revision, "kind": kind},
        gate=Gate("macro_f1", report["macro_f1"], champion_score=champion,
                  baselines={name: b["macro_f1"] for name, b in metrics["baselines"].items()},
                  leads={name: b["lead"] for name, b in metrics["baselines"].items()},
                  unranked=_unranked(stars_test, metrics["split"]["train_stars"], cfg.min_rank_rows),
                  servable={"majority": majority_pointer(list(metrics["split"]["train_stars"].values()))}),
        tracking=Tracking(cfg.mlflow_uri, metrics=flat, tags={"model_id": model_id},
                          params={k: v for k, v in asdict(cfg).items() if k != "lake_root"} | {"kind": kind}),
    )  # fmt: skip


def _unranked(stars_test: Any, train_stars: dict[int, int], min_rows: int) -> str:
    """Why the held-out reviews cannot rank a model above the majority rating (``""`` when they can): fewer than
    ``min_rows`` of them have another rating than the training window's most common one — every figure is then
    about those few."""
    top = max(train_stars, key=lambda s: (train_stars[s], s))
    others = int((stars_test != top).sum())
    if others < min_rows:
        return f"{others} held-out reviews rated other than {top} stars (< {min_rows})"
    return ""


def _revision(model: str) -> str | None:
    return model.split("@", 1)[1] if "@" in model else None


# ---- scoring and publishing ----------------------------------------------------------------------------------------


def score_review_sentiment(cfg: ReviewSentimentScoreConfig) -> dict[str, Any]:
    """The day's curated reviews through the current five-class model → ``enriched/product_review_sentiment/ds=``."""
    import numpy as np
    import pyarrow as pa

    from shoplake.io.lake import PartitionWriter, iter_partition_batches, partition_rows
    from shoplake.ml.registry import read_current
    from shoplake.ml.sentiment import engine_config, five_class_positive_prob, load_classifier
    from shoplake.paths import model_root
    from shoplake.progress import Progress

    current = read_current(cfg.lake_root, REVIEW_SENTIMENT_MODEL)
    if current is None:
        raise FileNotFoundError(
            f"no current {REVIEW_SENTIMENT_MODEL} model in {cfg.lake_root}: run the train_review_sentiment step first "
            "(product_review_sentiment with enough curated reviews, or `make demo-reviews`)"
        )
    clf = load_classifier(model_root(cfg.lake_root, REVIEW_SENTIMENT_MODEL), cfg=engine_config(cfg),
                          cache_dir=cfg.model_cache)  # fmt: skip
    src = partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEWS, cfg.ds)
    out = partition_path(cfg.lake_root, Zone.ENRICHED, PRODUCT_REVIEW_SENTIMENT, cfg.ds)
    schema = pa.schema(
        [("review_id", pa.string()), ("product_id", pa.string()), ("rating", pa.int32()),
         ("predicted_class", pa.int32()), ("predicted_label", pa.string()),
         *[(c, pa.float32()) for c in PROBABILITY_COLUMNS], ("positive_prob", pa.float32()),
         ("model_id", pa.string()), ("model_revision", pa.string()), ("model_version", pa.string())]
    )  # fmt: skip
    total = partition_rows(src)
    progress = Progress(total, f"reviews of {src} scored", log)
    with PartitionWriter(out, schema, counts={"curated": total}) as writer:
        columns = ["review_id", "product_id", "rating", "review_text", "title"]
        for batch in iter_partition_batches(src, columns, cfg.chunk_rows):
            texts = [t or "" for t in batch.column("review_text").to_pylist()]
            titles = [t or "" for t in batch.column("title").to_pylist()]
            probs, predicted = five_class_predictions(clf, texts, titles)
            n = len(texts)
            cols = {
                "review_id": batch.column("review_id"),
                "product_id": batch.column("product_id"),
                "rating": batch.column("rating"),
                "predicted_class": pa.array(predicted.astype(np.int32)),
                "predicted_label": pa.array([FIVE_CLASSES[p - 1] for p in predicted], pa.string()),
                **{c: pa.array(probs[:, i].astype(np.float32)) for i, c in enumerate(PROBABILITY_COLUMNS)},
                "positive_prob": pa.array(five_class_positive_prob(probs) if n else np.zeros(0, np.float32)),
                "model_id": pa.array([clf.model_id] * n, pa.string()),
                "model_revision": pa.array([clf.revision] * n, pa.string()),
                "model_version": pa.array([current["version"]] * n, pa.string()),
            }
            writer.write(pa.table(cols, schema=schema))
            progress.update(n)
    return {"ds": cfg.ds, "path": out, "rows": writer.rows, "model_version": current["version"],
            "model": f"{clf.model_id}@{clf.revision}"}  # fmt: skip


def results_path(results_root: str, ds: str) -> str:
    """``<results root>/product_review_sentiment/ds=<ds>``: the day of the results' Delta table (``results_root``
    is ``<lake>/results`` by default)."""
    return f"{results_root.rstrip('/')}/{PRODUCT_REVIEW_SENTIMENT}/ds={validate_ds(ds)}"


def results_csv_path(results_root: str, ds: str) -> str:
    """``<results root>/product_review_sentiment_csv/ds=<ds>``: the day's CSV export (a file commit: read the file
    through ``shoplake.io.filecommit.resolve_existing``)."""
    return f"{results_root.rstrip('/')}/{PRODUCT_REVIEW_SENTIMENT}_csv/ds={validate_ds(ds)}"


def publish(lake_root: str, ds: str, results_root: str) -> dict[str, Any]:
    """The enriched rows of ``ds``, sorted by review id, as the day of the results' Delta table (one commit, the
    day replaced) and as a CSV export committed as a file version (a reader sees a whole file of one write)."""
    import pyarrow.csv as pcsv

    from shoplake.io.filecommit import FileCommit
    from shoplake.io.lake import read_partition, write_partition

    table = read_partition(partition_path(lake_root, Zone.ENRICHED, PRODUCT_REVIEW_SENTIMENT, ds))
    table = table.sort_by("review_id")
    with FileCommit(results_csv_path(results_root, ds)) as commit:
        fs, version = commit.fs, commit.fs_version
        fs.makedirs(version, exist_ok=True)
        with fs.open(f"{version}/{CSV_FILE}", "wb") as fh:
            pcsv.write_csv(table, fh)
        commit.commit({"rows": table.num_rows})
    write_partition(table, results_path(results_root, ds), counts={"rows": table.num_rows})
    return {"ds": ds, "path": results_path(results_root, ds), "csv": results_csv_path(results_root, ds),
            "rows": table.num_rows}  # fmt: skip


def check_published(lake_root: str, ds: str, results_root: str) -> dict[str, Any]:
    """The published table day and CSV hold the enriched rows of ``ds``, the same in both (values compared).

    Raises:
        RuntimeError: the day or the file is missing, or the rows differ.
    """
    import pyarrow.csv as pcsv

    from shoplake.io.filecommit import resolve_existing
    from shoplake.io.lake import filesystem, read_partition

    enriched = read_partition(partition_path(lake_root, Zone.ENRICHED, PRODUCT_REVIEW_SENTIMENT, ds)).sort_by(
        "review_id"
    )
    try:
        parquet = read_partition(results_path(results_root, ds))
        fs, root = filesystem(resolve_existing(results_csv_path(results_root, ds)))
    except FileNotFoundError as exc:
        raise RuntimeError(f"published results of ds={ds} are missing: {exc}") from exc
    with fs.open(f"{root}/{CSV_FILE}", "rb") as fh:
        csv = pcsv.read_csv(fh, convert_options=pcsv.ConvertOptions(column_types=parquet.schema))
    if not parquet.equals(enriched):
        raise RuntimeError(f"published table of ds={ds} differs from enriched/{PRODUCT_REVIEW_SENTIMENT}")
    if not csv.equals(parquet):
        raise RuntimeError(f"published CSV and table of ds={ds} hold different rows")
    return {"ds": ds, "path": results_path(results_root, ds), "rows": parquet.num_rows}


def check_scored(lake_root: str, ds: str) -> dict[str, Any]:
    """One enriched row per curated review of ``ds``; classes 1-5; the five probabilities sum to 1."""
    import numpy as np

    from shoplake.io.lake import read_counts, read_partition

    path = partition_path(lake_root, Zone.ENRICHED, PRODUCT_REVIEW_SENTIMENT, ds)
    table = read_partition(path)
    curated = read_counts(partition_path(lake_root, Zone.CURATED, PRODUCT_REVIEWS, ds))["curated"]
    if table.num_rows != curated:
        raise RuntimeError(f"{table.num_rows} scored reviews, curated ds={ds} has {curated}")
    probs = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in PROBABILITY_COLUMNS])
    classes = table.column("predicted_class").to_numpy(zero_copy_only=False)
    if len(classes) and (classes.min() < 1 or classes.max() > 5 or np.abs(probs.sum(axis=1) - 1).max() > 1e-3):
        raise RuntimeError(f"scores of ds={ds} out of range (classes 1-5, probabilities summing to 1)")
    return {"ds": ds, "path": path, "rows": table.num_rows}
