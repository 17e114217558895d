"""The production topology, natively on 127.0.0.1: what docker-compose.yaml deploys, as local processes.

    python scripts/cluster.py up        # or `make cluster`
    eval "$(python scripts/cluster.py env)"; airflow backfill create --dag-id steam_reviews_daily ...
    python scripts/cluster.py status    # every service's process, the scheduler's heartbeat (exit 1 if any is off)
    python scripts/cluster.py down      # or `make cluster-down`

Postgres (the metadata DB and Celery's result backend), Redis (the Celery broker), the embedded Mongo, and Airflow's
API server, scheduler, DAG processor, triggerer, a Celery worker for the ``default`` queue and one for the ``gpu``
queue, each worker's log server and the triggerer's. The Airflow settings every deployment shares come from
``deploy/airflow.env``, the file compose reads too (Redis's from ``deploy/redis.conf``, likewise); this script adds
only what is this deployment's own: hosts, ports, folders and secrets.

Every Airflow service runs under its own supervisor (``cluster.py supervise <service>``, started detached), as
compose's ``restart: unless-stopped`` does: a service that exits — the scheduler losing Postgres, a worker killed —
is started again after 1, 2, 4 … 30 s (1 s again once it ran a minute), and whatever it left in its process group
is killed first. ``up`` waits for each service it started to say it is ready *after* it started (a heartbeat newer
than the start, a "ready" line past the log's old end, a listening port); ``down`` stops the supervisors, then kills
every process still carrying this cluster's mark in its environment (``SHOPLAKE_CLUSTER_ID``: task processes,
Spark JVMs and their Python workers included). Nothing listens beyond 127.0.0.1; the log servers' interface is
``SHOPLAKE_CLUSTER_LOG_HOST``. Postgres and Redis run as daemons, not supervised: ``up`` starts whichever is down.

Everything lives under one folder (``SHOPLAKE_CLUSTER_DIR``, default ``.cluster/``): Postgres's data, Redis's,
Mongo's, Airflow's home, logs, pid files (``<service>.pid`` the supervisor, ``<service>.child`` the service) and the
generated secrets (``secrets.json``: the admin password is there).

Ports, each an environment variable: ``SHOPLAKE_CLUSTER_PG_PORT`` (5433), ``SHOPLAKE_CLUSTER_REDIS_PORT`` (6380),
``AIRFLOW__API__PORT`` (8080), ``SHOPLAKE_MONGO_PORT`` (27018), ``SHOPLAKE_CLUSTER_LOG_PORTS`` (8793,8794,8795:
the default worker's, the gpu worker's and the triggerer's log servers). ``GPU_SLOTS`` sizes the ``gpu`` pool (1
without a GPU) and ``SHOPLAKE_CLUSTER_GPU_CONCURRENCY`` the gpu worker (default: the pool's slots).

Postgres refuses to run as root: as root it runs as the ``postgres`` user of Debian's package (its data folder is
that user's); as anyone else it runs as that user. Postgres and Redis come from apt (``make cluster-deps``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deployment import airflow_settings  # sibling scripts: scripts/ is on sys.path

from shoplake.process import alive, find_processes, stop_processes

log = logging.getLogger("shoplake.cluster")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: the Airflow services, in start order: name → command after ``airflow``
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "worker-default", "worker-gpu", "logs-default",
            "logs-gpu", "logs-triggerer")  # fmt: skip
#: the log servers: service → index of its port in ``log_ports``
LOG_SERVERS = {"logs-default": 0, "logs-gpu": 1, "logs-triggerer": 2}
#: the environment variable marking every process of one cluster (its folder): ``down`` kills what carries it
CLUSTER_ID_ENV = "SHOPLAKE_CLUSTER_ID"
#: a supervised service that exits is started again after 1, 2, 4 … 30 s; one that ran STABLE_S or longer after 1 s
BACKOFF_S = (1.0, 30.0)
STABLE_S = 60.0
#: how long a stopping service may take before its process group is SIGKILLed
STOP_TIMEOUT_S = 20.0
#: the broker's settings, shared with docker-compose.yaml
REDIS_CONF = ROOT / "deploy" / "redis.conf"
WORKER_HOSTNAME_CALLABLE = "shoplake_airflow.hostname.worker_hostname"


@dataclass
class Cluster:
    """One native deployment: its folder, ports and sizes (all from the environment, with defaults)."""

    dir: Path
    pg_port: int = 5433
    redis_port: int = 6380
    api_port: int = 8080
    mongo_port: int = 27018
    log_ports: tuple[int, int, int] = (8793, 8794, 8795)
    log_host: str = "127.0.0.1"
    gpu_slots: int = 1
    gpu_concurrency: int = 0
    default_concurrency: int = 2
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Cluster:
        env = dict(os.environ if env is None else env)

        def port(name: str, default: int) -> int:
            return int(env.get(name) or default)

        logs = tuple(int(p) for p in (env.get("SHOPLAKE_CLUSTER_LOG_PORTS") or "8793,8794,8795").split(","))
        if len(logs) != 3:
            raise ValueError("SHOPLAKE_CLUSTER_LOG_PORTS names three ports: default worker, gpu worker, triggerer")
        slots = port("GPU_SLOTS", 1)
        return cls(
            dir=Path(env.get("SHOPLAKE_CLUSTER_DIR") or ROOT / ".cluster").resolve(),
            pg_port=port("SHOPLAKE_CLUSTER_PG_PORT", 5433),
            redis_port=port("SHOPLAKE_CLUSTER_REDIS_PORT", 6380),
            api_port=port("AIRFLOW__API__PORT", 8080),
            mongo_port=port("SHOPLAKE_MONGO_PORT", 27018),
            log_ports=logs,  # type: ignore[arg-type]
            log_host=env.get("SHOPLAKE_CLUSTER_LOG_HOST") or "127.0.0.1",
            gpu_slots=slots,
            gpu_concurrency=port("SHOPLAKE_CLUSTER_GPU_CONCURRENCY", slots),
            default_concurrency=port("SHOPLAKE_CLUSTER_DEFAULT_CONCURRENCY", 2),
            env=env,
        )

    # ---- folders and secrets ----------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.dir / "airflow"

    @property
    def pgdata(self) -> Path:
        return self.dir / "postgres"

    def path(self, *parts: str) -> Path:
        p = self.dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def secrets(self) -> dict[str, str]:
        """The deployment's secrets, generated once into ``secrets.json`` (mode 600)."""
        f = self.path("secrets.json")
        if f.exists():
            return json.loads(f.read_text())
        values = {
            "postgres_password": secrets.token_hex(16),
            "jwt_secret": secrets.token_hex(32),
            "api_secret_key": secrets.token_hex(32),
            "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "admin_password": self.env.get("AIRFLOW_ADMIN_PASSWORD") or secrets.token_urlsafe(12),
        }
        f.touch(mode=0o600)
        f.write_text(json.dumps(values, indent=2))
        return values

    # ---- the environment of every Airflow process -------------------------------------------------------------
    def airflow_env(self) -> dict[str, str]:
        """The environment of every Airflow process: the caller's, then this deployment's own settings (hosts,
        ports, folders, secrets), then the shared Airflow settings (``deployment.airflow_settings``:
        ``deploy/airflow.env``, the API's host and port and the execution API URL derived from them), which win."""
        s = self.secrets()
        db = f"airflow:{s['postgres_password']}@127.0.0.1:{self.pg_port}/airflow"
        own = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__API_AUTH__JWT_SECRET": s["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": s["api_secret_key"],
            "AIRFLOW__CORE__FERNET_KEY": s["fernet_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_ports[2]),
            "PATH": f"{BIN}{os.pathsep}{self.env.get('PATH', '')}",
            CLUSTER_ID_ENV: str(self.dir),
        }
        defaults = {  # the caller's environment may point these elsewhere
            "AIRFLOW_CONN_MONGO_DEFAULT": f"mongo://127.0.0.1:{self.mongo_port}/shoplake",
            "SHOPLAKE_LAKE_ROOT": str(ROOT / "lake"),
        }
        return {**defaults, **self.env, **own, **airflow_settings("cluster", "127.0.0.1", self.api_port)}

    def worker_env(self, queue: str) -> dict[str, str]:
        """A Celery worker's environment: its own name on the task instances it runs and its log server's port."""
        index = 0 if queue == "default" else 1
        plugins = str(ROOT / "plugins")
        env = self.airflow_env()
        env.update(
            {
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": WORKER_HOSTNAME_CALLABLE,
                "SHOPLAKE_WORKER_HOSTNAME": self.worker_hostname(queue),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_ports[index]),
                "PYTHONPATH": os.pathsep.join(p for p in (plugins, env.get("PYTHONPATH", "")) if p),
            }
        )
        return env

    @staticmethod
    def worker_hostname(queue: str) -> str:
        return f"shoplake-worker-{queue}"

    def command(self, service: str) -> list[str]:
        airflow = str(BIN / "airflow")
        if service == "api-server":
            return [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
        if service.startswith("worker-"):
            queue = service.removeprefix("worker-")
            n = self.default_concurrency if queue == "default" else self.gpu_concurrency
            return [airflow, "celery", "worker", "--queues", queue, "--concurrency", str(n),
                    "--celery-hostname", f"{queue}@{self.worker_hostname(queue)}", "--skip-serve-logs"]  # fmt: skip
        if service in LOG_SERVERS:  # Airflow's own log server listens on every interface: ours, on log_host
            port = self.log_ports[LOG_SERVERS[service]]
            server = str(ROOT / "scripts" / "log_server.py")
            return [sys.executable, server, "--host", self.log_host, "--port", str(port)]
        if service == "triggerer":
            return [airflow, "triggerer", "--skip-serve-logs"]
        return [airflow, service]

    # ---- Postgres, Redis, Mongo ----------------------------------------------------------------------------------
    def _pg_bin(self, name: str) -> str:
        found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
        path = found[-1] if found else shutil.which(name)
        if not path:
            raise SystemExit(f"no Postgres {name}: install Postgres (make cluster-deps: apt-get install postgresql)")
        return path

    def _as_pg_user(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:  # Postgres refuses root; Debian's package has the user
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)

    def start_postgres(self) -> None:
        run_dir = self.path("postgres-run", "x").parent
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(parents=True, exist_ok=True)
            pwfile = self.path("postgres-run", "pwfile")
            pwfile.write_text(self.secrets()["postgres_password"] + "\n")
            if os.geteuid() == 0:
                shutil.chown(self.pgdata, "postgres")
                shutil.chown(run_dir, "postgres")
                shutil.chown(pwfile, "postgres")
            self._as_pg_user([self._pg_bin("initdb"), "-D", str(self.pgdata), "-U", "airflow", "--pwfile", str(pwfile),
                              "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8"])  # fmt: skip
            pwfile.unlink()
        elif os.geteuid() == 0:
            shutil.chown(run_dir, "postgres")
        if self.postgres_running():
            return
        logfile = self.path("logs", "postgres.log")
        if os.geteuid() == 0:
            logfile.touch()
            shutil.chown(logfile, "postgres")
        opts = f"-p {self.pg_port} -k {run_dir} -c listen_addresses=127.0.0.1"
        self._as_pg_user(
            [self._pg_bin("pg_ctl"), "-D", str(self.pgdata), "-l", str(logfile), "-o", opts, "-w", "start"]
        )
        env = {**os.environ, "PGPASSWORD": self.secrets()["postgres_password"]}
        exists = subprocess.run(
            [self._pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "airflow", "-d", "postgres",
             "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'airflow'"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        if not exists:
            subprocess.run([self._pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "airflow",
                            "airflow"], env=env, check=True)  # fmt: skip

    def postgres_running(self) -> bool:
        probe = [self._pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.pg_port)]
        return subprocess.run(probe, capture_output=True).returncode == 0

    def stop_postgres(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._as_pg_user([self._pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise SystemExit("no redis-server: install Redis (make cluster-deps: apt-get install redis-server)")
        if self.redis_running():
            return
        subprocess.run([server, *self.redis_args()], check=True)
        _wait(self.redis_running, 20, "redis")

    def redis_args(self) -> list[str]:
        """``redis-server``'s arguments: the broker's settings from ``deploy/redis.conf`` (compose's too), then only
        this deployment's own (port, interface, folder, daemon files)."""
        data = self.path("redis", "x").parent
        return [str(REDIS_CONF), "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(data),
                "--daemonize", "yes", "--pidfile", str(data / "redis.pid"), "--logfile",
                str(self.path("logs", "redis.log"))]  # fmt: skip

    def redis_running(self) -> bool:
        cli = shutil.which("redis-cli")
        probe = [cli or "redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "ping"]
        return bool(cli) and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "PONG"

    def stop_redis(self) -> None:
        _kill_pidfiles([self.dir / "redis" / "redis.pid"])

    def _devserver(self, *args: str) -> None:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "devserver.py"), *args,
                        "--data-dir", str(self.dir / "mongo")], check=True)  # fmt: skip

    # ---- Airflow --------------------------------------------------------------------------------------------------
    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run an ``airflow`` CLI command against this cluster (a failure raises with the command's output)."""
        done = subprocess.run([str(BIN / "airflow"), *args], env=self.airflow_env(), capture_output=True, text=True)
        if check and done.returncode:
            raise SystemExit(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done

    def start_service(self, service: str) -> bool:
        """Start ``service`` under its supervisor (``cluster.py supervise``, detached); ``False`` if it runs already."""
        pidfile = self.path("pids", f"{service}.pid")
        if _alive(pidfile):
            return False
        with open(self.path("logs", f"{service}.log"), "ab") as out:
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "supervise", service],
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=ROOT)  # fmt: skip
        pidfile.write_text(str(proc.pid))
        return True

    def stop_service(self, *services: str) -> None:
        """Stop the services' supervisors, all at once (each stops its service's process group, waiting
        :data:`STOP_TIMEOUT_S`)."""
        _kill_pidfiles([self.dir / "pids" / f"{s}.pid" for s in services], timeout_s=STOP_TIMEOUT_S + 15)

    def service_pid(self, service: str) -> int | None:
        """The running process of ``service`` (not its supervisor's), if any."""
        try:
            pid = int((self.dir / "pids" / f"{service}.child").read_text())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def supervise(self, service: str) -> None:
        """Run ``service`` until SIGTERM, starting it again whenever it exits (the module doc: backoff, cleanup)."""
        from shoplake.process import die_with_parent_preexec

        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        env = self.worker_env(service.removeprefix("worker-")) if service.startswith("worker-") else self.airflow_env()
        child_file, streak = self.path("pids", f"{service}.child"), 0
        while not stopping:
            started = time.monotonic()
            proc = subprocess.Popen(self.command(service), env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=ROOT, preexec_fn=die_with_parent_preexec())  # fmt: skip
            child_file.write_text(str(proc.pid))
            log.info("supervisor: %s started (pid %d)", service, proc.pid)
            while proc.poll() is None and not stopping:
                time.sleep(0.5)
            if stopping:
                stop_processes(groups=[proc.pid], timeout_s=STOP_TIMEOUT_S)
                proc.wait()
                break
            ran = time.monotonic() - started
            stop_processes(groups=[proc.pid], timeout_s=0)  # whatever the service left in its group
            streak, delay = restart_delay(ran, streak)
            log.warning("supervisor: %s exited with %s after %.0f s; starting it again in %.0f s", service,
                        proc.returncode, ran, delay)  # fmt: skip
            deadline = time.monotonic() + delay
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.2)
        child_file.unlink(missing_ok=True)
        log.info("supervisor: %s stopped", service)

    def health(self) -> dict:
        url = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.load(resp)
        except OSError:
            return {}

    def healthy(self, since: float | None = None) -> bool:
        """The API answers and the scheduler, triggerer and DAG processor are healthy (with ``since``, a UNIX time:
        each one's latest heartbeat is newer — a dead one's last heartbeat before a restart does not count)."""
        h = self.health()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        if not h or not all((h.get(p) or {}).get("status") == "healthy" for p in parts):
            return False
        return since is None or all(_heartbeat(h, p) > since for p in parts[1:])

    def worker_ready(self, queue: str, offset: int = 0) -> bool:
        """The worker's "ready" line is in its log past ``offset`` (the log's size when it was started)."""
        f = self.dir / "logs" / f"worker-{queue}.log"
        if not f.exists():
            return False
        with open(f, "rb") as fh:
            fh.seek(offset)
            return f"{queue}@{self.worker_hostname(queue)} ready.".encode() in fh.read()

    def listening(self, service: str) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection((self.log_host, self.log_ports[LOG_SERVERS[service]]), timeout=2),
        ):
            return True
        return False

    # ---- the whole ------------------------------------------------------------------------------------------------
    def up(self, timeout_s: float = 300) -> None:
        log.info("cluster folder %s", self.dir)
        self.start_postgres()
        self.start_redis()
        self._devserver("start", "--port", str(self.mongo_port))
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.secrets()["admin_password"]}))
        self.airflow("db", "migrate")
        self.airflow("pools", "set", self.airflow_env()["SHOPLAKE_GPU_POOL"], str(self.gpu_slots),
                     f"GPU slots: one per GPU of the gpu worker ({self.gpu_slots})")  # fmt: skip
        since = time.time()
        offsets = {s: _size(self.dir / "logs" / f"{s}.log") for s in SERVICES}
        started = {s for s in SERVICES if self.start_service(s)}
        fresh = since if started & {"scheduler", "triggerer", "dag-processor"} else None
        _wait(lambda: self.healthy(fresh), timeout_s, "Airflow's API server, scheduler, DAG processor and triggerer",
              self.dir)  # fmt: skip
        for queue in ("default", "gpu"):
            offset = offsets[f"worker-{queue}"] if f"worker-{queue}" in started else 0
            _wait(lambda q=queue, o=offset: self.worker_ready(q, o), timeout_s, f"the {queue}-queue Celery worker",
                  self.dir)  # fmt: skip
        for service in LOG_SERVERS:
            _wait(lambda s=service: self.listening(s), timeout_s, f"the log server {service}", self.dir)
        log.info(
            "cluster up: UI http://127.0.0.1:%d (admin / %s); Postgres 127.0.0.1:%d, Redis 127.0.0.1:%d, Mongo "
            "127.0.0.1:%d; CLI: eval \"$(python scripts/cluster.py env)\"",
            self.api_port, self.secrets()["admin_password"], self.pg_port, self.redis_port, self.mongo_port,
        )  # fmt: skip

    def down(self) -> None:
        self.stop_service(*SERVICES)
        with contextlib.suppress(subprocess.CalledProcessError):
            self._devserver("stop")
        self.stop_redis()
        self.stop_postgres()
        left = self.sweep()  # after the stores' own clean stops
        if left:
            log.info("killed %d process(es) the services left behind: %s", len(left), left)
        log.info("cluster down (data kept in %s; remove the folder to start afresh)", self.dir)

    def sweep(self) -> list[int]:
        """SIGKILL every process carrying this cluster's mark (:data:`CLUSTER_ID_ENV`) but this one: what a service
        left outside its process group (a task process, spark-submit, its Python workers). Returns their pids."""
        found = find_processes(env=(CLUSTER_ID_ENV, str(self.dir)))
        stop_processes(found, timeout_s=0)
        return found

    def status(self) -> dict[str, bool]:
        """Each service's process (its supervisor's is not enough), Postgres, Redis, and whether the scheduler's
        heartbeat is fresh (``scheduler-heartbeat``: a hung or dead scheduler's is not)."""
        state = {s: _alive(self.dir / "pids" / f"{s}.pid") and self.service_pid(s) is not None for s in SERVICES}
        state["scheduler-heartbeat"] = (self.health().get("scheduler") or {}).get("status") == "healthy"
        state["postgres"] = self.postgres_running()
        state["redis"] = self.redis_running()
        return state

    def shell_env(self) -> str:
        """``export`` lines of every variable the cluster sets (for ``eval`` in a shell: the CLI then talks to it) but
        the cluster's mark: what a user starts from that shell is not the cluster's to kill (:meth:`sweep`)."""
        env = self.airflow_env()
        keys = sorted(k for k, v in env.items() if os.environ.get(k) != v and k != CLUSTER_ID_ENV)
        return "\n".join(f"export {k}={shlex.quote(env[k])}" for k in keys)


def _alive(pidfile: Path) -> bool:
    try:
        return alive(int(pidfile.read_text()))
    except (OSError, ValueError):
        return False


def _kill_pidfiles(pidfiles: list[Path], *, timeout_s: float = 30) -> None:
    """SIGTERM each file's process; SIGKILL those still running after ``timeout_s``; remove the files."""
    pids = []
    for pidfile in pidfiles:
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(pidfile.read_text()))
    stop_processes(pids, timeout_s=timeout_s)
    for pid in pids:
        alive(pid)  # reap those this process started
    for pidfile in pidfiles:
        pidfile.unlink(missing_ok=True)


def restart_delay(ran_s: float, streak: int) -> tuple[int, float]:
    """After a service ran ``ran_s`` seconds and exited: ``(quick exits in a row, seconds before its next start)``
    — 1, 2, 4 … :data:`BACKOFF_S`'s cap for exits in a row, 1 again after a run of :data:`STABLE_S` or longer."""
    streak = 1 if ran_s >= STABLE_S else streak + 1
    return streak, min(BACKOFF_S[0] * 2 ** (streak - 1), BACKOFF_S[1])


def _heartbeat(health: dict, part: str) -> float:
    """The UNIX time of ``part``'s latest heartbeat in the API's health answer (0 when it has none)."""
    from datetime import datetime

    beat = next((v for k, v in (health.get(part) or {}).items() if k.startswith("latest_") and v), None)
    return datetime.fromisoformat(beat).timestamp() if beat else 0.0


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _wait(ready, timeout_s: float, what: str, logs: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            hint = f" (logs in {logs / 'logs'})" if logs else ""
            raise SystemExit(f"{what} not ready after {timeout_s:.0f} s{hint}")
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["up", "down", "status", "env", "supervise"])
    p.add_argument("service", nargs="?", choices=SERVICES, help="supervise: the service to run (started by up)")
    p.add_argument("--json", action="store_true", help="env: the Airflow processes' whole environment as JSON")
    a = p.parse_args(argv)
    cluster = Cluster.from_env()
    if a.action == "up":
        try:
            cluster.up()
        except BaseException:
            log.error("cluster did not come up; stopping what started (logs in %s)", cluster.dir / "logs")
            cluster.down()
            raise
    elif a.action == "down":
        cluster.down()
    elif a.action == "supervise":
        if not a.service:
            p.error("supervise needs the service")
        cluster.supervise(a.service)
    elif a.action == "status":
        state = cluster.status()
        sys.stdout.write(json.dumps(state, indent=2) + "\n")
        return 0 if all(state.values()) else 1
    elif a.json:
        sys.stdout.write(json.dumps(cluster.airflow_env(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(cluster.shell_env() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
