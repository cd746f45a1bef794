"""ModelBox Python SDK: experiment tracking, metrics, artifacts and the model registry.

    import modelbox
    with modelbox.init(namespace="speech", experiment="asr-1", config={"lr": 1e-3}) as run:
        for step in range(1000):
            run.log({"loss": loss, "acc": acc}, step=step)
"""

from __future__ import annotations

from collections.abc import Iterator

from . import modelbox_pb2 as pb
from .client import Client, CreateResult, DatasetDetails, DatasetRegistration, DatasetUsage, MetricPoint, MetricSeries
from .errors import (
    AlreadyExists,
    Conflict,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    JournalFull,
    ModelBoxError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from .run import Run, init

__version__ = "0.1.0"


def pull(reference: str, directory: str, *, server_addr: str | None = None) -> list[str]:
    """Downloads the files of a model version (``namespace/model@alias``, ``namespace/model:version`` or an id) into
    `directory`, verifying each checksum; returns the file paths."""
    with Client(server_addr) as client:
        return client.pull(reference, directory)


def watch(
    namespace: str, since: int = 0, *, recursive: bool = False, server_addr: str | None = None,
) -> Iterator[pb.WatchNamespaceResponse]:
    """The changes of a namespace (with `recursive`, also of the namespaces below it) after sequence `since`, as an
    endless iterator that resumes by itself."""
    client = Client(server_addr)
    try:
        yield from client.watch(namespace, since, recursive=recursive)
    finally:
        client.close()


__all__ = [
    "AlreadyExists", "Client", "Conflict", "CreateResult", "DataLoss", "DatasetDetails", "DatasetRegistration",
    "DatasetUsage", "DeadlineExceeded", "FailedPrecondition",
    "InvalidArgument", "JournalFull", "MetricPoint", "MetricSeries", "ModelBoxError", "NotFound", "PermissionDenied",
    "ResourceExhausted", "Run", "Unauthenticated", "Unavailable", "Unimplemented", "init", "pb", "pull", "watch",
]
