"""A real ``labelsieve serve`` in a subprocess on 127.0.0.1: start, wait, SIGKILL or stop, by its own PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.harness.net import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


def labelsieve_bin() -> str:
    found = Path(sys.executable).with_name("labelsieve")
    return str(found if found.exists() else ROOT / ".venv/bin/labelsieve")


class ServerProcess:
    """One server on a data dir and database; ``restart`` keeps both (crash-recovery tests)."""

    def __init__(self, data_dir: Path, database_url: str, **env: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.env = env
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(os.environ, LABELSIEVE_DATA_DIR=str(self.data_dir), LABELSIEVE_DATABASE_URL=self.database_url,
                   LABELSIEVE_LOG_LEVEL="WARNING", LABELSIEVE_TORCH_THREADS="1", OMP_NUM_THREADS="1",
                   LABEL_STUDIO_URL="", LABEL_STUDIO_API_KEY="")
        env.update(self.env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen([labelsieve_bin(), "serve", "--port", str(self.port)], env=env,
                                        stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir)
        log.close()
        if not wait_http(f"{self.url}/health", timeout):
            self.stop()
            raise RuntimeError(f"labelsieve did not start: {self.log_path.read_text()[-3000:]}")
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (a crash, an OOM kill, a pulled plug of the process)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def metric(self, name: str) -> float:
        """Sum of one Prometheus series over all its labels."""
        body = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith(name) and not line.startswith("#"))

    def wait_drained(self, project_id: int, timeout: float) -> bool:
        """True once the inbox is empty and every stored annotation went into a retrain."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                queue = httpx.get(f"{self.url}/health", timeout=10).json()["queue_length"]
                status = httpx.get(f"{self.url}/projects/{project_id}", timeout=10).json()
                if queue == 0 and status["annotations_since_train"] == 0:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False


def db_counts(database_url: str, project_id: int) -> dict[str, Any]:
    """What the database really holds, read behind the server's back."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            def one(sql: str) -> int:
                return int(conn.execute(text(sql), {"p": project_id}).scalar() or 0)

            return {
                "annotations": one("SELECT count(*) FROM annotation WHERE project_id = :p"),
                "events": one("SELECT count(*) FROM webhookevent WHERE project_id = :p"),
                "pending": one("SELECT count(*) FROM webhookevent WHERE project_id = :p AND processed_at IS NULL"),
                "ready_versions": one("SELECT count(*) FROM modelversion WHERE project_id = :p AND status = 'ready'"),
                "annotation_ids": {int(r[0]) for r in conn.execute(
                    text("SELECT id FROM annotation WHERE project_id = :p"), {"p": project_id})},
            }
    finally:
        engine.dispose()
