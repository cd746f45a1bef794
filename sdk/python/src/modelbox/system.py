"""System metrics of the trainer: process CPU and memory from /proc, GPU through nvidia-smi when it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Run


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0]) * 1024
    return values


def _process_cpu_seconds() -> float:
    with open("/proc/self/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def gpu_metrics(nvidia_smi: str | None) -> dict[str, float]:
    """Utilization and memory of each GPU (``system/gpu0/utilization_percent`` ...), empty without nvidia-smi."""
    if nvidia_smi is None:
        return {}
    try:
        out = subprocess.run(
            [nvidia_smi, "--query-gpu=index,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values: dict[str, float] = {}
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        try:
            index, util, used, total = parts[0], float(parts[1]), float(parts[2]), float(parts[3])
        except ValueError:
            continue
        values[f"system/gpu{index}/utilization_percent"] = util
        values[f"system/gpu{index}/memory_used_bytes"] = used * 1024 * 1024
        values[f"system/gpu{index}/memory_total_bytes"] = total * 1024 * 1024
    return values


def sample(previous: tuple[float, float] | None) -> tuple[dict[str, float], tuple[float, float]]:
    """One sample of the system metrics; `previous` is the (wall, cpu) pair of the last sample."""
    now, cpu = time.monotonic(), _process_cpu_seconds()
    mem = _meminfo()
    values = {
        "system/process_rss_bytes": float(_process_rss()),
        "system/memory_used_percent": 100.0 * (1 - mem.get("MemAvailable", 0) / max(1, mem.get("MemTotal", 1))),
    }
    if previous is not None and now > previous[0]:
        values["system/process_cpu_percent"] = 100.0 * (cpu - previous[1]) / (now - previous[0])
    return values, (now, cpu)


class SystemMetrics:
    """Samples every `interval` seconds on a daemon thread and logs under ``system/`` (its own step counter)."""

    def __init__(self, run: Run, interval: float = 10.0) -> None:
        self._run = run
        self._interval = interval
        self._stop = threading.Event()
        self._nvidia_smi = shutil.which("nvidia-smi")
        self._thread = threading.Thread(target=self._loop, name="modelbox-system-metrics", daemon=True)
        self.samples = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        previous = None
        while True:
            try:
                values, previous = sample(previous)
                values.update(gpu_metrics(self._nvidia_smi))
                self._run._queue.append((self.samples, int(time.time()), values))
                self.samples += 1
            except OSError:
                return  # no /proc: nothing to sample on this system
            if self._stop.wait(self._interval):
                return
