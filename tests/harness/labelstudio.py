"""A real Label Studio 1.23 server for tests, started on 127.0.0.1 and stopped by its own PID.

API (used by ``tests/e2e`` and the reliability fault tests)::

    from tests.harness.labelstudio import start_label_studio

    ls = start_label_studio(files_root=Path("/tmp/files"))   # LabelStudioServer
    ls.url            # "http://127.0.0.1:<port>"
    ls.token          # legacy API token (Authorization: Token ...) of the admin user
    ls.username, ls.password
    ls.files_root     # LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT of the server
    ls.api("POST", "/api/projects", json={...})   # httpx.Response, authenticated
    ls.stop()         # SIGTERM, then SIGKILL, by PID; data dir removed
    ls.restart()      # stop + start again on the same port and data dir ("LS down and back")

    start_label_studio(files_root, env={"fflag_...": "true"})        # extra environment (feature flags)
    start_label_studio(files_root, database=pg.create_database())    # Label Studio on PostgreSQL

The Python running Label Studio is ``$LABELSIEVE_LS_PYTHON`` (``make test`` sets it), else
``.venv-ls/bin/python``; if neither has label_studio, :class:`LabelStudioNotInstalled` says how to
install it (``make install-ls``). Environment = reference §4.1: legacy tokens on, both SSRF
switches off (the backend lives on loopback), local-files serving on, no version check, no analytics and
empty Sentry DSNs (no request leaves the machine).

Start-up: the first start migrates a fresh data directory (~30 s) into ``.cache/ls-template``
(gitignored); later starts copy that template (~4 s). A pytest session should start ONE server
(session-scoped fixture ``label_studio`` in ``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.harness.net import free_port

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / ".cache" / "ls-template"
USERNAME = "admin@example.com"
PASSWORD = "Secret12345"
TOKEN = "labelsievelegacytoken0123456789"


class LabelStudioNotInstalled(RuntimeError):
    pass


def ls_python() -> str:
    candidates = [os.environ.get("LABELSIEVE_LS_PYTHON"), str(REPO / ".venv-ls" / "bin" / "python")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import label_studio"], capture_output=True)
            if probe.returncode == 0:
                return candidate
    raise LabelStudioNotInstalled(
        "Label Studio is not installed: run `make install-ls` (creates .venv-ls with label-studio==1.23.2) "
        "or point LABELSIEVE_LS_PYTHON at a Python that has it"
    )


def postgres_environment(database_url: str) -> dict[str, str]:
    """Label Studio's own database settings (``DJANGO_DB=default`` + ``POSTGRE_*``) for a
    ``postgresql+psycopg://user@host:port/name`` URL (the test PostgreSQL server's)."""
    url = urlsplit(database_url)
    return {"DJANGO_DB": "default", "POSTGRE_NAME": url.path.lstrip("/"), "POSTGRE_USER": url.username or "",
            "POSTGRE_PASSWORD": url.password or "", "POSTGRE_HOST": url.hostname or "127.0.0.1",
            "POSTGRE_PORT": str(url.port or 5432)}


def _environment(data_dir: Path, files_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": USERNAME, "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": TOKEN, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_ML_BLOCK_LOCAL_IP": "false", "LABEL_STUDIO_SSRF_PROTECTION_ENABLED": "false",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files_root),
        "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",  # Label Studio's default DSNs would report errors outside
        "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
    })
    return env


@dataclass
class LabelStudioServer:
    data_dir: Path
    files_root: Path
    port: int
    python: str
    extra_env: dict[str, str] = field(default_factory=dict)
    username: str = USERNAME
    password: str = PASSWORD
    token: str = TOKEN
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="ls-", suffix=".log")[1]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=kwargs.pop("timeout", 60.0), **kwargs)

    def start(self, timeout: float = 120.0) -> None:
        cmd = [self.python, "-m", "label_studio.server", "start", "--internal-host", "127.0.0.1",
               "--port", str(self.port), "--no-browser"]
        with open(self.log_path, "ab") as log:
            env = {**_environment(self.data_dir, self.files_root), **self.extra_env}
            self.process = subprocess.Popen(cmd, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Label Studio exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/health/", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            self.stop(remove=False)
            raise RuntimeError(f"Label Studio did not answer on {self.url} within {timeout:.0f} s: {self.log_tail()}")
        version = self.api("GET", "/api/version/")
        if version.status_code != 200:  # another server on our port, or the token was not set
            raise RuntimeError(f"Label Studio on {self.url} refused the test token: HTTP {version.status_code}")

    def create_user(self, email: str) -> str:
        """A second annotator in the admin's organization; returns its legacy API token (made by Label Studio's
        own Django code in a separate process against the server's database)."""
        code = (
            "import os, sys; import label_studio; sys.path.insert(0, os.path.dirname(label_studio.__file__)); "
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'label_studio.core.settings.label_studio'); "
            "import django; django.setup(); from users.models import User; "
            "from organizations.models import Organization; from rest_framework.authtoken.models import Token; "
            f"user, _ = User.objects.get_or_create(email={email!r}, defaults={{'username': {email!r}}}); "
            "org = Organization.objects.order_by('id').first(); org.add_user(user); "
            "user.active_organization = org; user.save(); print(Token.objects.get(user=user).key)"
        )
        env = {**_environment(self.data_dir, self.files_root), **self.extra_env}
        done = subprocess.run([self.python, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"could not create user {email}: {done.stderr[-2000:]}")
        return done.stdout.strip().splitlines()[-1]

    def api_as(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``api`` with another user's token."""
        return self.api(method, path, headers={"Authorization": f"Token {token}"}, **kwargs)

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def stop(self, *, remove: bool = True) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        if remove:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self) -> None:
        self.stop(remove=False)
        self.start()


def _build_template(python: str) -> None:
    """Start Label Studio once on a fresh data dir (migrations + admin user), then keep the dir."""
    building = Path(tempfile.mkdtemp(prefix="ls-template-"))
    files = Path(tempfile.mkdtemp(prefix="ls-files-"))
    server = LabelStudioServer(data_dir=building, files_root=files, port=free_port(), python=python)
    try:
        server.start(timeout=300.0)
    finally:
        server.stop(remove=False)
        server.log_path.unlink(missing_ok=True)
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    if not TEMPLATE.exists():
        shutil.move(str(building), TEMPLATE)
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(files, ignore_errors=True)


def ensure_template() -> None:
    """The migrated template data dir, built once per checkout (``.cache/ls-template``); test workers running
    at once (pytest-xdist) wait for each other on a lock file, so one builds it and the others copy it."""
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with open(TEMPLATE.parent / "ls-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (TEMPLATE / "label_studio.sqlite3").exists():
                _build_template(ls_python())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start_label_studio(files_root: Path, *, timeout: float = 120.0, env: dict[str, str] | None = None,
                       database: str | None = None) -> LabelStudioServer:
    """A running Label Studio on a free loopback port with a copy of the migrated template data dir.

    ``env`` adds environment variables (e.g. feature flags, which Label Studio reads from variables of the
    flag's name). ``database`` (a PostgreSQL URL, e.g. ``PostgresServer.create_database()``) puts Label
    Studio's own tables there: an empty database is migrated on the first start (a minute on 2 cores)."""
    python = ls_python()
    extra = dict(env or {})
    data_dir = Path(tempfile.mkdtemp(prefix="ls-data-"))
    if database is None:
        ensure_template()
        shutil.copytree(TEMPLATE, data_dir, dirs_exist_ok=True)
    else:
        extra.update(postgres_environment(database))
        timeout = max(timeout, 400.0)
    files_root.mkdir(parents=True, exist_ok=True)
    server = LabelStudioServer(data_dir=data_dir, files_root=files_root, port=free_port(), python=python,
                               extra_env=extra)
    server.start(timeout=timeout)
    return server


if __name__ == "__main__":  # smoke: python -m tests.harness.labelstudio
    started = time.perf_counter()
    srv = start_label_studio(Path(tempfile.mkdtemp()))
    release = srv.api("GET", "/api/version/").json().get("release")
    print(srv.url, f"up in {time.perf_counter() - started:.1f} s", release)
    srv.stop()
    sys.exit(0)
