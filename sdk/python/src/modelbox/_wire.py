"""LogMetricsBatchRequest bytes written directly, without a protobuf object per point.

Building a batch with the protobuf API costs a message object per point and a serialization pass; the background
thread of a run instead appends each point's encoded bytes to its series' list and joins them once per batch. The
bytes are the protobuf wire encoding of (field numbers from proto/modelbox/modelbox.proto)::

    LogMetricsBatchRequest { repeated MetricSeriesPoints series = 1; string batch_id = 2; }
    MetricSeriesPoints     { string parent_id = 1; string key = 2; repeated MetricsValue values = 3; }
    MetricsValue           { uint64 step = 1; uint64 wallclock_time = 2; double d_val = 8; }

A test parses the result with the generated classes and compares it with the same batch built through them, so the
two cannot drift apart.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_PACK_DOUBLE = struct.Struct("<d").pack
_BATCH_SERIES = b"\x0a"  # LogMetricsBatchRequest.series, length-delimited
_BATCH_ID = b"\x12"  # LogMetricsBatchRequest.batch_id
_SERIES_PARENT = b"\x0a"  # MetricSeriesPoints.parent_id
_SERIES_KEY = b"\x12"  # MetricSeriesPoints.key
_SERIES_VALUE = 0x1A  # MetricSeriesPoints.values, length-delimited
_VALUE_STEP = b"\x08"  # MetricsValue.step, varint
_VALUE_TIME = b"\x10"  # MetricsValue.wallclock_time, varint
_VALUE_DOUBLE = b"\x41"  # MetricsValue.d_val, 64-bit


def varint(n: int) -> bytes:
    """The base-128 varint of a non-negative int."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _length_delimited(tag: bytes, data: bytes) -> bytes:
    return tag + varint(len(data)) + data


class BatchEncoder:
    """Collects points of one object's series and encodes them as one LogMetricsBatchRequest."""

    __slots__ = ("_parent", "_series", "_time", "_time_bytes", "points")

    def __init__(self, parent_id: str) -> None:
        self._parent = _length_delimited(_SERIES_PARENT, parent_id.encode("utf-8"))
        self._series: dict[str, list[bytes]] = {}
        self._time = -1
        self._time_bytes = b""
        self.points = 0

    def add(self, step: int, seconds: int, values: Mapping[str, float]) -> None:
        """Adds one point per key at `step` (values must be floats)."""
        if seconds != self._time:
            self._time = seconds
            self._time_bytes = _VALUE_TIME + varint(seconds)
        body = _VALUE_STEP + varint(step) + self._time_bytes + _VALUE_DOUBLE
        # Every point's message is at most 1 + 10 + 11 + 1 + 8 bytes: its length is one varint byte.
        head = bytes((_SERIES_VALUE, len(body) + 8)) + body
        series = self._series
        pack = _PACK_DOUBLE
        for key, value in values.items():
            points = series.get(key)
            if points is None:
                points = series[key] = []
            points.append(head + pack(value))
        self.points += len(values)

    def encode(self, batch_id: str = "") -> bytes:
        """The serialized request; the encoder is empty again afterwards."""
        parts = []
        for key, points in self._series.items():
            series = self._parent + _length_delimited(_SERIES_KEY, key.encode("utf-8")) + b"".join(points)
            parts.append(_length_delimited(_BATCH_SERIES, series))
        if batch_id:
            parts.append(_length_delimited(_BATCH_ID, batch_id.encode("utf-8")))
        self._series = {}
        self.points = 0
        return b"".join(parts)
