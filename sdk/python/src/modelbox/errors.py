"""Typed exceptions: every failed call raises a subclass of :class:`ModelBoxError` carrying the server's message."""

from __future__ import annotations

import grpc


class ModelBoxError(Exception):
    """A call to the ModelBox server failed.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``) of the failure.
        message: what the server (or the transport) said, naming the field or id when the server did.
    """

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(ModelBoxError):
    """The object named in the call does not exist (or is deleted)."""


class InvalidArgument(ModelBoxError, ValueError):
    """The server (or the SDK, before sending) rejected an argument; the message names the field."""


class Conflict(ModelBoxError):
    """The call conflicts with the stored state: the object already exists, or is in the wrong state."""


class AlreadyExists(Conflict):
    """The object already exists."""


class FailedPrecondition(Conflict):
    """The object is in a state that does not allow the call."""


class Unavailable(ModelBoxError):
    """The server could not be reached, or said it is unavailable; the message names its address."""


class DeadlineExceeded(ModelBoxError):
    """The server did not answer in time."""


class ResourceExhausted(ModelBoxError):
    """A size limit was exceeded (message size, upload size)."""


class DataLoss(ModelBoxError):
    """Bytes did not match their checksum (an upload the server refused, or a download the SDK refused)."""


class PermissionDenied(ModelBoxError):
    """The caller may not do this."""


class Unauthenticated(PermissionDenied):
    """The server enforces access control and the call carried no valid API token (see ``Client(token=...)``)."""


class Unimplemented(ModelBoxError):
    """The server does not offer this call: an older server, or a capability it does not serve (yet)."""


class JournalFull(ModelBoxError):
    """The offline journal reached its size limit while the server was unreachable; nothing more can be kept."""


_BY_CODE: dict[grpc.StatusCode, type[ModelBoxError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def from_rpc_error(error: grpc.RpcError, server_addr: str) -> ModelBoxError:
    """Turns a failed gRPC call into the matching typed exception; the one place statuses are mapped."""
    code: grpc.StatusCode = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN  # type: ignore[union-attr]
    detail = (error.details() if isinstance(error, grpc.Call) else None) or str(code.name)  # type: ignore[union-attr]
    cls = _BY_CODE.get(code, ModelBoxError)
    if code == grpc.StatusCode.UNAVAILABLE:
        message = f"cannot reach ModelBox server at {server_addr}: {detail} (is the server running, and is the address right?)"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"the ModelBox server at {server_addr} did not answer in time"
    elif code == grpc.StatusCode.UNAUTHENTICATED:
        message = (f"{detail} (the ModelBox server at {server_addr} enforces access control: pass token=, or set "
                   "MODELBOX_TOKEN or `token` in the client config file)")
    elif cls is ModelBoxError:
        message = f"{detail} ({code.name})"
    else:
        message = detail
    return cls(message, code)
