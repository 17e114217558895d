"""The publish step: copy a model's champion to a configurable bucket through Airflow's object storage.

``SHOPLAKE_PUBLISH_URI`` (``gs://bucket/prefix``, ``s3://…``) names the destination and ``SHOPLAKE_PUBLISH_CONN_ID``
the connection holding its credentials (``google_cloud_default`` by default; an ``aws`` connection for S3) — the
destination is usually another project's bucket, not the lake's. ``ObjectStoragePath`` opens it with that
connection (the google / amazon provider's filesystem), and ``shoplake.ml.registry.copy_champion`` copies the
version, then the pointer.
"""

from __future__ import annotations

from typing import Any

from shoplake_airflow.settings import settings


def publish_copy(*, task_id: str = "publish_copy", **task_kwargs: Any) -> Any:
    """A task taking a model check's result (``{"model", ...}``) and copying that model's champion to
    ``SHOPLAKE_PUBLISH_URI``; it skips, with the reason, when no destination is configured."""
    from airflow.sdk import task

    @task(task_id=task_id, **task_kwargs)
    def publish(checked: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk import ObjectStoragePath
        from airflow.sdk.exceptions import AirflowSkipException

        from shoplake.ml.registry import copy_champion
        from shoplake_airflow.context import fail_without_retry

        cfg = settings()
        if not cfg.publish_uri:
            raise AirflowSkipException(
                "SHOPLAKE_PUBLISH_URI is not set: no bucket to copy the champion to (set it, and "
                "SHOPLAKE_PUBLISH_CONN_ID to the connection with that bucket's credentials, then clear this task)"
            )
        target = ObjectStoragePath(cfg.publish_uri, conn_id=cfg.publish_conn_id or None)
        with fail_without_retry(FileNotFoundError):
            result = copy_champion(cfg.lake_root, checked["model"], target.fs, target.path)
        uri = f"{cfg.publish_uri.rstrip('/')}/{checked['model']}"
        return {**result, "path": f"{uri}/{result['relative']}", "pointer": f"{uri}/current.json"}

    return publish
