"""Benchmark of run.log against a real server (embedded SQLite) on loopback.

1. Overhead of ``run.log`` in a loop: 10 keys per call, p50/p99 of each call's duration.
2. Sustained: 1M points from one process, all committed (timed until ``finish`` returns), beside a raw grpcio loop
   that builds and sends the same batches (10,000 points, 10 keys x 1,000 steps; MODELBOX_BENCH_BATCH_POINTS to change)
   with LogMetricsBatch: the ratio, and the CPU time per point of this process and of the server.
3. Upload and download of one artifact (1 GiB; MODELBOX_BENCH_ARTIFACT_MIB to change) with the Python SDK beside the
   C# SDK (through `modelbox client artifacts upload|download`, whose time includes the .NET process start).

    /usr/bin/python3 sdk/python/bench/bench_log.py      (needs the server built: dotnet build -c Release src/ModelBox)
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from conftest import ServerProcess  # noqa: E402  (installs the SDK into a temporary folder, as the tests do)

import modelbox  # noqa: E402

KEYS = [f"metric_{i}" for i in range(10)]
POINTS = 1_000_000
BATCH_POINTS = int(os.environ.get("MODELBOX_BENCH_BATCH_POINTS", "10000"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU microseconds per point of this process and of the server over a block (the machine is shared, so wall
    time alone does not say which side was the bottleneck)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> "CpuMeter":
        self.client = time.process_time()
        self.server = cpu_seconds(self.server_pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client_us = (time.process_time() - self.client) * 1e6 / POINTS
        self.server_us = (cpu_seconds(self.server_pid) - self.server) * 1e6 / POINTS


def overhead(address: str, journal: str, calls: int = 200_000) -> tuple[float, float]:
    run = modelbox.init(namespace="bench", experiment=f"overhead-{time.time_ns()}", server_addr=address,
                        journal_dir=journal, system_metrics=False)
    values = {k: 0.5 for k in KEYS}
    durations = []
    clock = time.perf_counter_ns
    for step in range(calls):
        start = clock()
        run.log(values, step=step)
        durations.append(clock() - start)
    run.finish()
    durations.sort()
    return durations[len(durations) // 2] / 1000, durations[int(len(durations) * 0.99)] / 1000


def sustained_sdk(address: str, journal: str) -> float:
    run = modelbox.init(namespace="bench", experiment=f"sustained-{time.time_ns()}", server_addr=address,
                        journal_dir=journal, system_metrics=False, batch_points=BATCH_POINTS)
    values = {k: 0.5 for k in KEYS}
    start = time.perf_counter()
    for step in range(POINTS // len(KEYS)):
        run.log(values, step=step)
    run.finish()
    elapsed = time.perf_counter() - start
    assert run.points_sent == POINTS, run.points_sent
    return POINTS / elapsed


def sustained_raw(address: str) -> float:
    with modelbox.Client(address) as client:
        experiment = client.create_experiment(f"raw-{time.time_ns()}", "bench").id
        now = int(time.time())
        start = time.perf_counter()
        steps_per_batch = BATCH_POINTS // len(KEYS)
        for first in range(0, POINTS // len(KEYS), steps_per_batch):
            request = modelbox.pb.LogMetricsBatchRequest()
            for key in KEYS:
                series = request.series.add(parent_id=experiment, key=key).values
                for step in range(first, first + steps_per_batch):
                    series.add(step=step, wallclock_time=now, d_val=0.5)
            written = client.stub.LogMetricsBatch(request, timeout=60).num_points_written
            assert written == BATCH_POINTS
        return POINTS / (time.perf_counter() - start)


def artifacts(server: ServerProcess, folder: str) -> tuple[float, float, float, float]:
    """MiB/s of upload and download: Python SDK, then the C# SDK through the CLI."""
    import subprocess

    mib = int(os.environ.get("MODELBOX_BENCH_ARTIFACT_MIB", "1024"))
    source = os.path.join(folder, "artifact.bin")
    with open(source, "wb") as f:
        block = os.urandom(1024 * 1024)
        for _ in range(mib):
            f.write(block)
    with modelbox.Client(server.address) as client:
        parent = client.create_experiment(f"artifacts-{time.time_ns()}", "bench").id
        start = time.perf_counter()
        record = client.upload_file(parent, source)
        py_up = mib / (time.perf_counter() - start)
        start = time.perf_counter()
        client.download_file(record.id, os.path.join(folder, "py-download.bin"))
        py_down = mib / (time.perf_counter() - start)
        os.remove(os.path.join(folder, "py-download.bin"))

        def cli(*args: str) -> str:
            done = subprocess.run(["dotnet", server.dll, "client", *args, "--server-addr", server.address, "-o", "json"],
                                  capture_output=True, text=True, check=True)
            return done.stdout

        start = time.perf_counter()
        cli("artifacts", "upload", "--parent-id", parent, "--path", source)
        cs_up = mib / (time.perf_counter() - start)
        start = time.perf_counter()
        cli("artifacts", "download", "--id", record.id, "--path", os.path.join(folder, "cs-download.bin"))
        cs_down = mib / (time.perf_counter() - start)
    return py_up, py_down, cs_up, cs_down


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="modelbox-bench-") as data, tempfile.TemporaryDirectory() as journal:
        server = ServerProcess(data)
        server.start()
        try:
            p50, p99 = overhead(server.address, journal)
            pid = server.process.pid  # type: ignore[union-attr]
            with CpuMeter(pid) as raw_cpu:
                raw = sustained_raw(server.address)
            with CpuMeter(pid) as sdk_cpu:
                sdk = sustained_sdk(server.address, journal)
            py_up, py_down, cs_up, cs_down = artifacts(server, journal)
        finally:
            server.stop()
    print(f"run.log overhead (10 keys/call, 200k calls): p50 {p50:.2f} us, p99 {p99:.2f} us")
    print(f"sustained 1M points: sdk {sdk:,.0f} points/s, raw grpcio {raw:,.0f} points/s, ratio {sdk / raw:.2f}")
    print(f"  CPU per point: sdk process {sdk_cpu.client_us:.2f} us + server {sdk_cpu.server_us:.2f} us; "
          f"raw grpcio process {raw_cpu.client_us:.2f} us + server {raw_cpu.server_us:.2f} us")
    print(f"  load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    mib = os.environ.get("MODELBOX_BENCH_ARTIFACT_MIB", "1024")
    print(f"artifact {mib} MiB upload: python {py_up:.0f} MiB/s, C# CLI {cs_up:.0f} MiB/s, ratio {py_up / cs_up:.2f}")
    print(f"artifact {mib} MiB download: python {py_down:.0f} MiB/s, C# CLI {cs_down:.0f} MiB/s, ratio {py_down / cs_down:.2f}")


if __name__ == "__main__":
    main()
