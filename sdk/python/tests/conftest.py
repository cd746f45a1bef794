"""Fixtures: the SDK built and installed the way users install it, and a real `modelbox server start` process.

The package is installed with ``pip install --no-build-isolation --target`` into a temporary folder (which runs the
build-time stub generation), and that folder goes first on sys.path. The server is the built executable
(``$MODELBOX_DLL``, else ``src/ModelBox/bin/Release/net10.0/modelbox.dll``) on free loopback ports with a temporary
data folder (embedded SQLite, filesystem blobs).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SDK = os.path.join(REPO, "sdk", "python")
_INSTALL = tempfile.mkdtemp(prefix="modelbox-sdk-")
subprocess.run(
    [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps", "--no-index",
     "--target", _INSTALL, SDK],
    check=True, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"},
)
sys.path.insert(0, _INSTALL)
INSTALL_DIR = _INSTALL

import modelbox  # noqa: E402

assert os.path.dirname(modelbox.__file__) == os.path.join(_INSTALL, "modelbox"), modelbox.__file__


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A `modelbox server start` child process that can be stopped and started again on the same port and data."""

    def __init__(self, data_dir: str) -> None:
        self.dll = os.environ.get("MODELBOX_DLL") or os.path.join(REPO, "src", "ModelBox", "bin", "Release", "net10.0", "modelbox.dll")
        if not os.path.isfile(self.dll):
            raise RuntimeError(f"the modelbox server was not built at {self.dll}; run `dotnet build -c Release src/ModelBox` or set MODELBOX_DLL")
        self.data_dir = data_dir
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBOX_")}
        self.env.update({
            "MODELBOX_LISTEN_ADDR": self.address,
            "MODELBOX_HTTP_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
            "MODELBOX_PROMETHEUS_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
            "MODELBOX_DATA_DIR": data_dir,
            "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
        })
        self.log_path = os.path.join(data_dir, "server.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(["dotnet", self.dll, "server", "start"], env=self.env, cwd=self.data_dir,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = modelbox.Client(self.address, retries=0, timeout=2)
        try:
            deadline = time.monotonic() + 90
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.output()}")
                try:
                    client.server_info()
                    return
                except modelbox.Unauthenticated:
                    return  # it answers; access control is enforced
                except (modelbox.Unavailable, modelbox.DeadlineExceeded):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the server did not answer within 90 s:\n{self.output()}") from None
                    time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def output(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def errors_logged(self) -> list[str]:
        return [line for line in self.output().splitlines() if " fail: " in line or " crit: " in line]


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="modelbox-pytest-server-") as data:
        process = ServerProcess(data)
        process.start()
        yield process
        process.stop()
        assert process.errors_logged() == [], "the server logged errors"


@pytest.fixture()
def private_server() -> Iterator[ServerProcess]:
    """A server of the test's own, for tests that stop and restart it."""
    with tempfile.TemporaryDirectory(prefix="modelbox-pytest-private-") as data:
        process = ServerProcess(data)
        process.start()
        yield process
        process.stop()


@pytest.fixture()
def client(server: ServerProcess) -> Iterator[modelbox.Client]:
    with modelbox.Client(server.address) as c:
        yield c


@pytest.fixture()
def namespace() -> str:
    return "py-" + uuid.uuid4().hex[:10]


@pytest.fixture()
def journal_root(tmp_path: object) -> str:
    return str(tmp_path)
