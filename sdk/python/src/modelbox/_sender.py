"""Sends journaled records in order; decides, for the one record whose fate is unknown, whether the server has it."""

from __future__ import annotations

from typing import Any

import grpc

from . import modelbox_pb2 as pb
from .client import MARKER_KEY, Client
from .errors import NotFound, from_rpc_error
from .journal import KIND_EVENT, KIND_METRICS, Record

KIND_STATUS = 3
KIND_CREATE_EXPERIMENT = 4
KIND_SET_LABELS = 5

# Requests a run keeps in flight at once (two let the server commit one while the next arrives). Only the first
# IN_FLIGHT unconfirmed records of a journal can already be on the server, so a replay checks those.
IN_FLIGHT = 2

# Every batch a run sends carries one point of this series: step = the batch's journal sequence, value = the journal's
# random nonce. A batch is stored atomically, so that point being stored means the whole batch is: this is how a
# replay knows whether the batch that was in flight when the connection (or the process) died reached the server.
# The server has no idempotent batch id; see sdk/python/README.md.


class RawStub:
    """Unary calls that take already serialized requests, so journaled bytes are sent without re-encoding."""

    def __init__(self, client: Client) -> None:
        channel = client._channel
        self.metrics = channel.unary_unary(
            "/modelbox.ModelStore/LogMetricsBatch", request_serializer=None,
            response_deserializer=pb.LogMetricsBatchResponse.FromString)
        self.event = channel.unary_unary(
            "/modelbox.ModelStore/LogEvent", request_serializer=None, response_deserializer=pb.LogEventResponse.FromString)
        self.status = channel.unary_unary(
            "/modelbox.ModelStore/UpdateExperiment", request_serializer=None,
            response_deserializer=pb.UpdateExperimentResponse.FromString)

        self.create_experiment = channel.unary_unary(
            "/modelbox.ModelStore/CreateExperiment", request_serializer=None,
            response_deserializer=pb.CreateExperimentResponse.FromString)
        self.set_labels = channel.unary_unary(
            "/modelbox.ModelStore/SetLabels", request_serializer=None, response_deserializer=pb.SetLabelsResponse.FromString)

    def method(self, kind: int) -> Any:
        return {
            KIND_METRICS: self.metrics, KIND_EVENT: self.event, KIND_STATUS: self.status,
            KIND_CREATE_EXPERIMENT: self.create_experiment, KIND_SET_LABELS: self.set_labels,
        }[kind]


def is_stored(client: Client, record: Record) -> bool:
    """Whether the server already has the record (used only for the first unconfirmed records of a journal)."""
    if record.kind == KIND_METRICS:
        request = pb.LogMetricsBatchRequest.FromString(record.payload)
        if request.batch_id:
            return False  # the server stores a batch id once: sending it again is harmless
        # Journals written before batch ids carry a marker point instead.
        for series in request.series:
            if series.key == MARKER_KEY and series.values:
                marker = series.values[0]
                try:
                    points = client.get_metric_series(series.parent_id, MARKER_KEY, start_step=marker.step, end_step=marker.step)
                except NotFound:
                    return False
                return any(p.value == marker.d_val for p in points)
        return False
    if record.kind == KIND_EVENT:
        request = pb.LogEventRequest.FromString(record.payload)
        when = request.event.wallclock_time
        since = when.seconds - 1 + when.nanos / 1e9
        return any(
            e.name == request.event.name and e.wallclock_time == when
            for e in client.list_events(request.parent_id, since=since)
        )
    return False  # creates, labels and status updates are idempotent: sending them again is harmless


def replay(client: Client, journal: Any, stub: RawStub | None = None) -> int:
    """Sends every unconfirmed record of `journal` in order, confirming each; returns how many were sent.
    Raises the typed error of the first record that fails (Unavailable while the server is unreachable)."""
    stub = stub or RawStub(client)
    sent = 0
    for index, record in enumerate(journal.pending()):
        if index < IN_FLIGHT and is_stored(client, record):
            journal.ack(record.seq)
            continue
        try:
            stub.method(record.kind)(record.payload, timeout=client.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, client.server_addr) from None
        journal.ack(record.seq)
        sent += 1
    return sent
