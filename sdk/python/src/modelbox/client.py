"""The ModelBox client: one gRPC channel and a typed, pythonic method per operation.

Reads return the protobuf messages of the wire contract (``modelbox.pb``), with metadata and labels as plain dicts
where a method says so. Every failure raises a :class:`modelbox.errors.ModelBoxError` subclass.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import os
import platform
import random
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import grpc

from . import _convert
from . import modelbox_pb2 as pb
from . import modelbox_pb2_grpc as pb_grpc
from ._config import grpc_target, resolve_server_addr, resolve_token
from .errors import (
    Conflict, DataLoss, FailedPrecondition, InvalidArgument, ModelBoxError, NotFound, Unavailable, Unimplemented, from_rpc_error,
)

T = TypeVar("T")

UPLOAD_CHUNK_BYTES = 1024 * 1024
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# The SDK's bookkeeping series (see _sender.py); hidden from reads of all series.
MARKER_KEY = "_modelbox/batch"

_FRAMEWORKS = {name.lower(): value for name, value in pb.MLFramework.items()}
_FILE_TYPES = {name.lower(): value for name, value in pb.FileType.items()}
_STATUSES = {
    "running": pb.EXPERIMENT_STATUS_RUNNING,
    "finished": pb.EXPERIMENT_STATUS_FINISHED,
    "failed": pb.EXPERIMENT_STATUS_FAILED,
    "killed": pb.EXPERIMENT_STATUS_KILLED,
}


class MetricPoint(NamedTuple):
    """One metric point as read back: step, Unix seconds, value (float, str or bytes)."""

    step: int
    time: int
    value: float | str | bytes


class CreateResult(NamedTuple):
    """The id of a created (or already existing) object, and whether it existed before the call."""

    id: str
    existed: bool


class DatasetRegistration(NamedTuple):
    """A registered dataset version: the dataset, the version, and whether each existed before the call."""

    dataset: pb.Dataset
    version: pb.DatasetVersion
    dataset_existed: bool
    version_existed: bool


class DatasetDetails(NamedTuple):
    """A dataset and its versions, oldest first."""

    dataset: pb.Dataset
    versions: list[pb.DatasetVersion]


class DatasetUsage(NamedTuple):
    """Who used a dataset: experiments that recorded it and model versions whose lineage names it."""

    experiments: list[pb.Experiment]
    model_versions: list[pb.ModelVersion]


_DATASET_ROLES = {"training": pb.DATASET_ROLE_TRAINING, "evaluation": pb.DATASET_ROLE_EVALUATION}


def dataset_role_value(role: str | int) -> pb.DatasetRole:
    """A DatasetRole enum value from "training", "evaluation" or its number."""
    if isinstance(role, int):
        return cast(pb.DatasetRole, role)
    try:
        return cast(pb.DatasetRole, _DATASET_ROLES[role.lower()])
    except KeyError:
        raise InvalidArgument(f"role: unknown dataset role '{role}'; one of {sorted(_DATASET_ROLES)}") from None


def lineage_spec(
    experiment_id: str = "", checkpoint_id: str = "", datasets: Sequence[str | tuple[str, str | int]] = (),
    derived_from: Sequence[str | tuple[str, str]] = (),
) -> pb.LineageSpec:
    """A LineageSpec from ids: dataset versions as ids or ``(id, role)``, parents as ids or ``(id, relation)``."""
    spec = pb.LineageSpec(experiment_id=experiment_id, checkpoint_id=checkpoint_id)
    for link in datasets:
        version_id, role = (link, "training") if isinstance(link, str) else link
        spec.datasets.add(dataset_version_id=version_id, role=dataset_role_value(role))
    for parent in derived_from:
        version_id, relation = (parent, "") if isinstance(parent, str) else parent
        spec.derived_from.add(version_id=version_id, relation=relation)
    return spec


def framework_value(framework: str | int | None) -> pb.MLFramework:
    """An MLFramework enum value from its name ("pytorch") or number."""
    if framework is None:
        return pb.UNKNOWN
    if isinstance(framework, int):
        return cast(pb.MLFramework, framework)
    try:
        return cast(pb.MLFramework, _FRAMEWORKS[framework.lower()])
    except KeyError:
        raise InvalidArgument(f"framework: unknown framework '{framework}'; one of {sorted(_FRAMEWORKS)}") from None


def file_type_value(file_type: str | int | None) -> pb.FileType:
    """A FileType enum value from its name ("checkpoint") or number."""
    if file_type is None:
        return pb.UNDEFINED
    if isinstance(file_type, int):
        return cast(pb.FileType, file_type)
    try:
        return cast(pb.FileType, _FILE_TYPES[file_type.lower()])
    except KeyError:
        raise InvalidArgument(f"file_type: unknown file type '{file_type}'; one of {sorted(_FILE_TYPES)}") from None


def status_value(status: str | int) -> pb.ExperimentStatus:
    """An ExperimentStatus enum value from "running", "finished", "failed", "killed" or its number."""
    if isinstance(status, int):
        return cast(pb.ExperimentStatus, status)
    try:
        return cast(pb.ExperimentStatus, _STATUSES[status.lower()])
    except KeyError:
        raise InvalidArgument(f"status: unknown status '{status}'; one of {sorted(_STATUSES)}") from None


def experiment_id(namespace: str, name: str) -> str:
    """The id the server gives the experiment `name` in `namespace` (ids derive from the natural key: a kind prefix
    and 128 bits of SHA-256 over the length-prefixed kind and key), so a run can start while the server is down."""
    digest = hashlib.sha256()
    for part in ("exp", namespace, name):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(4, "big") + data)
    return "exp-" + digest.hexdigest()[:32]


def default_upload_id(parent_id: str, name: str, path: str) -> str:
    """The upload id of a resumable upload when none is given: the same for the same parent, name and file (path,
    size, modification time), so that an upload resumes across processes and restarts from 0 for a changed file."""
    st = os.stat(path)
    key = "\0".join((parent_id, name, os.path.abspath(path), str(st.st_size), str(st.st_mtime_ns)))
    return "py-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def point_value(value: pb.MetricsValue) -> float | str | bytes:
    """The value of a MetricsValue, whichever oneof member holds it."""
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else 0.0


def _series_points(values: Iterable[pb.MetricsValue], as_numpy: bool) -> Any:
    """Points as a list of :class:`MetricPoint`, or as numpy arrays ``(steps, times, values)``."""
    points = [MetricPoint(v.step, v.wallclock_time, point_value(v)) for v in values]
    if not as_numpy:
        return points
    import numpy as np  # optional dependency

    return (
        np.fromiter((p.step for p in points), dtype=np.uint64, count=len(points)),
        np.fromiter((p.time for p in points), dtype=np.uint64, count=len(points)),
        np.fromiter((float(p.value) for p in points), dtype=np.float64, count=len(points)),  # type: ignore[arg-type]
    )


def _enum_value(value: str | int, names: Mapping[str, int], field: str) -> int:
    if isinstance(value, int):
        return value
    try:
        return names[value.lower()]
    except KeyError:
        raise InvalidArgument(f"{field}: unknown value '{value}'; one of {sorted(names)}") from None


_AXES = {"step": pb.METRIC_AXIS_STEP, "wall_time": pb.METRIC_AXIS_WALL_TIME, "relative_time": pb.METRIC_AXIS_RELATIVE_TIME}
_TRIGGER_TYPES = {"undefined": pb.TRIGGER_UNDEFINED, "js": pb.TRIGGER_JS}
_ACTION_STATUSES = {"pending": pb.STATUS_PENDING, "running": pb.STATUS_RUNNING, "finished": pb.STATUS_FINISHED}
_ACTION_OUTCOMES = {"undefined": pb.OUTCOME_UNDEFINED, "success": pb.OUTCOME_SUCCESS, "failure": pb.OUTCOME_FAILURE}


def metric_axis_value(axis: str | int) -> pb.MetricAxis:
    """A MetricAxis from "step", "wall_time", "relative_time" or its number."""
    return cast(pb.MetricAxis, _enum_value(axis, _AXES, "x_axis"))


class MetricSeries(NamedTuple):
    """One series of a batch read: its object and key, its points (a list of :class:`MetricPoint`, or numpy arrays
    ``(steps, times, values)``), how many points the range holds before downsampling, whether the points are a
    downsampled view, and the Unix seconds of its first point (0 without points)."""

    parent_id: str
    key: str
    points: Any
    total_points: int
    downsampled: bool
    start_time: int


class Client:
    """A connection to one ModelBox server.

    Args:
        server_addr: ``host:port``, ``http://host:port`` or ``https://host:port``; when None, then
            ``$MODELBOX_SERVER_ADDR``, then ``server_addr`` in the client config file, then ``localhost:8085``.
        config_path: a client config file (what ``modelbox client init-config`` writes).
        token: an API token (``mbx_...``) or OIDC JWT for a server with access control enforced, sent as
            ``authorization: Bearer ...`` on every call; when None, then ``$MODELBOX_TOKEN``, then ``token`` in the
            client config file, else no token.
        timeout: deadline in seconds of each unary call.
        retries: how many times an idempotent call is retried while the server is UNAVAILABLE.
        backoff: first retry delay in seconds; doubles per retry (with jitter), at most 5 s.
    """

    def __init__(
        self,
        server_addr: str | None = None,
        *,
        config_path: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.1,
    ) -> None:
        if timeout <= 0:
            raise InvalidArgument("timeout must be positive")
        if retries < 0:
            raise InvalidArgument("retries must not be negative")
        self.server_addr = resolve_server_addr(server_addr, config_path)
        target, tls = grpc_target(self.server_addr)
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 0),
        ]
        channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
            if tls
            else grpc.insecure_channel(target, options=options)
        )
        resolved_token = resolve_token(token, config_path)
        self._channel = grpc.intercept_channel(channel, _BearerToken(resolved_token)) if resolved_token else channel
        self.stub = pb_grpc.ModelStoreStub(self._channel)
        self.admin = pb_grpc.ModelBoxAdminStub(self._channel)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    # ---- plumbing ----

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: Callable[..., T], request: Any, *, idempotent: bool = True, timeout: float | None = None) -> T:
        """Calls a unary RPC, mapping failures to typed exceptions; idempotent calls are retried with backoff while
        the server is UNAVAILABLE."""
        attempt = 0
        while True:
            try:
                return method(request, timeout=timeout or self.timeout)
            except grpc.RpcError as e:
                error = from_rpc_error(e, self.server_addr)
                if not (idempotent and isinstance(error, Unavailable) and attempt < self.retries):
                    raise error from None
            time.sleep(self._delay(attempt))
            attempt += 1

    def _delay(self, attempt: int) -> float:
        return min(5.0, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)

    def _pages(self, fetch: Callable[[str], Any], items: str) -> Iterator[Any]:
        token = ""
        while True:
            page = fetch(token)
            yield from getattr(page, items)
            token = page.next_page_token
            if not token:
                return

    def server_info(self) -> pb.GetServerInfoResponse:
        """The server's version, backends and start time."""
        return self.call(self.stub.GetServerInfo, pb.GetServerInfoRequest())

    # ---- experiments ----

    def create_experiment(
        self,
        name: str,
        namespace: str = "default",
        *,
        owner: str = "",
        framework: str | int | None = None,
        task: str = "",
        metadata: Mapping[str, Any] | None = None,
        external_id: str = "",
        description: str = "",
    ) -> CreateResult:
        """Creates an experiment, or finds the one with this name in the namespace (ids derive from both)."""
        request = pb.CreateExperimentRequest(
            name=name, namespace=namespace, owner=owner, framework=framework_value(framework), task=task,
            external_id=external_id, description=description,
        )
        _convert.fill_values(request.metadata.metadata, metadata, "metadata")
        response = self.call(self.stub.CreateExperiment, request)
        return CreateResult(response.experiment_id, response.experiment_exists)

    def get_experiment(self, experiment_id: str) -> pb.Experiment:
        """One experiment by id."""
        return self.call(self.stub.GetExperiment, pb.GetExperimentRequest(id=experiment_id)).experiment

    def list_experiments(
        self, namespace: str, *, label_selector: str = "", page_size: int = 0, recursive: bool = False,
    ) -> Iterator[pb.Experiment]:
        """The experiments of a namespace (all pages), optionally filtered by labels (``env=prod,team!=x``); with
        `recursive`, also those of the namespaces below it (``vision`` covers ``vision/detection``)."""
        return self._pages(
            lambda token: self.call(self.stub.ListExperiments, pb.ListExperimentsRequest(
                namespace=namespace, label_selector=label_selector, page_size=page_size, page_token=token,
                recursive=recursive)),
            "experiments",
        )

    def update_experiment(
        self, experiment_id: str, *, status: str | int | None = None, description: str | None = None,
        external_id: str | None = None,
    ) -> pb.Experiment:
        """Changes an experiment's status ("running", "finished", "failed", "killed"), description or external id."""
        request = pb.UpdateExperimentRequest(id=experiment_id)
        if status is not None:
            request.status = status_value(status)
        if description is not None:
            request.description = description
        if external_id is not None:
            request.external_id = external_id
        return self.call(self.stub.UpdateExperiment, request).experiment

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-deletes an experiment and its checkpoints."""
        self.call(self.stub.DeleteExperiment, pb.DeleteExperimentRequest(id=experiment_id))

    def restore_experiment(self, experiment_id: str) -> pb.Experiment:
        """Restores a soft-deleted experiment."""
        return self.call(self.stub.RestoreExperiment, pb.RestoreExperimentRequest(id=experiment_id)).experiment

    # ---- checkpoints ----

    def create_checkpoint(
        self, experiment_id: str, epoch: int, *, metrics: Mapping[str, float] | None = None,
        metadata: Mapping[str, Any] | None = None, files: Sequence[pb.FileMetadata] = (),
    ) -> CreateResult:
        """Records a checkpoint of an experiment at an epoch (idempotent per experiment and epoch)."""
        if epoch < 0:
            raise InvalidArgument("epoch must not be negative")
        request = pb.CreateCheckpointRequest(experiment_id=experiment_id, epoch=epoch, files=list(files))
        for key, value in (metrics or {}).items():
            request.metrics[key] = float(value)
        _convert.fill_values(request.metadata.metadata, metadata, "metadata")
        response = self.call(self.stub.CreateCheckpoint, request)
        return CreateResult(response.checkpoint_id, response.exists)

    def get_checkpoint(self, experiment_id: str = "", epoch: int = 0, *, checkpoint_id: str = "") -> pb.Checkpoint:
        """A checkpoint by experiment and epoch, or by id."""
        return self.call(self.stub.GetCheckpoint, pb.GetCheckpointRequest(
            experiment_id=experiment_id, epoch=epoch, checkpoint_id=checkpoint_id)).checkpoint

    def list_checkpoints(self, experiment_id: str) -> Iterator[pb.Checkpoint]:
        """The checkpoints of an experiment (all pages)."""
        return self._pages(
            lambda token: self.call(self.stub.ListCheckpoints, pb.ListCheckpointsRequest(
                experiment_id=experiment_id, page_token=token)),
            "checkpoints",
        )

    # ---- models and versions ----

    def create_model(
        self, name: str, namespace: str = "default", *, owner: str = "", task: str = "", description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> CreateResult:
        """Creates a model, or finds the one with this name in the namespace."""
        request = pb.CreateModelRequest(name=name, namespace=namespace, owner=owner, task=task, description=description)
        _convert.fill_values(request.metadata.metadata, metadata, "metadata")
        response = self.call(self.stub.CreateModel, request)
        return CreateResult(response.id, response.exists)

    def get_model(self, model_id: str) -> pb.Model:
        """One model by id."""
        return self.call(self.stub.GetModel, pb.GetModelRequest(id=model_id)).model

    def list_models(self, namespace: str, *, label_selector: str = "", recursive: bool = False) -> Iterator[pb.Model]:
        """The models of a namespace (all pages); with `recursive`, also those of the namespaces below it."""
        return self._pages(
            lambda token: self.call(self.stub.ListModels, pb.ListModelsRequest(
                namespace=namespace, label_selector=label_selector, page_token=token, recursive=recursive)),
            "models",
        )

    def delete_model(self, model_id: str) -> None:
        """Soft-deletes a model and its versions."""
        self.call(self.stub.DeleteModel, pb.DeleteModelRequest(id=model_id))

    def restore_model(self, model_id: str) -> pb.Model:
        """Restores a soft-deleted model."""
        return self.call(self.stub.RestoreModel, pb.RestoreModelRequest(id=model_id)).model

    def create_model_version(
        self, model_id: str, version: str, *, name: str = "", description: str = "",
        metadata: Mapping[str, Any] | None = None, framework: str | int | None = None,
        unique_tags: Sequence[str] = (), files: Sequence[pb.FileMetadata] = (),
        experiment_id: str = "", checkpoint_id: str = "", datasets: Sequence[str | tuple[str, str | int]] = (),
        derived_from: Sequence[str | tuple[str, str]] = (),
    ) -> CreateResult:
        """Creates a version of a model; `experiment_id`/`checkpoint_id` record its lineage (the run it came from),
        `datasets` the dataset versions it was trained or evaluated on and `derived_from` the versions it was derived
        from (see :meth:`set_lineage`)."""
        request = pb.CreateModelVersionRequest(
            model=model_id, version=version, name=name or version, description=description,
            framework=framework_value(framework), unique_tags=list(unique_tags), files=list(files),
        )
        _convert.fill_values(request.metadata.metadata, metadata, "metadata")
        if experiment_id or checkpoint_id or datasets or derived_from:
            request.lineage.CopyFrom(lineage_spec(experiment_id, checkpoint_id, datasets, derived_from))
        response = self.call(self.stub.CreateModelVersion, request)
        return CreateResult(response.model_version, response.exists)

    def get_model_version(self, version_id: str = "", *, reference: str = "") -> pb.ModelVersion:
        """A model version by id, or by reference ``namespace/model@alias`` or ``namespace/model:version``."""
        return self.call(self.stub.GetModelVersion, pb.GetModelVersionRequest(id=version_id, reference=reference)).model_version

    def list_model_versions(self, model_id: str, *, label_selector: str = "") -> Iterator[pb.ModelVersion]:
        """The versions of a model (all pages)."""
        return self._pages(
            lambda token: self.call(self.stub.ListModelVersions, pb.ListModelVersionsRequest(
                model=model_id, label_selector=label_selector, page_token=token)),
            "model_versions",
        )

    def delete_model_version(self, version_id: str) -> None:
        """Soft-deletes a model version."""
        self.call(self.stub.DeleteModelVersion, pb.DeleteModelVersionRequest(id=version_id))

    def restore_model_version(self, version_id: str) -> pb.ModelVersion:
        """Restores a soft-deleted model version."""
        return self.call(self.stub.RestoreModelVersion, pb.RestoreModelVersionRequest(id=version_id)).model_version

    def update_unique_tags(self, version_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> pb.ModelVersion:
        """Adds tags unique within the model to a version (moving them from the version that holds them) and removes
        others; returns the version."""
        return self.call(self.stub.UpdateUniqueTags, pb.UpdateUniqueTagsRequest(
            version_id=version_id, add=list(add), remove=list(remove))).model_version

    def list_namespaces(self) -> Iterator[pb.Namespace]:
        """Every namespace that holds objects, by name (paths such as ``vision/detection`` included)."""
        return self._pages(
            lambda token: self.call(self.stub.ListNamespaces, pb.ListNamespacesRequest(page_token=token)), "namespaces")

    # ---- datasets and lineage ----

    def create_dataset(
        self, name: str, digest: str, namespace: str = "default", *, uri: str = "", description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> DatasetRegistration:
        """Registers a version of a dataset by its content digest (e.g. ``sha256:...``), creating the dataset on first
        use; idempotent (the same digest gives the same version)."""
        request = pb.CreateDatasetRequest(namespace=namespace, name=name, digest=digest, uri=uri, description=description)
        _convert.fill_values(request.metadata.metadata, metadata, "metadata")
        response = self.call(self.stub.CreateDataset, request)
        return DatasetRegistration(response.dataset, response.version, response.dataset_exists, response.version_exists)

    def get_dataset(self, dataset_id: str) -> DatasetDetails:
        """A dataset and its versions (oldest first)."""
        response = self.call(self.stub.GetDataset, pb.GetDatasetRequest(id=dataset_id))
        return DatasetDetails(response.dataset, list(response.versions))

    def list_datasets(self, namespace: str = "default", *, recursive: bool = False) -> Iterator[pb.Dataset]:
        """The datasets of a namespace by name (all pages); with `recursive`, also those of the namespaces below it."""
        return self._pages(
            lambda token: self.call(self.stub.ListDatasets, pb.ListDatasetsRequest(
                namespace=namespace, page_token=token, recursive=recursive)),
            "datasets",
        )

    def get_dataset_usage(self, dataset_id: str) -> DatasetUsage:
        """The experiments and model versions that used a dataset (any of its versions) or one dataset version."""
        response = self.call(self.stub.GetDatasetUsage, pb.GetDatasetUsageRequest(dataset_id=dataset_id))
        return DatasetUsage(list(response.experiments), list(response.model_versions))

    def set_lineage(
        self, subject_id: str, *, experiment_id: str = "", checkpoint_id: str = "",
        datasets: Sequence[str | tuple[str, str | int]] = (), derived_from: Sequence[str | tuple[str, str]] = (),
    ) -> pb.LineageSpec:
        """Replaces the recorded lineage of a model version (or the datasets of an experiment) as a whole; returns it
        as stored.

        Args:
            datasets: dataset version ids, or ``(dataset_version_id, role)`` with role ``"training"`` (the default)
                or ``"evaluation"``.
            derived_from: model version ids, or ``(version_id, relation)`` such as ``("mv-...", "fine-tuning")``.
        """
        request = pb.SetLineageRequest(
            subject_id=subject_id, lineage=lineage_spec(experiment_id, checkpoint_id, datasets, derived_from))
        return self.call(self.stub.SetLineage, request).lineage

    def list_versions_trained_in(self, experiment_id: str) -> list[pb.ModelVersion]:
        """The model versions whose lineage names the experiment, oldest first."""
        return list(self.call(self.stub.ListVersionsTrainedIn, pb.ListVersionsTrainedInRequest(experiment_id=experiment_id)).model_versions)

    # ---- metadata and events ----

    def update_metadata(self, parent_id: str, metadata: Mapping[str, Any]) -> int:
        """Writes metadata keys (JSON values) of an object; returns how many were written."""
        request = pb.UpdateMetadataRequest(parent_id=parent_id)
        _convert.fill_values(request.metadata.metadata, metadata, "metadata")
        return self.call(self.stub.UpdateMetadata, request).num_keys_written

    def get_metadata(self, parent_id: str) -> dict[str, Any]:
        """Every metadata key of an object and its JSON value."""
        return _convert.values_dict(self.call(self.stub.ListMetadata, pb.ListMetadataRequest(parent_id=parent_id)).metadata)

    def delete_metadata(self, parent_id: str, keys: Iterable[str]) -> int:
        """Deletes metadata keys; returns how many existed."""
        return self.call(self.stub.DeleteMetadata, pb.DeleteMetadataRequest(parent_id=parent_id, keys=list(keys))).num_keys_deleted

    def log_event(
        self, parent_id: str, name: str, *, source: str = "", metadata: Mapping[str, Any] | None = None,
        when: Any = None, idempotent: bool = False,
    ) -> None:
        """Records an event (name, source, JSON metadata, time) on an object."""
        self.call(self.stub.LogEvent, event_request(parent_id, name, source, metadata, when), idempotent=idempotent)

    def list_events(self, parent_id: str, *, since: Any = None) -> Iterator[pb.Event]:
        """The events of an object, optionally only those since a time (datetime or Unix seconds)."""
        def fetch(token: str) -> pb.ListEventsResponse:
            request = pb.ListEventsRequest(parent_id=parent_id, page_token=token)
            if since is not None:
                request.since.CopyFrom(_convert.timestamp(since))
            return self.call(self.stub.ListEvents, request)

        return self._pages(fetch, "events")

    # ---- metrics ----

    def log_metrics(self, parent_id: str, metrics: Mapping[str, float], step: int, *, when: float | None = None) -> int:
        """Logs one point per key synchronously (for a training loop use :meth:`modelbox.Run.log`)."""
        request = pb.LogMetricsBatchRequest()
        seconds = int(when if when is not None else time.time())
        for key, value in metrics.items():
            series = request.series.add(parent_id=parent_id, key=key)
            series.values.add(step=step, wallclock_time=seconds, d_val=float(value))
        return self.send_metrics_batch(request, idempotent=False)

    def send_metrics_batch(self, request: pb.LogMetricsBatchRequest, *, idempotent: bool = False) -> int:
        """Sends one LogMetricsBatch request; returns how many points the server stored."""
        return self.call(self.stub.LogMetricsBatch, request, idempotent=idempotent).num_points_written

    def get_metric_series(
        self, parent_id: str, key: str, *, start_step: int = 0, end_step: int | None = None, max_points: int = 0,
        as_numpy: bool = False,
    ) -> Any:
        """One series over a step range, downsampled by the server to at most `max_points` (0: every point).

        Returns a list of :class:`MetricPoint`, or with ``as_numpy=True`` (numpy installed) a tuple of arrays
        ``(steps, times, values)``.
        """
        request = pb.GetMetricSeriesRequest(parent_id=parent_id, key=key, start_step=start_step, max_points=max_points)
        if end_step is not None:
            request.end_step = end_step
        values = self.call(self.stub.GetMetricSeries, request).values
        return _series_points(values, as_numpy)

    def get_metric_series_batch(
        self, series: Iterable[tuple[str, str]], *, x_axis: str | int = "step", start: int = 0, end: int | None = None,
        max_points: int = 0, as_numpy: bool = False,
    ) -> list[MetricSeries]:
        """Many series over one range in one call (what a chart of several runs needs), in the order asked.

        Args:
            series: ``(parent_id, key)`` pairs, at most 1,000.
            x_axis: what `start` and `end` measure: ``"step"``, ``"wall_time"`` (Unix seconds) or ``"relative_time"``
                (seconds since each series' first point).
            start: first x (inclusive); `end`: last x (inclusive), None for the end.
            max_points: at most this many points per series, 2 to 100,000 (0: the server's 1,000).
            as_numpy: each series' points as arrays ``(steps, times, values)`` (numpy installed) instead of a list of
                :class:`MetricPoint`.

        A series without points in the range (or that does not exist) comes back empty.
        """
        request = pb.GetMetricSeriesBatchRequest(x_axis=metric_axis_value(x_axis), start=start, max_points=max_points)
        for parent_id, key in series:
            request.series.add(parent_id=parent_id, key=key)
        if end is not None:
            request.end = end
        response = self.call(self.stub.GetMetricSeriesBatch, request)
        return [
            MetricSeries(s.parent_id, s.key, _series_points(s.values, as_numpy), s.total_points, s.downsampled, s.start_time)
            for s in response.series
        ]

    def get_metrics(self, parent_id: str) -> dict[str, list[MetricPoint]]:
        """Every series of an object with all its points, by key."""
        response = self.call(self.stub.GetMetrics, pb.GetMetricsRequest(parent_id=parent_id))
        return {m.key: [MetricPoint(v.step, v.wallclock_time, point_value(v)) for v in m.values] for m in response.metrics if m.key != MARKER_KEY}

    def get_metric_summaries(self, parent_ids: Iterable[str], keys: Iterable[str] = ()) -> list[pb.MetricSeriesSummary]:
        """What each series of the objects adds up to (count, NaN count, sum, first, last, min, max), by object id then
        key; only `keys` when given. Series without points are left out."""
        response = self.call(self.stub.GetMetricSummaries, pb.GetMetricSummariesRequest(parent_ids=list(parent_ids), keys=list(keys)))
        return [s for s in response.summaries if s.key != MARKER_KEY]

    def export_metric_points(self, parent_id: str, key: str, *, page_size: int = 0) -> Iterator[MetricPoint]:
        """Every raw point of a series by step, fetched page by page (bounded memory for series of any length)."""
        def fetch(token: str) -> pb.ExportMetricPointsResponse:
            return self.call(self.stub.ExportMetricPoints, pb.ExportMetricPointsRequest(
                parent_id=parent_id, key=key, page_size=page_size, page_token=token))

        return (MetricPoint(v.step, v.wallclock_time, point_value(v)) for v in self._pages(fetch, "values"))

    # ---- artifacts ----

    def upload_file(
        self, parent_id: str, path: str, *, file_type: str | int | None = None, name: str | None = None,
        chunk_bytes: int = UPLOAD_CHUNK_BYTES, resume: bool = True, upload_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> pb.FileMetadata:
        """Streams a file to the server, with its SHA-256 computed while sending (verified by the server, which keeps
        nothing on a mismatch); returns the stored record. Raises :class:`DataLoss` when the checksums differ.

        The upload is resumable (unless ``resume=False``): it carries an upload id (`upload_id`, by default derived from
        the parent, the name, and the file's path, size and modification time, so that a rerun of the same script
        resumes too). When the stream breaks with UNAVAILABLE (a server restart, a network cut), it is sent again up
        to `retries` times with backoff, each time from the bytes the server kept, and the SHA-256 still covers the
        whole file. Against a server that keeps no partial uploads (S3 artifact store, or a server without resumable
        uploads) it is a plain upload, sent again from byte 0 on UNAVAILABLE.

        Args:
            progress: called with (bytes of the file the server kept or was sent in this attempt, file size) when an
                attempt starts and after each chunk; an exception it raises ends the upload and is raised here.
        """
        if not os.path.isfile(path):
            raise InvalidArgument(f"path: '{path}' is not a file")
        if chunk_bytes <= 0:
            raise InvalidArgument("chunk_bytes must be positive")
        name = name or os.path.basename(path)
        size = os.path.getsize(path)
        metadata = pb.FileMetadata(parent_id=parent_id, file_type=file_type_value(file_type), path=name)
        if resume and upload_id is None:
            upload_id = default_upload_id(parent_id, name, path)
        resumable = resume
        attempt = 0
        while True:
            try:
                offset = 0
                if resumable:
                    status = self._upload_status(parent_id, cast(str, upload_id))
                    if status is None:
                        resumable = False
                    elif status.in_progress:
                        # The server still holds the broken stream: ask again after the backoff.
                        raise Conflict(f"upload {upload_id} of '{name}' is still being received by the server", grpc.StatusCode.ABORTED)
                    elif status.received_bytes <= size:
                        offset = status.received_bytes
                file_id, sha256 = self._send_file(metadata, path, size, offset, upload_id if resumable else None, chunk_bytes, progress)
                break
            except (Unavailable, Conflict) as error:
                retryable = isinstance(error, Unavailable) or error.code == grpc.StatusCode.ABORTED
                if not retryable or attempt >= self.retries:
                    raise
            time.sleep(self._delay(attempt))
            attempt += 1
        record = self.get_artifact(file_id)
        if record.sha256 and record.sha256 != sha256:
            raise DataLoss(f"the server stored different bytes than were sent (SHA-256 {record.sha256} vs {sha256})")
        return record

    def get_upload_status(self, parent_id: str, upload_id: str) -> int:
        """How many bytes of a resumable upload the server kept (0 when none: never started, completed, dropped or
        swept). Raises :class:`FailedPrecondition` where the server keeps no partial uploads (S3 artifact store)."""
        return self.call(self.stub.GetUploadStatus, pb.GetUploadStatusRequest(parent_id=parent_id, upload_id=upload_id)).received_bytes

    def _upload_status(self, parent_id: str, upload_id: str) -> pb.GetUploadStatusResponse | None:
        """What the server kept of a resumable upload; None when it keeps no partial uploads (S3) or predates them."""
        try:
            return self.call(self.stub.GetUploadStatus, pb.GetUploadStatusRequest(parent_id=parent_id, upload_id=upload_id), idempotent=False)
        except (FailedPrecondition, Unimplemented):
            return None

    def _send_file(
        self, metadata: pb.FileMetadata, path: str, size: int, offset: int, upload_id: str | None, chunk_bytes: int,
        progress: Callable[[int, int], None] | None,
    ) -> tuple[str, str]:
        """One UploadFile stream: the bytes from `offset` (the server has those before it), and the SHA-256 of the whole
        file in the checksums frame. Returns the file id and that SHA-256."""
        sha256 = hashlib.sha256()
        # The bytes the server kept are hashed here, before the call: grpc runs the request iterator on its own thread
        # and turns anything raised there into UNKNOWN "Exception iterating requests!", so errors of ours (a file that
        # became shorter) and of the caller's progress callback are kept and raised after the call instead.
        with open(path, "rb") as f:
            kept = offset
            while kept:
                chunk = f.read(min(chunk_bytes, kept))
                if not chunk:
                    raise DataLoss(f"'{path}' became shorter than the {offset} bytes the server kept of it")
                sha256.update(chunk)
                kept -= len(chunk)
        failure: list[BaseException] = []

        def frames() -> Iterator[pb.UploadFileRequest]:
            try:
                first = pb.UploadFileRequest(metadata=metadata)
                if upload_id is not None:
                    first.resume.upload_id = upload_id
                    first.resume.offset = offset
                with open(path, "rb") as f:
                    f.seek(offset)
                    yield first
                    sent = offset
                    if progress is not None:
                        progress(sent, size)
                    while chunk := f.read(chunk_bytes):
                        sha256.update(chunk)
                        yield pb.UploadFileRequest(chunks=chunk)
                        sent += len(chunk)
                        if progress is not None:
                            progress(sent, size)
                yield pb.UploadFileRequest(checksums=pb.UploadChecksums(sha256=sha256.hexdigest()))
            except BaseException as error:  # noqa: BLE001 - re-raised after the call, on the caller's thread
                failure.append(error)
                raise

        try:
            file_id = self.stub.UploadFile(frames()).file_id
        except grpc.RpcError as e:
            if failure and not isinstance(failure[0], GeneratorExit):
                raise failure[0] from None
            raise from_rpc_error(e, self.server_addr) from None
        return file_id, sha256.hexdigest()

    def get_artifact(self, file_id: str) -> pb.FileMetadata:
        """The record of one file (no bytes)."""
        return self.call(self.stub.GetArtifact, pb.GetArtifactRequest(id=file_id)).file

    def delete_artifact(self, file_id: str) -> None:
        """Deletes a file record and its bytes."""
        self.call(self.stub.DeleteArtifact, pb.DeleteArtifactRequest(id=file_id))

    def list_artifacts(self, parent_id: str) -> list[pb.FileMetadata]:
        """The file records of an object."""
        return list(self.call(self.stub.ListArtifacts, pb.ListArtifactsRequest(parent_id=parent_id)).files)

    def download_file(self, file_id: str, destination: str, *, resume: bool = True) -> str:
        """Streams a file to `destination` (a file path, or an existing directory to keep the original name),
        verifying its SHA-256 (MD5 for files that have only that). An interrupted download leaves
        ``destination.part``, which the next call resumes from. Raises :class:`DataLoss` on a checksum mismatch
        (nothing is left at `destination`)."""
        record = self.get_artifact(file_id)
        if os.path.isdir(destination):
            destination = os.path.join(destination, os.path.basename(record.path) or file_id)
        part = destination + ".part"
        offset = os.path.getsize(part) if resume and os.path.exists(part) else 0
        if offset > record.size_bytes:
            offset = 0
        use_sha = bool(record.sha256) or not record.checksum
        digest = hashlib.sha256() if use_sha else hashlib.md5()
        if offset:
            with open(part, "rb") as f:
                while chunk := f.read(DOWNLOAD_CHUNK_BYTES):
                    digest.update(chunk)
        attempt = 0
        while True:
            try:
                with open(part, "ab" if offset else "wb") as out:
                    stream = self.stub.DownloadFile(pb.DownloadFileRequest(
                        file_id=file_id, offset=offset, chunk_size_bytes=DOWNLOAD_CHUNK_BYTES))
                    for frame in stream:
                        if frame.WhichOneof("stream_frame") == "chunks":
                            out.write(frame.chunks)
                            digest.update(frame.chunks)
                            offset += len(frame.chunks)
                break
            except grpc.RpcError as e:
                error = from_rpc_error(e, self.server_addr)
                if not isinstance(error, Unavailable) or attempt >= self.retries:
                    raise error from None
            # Resume where the stream broke off.
            time.sleep(self._delay(attempt))
            attempt += 1
        expected = record.sha256 if use_sha else record.checksum
        actual = digest.hexdigest()
        if expected and actual != expected:
            os.remove(part)
            raise DataLoss(f"file {file_id}: downloaded bytes have checksum {actual}, the server recorded {expected}; nothing was kept")
        os.replace(part, destination)
        return destination

    # ---- registry ----

    def set_labels(self, object_id: str, labels: Mapping[str, str]) -> dict[str, str]:
        """Sets labels on an experiment, model or version; returns all its labels."""
        return dict(self.call(self.stub.SetLabels, pb.SetLabelsRequest(object_id=object_id, labels=dict(labels))).labels)

    def remove_labels(self, object_id: str, keys: Iterable[str]) -> dict[str, str]:
        """Removes label keys; returns the labels left."""
        return dict(self.call(self.stub.RemoveLabels, pb.RemoveLabelsRequest(object_id=object_id, keys=list(keys))).labels)

    def set_alias(self, model_id: str, alias: str, version_id: str) -> pb.ModelAlias:
        """Points an alias of a model (e.g. ``production``) at one of its versions."""
        return self.call(self.stub.SetModelAlias, pb.SetModelAliasRequest(model_id=model_id, alias=alias, version_id=version_id)).alias

    def get_alias(self, model_id: str, alias: str) -> pb.ModelAlias:
        """Where an alias points."""
        return self.call(self.stub.GetModelAlias, pb.GetModelAliasRequest(model_id=model_id, alias=alias)).alias

    def list_aliases(self, model_id: str) -> list[pb.ModelAlias]:
        """The aliases of a model."""
        return list(self.call(self.stub.ListModelAliases, pb.ListModelAliasesRequest(model_id=model_id)).aliases)

    def delete_alias(self, model_id: str, alias: str) -> None:
        """Deletes an alias."""
        self.call(self.stub.DeleteModelAlias, pb.DeleteModelAliasRequest(model_id=model_id, alias=alias))

    def search_experiments(
        self, namespace: str, filter: str, *, order_by: str = "", recursive: bool = False,
    ) -> Iterator[pb.Experiment]:
        """Experiments matching a filter of the search language (docs/search.md); an empty `namespace` searches
        every namespace, `recursive` also the namespaces below `namespace`."""
        return self._search(self.stub.SearchExperiments, namespace, filter, order_by, recursive, "experiments")

    def search_models(
        self, namespace: str, filter: str, *, order_by: str = "", recursive: bool = False,
    ) -> Iterator[pb.Model]:
        """Models matching a filter."""
        return self._search(self.stub.SearchModels, namespace, filter, order_by, recursive, "models")

    def search_model_versions(
        self, namespace: str, filter: str, *, order_by: str = "", recursive: bool = False,
    ) -> Iterator[pb.ModelVersion]:
        """Model versions matching a filter."""
        return self._search(self.stub.SearchModelVersions, namespace, filter, order_by, recursive, "model_versions")

    def _search(self, method: Any, namespace: str, filter: str, order_by: str, recursive: bool, items: str) -> Iterator[Any]:
        return self._pages(
            lambda token: self.call(method, pb.SearchRequest(
                namespace=namespace, filter=filter, order_by=order_by, page_token=token, recursive=recursive)),
            items,
        )

    def get_lineage(self, version_id: str) -> pb.GetLineageResponse:
        """The lineage of a model version: experiment, checkpoint, datasets, ancestors, descendants."""
        return self.call(self.stub.GetLineage, pb.GetLineageRequest(version_id=version_id))

    def pull(self, reference: str, directory: str) -> list[str]:
        """Downloads every file of a model version (``namespace/model@alias`` or ``namespace/model:version``, or a
        version id) into `directory`, each verified; returns the paths. For inference services."""
        version = self.get_model_version(reference=reference) if ("@" in reference or ":" in reference) else self.get_model_version(reference)
        os.makedirs(directory, exist_ok=True)
        files = list(version.files) or self.list_artifacts(version.id)
        if not files:
            raise NotFound(f"model version {version.id} ({reference}) has no files")
        return [self.download_file(f.id, os.path.join(directory, os.path.basename(f.path) or f.id)) for f in files]

    # ---- actions and agents ----

    def create_action(
        self, object_id: str, name: str, *, object_type: str = "", arch: str = "", params: Mapping[str, Any] | None = None,
        predicate: str = "", trigger_type: str | int = "js",
    ) -> datetime.datetime:
        """Creates an action on an object, run by agents of `arch` when its trigger `predicate` (JavaScript) holds;
        `params` (JSON values) go to the agent. Returns when it was created."""
        request = pb.CreateActionRequest(name=name, object_id=object_id, object_type=object_type, arch=arch)
        _convert.fill_values(request.params, params, "params")
        if predicate:
            request.trigger.predicate = predicate
            request.trigger.type = cast(pb.TriggerType, _enum_value(trigger_type, _TRIGGER_TYPES, "trigger_type"))
        return _datetime(self.call(self.stub.CreateActions, request, idempotent=False).created_at)

    def list_actions(self, object_id: str) -> list[pb.Action]:
        """The actions of an object, each with the states of its instances."""
        return list(self.call(self.stub.ListActions, pb.ListActionsRequest(object_id=object_id)).actions)

    def register_agent(self, agent_name: str, *, host_name: str | None = None, ip_addr: str = "", arch: str | None = None) -> str:
        """Registers this machine as an agent that runs actions (admins only); returns its node id. The host name and
        architecture default to this machine's."""
        node = pb.NodeInfo(host_name=host_name if host_name is not None else socket.gethostname(), ip_addr=ip_addr,
                           arch=arch if arch is not None else platform.machine())
        return self.call(self.admin.RegisterAgent, pb.RegisterAgentRequest(node_info=node, agent_name=agent_name), idempotent=False).node_id

    def heartbeat(self, node_id: str) -> None:
        """Keeps an agent's registration alive."""
        request = pb.HeartbeatRequest(node_id=node_id)
        request.at.CopyFrom(_convert.timestamp(None))
        self.call(self.admin.Heartbeat, request)

    def get_runnable_action_instances(self, action_name: str, *, arch: str = "") -> list[pb.RunnableAction]:
        """The instances of an action an agent of `arch` may run now."""
        return list(self.call(self.admin.GetRunnableActionInstances, pb.GetRunnableActionInstancesRequest(
            action_name=action_name, arch=arch), idempotent=False).instances)

    def update_action_status(
        self, instance_id: str, status: str | int, *, outcome: str | int = "undefined", reason: str = "", when: float | None = None,
    ) -> None:
        """Reports an action instance's progress: `status` ``"pending"``, ``"running"`` or ``"finished"``, and when
        finished its `outcome` (``"success"`` or ``"failure"``) and `reason`."""
        self.call(self.admin.UpdateActionStatus, pb.UpdateActionStatusRequest(
            action_instance_id=instance_id, status=_enum_value(status, _ACTION_STATUSES, "status"),
            outcome=_enum_value(outcome, _ACTION_OUTCOMES, "outcome"), outcome_reason=reason,
            udpate_time=int(when if when is not None else time.time())))

    # ---- change stream ----

    def watch(
        self, namespace: str, since: int = 0, *, recursive: bool = False, max_retries: int | None = None,
    ) -> Iterator[pb.WatchNamespaceResponse]:
        """Yields the changes of a namespace (with `recursive`, also of the namespaces below it) after sequence
        `since`, forever; a broken stream (server restart, slow-consumer abort) is resumed from the last delivered
        sequence by itself."""
        last = since
        failures = 0
        while True:
            try:
                for change in self.stub.WatchNamespace(pb.WatchNamespaceRequest(
                        namespace=namespace, since=last, recursive=recursive)):
                    failures = 0
                    last = max(last, change.sequence)
                    yield change
                return
            except grpc.RpcError as e:
                error = from_rpc_error(e, self.server_addr)
                resumable = e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)  # type: ignore[attr-defined]
                if not resumable or (max_retries is not None and failures >= max_retries):
                    raise error from None
            time.sleep(self._delay(min(failures, 6)))
            failures += 1


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds ``authorization: Bearer <token>`` to every call of a channel."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> _CallDetails:
        return _CallDetails(details.method, details.timeout, [*(details.metadata or ()), self._header],
                            details.credentials, details.wait_for_ready, getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def _datetime(ts: Any) -> datetime.datetime:
    """A google.protobuf.Timestamp as an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=datetime.timezone.utc)


def event_request(parent_id: str, name: str, source: str, metadata: Mapping[str, Any] | None, when: Any) -> pb.LogEventRequest:
    """A LogEventRequest (shared by the client and the run's background logger)."""
    if not name:
        raise InvalidArgument("event name must not be empty")
    request = pb.LogEventRequest(parent_id=parent_id)
    request.event.name = name
    request.event.source.name = source
    request.event.wallclock_time.CopyFrom(_convert.timestamp(when))
    _convert.fill_values(request.event.metadata.metadata, metadata, "metadata")
    return request


__all__ = ["Client", "CreateResult", "DatasetDetails", "DatasetRegistration", "DatasetUsage", "MetricPoint", "MetricSeries", "ModelBoxError"]
