"""Every job, declared once: its name (= its ``jobs/`` file's stem = its task id = its pipeline step), its config
class, where it runs, the Params it takes and the Assets it reads and writes.

A DAG names a job — ``job_task("curate_steam_reviews")`` — and never spells its command: the file, the flags from
the run's Params (one ``--flag=value`` argument each: :func:`shoplake_airflow.params.param_flags`), the lineage and
the backend come from here, and a job whose config tracks in MLflow (a ``mlflow_uri`` field) gets the deployment's
``SHOPLAKE_MLFLOW_TRACKING_URI`` when one is set. :func:`job_params` gives a DAG the Params of its jobs, derived
from the config fields (default, type, bounds and help in one place: ``shoplake.jobconfig.option``).

Backends: ``spark`` — :func:`shoplake_airflow.spark.spark_job` (local spark-submit or EMR, ``SHOPLAKE_SPARK_BACKEND``;
``jobs/spark/``); ``gpu`` / ``gpu-train`` — a fresh Python process on the GPU queue and pool (scoring in ``jobs/gpu/``,
training in ``jobs/train/``); ``cpu`` — a fresh Python process on the default queue (``jobs/train/``;
:mod:`shoplake_airflow.gpu`). The purchase model's training backends (local, Spark, SageMaker) are chosen in
:mod:`shoplake_airflow.training` from the two purchase jobs declared here.

``writes`` become the task's outlets, so only Assets whose event the job's own success announces belong there; a
table a check task verifies after the job is announced by that check (its ``outlets``), not by the job.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow.sdk import Param

from shoplake.ml.xgb import HYPERPARAMETERS
from shoplake.pipelines.churn import ChurnJobConfig
from shoplake.pipelines.engagement import EngagementJobConfig
from shoplake.pipelines.product_reviews import ReviewScoreConfig, ReviewsJobConfig
from shoplake.pipelines.purchase_model import PurchaseTrainConfig
from shoplake.pipelines.recommendations import RecsJobConfig
from shoplake.pipelines.review_sentiment import ReviewSentimentScoreConfig, ReviewSentimentTrainConfig
from shoplake.pipelines.sentiment_model import SentimentTrainConfig
from shoplake.pipelines.steam_games import GameDailyConfig
from shoplake.pipelines.steam_reviews import CurateConfig, ScoreConfig
from shoplake.pipelines.tweets import EmbedConfig, EngagementTrainConfig, TweetsJobConfig
from shoplake_airflow import assets as A
from shoplake_airflow.context import PARTITION_DS
from shoplake_airflow.params import config_params, param_flags

#: ``backend`` → the ``jobs/`` folder its entry points live in
FOLDERS = {"spark": "spark", "gpu": "gpu", "cpu": "train", "gpu-train": "train"}


@dataclasses.dataclass(frozen=True)
class Job:
    """One job: see the module doc. ``reads`` / ``writes`` may name a field of the caller's asset set (a churn
    source's ``ChurnAssets``) instead of an Asset."""

    name: str
    config: type
    backend: str
    params: tuple[str, ...] = ()
    reads: tuple[Any, ...] = ()
    writes: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.backend not in FOLDERS:
            raise ValueError(f"job {self.name}: backend {self.backend!r} is not one of {sorted(FOLDERS)}")
        fields = {f.name for f in dataclasses.fields(self.config)}
        unknown = [p for p in self.params if p not in fields]
        if unknown:
            raise ValueError(f"job {self.name}: Params {unknown} are no fields of {self.config.__name__}")

    @property
    def path(self) -> str:
        """The entry point, relative to the repository (``jobs/<folder>/<name>.py``)."""
        return f"jobs/{FOLDERS[self.backend]}/{self.name}.py"


_PURCHASE = ("window_days", "target", "min_rows", *HYPERPARAMETERS)
_REVIEW_TRAIN = ("window_days", "test_fraction", "min_rows", "min_group_rows", "retrain_days", "c", "seed", "encoder")
_HEAD = ("window_days", "c", "seed", "min_negatives")
_RECS = tuple(f.name for f in dataclasses.fields(RecsJobConfig) if f.name not in ("ds", "lake_root", "mlflow_uri"))
_ENGAGEMENT = ("window_days", "seed", "test_fraction", "engagement_model", "min_train_rows")
_TWEET_TRAIN = (
    "window_days", "test_fraction", "min_rows", "n_estimators", "max_depth", "learning_rate", "seed", "max_rows",
)  # fmt: skip
_SENTIMENT_MODELS = (A.SENTIMENT_MODEL, A.SENTIMENT_MULTILINGUAL_MODEL)

JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        # Steam reviews
        Job("curate_steam_reviews", CurateConfig, "spark", reads=(A.RAW_STEAM_REVIEWS,)),
        Job("score_sentiment", ScoreConfig, "gpu", reads=(A.CURATED_STEAM_REVIEWS, *_SENTIMENT_MODELS)),
        Job("build_steam_game_daily", GameDailyConfig, "spark", ("min_reviews",),
            reads=(A.ENRICHED_STEAM_PURCHASE_FEATURES,)),
        Job("train_sentiment_head", SentimentTrainConfig, "gpu-train", _HEAD, reads=(A.CURATED_STEAM_REVIEWS,),
            writes=(A.SENTIMENT_MODEL,)),
        Job("train_multilingual_sentiment_head", SentimentTrainConfig, "cpu", _HEAD,
            reads=(A.CURATED_STEAM_REVIEWS,), writes=(A.SENTIMENT_MULTILINGUAL_MODEL,)),
        Job("train_purchase_model", PurchaseTrainConfig, "gpu-train", _PURCHASE),
        Job("train_purchase_model_spark", PurchaseTrainConfig, "spark", _PURCHASE),
        # churn (one chain per source: the caller gives the source's ChurnAssets)
        Job("curate_churn_source", ChurnJobConfig, "spark", ("min_class_users",)),
        Job("build_churn_features", ChurnJobConfig, "spark", ("min_class_users",), reads=("curated",)),
        Job("train_churn_models", ChurnJobConfig, "spark", ("min_class_users",), reads=("features",)),
        Job("predict_churn", ChurnJobConfig, "spark", ("min_class_users",), reads=("features", "model")),
        # clickstream recommendations and engagement levels
        Job("train_recommenders", RecsJobConfig, "spark", _RECS, reads=(A.CURATED_CLICKSTREAM_EVENTS,)),
        Job("build_product_review_map", ReviewsJobConfig, "spark", ("window_days",),
            reads=(A.CURATED_CLICKSTREAM_EVENTS, A.CURATED_PRODUCT_REVIEWS, A.CURATED_PRODUCT_CATALOG)),
        Job("train_engagement_model", EngagementJobConfig, "spark", _ENGAGEMENT,
            reads=(A.CURATED_CLICKSTREAM_EVENTS, A.PRODUCT_REVIEW_MAP)),
        # Sephora product reviews
        Job("curate_product_reviews", ReviewsJobConfig, "spark"),
        Job("score_product_reviews", ReviewScoreConfig, "gpu", reads=(A.CURATED_PRODUCT_REVIEWS, *_SENTIMENT_MODELS)),
        Job("train_review_sentiment", ReviewSentimentTrainConfig, "gpu-train", _REVIEW_TRAIN,
            reads=(A.CURATED_PRODUCT_REVIEWS,), writes=(A.REVIEW_SENTIMENT_MODEL,)),
        Job("score_review_sentiment", ReviewSentimentScoreConfig, "gpu",
            reads=(A.CURATED_PRODUCT_REVIEWS, A.REVIEW_SENTIMENT_MODEL)),
        # e-commerce tweets
        Job("curate_tweets", TweetsJobConfig, "spark"),
        Job("embed_tweets", EmbedConfig, "gpu", reads=(A.CURATED_TWEETS,), writes=(A.TWEET_EMBEDDINGS,)),
        Job("train_tweet_engagement", EngagementTrainConfig, "cpu", _TWEET_TRAIN,
            reads=(A.CURATED_TWEETS, A.TWEET_EMBEDDINGS), writes=(A.TWEET_ENGAGEMENT_MODEL,)),
    )
}  # fmt: skip


def job_params(*names: str, **defaults: Any) -> dict[str, Param]:
    """The Params of jobs ``names`` (a Param two jobs share is declared once; ``defaults`` overrides a default)."""
    params: dict[str, Param] = {}
    for name in names:
        job = JOBS[name]
        for key, param in config_params(job.config, job.params, **defaults).items():
            if key in params and params[key].value != param.value:
                raise ValueError(f"Param {key}: jobs {names} default it differently; give it in defaults")
            params.setdefault(key, param)
    return params


def job_task(
    name: str,
    args: list[str] | tuple[str, ...] = (),
    *,
    task_id: str | None = None,
    assets: Any = None,
    cpu: bool = False,
    ds: str = PARTITION_DS,
    cfg: Any = None,
    **kwargs: Any,
) -> Any:
    """The task (or EMR task group) running job ``name`` for the run's partition.

    Args:
        name: a key of :data:`JOBS`.
        args: flags besides ``--ds``, ``--lake-root``, the job's Params and MLflow's URI (settings of the
            deployment).
        task_id: only where one DAG runs the same job twice in a task group (SageMaker's export and publish);
            otherwise the task id is the job's name.
        assets: the asset set that names in ``reads`` / ``writes`` refer to (a churn source's).
        cpu: a GPU job's step that needs no GPU (SageMaker's export and publish): the default queue and pool.
        ds: template of the partition day (default: the run's, from ``resolve_partition``).
        cfg: settings to use instead of the process's (tests).
        kwargs: to the operator (``trigger_rule``, ``queue``…).
    """
    from shoplake_airflow.gpu import gpu_job, python_job
    from shoplake_airflow.settings import settings
    from shoplake_airflow.spark import spark_job

    job = JOBS[name]
    cfg = cfg or settings()
    flags = [*param_flags(job.params), *args]
    if cfg.mlflow_tracking_uri and "mlflow_uri" in {f.name for f in dataclasses.fields(job.config)}:
        flags.append(f"--mlflow-uri={cfg.mlflow_tracking_uri}")
    lineage = {
        "inlets": [getattr(assets, a) if isinstance(a, str) else a for a in job.reads],
        "outlets": [getattr(assets, a) if isinstance(a, str) else a for a in job.writes],
    }
    task_id = task_id or name
    if job.backend == "spark":
        return spark_job(task_id, job.path, flags, ds=ds, cfg=cfg, **lineage, **kwargs)
    factory = gpu_job if job.backend in ("gpu", "gpu-train") and not cpu else python_job
    return factory(task_id, job.path, flags, ds=ds, cfg=cfg, **lineage, **kwargs)
