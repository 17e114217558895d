"""Airflow's log server for a worker or the triggerer, on one interface (the native cluster's; ``127.0.0.1``).

Airflow 3.3's own (``airflow celery worker`` / ``airflow triggerer`` start it unless ``--skip-serve-logs``) listens
on every interface and has no setting for it; the native cluster starts its workers and triggerer with
``--skip-serve-logs`` and runs this beside each one: the same application (``airflow.utils.serve_logs.log_server``,
which checks the API's signed tokens and serves the log folder), bound where the cluster says.

    python scripts/log_server.py --host 127.0.0.1 --port 8793
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="the interface to listen on")
    p.add_argument("--port", type=int, required=True, help="the log server's port (a worker's or the triggerer's)")
    a = p.parse_args(argv)
    import uvicorn
    from setproctitle import setproctitle

    setproctitle(f"airflow serve-logs {a.host}:{a.port}")
    uvicorn.run("airflow.utils.serve_logs.log_server:get_app", factory=True, host=a.host, port=a.port,
                log_config=None, access_log=False)  # fmt: skip


if __name__ == "__main__":
    main()
