"""A server with access control enforced (issue 18): the SDK sends its API token on every call, run logging included."""

import subprocess
import tempfile
from collections.abc import Iterator

import pytest

import modelbox
from conftest import ServerProcess


@pytest.fixture(scope="module")
def enforced() -> Iterator[tuple[ServerProcess, str]]:
    """A server with `[auth] mode = "enforced"` and the token of its first admin (`modelbox server bootstrap-admin`)."""
    with tempfile.TemporaryDirectory(prefix="modelbox-pytest-auth-") as data:
        process = ServerProcess(data)
        process.env["MODELBOX_AUTH_MODE"] = "enforced"
        created = subprocess.run(["dotnet", process.dll, "server", "bootstrap-admin"], env=process.env, cwd=data,
                                 capture_output=True, text=True, check=True)
        token = created.stdout.strip()
        assert token.startswith("mbx_"), created
        process.start()
        yield process, token
        process.stop()


def test_calls_without_or_with_a_wrong_token_are_unauthenticated(enforced, monkeypatch):
    server, token = enforced
    monkeypatch.delenv("MODELBOX_TOKEN", raising=False)
    with modelbox.Client(server.address, retries=0) as anonymous:
        with pytest.raises(modelbox.Unauthenticated, match="MODELBOX_TOKEN"):
            anonymous.create_experiment("e", "team")
    with modelbox.Client(server.address, token=token[:-4] + "0000", retries=0) as wrong:
        with pytest.raises(modelbox.PermissionDenied):
            wrong.create_experiment("e", "team")


def test_token_from_argument_environment_and_config_file(enforced, monkeypatch, tmp_path):
    server, token = enforced
    monkeypatch.delenv("MODELBOX_TOKEN", raising=False)
    monkeypatch.delenv("MODELBOX_CLIENT_CONFIG", raising=False)
    with modelbox.Client(server.address, token=token) as client:
        assert not client.create_experiment("from-argument", "team").existed
    config = tmp_path / "modelbox_client.toml"
    config.write_text(f'server_addr = "{server.address}"\ntoken = "{token}"\n')
    with modelbox.Client(config_path=str(config)) as client:
        assert [e.name for e in client.list_experiments("team")] == ["from-argument"]
    monkeypatch.setenv("MODELBOX_TOKEN", "mbx_000000000000_wrong")  # the environment wins over the file
    with modelbox.Client(config_path=str(config), retries=0) as client:
        with pytest.raises(modelbox.Unauthenticated):
            client.get_experiment("exp-x")


def test_a_run_logs_streams_and_uploads_with_the_token(enforced, monkeypatch, tmp_path):
    server, token = enforced
    monkeypatch.delenv("MODELBOX_TOKEN", raising=False)
    with modelbox.init(namespace="team/sub", experiment="run", server_addr=server.address, token=token,
                       journal_dir=str(tmp_path), system_metrics=False) as run:
        for step in range(2000):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.log_event("done")
        weights = tmp_path / "w.bin"
        weights.write_bytes(b"w" * 100_000)
        record = run.log_artifact(str(weights))
    with modelbox.Client(server.address, token=token) as client:
        assert [p.step for p in client.get_metric_series(run.id, "loss")] == list(range(2000))
        assert client.get_experiment(run.id).status == modelbox.pb.EXPERIMENT_STATUS_FINISHED
        assert client.download_file(record.id, str(tmp_path / "copy.bin")) and (tmp_path / "copy.bin").read_bytes() == weights.read_bytes()
        assert run.id in {e.id for e in client.list_experiments("team", recursive=True)}
        assert run.id not in {e.id for e in client.list_experiments("team")}
