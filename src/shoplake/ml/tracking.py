"""MLflow tracking of training runs: params, metrics, the version's artifacts and a registered model.

By default (``SHOPLAKE_MLFLOW_TRACKING_URI`` unset) a local lake gets a SQLite tracking store under the lake,
``<lake>/model/mlflow/mlflow.db``, with artifacts in ``<lake>/model/mlflow/artifacts``; ``mlflow ui
--backend-store-uri sqlite:///<lake>/model/mlflow/mlflow.db`` browses it. A remote lake needs a tracking server
(``SHOPLAKE_MLFLOW_TRACKING_URI=https://…``); ``none`` turns tracking off.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from shoplake.paths import Zone, dataset_path

log = logging.getLogger(__name__)

#: registered-model alias that follows ``current.json``
CHAMPION_ALIAS = "champion"


def tracking_uri(configured: str, lake_root: str) -> str | None:
    """The tracking URI to use, or ``None`` when tracking is off.

    Raises:
        ValueError: no URI configured and the lake is remote (SQLite needs a local file).
    """
    if configured.lower() == "none":
        return None
    if configured:
        return configured
    if "://" in lake_root and not lake_root.startswith("file://"):
        raise ValueError("a remote lake needs SHOPLAKE_MLFLOW_TRACKING_URI (a tracking server), or 'none'")
    root = Path(dataset_path(lake_root.removeprefix("file://"), Zone.MODEL, "mlflow"))
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root}/mlflow.db"


def experiment_name(registered_model: str) -> str:
    """One experiment per model, named after it (``shoplake-<model>``)."""
    return f"shoplake-{registered_model.replace('_', '-')}"


def local_artifact_root(uri: str) -> str | None:
    """Artifact root of a local SQLite store (``<store dir>/artifacts``, a ``file://`` URI); ``None`` otherwise."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()


def prepare_local_store(uri: str) -> None:
    """Create (or upgrade) a local SQLite store with its artifact root in the lake, ``Default`` experiment included.

    MLflow creates the ``Default`` experiment (id 0) with the current working directory's ``mlruns`` as its
    artifact location; an Airflow task runs in a temporary directory that is deleted afterwards, so the MLflow UI
    opened on a Default experiment whose artifacts pointed nowhere. The store is created here with the lake's
    artifact root, and a Default experiment left pointing outside it by an older store is moved under it.
    """
    root = local_artifact_root(uri)
    if root is None:
        return
    from mlflow.store.tracking.dbmodels.models import SqlExperiment
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, root)
    with store.ManagedSessionMaker(read_only=False) as session:
        default = session.query(SqlExperiment).filter(SqlExperiment.experiment_id == 0).one_or_none()
        if default is not None and not str(default.artifact_location).startswith(root):
            log.info("mlflow: Default experiment's artifacts %s → %s/0", default.artifact_location, root)
            default.artifact_location = f"{root}/0"


def _experiment_id(mlflow: Any, name: str, uri: str) -> str:
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = local_artifact_root(uri)  # keep artifacts beside the local store, not in the working directory
    return mlflow.create_experiment(name, artifact_location=f"{root}/{name}" if root else None)


def set_champion(uri: str, registered_model: str, version: str) -> None:
    """Point the registered model's ``champion`` alias at ``version`` (after a promotion)."""
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=uri).set_registered_model_alias(registered_model, CHAMPION_ALIAS, version)


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numbers of a nested metrics dict as MLflow metric names (``held_out.f1_weighted`` → ``held_out_f1_weighted``)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_metrics(value, f"{name}_"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def track_version(
    mlflow_uri: str,
    lake_root: str,
    *,
    model_name: str,
    ds: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    artifacts_dir: Path,
    model_source: str = "",
    booster: Any = None,
    tags: dict[str, str] | None = None,
    experiment: str = "",
) -> dict[str, str]:
    """Track one training run of ``model_name`` — params, flattened metrics, every file of ``artifacts_dir`` — and
    register a new version of it; ``{}`` when tracking is off.

    Every model is tracked the same way: the experiment is the model's own (:func:`experiment_name`) unless named,
    the run is ``<model>-<ds>``; an XGBoost ``booster`` is logged with MLflow's xgboost flavour; any other model (the
    sentiment head, a Spark ``PipelineModel``) is registered with ``model_source`` — its version directory in the
    lake — as the version's source, so the weights are not copied again.

    Returns ``{"run_id", "model_version", "tracking_uri"}`` (small: for XCom). The ``champion`` alias moves
    separately (:func:`set_champion`), after the lake's ``current.json``.
    """
    uri = tracking_uri(mlflow_uri, lake_root)
    if uri is None:
        return {}
    if booster is None and not model_source:
        raise ValueError("track_version needs a booster or the model's model_source")
    import mlflow
    from mlflow import MlflowClient

    if booster is not None:
        import mlflow.xgboost

    prepare_local_store(uri)
    mlflow.set_tracking_uri(uri)
    exp_id = _experiment_id(mlflow, experiment or experiment_name(model_name), uri)
    tags = {"ds": ds, **(tags or {})}
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{model_name}-{ds}", tags=tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(flat_metrics(metrics))
        mlflow.log_artifacts(str(artifacts_dir), artifact_path="version")
        if booster is not None:
            info = mlflow.xgboost.log_model(booster, name="model", registered_model_name=model_name)
            version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri=uri)
    if booster is None:
        try:
            client.create_registered_model(model_name)
        except Exception as exc:  # already registered (MLflow raises RESOURCE_ALREADY_EXISTS)
            if "RESOURCE_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                raise
        version = str(client.create_model_version(model_name, model_source, run_id=run.info.run_id).version)
    client.set_model_version_tag(model_name, version, "ds", ds)
    log.info("mlflow run %s → %s v%s (%s)", run.info.run_id, model_name, version, uri)
    return {"run_id": run.info.run_id, "model_version": version, "tracking_uri": uri}
