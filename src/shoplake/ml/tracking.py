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


def _experiment_id(mlflow: Any, name: str, uri: str) -> str:
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifacts = None
    if uri.startswith("sqlite:///"):  # keep artifacts beside the local store, not in the working directory
        artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return mlflow.create_experiment(name, artifact_location=artifacts)


def log_training_run(
    uri: str,
    *,
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifacts_dir: Path,
    booster: Any,
    registered_model: str,
    tags: dict[str, str],
) -> dict[str, str]:
    """One MLflow run: params, metrics, every file of the version, the booster as a registered model version.

    Returns ``{"run_id", "model_version", "tracking_uri"}`` (small: for XCom). The ``champion`` alias moves
    separately (:func:`set_champion`), after the lake's ``current.json``.
    """
    import mlflow
    import mlflow.xgboost
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    exp_id = _experiment_id(mlflow, experiment, uri)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(artifacts_dir), artifact_path="version")
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name=registered_model)
    version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri=uri)
    client.set_model_version_tag(registered_model, version, "ds", tags.get("ds", ""))
    log.info("mlflow run %s → %s v%s (%s)", run.info.run_id, registered_model, version, uri)
    return {"run_id": run.info.run_id, "model_version": version, "tracking_uri": uri}


def set_champion(uri: str, registered_model: str, version: str) -> None:
    """Point the registered model's ``champion`` alias at ``version`` (after a promotion)."""
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=uri).set_registered_model_alias(registered_model, CHAMPION_ALIAS, version)
