"""A real PostgreSQL server for the tests: initdb into a temp dir, start on 127.0.0.1, stop by PID.

Debian's server binaries live in /usr/lib/postgresql/<ver>/bin (``make test`` installs them when
missing). PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.harness.net import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL binary {name!r} not found (run scripts/ensure-postgres.sh)")
    return path


@dataclass
class PostgresServer:
    root: Path
    port: int
    process: subprocess.Popen
    user: str

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)  # fast shutdown, by the server's own PID
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(timeout: float = 60.0, *, fsync: bool = False) -> PostgresServer:
    """``fsync=False`` (tests): fast and not crash-safe; True (benchmarks of durable commits): the server's default."""
    root = Path(tempfile.mkdtemp(prefix="labelsieve-pg-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    preexec = None
    if as_root:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)

        def preexec() -> None:  # type: ignore[no-redef]
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)

    subprocess.run([_bin("initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, preexec_fn=preexec, cwd=root)
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [_bin("postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(root),
         "-c", f"fsync={'on' if fsync else 'off'}", "-c", "max_connections=200"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec, cwd=root,
    )
    server = PostgresServer(root=root, port=port, process=process, user=user)
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            with psycopg.connect(f"host=127.0.0.1 port={port} user={user} dbname=postgres", connect_timeout=2):
                return server
        except psycopg.OperationalError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("postgres did not start in time")
