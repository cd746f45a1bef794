"""Where the SDK finds its server: argument, MODELBOX_SERVER_ADDR, client config file, localhost:8085."""

import pytest

import modelbox
from modelbox._config import resolve_server_addr, resolve_token


def test_order_of_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELBOX_SERVER_ADDR", raising=False)
    monkeypatch.delenv("MODELBOX_CLIENT_CONFIG", raising=False)
    assert resolve_server_addr() == "localhost:8085"
    (tmp_path / "modelbox_client.toml").write_text('server_addr = "from-file:1"\n')
    assert resolve_server_addr() == "from-file:1"
    monkeypatch.setenv("MODELBOX_SERVER_ADDR", "from-env:2")
    assert resolve_server_addr() == "from-env:2"
    assert resolve_server_addr("from-arg:3") == "from-arg:3"


def test_explicit_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELBOX_SERVER_ADDR", raising=False)
    path = tmp_path / "c.toml"
    path.write_text('server_addr = "explicit:4"\n')
    assert modelbox.Client(config_path=str(path)).server_addr == "explicit:4"


@pytest.mark.parametrize("text, message", [
    ("server_addr = 5\n", "must be a non-empty string"),
    ('server = "x"\n', "unknown key 'server'"),
    ('token = ""\n', "'token' .* must be a non-empty string"),
    ("server_addr = \n", "cannot parse"),
])
def test_bad_config_file_names_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(modelbox.InvalidArgument, match=message):
        resolve_server_addr(config_path=str(path))


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(modelbox.InvalidArgument, match="does not exist"):
        resolve_server_addr(config_path=str(tmp_path / "missing.toml"))


def test_token_sources_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELBOX_TOKEN", raising=False)
    monkeypatch.delenv("MODELBOX_CLIENT_CONFIG", raising=False)
    assert resolve_token() is None
    (tmp_path / "modelbox_client.toml").write_text('server_addr = "h:1"\ntoken = "mbx_fromfile"\n')
    assert resolve_token() == "mbx_fromfile" and resolve_server_addr() == "h:1"
    monkeypatch.setenv("MODELBOX_TOKEN", "mbx_fromenv")
    assert resolve_token() == "mbx_fromenv"
    assert resolve_token("mbx_fromarg") == "mbx_fromarg"
