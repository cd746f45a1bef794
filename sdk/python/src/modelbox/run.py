"""Tracking a training run: ``modelbox.init`` and :class:`Run`.

``Run.log`` only validates and appends to a bounded queue (microseconds); a background thread groups the points
into LogMetricsBatch requests by size and time (encoded straight to bytes, see ``_wire.py``), writes each to the
run's journal, then sends it, one request in flight while the next is built. While the server is unreachable requests stay in the journal and are sent, in
order, when it answers again. A failure that is not a lost connection (a rejected key, a deleted run) is raised by
the next ``log``/``flush``/``finish``; nothing is dropped silently.
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import logging
import os
import random
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

import grpc

from . import modelbox_pb2 as pb
from ._sender import IN_FLIGHT, KIND_CREATE_EXPERIMENT, KIND_SET_LABELS, KIND_STATUS, MARKER_KEY, RawStub, replay
from ._wire import BatchEncoder
from . import _convert
from .client import Client, event_request, experiment_id, framework_value, status_value
from .errors import Conflict, InvalidArgument, ModelBoxError, Unavailable, from_rpc_error
from .journal import DEFAULT_MAX_BYTES, KIND_EVENT, KIND_METRICS, Journal, MemoryJournal

log = logging.getLogger("modelbox")

_MAX_KEY_LENGTH = 250
_FLUSH = object()


def default_journal_root() -> str:
    """$MODELBOX_JOURNAL_DIR, else ~/.cache/modelbox/journal."""
    return os.environ.get("MODELBOX_JOURNAL_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "modelbox", "journal")


class Run:
    """One experiment being trained. Create it with :func:`modelbox.init`.

    Attributes:
        id: the experiment id.
        client: the :class:`modelbox.Client` it uses.
        journal_dir: where unconfirmed requests are kept (None with ``journal=False``).
    """

    def __init__(
        self,
        client: Client,
        experiment_id: str,
        *,
        journal: bool = True,
        journal_dir: str | None = None,
        journal_max_bytes: int = DEFAULT_MAX_BYTES,
        batch_points: int = 10_000,
        flush_interval: float = 0.5,
        max_queued_calls: int = 100_000,
        finish_timeout: float = 30.0,
        owns_client: bool = False,
        _offline_start: list[tuple[int, Any]] | None = None,
    ) -> None:
        if batch_points < 1 or max_queued_calls < 1 or flush_interval <= 0:
            raise InvalidArgument("batch_points, max_queued_calls and flush_interval must be positive")
        self.id = experiment_id
        self.client = client
        self._owns_client = owns_client
        self._batch_points = batch_points
        self._flush_interval = flush_interval
        self._max_queued = max_queued_calls
        self._wake_every = max(1, min(1000, max_queued_calls // 4))
        self.finish_timeout = finish_timeout
        meta = {"server_addr": client.server_addr, "experiment_id": experiment_id, "nonce": float(random.randrange(1, 2**52))}
        self._lock_fd: int | None = None
        if journal:
            self.journal_dir: str | None = os.path.join(journal_dir or default_journal_root(), experiment_id)
            os.makedirs(self.journal_dir, exist_ok=True)
            self._lock_fd = os.open(os.path.join(self.journal_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                raise Conflict(f"the journal {self.journal_dir} is in use by another process logging to run {experiment_id}") from None
            self._journal: Journal | MemoryJournal = Journal(self.journal_dir, max_bytes=journal_max_bytes, meta=meta)
        else:
            self.journal_dir = None
            self._journal = MemoryJournal(max_bytes=min(journal_max_bytes, 256 * 1024 * 1024), meta=meta)
        self._nonce: float = self._journal.meta.get("nonce", meta["nonce"])
        self._stub = RawStub(client)
        self._encoder = BatchEncoder(experiment_id)
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._flushed = threading.Condition()
        self._flush_requested = 0
        self._flush_done = 0
        self._failure: BaseException | None = None
        self._stopping = False
        self._finished = False
        self._next_step = 0
        self._known_keys: set[str] = set()
        self._inflight: collections.deque[tuple[int, Any, int]] = collections.deque()
        self._offline = False
        self._next_probe = 0.0
        self._probe_failures = 0
        self.points_sent = 0
        self._system: Any = None
        for kind, request in _offline_start or ():
            self._journal.append(kind, request.SerializeToString())
        # Records a crashed earlier process left for this run go first (or the offline start's create).
        if self._journal.last_seq > self._journal.acked:
            self._offline = True
            self._try_recover()
        self._worker = threading.Thread(target=self._run_worker, name=f"modelbox-run-{experiment_id}", daemon=True)
        self._worker.start()
        _open_runs.add(self)

    # ---- the training loop's side ----

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Logs one point per key at `step` (the next step after the last one when None); returns at once.

        Values are numbers (anything ``float()`` accepts: ints, numpy scalars, one-element tensors). Blocks only
        while ``max_queued_calls`` calls wait for the background thread (back-pressure).

        Raises:
            InvalidArgument: a key or value is not acceptable (nothing of this call is logged).
            ModelBoxError: an earlier batch failed for a reason other than a lost connection.
        """
        if self._failure is not None or self._finished:
            self._raise_state()
        if step is None:
            step = self._next_step
        elif type(step) is not int or step < 0:
            raise InvalidArgument(f"step must be a non-negative int, got {step!r}")
        try:
            values = {k: float(v) for k, v in metrics.items()}
        except (TypeError, ValueError, AttributeError) as e:
            raise InvalidArgument(f"metrics must map metric keys to numbers: {e}") from None
        if not self._known_keys.issuperset(values):
            self._check_keys(values)
        self._next_step = step + 1
        queue = self._queue
        queue.append((step, int(time.time()), values))
        n = len(queue)
        if n >= self._max_queued:
            self._wake.set()
            with self._space:
                while len(queue) >= self._max_queued and self._failure is None and self._worker.is_alive():
                    self._space.wait(0.1)
        elif n % self._wake_every == 0:
            self._wake.set()

    def _check_keys(self, values: Mapping[str, float]) -> None:
        for key in values:
            if key in self._known_keys:
                continue
            if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH or any(ord(c) < 32 for c in key):
                raise InvalidArgument(f"metric key {key!r} must be a string of 1 to {_MAX_KEY_LENGTH} characters without control characters")
            if key == MARKER_KEY:
                raise InvalidArgument(f"metric key {MARKER_KEY!r} is reserved by the SDK")
            self._known_keys.add(key)

    def log_event(self, name: str, *, source: str = "", metadata: Mapping[str, Any] | None = None, when: Any = None) -> None:
        """Records an event on the run, in order with the metrics (journaled like them)."""
        if self._failure is not None or self._finished:
            self._raise_state()
        self._queue.append(event_request(self.id, name, source, metadata, when))
        self._wake.set()

    def flush(self, timeout: float | None = None) -> None:
        """Returns once everything logged before is stored by the server, or journaled while it is unreachable."""
        if self._failure is not None:
            self._raise_state()
        with self._flushed:
            self._flush_requested += 1
            ticket = self._flush_requested
            self._queue.append(_FLUSH)
            self._wake.set()
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._flush_done < ticket and self._failure is None and self._worker.is_alive():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("flush did not complete in time")
                self._flushed.wait(0.1 if remaining is None else min(0.1, remaining))
        if self._failure is not None:
            self._raise_state()

    @property
    def offline(self) -> bool:
        """True while the server is unreachable and requests wait in the journal."""
        return self._offline

    @property
    def pending_records(self) -> int:
        """How many journaled requests the server has not confirmed yet."""
        return self._journal.last_seq - self._journal.acked

    # ---- files, checkpoints ----

    def log_artifact(self, path: str, *, file_type: str | int | None = None, name: str | None = None) -> pb.FileMetadata:
        """Uploads a file to the run (streamed, SHA-256 verified by the server); returns its record."""
        self._raise_if_failed()
        return self.client.upload_file(self.id, path, file_type=file_type, name=name)

    def log_checkpoint(
        self, path: str | None = None, *, epoch: int, metrics: Mapping[str, float] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Records a checkpoint at `epoch` with its metrics, uploading the file at `path` to it; returns its id."""
        self._raise_if_failed()
        checkpoint = self.client.create_checkpoint(self.id, epoch, metrics=metrics, metadata=metadata)
        if path is not None:
            existing = {(f.path, f.sha256) for f in self.client.list_artifacts(checkpoint.id)} if checkpoint.existed else set()
            if not any(p == os.path.basename(path) for p, _ in existing):
                self.client.upload_file(checkpoint.id, path, file_type="checkpoint")
        return checkpoint.id

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Writes metadata keys of the run."""
        self.client.update_metadata(self.id, metadata)

    # ---- the end ----

    def finish(self, status: str = "finished") -> None:
        """Sends everything logged, marks the run `status` ("finished", "failed", "killed") and stops the background
        thread. When the server stays unreachable for ``finish_timeout`` seconds, what is left stays in the journal
        (including the status) for ``python -m modelbox sync``, and a warning names the directory.

        Raises the failure of an earlier batch, if there was one (the run is still marked failed then)."""
        if self._finished:
            return
        self._finished = True
        _open_runs.discard(self)
        if self._system is not None:
            self._system.stop()
        status_code = status_value(status)
        if self._failure is not None:
            status_code = pb.EXPERIMENT_STATUS_FAILED
        self._queue.append(pb.UpdateExperimentRequest(id=self.id, status=status_code))
        self._stopping = True
        self._wake.set()
        self._worker.join()
        deadline = time.monotonic() + self.finish_timeout
        while self._offline and self._failure is None and time.monotonic() < deadline:
            self._next_probe = 0.0
            self._try_recover()
            if self._offline:
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if self._failure is not None:
            try:
                self.client.update_experiment(self.id, status="failed")
            except ModelBoxError:
                pass  # the earlier failure is what the caller must see
        self._journal.sync()
        left = self.pending_records
        self._journal.close()
        if left == 0 and self.journal_dir is not None:
            for name in ("meta.json", "acked", "lock"):
                try:
                    os.remove(os.path.join(self.journal_dir, name))
                except FileNotFoundError:
                    pass
            try:
                os.rmdir(self.journal_dir)
            except OSError:
                pass
        elif left:
            where = self.journal_dir or "memory (journal off: lost at exit)"
            log.warning("modelbox: %d requests of run %s were not confirmed by %s; they are kept in %s "
                        "(upload them with: python -m modelbox sync %s)", left, self.id, self.client.server_addr, where, where)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        if self._owns_client:
            self.client.close()
        if self._failure is not None:
            raise self._failure

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish("finished")
        elif exc_type is KeyboardInterrupt:
            self.finish("killed")
        else:
            try:
                self.finish("failed")
            except ModelBoxError:
                pass  # the training code's own exception is the one to see

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            self._raise_state()

    def _raise_state(self) -> None:
        if self._failure is not None:
            raise self._failure
        raise ModelBoxError(f"run {self.id} is finished")

    # ---- the background thread ----

    def _run_worker(self) -> None:
        try:
            while True:
                self._wake.wait(self._flush_interval)
                self._wake.clear()
                self._drain()
                if self._offline:
                    self._try_recover()
                if self._failure is not None:
                    return  # raised by the next call; the journal keeps what was not confirmed
                if self._stopping and not self._queue:
                    self._complete_inflight()
                    return
        except BaseException as e:  # noqa: BLE001 - any failure must reach the training code
            if self._failure is None:
                self._failure = e if isinstance(e, ModelBoxError) else ModelBoxError(f"the run's background logger failed: {e!r}")
        finally:
            with self._space:
                self._space.notify_all()
            with self._flushed:
                self._flushed.notify_all()

    def _drain(self) -> None:
        queue = self._queue
        encoder = self._encoder
        limit = self._batch_points
        while queue and self._failure is None:
            add = encoder.add
            while queue and encoder.points < limit:
                entry = queue[0]
                if type(entry) is not tuple:
                    break
                queue.popleft()
                add(*entry)
            if len(queue) < self._max_queued:
                with self._space:
                    self._space.notify_all()
            if encoder.points:
                self._submit(KIND_METRICS, encoder, encoder.points)
            if queue and type(queue[0]) is not tuple:
                self._handle_special(queue.popleft())

    def _handle_special(self, entry: Any) -> None:
        if entry is _FLUSH:
            self._complete_inflight()
            self._journal.sync()
            with self._flushed:
                self._flush_done += 1
                self._flushed.notify_all()
        elif isinstance(entry, pb.LogEventRequest):
            self._submit(KIND_EVENT, entry, 0)
        elif isinstance(entry, pb.UpdateExperimentRequest):
            self._submit(KIND_STATUS, entry, 0)

    def _submit(self, kind: int, request: Any, points: int) -> None:
        seq = self._journal.last_seq + 1
        if kind == KIND_METRICS:
            # The server stores a batch id once: a replay after a lost answer sends the batch again without duplicates.
            payload = request.encode(batch_id=f"py-{int(self._nonce):x}-{seq}")
        else:
            payload = request.SerializeToString()
        try:
            self._journal.append(kind, payload)
        except ModelBoxError as e:
            self._failure = e
            return
        if self._offline:
            return
        while len(self._inflight) >= IN_FLIGHT:
            self._complete_oldest()
        if self._offline or self._failure is not None:
            return
        self._inflight.append((seq, self._stub.method(kind).future(payload, timeout=self.client.timeout), points))

    def _complete_inflight(self) -> None:
        while self._inflight:
            self._complete_oldest()

    def _complete_oldest(self) -> None:
        seq, future, points = self._inflight.popleft()
        try:
            future.result()
        except grpc.RpcError as e:
            error = from_rpc_error(e, self.client.server_addr)
            if isinstance(error, Unavailable):
                if not self._offline:
                    log.warning("modelbox: %s; journaling until it answers (%s)", error, self._journal.directory)
                self._offline = True
                self._next_probe = time.monotonic() + 0.2
                self._probe_failures = 0
            elif self._failure is None:
                self._failure = error
            return
        if self._offline or self._failure is not None:
            return  # an earlier request failed: this one is confirmed by the replay, which checks it on the server
        self._journal.ack(seq)
        self.points_sent += points

    def _try_recover(self) -> None:
        if time.monotonic() < self._next_probe:
            return
        # A request still in flight could be stored after the replay checked it: let every one end first.
        self._complete_inflight()
        try:
            replay(self.client, self._journal, self._stub)
        except Unavailable:
            self._probe_failures += 1
            self._next_probe = time.monotonic() + min(5.0, 0.2 * 2 ** min(self._probe_failures, 5))
            return
        except ModelBoxError as e:
            self._failure = e
            return
        self._offline = False
        log.warning("modelbox: %s answers again; the journal of run %s is sent", self.client.server_addr, self.id)


_open_runs: weakref.WeakSet[Run] = weakref.WeakSet()


@atexit.register
def _finish_open_runs() -> None:
    # An uncaught exception leaves sys.last_value behind before atexit handlers run.
    status = "failed" if getattr(sys, "last_value", None) is not None else "finished"
    for run in list(_open_runs):
        try:
            run.finish(status)
        except Exception as e:  # noqa: BLE001 - at exit, report and go on with the others
            print(f"modelbox: finishing run {run.id} failed: {e}", file=sys.stderr)


def init(
    namespace: str = "default",
    experiment: str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    owner: str = "",
    framework: str | int | None = None,
    task: str = "",
    description: str = "",
    server_addr: str | None = None,
    token: str | None = None,
    client: Client | None = None,
    journal: bool = True,
    journal_dir: str | None = None,
    journal_max_bytes: int = DEFAULT_MAX_BYTES,
    system_metrics: bool = True,
    system_metrics_interval: float = 10.0,
    **options: Any,
) -> Run:
    """Creates the experiment `experiment` in `namespace`, or resumes it when it exists (idempotent), and returns
    a :class:`Run` logging to it.

    Args:
        namespace: the namespace; ``default`` when not given.
        experiment: the experiment (run) name; a name from the time and host when None.
        config: hyperparameters, stored as the experiment's metadata (JSON values).
        labels: labels to filter on later (``team=speech``).
        server_addr: see :class:`modelbox.Client`.
        token: the API token for a server with access control enforced; see :class:`modelbox.Client`.
        journal: keep unconfirmed requests in a crash-safe journal under `journal_dir` (default
            ``$MODELBOX_JOURNAL_DIR`` or ``~/.cache/modelbox/journal``); False keeps them in memory only.
        system_metrics: log the trainer's CPU, memory and (with ``nvidia-smi``) GPU use every
            `system_metrics_interval` seconds under ``system/...``.
        options: passed to :class:`Run` (``batch_points``, ``flush_interval``, ``max_queued_calls``, ``finish_timeout``).
    """
    owns = client is None
    client = client or Client(server_addr, token=token)
    try:
        name = experiment or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.uname().nodename}-{os.getpid()}"
        offline_start: list[tuple[int, Any]] = []
        try:
            created = client.create_experiment(
                name, namespace, owner=owner, framework=framework, task=task, metadata=config, description=description)
            if created.existed:
                if config:
                    client.update_metadata(created.id, config)
                client.update_experiment(created.id, status="running")
            if labels:
                client.set_labels(created.id, labels)
            run_id = created.id
        except Unavailable as e:
            if not journal:
                raise
            # Train anyway: the experiment's id derives from namespace and name, and its creation is journaled first.
            log.warning("modelbox: %s; the run starts offline and is created when the server answers", e)
            run_id = experiment_id(namespace, name)
            request = pb.CreateExperimentRequest(
                name=name, namespace=namespace, owner=owner, framework=framework_value(framework), task=task,
                description=description)
            _convert.fill_values(request.metadata.metadata, config, "config")
            offline_start.append((KIND_CREATE_EXPERIMENT, request))
            if labels:
                offline_start.append((KIND_SET_LABELS, pb.SetLabelsRequest(object_id=run_id, labels=dict(labels))))
        run = Run(client, run_id, journal=journal, journal_dir=journal_dir, journal_max_bytes=journal_max_bytes,
                  owns_client=owns, _offline_start=offline_start, **options)
    except BaseException:
        if owns:
            client.close()
        raise
    if system_metrics:
        from .system import SystemMetrics

        run._system = SystemMetrics(run, interval=system_metrics_interval)
        run._system.start()
    return run
