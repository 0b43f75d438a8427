"""Real server processes, for tests that must cross process boundaries and for the benchmarks.

Each server runs in a session of its own, so stopping it also stops any uvicorn workers,
and writes its output to a log file that is shown when it fails to start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_command(port: int, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "pintuan.cli", "serve", "--port", str(port)] + (
        ["--workers", str(workers)] if workers != 1 else []
    )


def clean_env(settings_env: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its PINTUAN_* settings, plus ``settings_env``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PINTUAN_")} | settings_env


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server at {self.url} exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server at {self.url} not ready in {within:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the session (the server and its workers), SIGKILL it if that is ignored.

        The group id is our child's pid, signalled only while the child is unreaped, so no
        unrelated process can be hit.
        """
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_server(
    command: list[str],
    env: dict[str, str],
    port: int,
    log_path: Path,
    within: float = STARTUP_SECONDS,
) -> Server:
    """``command`` (a server listening on ``port``), returned once its /readyz answers 200."""
    server = spawn(command, env, port, log_path)
    try:
        server.wait_ready(within)
    except BaseException:
        server.stop()
        raise
    return server


def spawn(command: list[str], env: dict[str, str], port: int, log_path: Path) -> Server:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(f"http://127.0.0.1:{port}", process, log_path)


@contextmanager
def running_servers(count: int, settings_env: dict[str, str]) -> Iterator[list[str]]:
    """Start ``count`` server processes of the app; yield their base URLs."""
    env = clean_env(settings_env)
    with tempfile.TemporaryDirectory(prefix="pintuan-servers-") as logs, ExitStack() as stack:
        servers = []
        for n in range(count):
            port = free_port()
            servers.append(spawn(serve_command(port), env, port, Path(logs) / f"{n}.log"))
            stack.callback(servers[-1].stop)
        for server in servers:
            server.wait_ready(STARTUP_SECONDS)
        yield [server.url for server in servers]
