"""The hostname a worker records on the task instances it runs (``[core] hostname_callable``).

Two Celery workers of the native cluster (``make cluster``) share one machine; each one's environment names it
(``SHOPLAKE_WORKER_HOSTNAME``), so the task instances say which worker ran them, as they do on separate hosts. Where
the variable is unset this is Airflow's own answer, the machine's fully qualified name.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """``SHOPLAKE_WORKER_HOSTNAME``, else ``socket.getfqdn()``."""
    return os.environ.get("SHOPLAKE_WORKER_HOSTNAME") or socket.getfqdn()
