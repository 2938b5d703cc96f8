"""A real local Ray cluster for the tests: ``ray start --head`` plus worker-node processes on 127.0.0.1.

Each node is its own ``ray start --block`` process in its own session (process group); stopping sends
SIGTERM then SIGKILL to those groups, then kills by PID anything still carrying this cluster's GCS
address or temp dir (Ray's workers re-parent), so nothing of this cluster is left running. Never
``ray stop`` (it would stop every Ray on the machine). Resources are kept small: one CPU and a 200 MB
object store per node.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.net import free_port

OBJECT_STORE_BYTES = 200 * 1024 * 1024


def ray_executable() -> str:
    path = Path(sys.executable).with_name("ray")
    if not path.exists():
        raise RuntimeError(f"{path} not found: install the extra with pip install -e '.[ray]' (make test does)")
    return str(path)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_DISABLE_DOCKER_CPU_WARNING="1", OMP_NUM_THREADS="1",
               RAY_ENABLE_UV_RUN_RUNTIME_ENV="0", RAY_AUTH_MODE="disabled")  # loopback test cluster: no tokens
    return env


@dataclass
class RayCluster:
    workers: int = 1
    port: int = field(default_factory=free_port)
    temp_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="rayt", dir="/tmp"))
    processes: list[subprocess.Popen] = field(default_factory=list)
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="ray-", suffix=".log")[1]))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen([ray_executable(), "start", *args, "--block"], env=_environment(),
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def _node_args(self) -> list[str]:
        return ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0",
                f"--object-store-memory={OBJECT_STORE_BYTES}", "--disable-usage-stats"]

    def start(self, timeout: float = 120.0) -> None:
        self._spawn(["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp_dir}",
                     *self._node_args()])
        self._wait_port(timeout)
        for _ in range(self.workers):
            self._spawn([f"--address={self.address}", *self._node_args()])

    def _wait_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"ray start exited with {process.returncode}: {self.log_tail()}")
            with socket.socket() as sock:
                sock.settimeout(1.0)
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the Ray head did not listen on {self.address} within {timeout:.0f} s: {self.log_tail()}")

    def wait_nodes(self, nodes_alive, timeout: float = 120.0) -> None:
        """``nodes_alive()`` (a connected driver's count) reaches head + workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if nodes_alive() >= 1 + self.workers:
                return
            time.sleep(0.5)
        raise RuntimeError(f"Ray nodes did not all join within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def leftovers(self) -> list[int]:
        """PIDs of processes that still belong to this cluster (its process groups, GCS address or temp dir)."""
        groups = {p.pid for p in self.processes}
        marks = (self.temp_dir.encode(), f"127.0.0.1:{self.port}".encode())
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                pgid = os.getpgid(int(entry.name))
            except (OSError, ProcessLookupError):
                continue
            if pgid in groups or any(mark in cmdline for mark in marks):
                found.append(int(entry.name))
        return found

    def stop(self) -> None:
        for process in reversed(self.processes):
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20.0
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        for _ in range(50):
            left = self.leftovers()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
