"""``python -m modelbox sync DIR`` (or ``modelbox-sync DIR``): uploads run journals left by runs that could not reach
the server, in order, each request once."""

from __future__ import annotations

import argparse
import fcntl
import os
import sys

from ._sender import replay
from .client import Client
from .errors import ModelBoxError
from .journal import Journal, journal_dirs


def sync(directory: str, server_addr: str | None = None) -> int:
    """Uploads every journal under `directory`; returns how many requests were sent. A journal whose requests are
    all confirmed is removed."""
    total = 0
    for path in journal_dirs(directory):
        lock = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ModelBoxError(f"the journal {path} is in use by a running process") from None
            journal = Journal(path)
            with Client(server_addr or journal.meta.get("server_addr")) as client:
                total += replay(client, journal)
            done = journal.last_seq == journal.acked
            journal.close()
            if done:
                for name in os.listdir(path):
                    os.remove(os.path.join(path, name))
                os.rmdir(path)
        finally:
            os.close(lock)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelbox")
    commands = parser.add_subparsers(dest="command", required=True)
    sync_parser = commands.add_parser("sync", help="upload run journals kept while the server was unreachable")
    sync_parser.add_argument("directory", help="a run's journal directory, or a folder of them")
    sync_parser.add_argument("--server-addr", help="the server (default: the address the run used)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        print(f"error: {args.directory} is not a directory", file=sys.stderr)
        return 2
    try:
        sent = sync(args.directory, args.server_addr)
    except ModelBoxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"sent {sent} journaled requests")
    return 0


def sync_main() -> None:
    """The ``modelbox-sync`` console script."""
    sys.exit(main(["sync", *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
