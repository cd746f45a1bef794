"""Conversions between Python values and the protobuf messages."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from .errors import InvalidArgument


def fill_values(target: Any, values: Mapping[str, Any] | None, field: str) -> None:
    """Copies `values` (JSON-compatible) into a map<string, google.protobuf.Value>."""
    if not values:
        return
    if not isinstance(values, Mapping):
        raise InvalidArgument(f"{field} must be a mapping of string keys to JSON values, not {type(values).__name__}")
    struct = struct_pb2.Struct()
    try:
        struct.update({_key(k, field): v for k, v in values.items()})
    except (ValueError, TypeError) as e:
        raise InvalidArgument(f"{field}: {e}") from e
    for key, value in struct.fields.items():
        target[key].CopyFrom(value)


def _key(key: Any, field: str) -> str:
    if not isinstance(key, str):
        raise InvalidArgument(f"{field} keys must be strings, got {key!r}")
    return key


def values_dict(values: Any) -> dict[str, Any]:
    """A map<string, google.protobuf.Value> as a plain dict."""
    return {k: json_format.MessageToDict(v) for k, v in values.items()}


def timestamp(when: _dt.datetime | float | None) -> timestamp_pb2.Timestamp:
    """A Timestamp from a datetime (naive means UTC), Unix seconds, or None (now)."""
    ts = timestamp_pb2.Timestamp()
    if when is None:
        ts.GetCurrentTime()
    elif isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        ts.FromDatetime(when.astimezone(_dt.timezone.utc).replace(tzinfo=None))
    else:
        ts.FromNanoseconds(int(float(when) * 1e9))
    return ts


def to_datetime(ts: timestamp_pb2.Timestamp) -> _dt.datetime:
    """A Timestamp as an aware UTC datetime."""
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=_dt.timezone.utc)
