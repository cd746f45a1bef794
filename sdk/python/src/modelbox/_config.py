"""Where the SDK finds its server and token, in the CLI's order.

The address: argument, MODELBOX_SERVER_ADDR, the client config file, localhost:8085. The API token (for a server with
access control enforced): argument, MODELBOX_TOKEN, ``token`` in the client config file, none.
"""

from __future__ import annotations

import os
import tomllib

from .errors import InvalidArgument

DEFAULT_SERVER_ADDR = "localhost:8085"
SERVER_ADDR_VARIABLE = "MODELBOX_SERVER_ADDR"
TOKEN_VARIABLE = "MODELBOX_TOKEN"
CONFIG_PATH_VARIABLE = "MODELBOX_CLIENT_CONFIG"
DEFAULT_CONFIG_FILE = "modelbox_client.toml"
_KEYS = ("server_addr", "token")


def load_config(path: str) -> dict[str, str]:
    """Reads `server_addr` (default localhost:8085) and `token` (when present) from a client config file written by
    `modelbox client init-config`."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InvalidArgument(f"cannot parse client config '{path}': {e}") from e
    for key in table:
        if key not in _KEYS:
            raise InvalidArgument(f"unknown key '{key}' in client config '{path}'; the keys are 'server_addr' and 'token'")
    config = {"server_addr": DEFAULT_SERVER_ADDR}
    for key, example in (("server_addr", DEFAULT_SERVER_ADDR), ("token", "mbx_...")):
        if key not in table:
            continue
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgument(f"'{key}' in client config '{path}' must be a non-empty string such as \"{example}\"")
        config[key] = value.strip()
    return config


def _config_file(config_path: str | None) -> dict[str, str] | None:
    explicit = config_path or os.environ.get(CONFIG_PATH_VARIABLE)
    if explicit:
        # A named config file is read even when a higher source wins, so a broken file never goes unnoticed.
        if not os.path.isfile(explicit):
            raise InvalidArgument(f"client config file '{explicit}' does not exist")
        return load_config(explicit)
    return None


def resolve_server_addr(server_addr: str | None = None, config_path: str | None = None) -> str:
    """The address to connect to: `server_addr`, then $MODELBOX_SERVER_ADDR, then `server_addr` in the client config
    (`config_path`, $MODELBOX_CLIENT_CONFIG, or ./modelbox_client.toml when it exists), then localhost:8085."""
    from_explicit = _config_file(config_path)
    if server_addr and server_addr.strip():
        return server_addr.strip()
    env = os.environ.get(SERVER_ADDR_VARIABLE, "").strip()
    if env:
        return env
    if from_explicit is not None:
        return from_explicit["server_addr"]
    if os.path.isfile(DEFAULT_CONFIG_FILE):
        return load_config(DEFAULT_CONFIG_FILE)["server_addr"]
    return DEFAULT_SERVER_ADDR


def resolve_token(token: str | None = None, config_path: str | None = None) -> str | None:
    """The API token to send: `token`, then $MODELBOX_TOKEN, then `token` in the client config file (as for the
    address), else None (no authorization header)."""
    from_explicit = _config_file(config_path)
    if token and token.strip():
        return token.strip()
    env = os.environ.get(TOKEN_VARIABLE, "").strip()
    if env:
        return env
    if from_explicit is not None:
        return from_explicit.get("token")
    if os.path.isfile(DEFAULT_CONFIG_FILE):
        return load_config(DEFAULT_CONFIG_FILE).get("token")
    return None


def grpc_target(server_addr: str) -> tuple[str, bool]:
    """The grpcio target and whether it uses TLS: host:port and http://host:port are plaintext, https:// is TLS."""
    if server_addr.startswith("https://"):
        return server_addr[len("https://"):].rstrip("/"), True
    if server_addr.startswith("http://"):
        return server_addr[len("http://"):].rstrip("/"), False
    return server_addr, False
