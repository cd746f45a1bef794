"""Where the SDK finds its server, in the CLI's order: argument, MODELBOX_SERVER_ADDR, the client config file,
localhost:8085."""

from __future__ import annotations

import os
import tomllib

from .errors import InvalidArgument

DEFAULT_SERVER_ADDR = "localhost:8085"
SERVER_ADDR_VARIABLE = "MODELBOX_SERVER_ADDR"
CONFIG_PATH_VARIABLE = "MODELBOX_CLIENT_CONFIG"
DEFAULT_CONFIG_FILE = "modelbox_client.toml"


def load_config(path: str) -> str:
    """Reads `server_addr` from a client config file written by `modelbox client init-config`."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InvalidArgument(f"cannot parse client config '{path}': {e}") from e
    for key in table:
        if key != "server_addr":
            raise InvalidArgument(f"unknown key '{key}' in client config '{path}'; the only key is 'server_addr'")
    value = table.get("server_addr", DEFAULT_SERVER_ADDR)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"'server_addr' in client config '{path}' must be a non-empty string such as \"{DEFAULT_SERVER_ADDR}\"")
    return value.strip()


def resolve_server_addr(server_addr: str | None = None, config_path: str | None = None) -> str:
    """The address to connect to: `server_addr`, then $MODELBOX_SERVER_ADDR, then `server_addr` in the client config
    (`config_path`, $MODELBOX_CLIENT_CONFIG, or ./modelbox_client.toml when it exists), then localhost:8085."""
    explicit = config_path or os.environ.get(CONFIG_PATH_VARIABLE)
    from_explicit = None
    if explicit:
        # A named config file is read even when a higher source wins, so a broken file never goes unnoticed.
        if not os.path.isfile(explicit):
            raise InvalidArgument(f"client config file '{explicit}' does not exist")
        from_explicit = load_config(explicit)
    if server_addr and server_addr.strip():
        return server_addr.strip()
    env = os.environ.get(SERVER_ADDR_VARIABLE, "").strip()
    if env:
        return env
    if from_explicit is not None:
        return from_explicit
    if os.path.isfile(DEFAULT_CONFIG_FILE):
        return load_config(DEFAULT_CONFIG_FILE)
    return DEFAULT_SERVER_ADDR


def grpc_target(server_addr: str) -> tuple[str, bool]:
    """The grpcio target and whether it uses TLS: host:port and http://host:port are plaintext, https:// is TLS."""
    if server_addr.startswith("https://"):
        return server_addr[len("https://"):].rstrip("/"), True
    if server_addr.startswith("http://"):
        return server_addr[len("http://"):].rstrip("/"), False
    return server_addr, False
