"""Typed settings read from the environment, in one place.

Every knob is an ``SHOPLAKE_*`` environment variable so the same code runs on a laptop (embedded defaults), in
docker compose and in production (S3/GCS lake, EMR, a real MongoDB behind the ``mongo_default`` connection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from shoplake.jobconfig import option
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
    """Settings of the EMR Spark backend (only read when ``SHOPLAKE_SPARK_BACKEND=emr``), ``SHOPLAKE_EMR_<FIELD>``."""

    cluster_id: str = option("", help="an existing EMR cluster: steps are added to it, no cluster created or ended")
    release_label: str = option("emr-7.5.0", help="EMR release of the clusters the DAGs create")
    code_uri: str = option("", help="s3:// prefix holding jobs/ and shoplake.zip (`make dist` builds them); required")
    log_uri: str = option("", help="s3:// prefix for the cluster's logs; empty = none")
    instance_type: str = option("m5.xlarge", help="instance type of the created cluster's nodes")
    core_instance_count: int = option(
        2, help="core nodes of the created cluster", env="SHOPLAKE_EMR_CORE_INSTANCES", minimum=1
    )
    job_flow_role: str = option("EMR_EC2_DefaultRole", help="the EC2 instance profile of the cluster's nodes")
    service_role: str = option("EMR_DefaultRole", help="the EMR service role")
    subnet_id: str = option("", help="the VPC subnet of the created cluster; empty = the account's default")
    aws_conn_id: str = option(
        "aws_default", help="Airflow connection to AWS (EMR, SageMaker, S3, Comprehend)", env="SHOPLAKE_AWS_CONN_ID"
    )
    poll_s: int = option(60, help="how often the deferred sensor asks EMR for the step's state (seconds)", minimum=1)
    max_wait_s: int = option(
        6 * 3600, help="a step still running after this many seconds fails the wait (the teardown then terminates)"
    )


@dataclass(frozen=True)
class SageMakerSettings:
    """Settings of the SageMaker training backend (only read when ``SHOPLAKE_TRAIN_BACKEND=sagemaker``),
    ``SHOPLAKE_SAGEMAKER_<FIELD>``."""

    role_arn: str = option("", help="the IAM role SageMaker's training job runs as; required for this backend")
    image_uri: str = option(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        help="the built-in XGBoost algorithm image of the region (sagemaker.image_uris.retrieve('xgboost', region))",
    )
    instance_type: str = option("ml.m5.xlarge", help="the training job's instance type")
    output_uri: str = option("", help="s3:// prefix for model.tar.gz; empty = <lake>/model/<name>/sagemaker")
    max_runtime_s: int = option(3600, help="the training job's stopping condition (seconds)", minimum=1)
    poll_s: int = option(
        30, help="how often the training operator (and its deferred trigger) asks for the job's state (s)", minimum=1
    )


@dataclass(frozen=True)
class ServeSettings:
    """Settings of the prediction service (``shoplake serve``), ``SHOPLAKE_SERVE_<FIELD>``."""

    host: str = option("127.0.0.1", help="interface the service listens on (beyond loopback needs SHOPLAKE_API_KEY)")
    port: int = option(8000, help="the service's port", minimum=1, maximum=65535)
    max_batch: int = option(256, help="texts or feature rows in one request (more: 422)", minimum=1)
    max_text_chars: int = option(
        20_000, help="characters of one text (Steam caps reviews at 8,000; longer: 422)", minimum=1
    )
    max_body_bytes: int = option(1_048_576, help="request bodies over this many bytes get 413", minimum=1)
    pointer_ttl_s: float = option(
        5.0, help="how often a model's current.json is re-read, seconds (a moved pointer loads the new version)"
    )
    cache: bool = option(
        True, help="keep loaded models; false loads every model per request (the load benchmark's baseline)"
    )


@dataclass(frozen=True)
class Settings:
    """All settings of the platform: field ``x`` is the environment variable ``SHOPLAKE_X`` (``emr.x`` is
    ``SHOPLAKE_EMR_X``); each field's help says what it does (docs/configuration.md is generated from them)."""

    lake_root: str = option(
        help="root of the lake: a local path or any fsspec URI (s3://bucket/lake, gs://…); default ./lake"
    )
    spark_backend: str = option(
        "local", help="where Spark jobs run: local (spark-submit, spark_local connection) or emr", enum=SPARK_BACKENDS
    )
    sample_data_dir: str = option(
        help="the shared sample data (read-only; never copied into the project)",
        env="SHOPLAKE_SAMPLE_DATA",
        factory=_default_sample_dir,
    )
    steam_source: str = option(
        "", help="api for the live store endpoint, else a directory of saved review responses; empty = the sample"
    )
    steam_api_url: str = option(
        "https://store.steampowered.com/appreviews/{appid}", help="base of the review endpoint; {appid} is substituted"
    )
    steam_app_ids: tuple[int, ...] = option((), help="app ids fetched when steam_source is api (comma separated)")
    mongo_conn_id: str = option("mongo_default", help="Airflow connection of the operational Mongo")
    mongo_db: str = option("shoplake", help="database holding the collections (the connection's schema wins when set)")
    steam_collection: str = option("steam_reviews", help="collection of Steam reviews, keyed by recommendationid")
    max_review_chars: int = option(
        20_000, help="reviews longer than this are quarantined (Steam caps reviews at 8,000)", minimum=1
    )
    spark_conn_id: str = option("spark_local", help="Airflow connection of the local Spark master")
    jobs_root: str = option(
        str(REPO_ROOT), help="directory holding jobs/ for spark-submit (the checkout; /opt/shoplake/repo in compose)"
    )
    spark_cds_archive: str = option(
        str(REPO_ROOT / ".spark-cds" / "spark.jsa"),
        help="the local Spark driver's class-data archive (make install writes it; a stale one is ignored)",
    )
    sentiment_model: str = option(
        "distilbert-base-uncased-finetuned-sst-2-english",
        help="hub id, local directory or lake URI of the English sentiment model (a directory with current.json "
        "resolves to the version it names); the embedded defaults use the offline MiniLM head in the lake",
    )
    sentiment_revision: str = option(
        "714eb0fa89d2f80546fda750413ed43d93601a13", help="pinned hub revision (directories carry their own)"
    )
    sentiment_models: str = option(
        "",
        help="language → model map, en=<model>[@rev],*=<model>[@rev] (a model may be 'comprehend'); empty = "
        "sentiment_model for en and sentiment_multilingual_model for every other language",
    )
    sentiment_multilingual_model: str = option(
        "",
        help="the * route when sentiment_models is unset: the offline multilingual model in "
        "<lake>/model/sentiment_multilingual; empty = other languages get null scores (unsupported_language)",
    )
    model_cache: str = option("/tmp/shoplake-model-cache", help="local cache for models copied from the lake")
    encoder_roots: str = option(
        "",
        help="directories (comma-separated) an encoder directory given as a Param may be under, besides model_cache",
    )
    sentiment_precision: str = option(
        "auto",
        help="the scoring jobs' --precision: auto (bf16 weights on CUDA, fp32 on a CPU), fp32, bf16, int8, onnx-*",
        enum=SENTIMENT_PRECISIONS,
    )
    sentiment_compile: bool = option(
        False, help="the scoring jobs' --compile (torch.compile: 12-30 s once per scoring task)"
    )
    gpu_pool: str = option("gpu", help="Airflow pool of inference tasks (slots = GPUs)")
    gpu_queue: str = option("gpu", help="Celery queue of inference tasks (a worker serving it has the GPUs)")
    # option(factory=…) is a dataclasses.field with a default_factory: RUF009 cannot see that
    emr: EmrSettings = option(help="the EMR backend (SHOPLAKE_EMR_*)", factory=EmrSettings)  # noqa: RUF009
    train_backend: str = option(
        "auto",
        help="where the purchase model trains: auto (local up to spark_train_rows feature rows, spark above; "
        "decided per run and logged), local, spark (xgboost.spark) or sagemaker (built-in XGBoost)",
        enum=TRAIN_BACKENDS,
    )
    spark_train_rows: int = option(
        1_000_000, help="with train_backend=auto, the most feature rows the local backend trains on", minimum=1
    )
    mlflow_tracking_uri: str = option("", help="MLflow tracking server; empty = SQLite under a local lake, none = off")
    sagemaker: SageMakerSettings = option(help="SageMaker (SHOPLAKE_SAGEMAKER_*)", factory=SageMakerSettings)  # noqa: RUF009
    churn_sources: Mapping[str, str] = option(
        help="where the churn DAGs read each source, SHOPLAKE_<SOURCE>_SOURCE (sparkify: the folder holding "
        "log_data/; telco: the customer CSV; clickstream: a CSV glob); unset ones read the shared sample",
        factory=dict,
    )
    product_reviews_source: str = option(
        "", help="product review CSVs (path or glob) of product_reviews_daily; empty = the shared Sephora sample"
    )
    product_catalog_source: str = option(
        "", help="product catalogue CSVs (path or glob) of product_reviews_daily; empty = the shared Sephora sample"
    )
    tweets_source: str = option(
        "", help="tweet CSVs of tweet_engagement_daily (path or glob; the file name is the platform)"
    )
    review_sentiment_model: str = option(
        "",
        help="the five-class review model: empty = the offline head trained on ratings into the lake; else a hub "
        "id@revision or a directory of a five-label classifier, evaluated on held-out reviews and adopted",
    )
    results_root: str = option("", help="where published results go (CSV + Delta per day); empty = <lake>/results")
    publish_uri: str = option(
        "", help="where the model DAGs' publish_copy copies each new champion (gs://… or s3://…); empty = skipped"
    )
    publish_conn_id: str = option(
        "google_cloud_default", help="the Airflow connection holding publish_uri's credentials (aws for s3://)"
    )
    api_key: str = option(
        "",
        help="the prediction service's key, sent as X-API-Key; required when it listens beyond loopback",
        secret=True,
    )
    serve: ServeSettings = option(help="the prediction service (SHOPLAKE_SERVE_*)", factory=ServeSettings)  # noqa: RUF009

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


def env_name(f: Any, prefix: str = "SHOPLAKE_") -> str:
    """The environment variable of a settings field (its ``env`` alias, else ``<prefix><FIELD>``)."""
    return f.metadata.get("env") or f"{prefix}{f.name.upper()}"


def configuration_reference() -> str:
    """The settings' part of docs/configuration.md, generated from their declarations (``scripts/configuration_docs.py``
    writes it; ``tests/lake/test_configuration_docs.py`` fails when the file and the declarations drift apart)."""

    def shown(value: Any) -> str:
        if isinstance(value, str):  # paths of this checkout, whatever its folder is called
            value = value.replace(str(REPO_ROOT), "<checkout>").replace(str(REPO_ROOT.parent), "<checkout>/..")
        return f"`{value}`" if value not in ("", (), {}) else "—"

    def table(cls: type, prefix: str) -> list[str]:
        rows = ["| variable | default | what it does |", "|---|---|---|"]
        nested = []
        for f in fields(cls):
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            help_text = f.metadata["help"].replace("|", "\\|").replace("<", "&lt;")
            if is_dataclass(default):
                nested.append((type(default), f"{prefix}{f.name.upper()}_"))
                continue
            var = f"`{prefix}<SOURCE>_SOURCE`" if f.name == "churn_sources" else f"`{env_name(f, prefix)}`"
            value = "required" if default is MISSING else ("(secret)" if not f.repr else shown(default))
            if f.name == "lake_root":
                value = "`./lake`"
            elif f.default_factory is _default_sample_dir:  # resolved: a symlinked ../shared would show its target
                value = "`<checkout>/../shared/data`"
            rows.append(f"| {var} | {value} | {help_text} |")
        out = [*rows, ""]
        for sub, sub_prefix in nested:
            summary = " ".join((sub.__doc__ or "").split("\n\n")[0].split()).replace("``", "`")
            out += [f"### `{sub_prefix}*`", "", summary, "", *table(sub, sub_prefix)]
        return out

    lines = [
        BEGIN_GENERATED,
        "<!-- generated from shoplake.config's option(help=…) declarations: edit those, then run",
        "     `python scripts/configuration_docs.py` (a test fails when this part and the code differ) -->",
        "",
        *table(Settings, "SHOPLAKE_"),
        END_GENERATED,
    ]
    return "\n".join(lines) + "\n"


#: the markers of the generated part of docs/configuration.md (the rest of the page is written by hand)
BEGIN_GENERATED = "<!-- settings: begin -->"
END_GENERATED = "<!-- settings: end -->"


def with_reference(page: str) -> str:
    """``page`` (docs/configuration.md) with its generated part replaced by :func:`configuration_reference`."""
    start, end = page.index(BEGIN_GENERATED), page.index(END_GENERATED) + len(END_GENERATED) + 1
    return page[:start] + configuration_reference() + page[end:]
