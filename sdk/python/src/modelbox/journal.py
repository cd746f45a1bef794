"""A local, bounded, crash-safe journal of what a run sends: metric batches and events, in order.

Layout of a run's journal directory::

    meta.json              the server address and the run's object id, written once
    acked                  8 bytes: the highest sequence number the server confirmed (rewritten in place)
    seg-000000000001.log   records: <length u32><crc32 u32><seq u64><kind u8><payload>

Every record is written with one ``os.write`` before it is sent, so a killed process (``kill -9``) leaves every
record it wrote; a torn last record (a crash mid-write, or power loss) fails its CRC and is cut off when the journal
is opened again. ``fsync`` runs when a segment is closed, at ``flush`` and when the run finishes. Segments whose
records are all confirmed are deleted. The journal never holds more than ``max_bytes`` of unconfirmed records:
appending past that raises :class:`JournalFull`.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from .errors import InvalidArgument, JournalFull

KIND_METRICS = 1
KIND_EVENT = 2

_HEADER = struct.Struct("<IIQB")
_ACKED = struct.Struct("<Q")
_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024


class Record(NamedTuple):
    """One journaled request: its sequence number, kind and serialized protobuf."""

    seq: int
    kind: int
    payload: bytes


class Journal:
    """The journal of one run (one directory). Thread-safe for one writer and one sender."""

    def __init__(self, directory: str, *, max_bytes: int = DEFAULT_MAX_BYTES, meta: dict[str, Any] | None = None) -> None:
        if max_bytes <= 0:
            raise InvalidArgument("journal max_bytes must be positive")
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)
        meta_path = os.path.join(directory, "meta.json")
        if meta is not None and not os.path.exists(meta_path):
            tmp = meta_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(meta, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, meta_path)
        self.meta: dict[str, Any] = {}
        if os.path.exists(meta_path):
            with open(meta_path, encoding="utf-8") as f:
                self.meta = json.load(f)
        self._acked_fd = os.open(os.path.join(directory, "acked"), os.O_RDWR | os.O_CREAT, 0o644)
        raw = os.pread(self._acked_fd, _ACKED.size, 0)
        self.acked = _ACKED.unpack(raw)[0] if len(raw) == _ACKED.size else 0
        # (first seq, last seq, path, size) per segment, oldest first; the last one is open for appends.
        self._segments: list[list[Any]] = []
        self.last_seq = self.acked
        for name in sorted(n for n in os.listdir(directory) if n.startswith("seg-") and n.endswith(".log")):
            path = os.path.join(directory, name)
            first, last, size = self._recover(path)
            if last == 0:
                os.remove(path)
                continue
            self._segments.append([first, last, path, size])
            self.last_seq = max(self.last_seq, last)
        self._fd: int | None = None
        self._drop_confirmed()

    @staticmethod
    def _scan(path: str) -> Iterator[tuple[Record, int]]:
        """The intact records of a segment and the offset after each; stops at the first torn or corrupt one."""
        with open(path, "rb") as f:
            data = f.read()
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, crc, seq, kind = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if end > len(data):
                return
            payload = data[offset + _HEADER.size:end]
            if zlib.crc32(payload, zlib.crc32(data[offset + 8:offset + _HEADER.size])) != crc:
                return
            offset = end
            yield Record(seq, kind, payload), offset

    def _recover(self, path: str) -> tuple[int, int, int]:
        first = last = good = 0
        for record, end in self._scan(path):
            first = first or record.seq
            last = record.seq
            good = end
        if good != os.path.getsize(path):
            # A torn tail: the process died mid-write. Everything before it is intact.
            with open(path, "r+b") as f:
                f.truncate(good)
        return first, last, good

    @property
    def pending_bytes(self) -> int:
        """Bytes of segments that still hold unconfirmed records."""
        return sum(s[3] for s in self._segments)

    def append(self, kind: int, payload: bytes) -> int:
        """Writes one record and returns its sequence number; raises :class:`JournalFull` past `max_bytes`."""
        with self._lock:
            size = _HEADER.size + len(payload)
            if self.pending_bytes + size > self.max_bytes:
                raise JournalFull(
                    f"the offline journal {self.directory} holds {self.pending_bytes} bytes not yet confirmed by the "
                    f"server and may hold at most {self.max_bytes}; start the server, or raise journal_max_bytes")
            if self._fd is None or self._segments[-1][3] + size > _SEGMENT_BYTES:
                self._roll()
            seq = self.last_seq + 1
            tail = _HEADER.pack(size - _HEADER.size, 0, seq, kind)[8:]
            crc = zlib.crc32(payload, zlib.crc32(tail))
            os.write(self._fd, _HEADER.pack(len(payload), crc, seq, kind) + payload)  # type: ignore[arg-type]
            segment = self._segments[-1]
            segment[0] = segment[0] or seq
            segment[1] = seq
            segment[3] += size
            self.last_seq = seq
            return seq

    def _roll(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
        path = os.path.join(self.directory, f"seg-{self.last_seq + 1:012d}.log")
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._segments.append([0, 0, path, 0])

    def ack(self, seq: int) -> None:
        """Records that the server confirmed every record up to `seq`; deletes fully confirmed segments."""
        with self._lock:
            if seq <= self.acked:
                return
            self.acked = seq
            os.pwrite(self._acked_fd, _ACKED.pack(seq), 0)
            self._drop_confirmed()

    def _drop_confirmed(self) -> None:
        while self._segments and self._segments[0][1] and self._segments[0][1] <= self.acked:
            if len(self._segments) == 1 and self._fd is not None:
                # The open segment: start a new one at the next append.
                os.close(self._fd)
                self._fd = None
            os.remove(self._segments.pop(0)[2])

    def pending(self) -> Iterator[Record]:
        """The unconfirmed records, oldest first (read from disk, so memory stays bounded)."""
        with self._lock:
            paths = [s[2] for s in self._segments]
        for path in paths:
            if not os.path.exists(path):
                continue
            for record, _ in self._scan(path):
                if record.seq > self.acked:
                    yield record

    def sync(self) -> None:
        """Forces written records to stable storage."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
            os.fsync(self._acked_fd)

    def close(self) -> None:
        """Syncs and closes the files; the directory stays (removed only when empty of unconfirmed records)."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
            os.fsync(self._acked_fd)
            os.close(self._acked_fd)


def journal_dirs(root: str) -> list[str]:
    """The run journals under `root` (a run's journal directory itself, or a folder of them)."""
    if os.path.exists(os.path.join(root, "meta.json")):
        return [root]
    if not os.path.isdir(root):
        return []
    return sorted(os.path.join(root, d) for d in os.listdir(root) if os.path.exists(os.path.join(root, d, "meta.json")))


class MemoryJournal:
    """The same interface in memory, for runs with the journal turned off: bounded, lost with the process."""

    def __init__(self, *, max_bytes: int = 256 * 1024 * 1024, meta: dict[str, Any] | None = None) -> None:
        self.directory = "<memory>"
        self.max_bytes = max_bytes
        self.meta = dict(meta or {})
        self.acked = 0
        self.last_seq = 0
        self._records: list[Record] = []
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def append(self, kind: int, payload: bytes) -> int:
        with self._lock:
            if self._bytes + len(payload) > self.max_bytes:
                raise JournalFull(
                    f"{self._bytes} bytes wait for the server, at most {self.max_bytes} may be kept in memory "
                    "(the run's journal is off); start the server, or turn the journal on")
            self.last_seq += 1
            self._records.append(Record(self.last_seq, kind, payload))
            self._bytes += len(payload)
            return self.last_seq

    def ack(self, seq: int) -> None:
        with self._lock:
            self.acked = max(self.acked, seq)
            while self._records and self._records[0].seq <= seq:
                self._bytes -= len(self._records.pop(0).payload)

    def pending(self) -> Iterator[Record]:
        with self._lock:
            records = list(self._records)
        return iter(records)

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
