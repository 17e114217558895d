"""Typed settings read from the environment, in one place.

Every knob is an ``SHOPLAKE_*`` environment variable so the same code runs on a laptop (embedded defaults), in
docker compose and in production (S3/GCS lake, EMR, a real MongoDB behind the ``mongo_default`` connection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from shoplake.paths import CHURN_SOURCES


def looks_like_path(uri: str) -> bool:
    """A local path or a lake URI rather than a hub id (``org/name``)."""
    return "://" in uri or uri.startswith(("/", "./", "../", "~")) or uri.count("/") > 1


#: Repository root (``src/shoplake/config.py`` → three levels up); used only for local defaults.
REPO_ROOT = Path(__file__).resolve().parents[2]

SPARK_BACKENDS = ("local", "emr")
TRAIN_BACKENDS = ("auto", "local", "spark", "sagemaker")


#: the sentiment engine's precisions (``shoplake.ml.sentiment.EngineConfig.precision``, which imports no torch)
SENTIMENT_PRECISIONS = ("auto", "fp32", "bf16", "int8", "onnx-fp32", "onnx-int8")


def _default_sample_dir() -> str:
    return str((REPO_ROOT.parent / "shared" / "data").resolve())


def _split_ints(raw: str) -> tuple[int, ...]:
    return tuple(int(x) for x in raw.replace(",", " ").split() if x)


@dataclass(frozen=True)
class EmrSettings:
    """Settings of the EMR Spark backend (only read when ``SHOPLAKE_SPARK_BACKEND=emr``)."""

    cluster_id: str = ""  # an existing cluster: steps only, no create/terminate
    release_label: str = "emr-7.5.0"
    code_uri: str = ""  # s3:// prefix holding jobs/ and shoplake.zip (``make dist`` builds them)
    log_uri: str = ""
    instance_type: str = "m5.xlarge"
    core_instance_count: int = field(default=2, metadata={"env": "SHOPLAKE_EMR_CORE_INSTANCES"})
    job_flow_role: str = "EMR_EC2_DefaultRole"
    service_role: str = "EMR_DefaultRole"
    subnet_id: str = ""
    aws_conn_id: str = field(default="aws_default", metadata={"env": "SHOPLAKE_AWS_CONN_ID"})
    poll_s: int = 60  #: how often the deferred sensor asks EMR for the step's state
    max_wait_s: int = 6 * 3600  #: a step still running after this fails the wait (then the teardown terminates)


@dataclass(frozen=True)
class SageMakerSettings:
    """Settings of the SageMaker training backend (only read when ``SHOPLAKE_TRAIN_BACKEND=sagemaker``)."""

    role_arn: str = ""
    #: the built-in XGBoost algorithm image of the region (``sagemaker.image_uris.retrieve("xgboost", region)``)
    image_uri: str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    instance_type: str = "ml.m5.xlarge"
    output_uri: str = ""  # s3:// prefix for model.tar.gz (default: <lake>/model/<name>/sagemaker)
    max_runtime_s: int = 3600
    poll_s: int = 30  #: how often the training operator (and its deferred trigger) asks for the job's state


@dataclass(frozen=True)
class ServeSettings:
    """Settings of the prediction service (``shoplake serve``), ``SHOPLAKE_SERVE_<FIELD>``."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 256  #: texts or feature rows in one request
    max_text_chars: int = 20_000  #: characters of one text (Steam caps reviews at 8,000)
    max_body_bytes: int = 1_048_576  #: request bodies over this get 413
    pointer_ttl_s: float = 5.0  #: how often a model's current.json is re-read (a moved pointer loads the new version)
    cache: bool = True  #: keep loaded models; off loads every model per request (the load benchmark's baseline)


@dataclass(frozen=True)
class Settings:
    """All settings of the platform.

    Attributes:
        lake_root: root of the lake; a local path or any fsspec/ObjectStoragePath URI (``s3://b/lake``).
        spark_backend: ``local`` (spark-submit, ``spark_local`` connection) or ``emr``.
        sample_data_dir: the shared sample data (read-only; never copied into the project).
        steam_source: ``api`` for the live store endpoint, else a directory of saved review responses.
        steam_api_url: base of the review endpoint; ``{appid}`` is substituted.
        steam_app_ids: app ids fetched when ``steam_source == "api"``.
        mongo_conn_id: Airflow connection of the operational Mongo.
        mongo_db: database holding the collections (the connection's schema wins when set).
        steam_collection: collection of Steam reviews, keyed by ``recommendationid``.
        max_review_chars: reviews longer than this are quarantined (Steam caps reviews at 8,000).
        spark_conn_id: Airflow connection of the local Spark master.
        jobs_root: directory holding ``jobs/`` for spark-submit (the checkout; ``/opt/shoplake/repo`` in compose).
        spark_cds_archive: the local Spark driver's class-data archive (``scripts/spark_cds.py`` writes it,
            ``make install`` runs that); a missing or stale one is ignored by the JVM (``shoplake.spark_cds``).
        sentiment_model: hub id, local directory or lake URI of the sentiment model (a directory with
            ``current.json`` resolves to the version it names). Default: DistilBERT SST-2 from the hub; the
            embedded defaults use the offline MiniLM head trained into the lake.
        sentiment_revision: pinned hub revision (ignored for directories, which carry their own).
        sentiment_models: language → model map (``en=<model>[@rev],*=<model>[@rev]``); unset, the one model
            above scores English (``en``) and ``sentiment_multilingual_model`` every other language.
        sentiment_multilingual_model: the ``*`` route when ``sentiment_models`` is unset: the offline
            multilingual model (USE multilingual v3 + a head on labelled reviews) trained into
            ``<lake>/model/sentiment_multilingual`` (the embedded defaults and compose set it); empty = no ``*``
            route, other languages get null scores (``unsupported_language``).
        model_cache: local cache for models copied from the lake.
        sentiment_precision / sentiment_compile: the scoring jobs' ``--precision`` (``auto``: bf16 weights on CUDA,
            fp32 on a CPU; ``bf16`` on a CPU with native bf16 is the fast CPU path that keeps the scores) and
            ``--compile`` (torch.compile: 12-30 s once per scoring task; on the dev CPU slower than plain ``bf16``).
        gpu_pool / gpu_queue: where inference tasks run (pool slots = GPUs; a worker serving the queue has them).
        train_backend: where the purchase model trains: ``auto`` (``local`` while the window's feature rows are at
            most ``spark_train_rows``, ``spark`` above; decided per run from the Parquet footers and logged),
            ``local`` (a job on the gpu queue, XGBoost on CUDA when present; the window is read into one process),
            ``spark`` (xgboost.spark on the Spark backend) or ``sagemaker`` (built-in XGBoost).
        spark_train_rows: with ``train_backend=auto``, the most feature rows the local backend trains on.
        mlflow_tracking_uri: MLflow tracking server; empty = SQLite under a local lake, ``none`` = off.
        tweets_source: tweet CSVs of ``tweet_engagement_daily`` (path or glob; the file name is the platform).
        product_reviews_source / product_catalog_source: product review CSVs and product catalogue CSVs (paths or
            globs) of ``product_reviews_daily``; unset ones read the shared Sephora sample.
        review_sentiment_model: the five-class review sentiment model of ``product_review_sentiment``: empty = the
            offline head trained on ratings into ``<lake>/model/review_sentiment``; else a hub id ``@revision`` or a
            directory of a five-label classifier, evaluated on the held-out reviews and adopted as a version.
        results_root: where published results go (CSV + Parquet per day); empty = ``<lake>/results``; any lake URI.
        publish_uri: where the model DAGs' ``publish_copy`` task copies each new champion (``gs://bucket/prefix``
            or ``s3://…``); empty = the task skips, saying so.
        publish_conn_id: the Airflow connection holding that bucket's credentials (``google_cloud_default``;
            an ``aws`` connection for ``s3://``).
        api_key: the prediction service's API key (``SHOPLAKE_API_KEY``, sent as ``X-API-Key``); required when the
            service listens beyond the loopback interface.
        serve: the prediction service's host, port and limits (:class:`ServeSettings`).
        churn_sources: where the churn DAGs read each source (``sparkify``: the folder holding ``log_data/``;
            ``telco``: the customer CSV; ``clickstream``: a CSV glob); unset ones read the shared sample.
    """

    lake_root: str
    spark_backend: str = "local"
    sample_data_dir: str = field(default_factory=_default_sample_dir, metadata={"env": "SHOPLAKE_SAMPLE_DATA"})
    steam_source: str = ""
    steam_api_url: str = "https://store.steampowered.com/appreviews/{appid}"
    steam_app_ids: tuple[int, ...] = ()
    mongo_conn_id: str = "mongo_default"
    mongo_db: str = "shoplake"
    steam_collection: str = "steam_reviews"
    max_review_chars: int = 20_000
    spark_conn_id: str = "spark_local"
    jobs_root: str = str(REPO_ROOT)
    spark_cds_archive: str = str(REPO_ROOT / ".spark-cds" / "spark.jsa")
    sentiment_model: str = "distilbert-base-uncased-finetuned-sst-2-english"
    sentiment_revision: str = "714eb0fa89d2f80546fda750413ed43d93601a13"
    sentiment_models: str = ""
    sentiment_multilingual_model: str = ""
    model_cache: str = "/tmp/shoplake-model-cache"
    sentiment_precision: str = "auto"
    sentiment_compile: bool = False
    gpu_pool: str = "gpu"
    gpu_queue: str = "gpu"
    emr: EmrSettings = field(default_factory=EmrSettings)
    train_backend: str = "auto"
    #: about 1 KB per feature row in pandas on the worker: a million rows is ~1 GB before XGBoost's own copy
    spark_train_rows: int = 1_000_000
    mlflow_tracking_uri: str = ""
    sagemaker: SageMakerSettings = field(default_factory=SageMakerSettings)
    churn_sources: Mapping[str, str] = field(default_factory=dict)
    product_reviews_source: str = ""
    product_catalog_source: str = ""
    tweets_source: str = ""
    review_sentiment_model: str = ""
    results_root: str = ""
    publish_uri: str = ""
    publish_conn_id: str = "google_cloud_default"
    api_key: str = field(default="", repr=False)
    serve: ServeSettings = field(default_factory=ServeSettings)

    def __post_init__(self) -> None:
        if self.spark_backend not in SPARK_BACKENDS:
            raise ValueError(f"SHOPLAKE_SPARK_BACKEND must be one of {SPARK_BACKENDS}, got {self.spark_backend!r}")
        if self.train_backend not in TRAIN_BACKENDS:
            raise ValueError(f"SHOPLAKE_TRAIN_BACKEND must be one of {TRAIN_BACKENDS}, got {self.train_backend!r}")
        if self.max_review_chars <= 0:
            raise ValueError("SHOPLAKE_MAX_REVIEW_CHARS must be positive")
        if not self.lake_root:
            raise ValueError("SHOPLAKE_LAKE_ROOT must not be empty")
        if self.sentiment_precision not in SENTIMENT_PRECISIONS:
            raise ValueError(
                f"SHOPLAKE_SENTIMENT_PRECISION must be one of {SENTIMENT_PRECISIONS}, got {self.sentiment_precision!r}"
            )

    @property
    def sentiment_engine_args(self) -> list[str]:
        """The scoring jobs' engine flags from ``SHOPLAKE_SENTIMENT_PRECISION`` / ``SHOPLAKE_SENTIMENT_COMPILE``."""
        return ["--precision", self.sentiment_precision, "--compile", str(self.sentiment_compile).lower()]

    @property
    def sentiment_model_map(self) -> str:
        """``SHOPLAKE_SENTIMENT_MODELS``, else the configured model for English and the multilingual one for ``*``."""
        if self.sentiment_models:
            return self.sentiment_models
        pinned = self.sentiment_revision and not looks_like_path(self.sentiment_model)  # a directory has its own
        english = f"en={self.sentiment_model}" + (f"@{self.sentiment_revision}" if pinned else "")
        return english + (f",*={self.sentiment_multilingual_model}" if self.sentiment_multilingual_model else "")

    @property
    def steam_source_dir(self) -> str:
        """Directory of saved Steam responses (the sample's by default)."""
        return self.steam_source or str(Path(self.sample_data_dir) / "steam_reviews" / "reviews")

    def churn_source(self, source: str) -> str:
        """Where the churn pipeline of ``source`` reads its input (``SHOPLAKE_<SOURCE>_SOURCE``, else the sample)."""
        samples = {  # the shared sample's file of each source
            "sparkify": "sparkify_log_data",
            "telco": "telco_churn/Telco-Customer-Churn.csv",
            "clickstream": "rees46_ecommerce_events/*.csv",
        }
        return self.churn_sources.get(source) or f"{self.sample_data_dir}/{samples[source]}"

    @property
    def product_reviews_path(self) -> str:
        """Product review CSVs (a path or glob; the shared Sephora sample by default)."""
        return self.product_reviews_source or f"{self.sample_data_dir}/sephora_reviews/origSephora.csv"

    @property
    def product_catalog_path(self) -> str:
        """Product catalogue CSVs with brand and categories (path or glob; the sample's Sephora tables by default:
        the Kaggle table ``product_info.csv.gz`` and the scraper's ``product_info.csv``)."""
        return self.product_catalog_source or f"{self.sample_data_dir}/sephora_reviews/product_info.csv*"

    @property
    def results(self) -> str:
        """Root of the published results (``SHOPLAKE_RESULTS_ROOT``, else ``<lake>/results``)."""
        return self.results_root or f"{self.lake_root.rstrip('/')}/results"

    @property
    def tweets_path(self) -> str:
        """Tweet CSVs (path or glob; the file name is the platform); the shared Indonesian sample by default."""
        return self.tweets_source or f"{self.sample_data_dir}/indonesia_ecommerce_tweets/*.csv"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment: field ``x`` is ``SHOPLAKE_X`` (``emr.x`` is ``SHOPLAKE_EMR_X``).

        Unset or empty variables take the field's default; the few older names are kept as ``env`` aliases in the
        field's metadata (``SHOPLAKE_SAMPLE_DATA``, ``SHOPLAKE_EMR_CORE_INSTANCES``, ``SHOPLAKE_AWS_CONN_ID``), and
        each churn source is ``SHOPLAKE_<SOURCE>_SOURCE``.
        """
        env = os.environ if env is None else env
        values = _read_env(cls, env, "SHOPLAKE_")
        lake_root = values.get("lake_root") or str(REPO_ROOT / "lake")
        if "://" not in lake_root:
            lake_root = str(Path(lake_root).expanduser().resolve())
        values["lake_root"] = lake_root
        values["churn_sources"] = {
            s: env[f"SHOPLAKE_{s.upper()}_SOURCE"] for s in CHURN_SOURCES if env.get(f"SHOPLAKE_{s.upper()}_SOURCE")
        }
        return cls(**values)


def _read_env(cls: type, env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """Field values of dataclass ``cls`` found in ``env`` (``<prefix><FIELD>``), typed like the field's default."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            values[f.name] = type(default)(**_read_env(type(default), env, f"{prefix}{f.name.upper()}_"))
            continue
        raw = env.get(f.metadata.get("env") or f"{prefix}{f.name.upper()}", "")
        if raw == "" or isinstance(default, Mapping):
            continue
        if isinstance(default, bool):
            values[f.name] = raw.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            values[f.name] = int(raw)
        elif isinstance(default, float):
            values[f.name] = float(raw)
        elif isinstance(default, tuple):
            values[f.name] = _split_ints(raw)
        else:
            values[f.name] = raw
    return values
