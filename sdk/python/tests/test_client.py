"""The client API against a real server: the workflow the C# SDK's end-to-end tests cover, pythonic."""

import os
import threading

import pytest

import modelbox


def test_experiment_create_is_idempotent_and_reads_back(client, namespace):
    first = client.create_experiment("exp-a", namespace, owner="me@example.com", framework="pytorch",
                                     metadata={"lr": 0.001, "layers": [1, "two"]})
    again = client.create_experiment("exp-a", namespace)
    assert not first.existed and again.existed and again.id == first.id
    got = client.get_experiment(first.id)
    assert (got.name, got.namespace, got.owner, got.framework) == ("exp-a", namespace, "me@example.com", modelbox.pb.PYTORCH)
    assert client.get_metadata(first.id) == {"lr": 0.001, "layers": [1, "two"]}
    assert [e.id for e in client.list_experiments(namespace)] == [first.id]
    updated = client.update_experiment(first.id, status="failed", description="diverged")
    assert updated.status == modelbox.pb.EXPERIMENT_STATUS_FAILED and updated.description == "diverged"


def test_errors_are_typed_and_carry_the_server_message(client, namespace):
    with pytest.raises(modelbox.NotFound) as missing:
        client.get_experiment("exp-0000000000000000000000000000dead")
    assert "exp-0000000000000000000000000000dead" in str(missing.value)
    with pytest.raises(modelbox.InvalidArgument, match="name"):
        client.create_experiment("", namespace)
    with pytest.raises(modelbox.InvalidArgument, match="status"):
        client.update_experiment("x", status="exploded")


def test_unavailable_after_retries_names_the_address():
    port = __import__("conftest").free_port()
    with modelbox.Client(f"127.0.0.1:{port}", retries=2, backoff=0.01, timeout=2) as dead:
        with pytest.raises(modelbox.Unavailable, match=f"127.0.0.1:{port}"):
            dead.get_experiment("exp-x")


def test_checkpoints_metadata_events(client, namespace):
    exp = client.create_experiment("exp-c", namespace).id
    ckpt = client.create_checkpoint(exp, 3, metrics={"val_loss": 0.5}, metadata={"note": "best"})
    assert client.create_checkpoint(exp, 3).existed
    assert client.get_checkpoint(exp, 3).id == ckpt.id
    assert [c.epoch for c in client.list_checkpoints(exp)] == [3]
    assert client.get_checkpoint(exp, 3).metrics["val_loss"] == pytest.approx(0.5)
    client.update_metadata(exp, {"a": {"b": True}})
    assert client.get_metadata(exp)["a"] == {"b": True}
    assert client.delete_metadata(exp, ["a"]) == 1
    client.log_event(exp, "preempted", source="scheduler", metadata={"node": "n1"})
    events = list(client.list_events(exp))
    assert [(e.name, e.source.name) for e in events] == [("preempted", "scheduler")]


def test_artifacts_round_trip_with_verification_and_resume(client, namespace, tmp_path):
    exp = client.create_experiment("exp-f", namespace).id
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    record = client.upload_file(exp, str(src), file_type="model")
    assert record.size_bytes == src.stat().st_size and len(record.sha256) == 64
    assert [f.id for f in client.list_artifacts(exp)] == [record.id]
    out = client.download_file(record.id, str(tmp_path / "copy.bin"))
    assert open(out, "rb").read() == src.read_bytes()
    # A .part left by an interrupted download is resumed, not restarted.
    part = tmp_path / "resumed.bin.part"
    part.write_bytes(src.read_bytes()[:1_000_000])
    out = client.download_file(record.id, str(tmp_path / "resumed.bin"))
    assert open(out, "rb").read() == src.read_bytes() and not part.exists()


def test_upload_with_wrong_checksum_is_refused_and_nothing_is_kept(client, namespace, tmp_path):
    exp = client.create_experiment("exp-bad", namespace).id
    frames = [
        modelbox.pb.UploadFileRequest(metadata=modelbox.pb.FileMetadata(parent_id=exp, path="x.bin", sha256="0" * 64)),
        modelbox.pb.UploadFileRequest(chunks=b"payload"),
    ]
    with pytest.raises(modelbox.DataLoss):
        try:
            client.stub.UploadFile(iter(frames))
        except __import__("grpc").RpcError as e:
            raise modelbox.errors.from_rpc_error(e, client.server_addr) from None
    assert client.list_artifacts(exp) == []


def test_download_of_corrupted_blob_raises_data_loss_and_keeps_nothing(client, server, namespace, tmp_path):
    exp = client.create_experiment("exp-corrupt", namespace).id
    src = tmp_path / "w.bin"
    content = os.urandom(200_000)
    src.write_bytes(content)
    record = client.upload_file(exp, str(src))
    corrupted = 0
    for root, _, files in os.walk(os.path.join(server.data_dir, "blobs")):
        for name in files:
            path = os.path.join(root, name)
            if os.path.getsize(path) == len(content) and open(path, "rb").read() == content:
                with open(path, "r+b") as f:
                    f.seek(1000)
                    f.write(bytes([content[1000] ^ 0xFF]))
                corrupted += 1
    assert corrupted == 1
    target = tmp_path / "out.bin"
    with pytest.raises(modelbox.DataLoss, match=record.id):
        client.download_file(record.id, str(target))
    assert not target.exists() and not (tmp_path / "out.bin.part").exists()


def test_registry_labels_aliases_search_lineage_and_pull(client, namespace, tmp_path):
    exp = client.create_experiment("exp-r", namespace).id
    ckpt = client.create_checkpoint(exp, 1).id
    model = client.create_model("asr", namespace, task="asr").id
    version = client.create_model_version(model, "v1", experiment_id=exp, checkpoint_id=ckpt).id
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights" * 1000)
    client.upload_file(version, str(weights), file_type="model")
    assert client.set_labels(model, {"team": "speech"}) == {"team": "speech"}
    assert client.remove_labels(model, ["team"]) == {}
    client.set_labels(exp, {"env": "prod"})
    assert [e.id for e in client.list_experiments(namespace, label_selector="env=prod")] == [exp]
    assert client.set_alias(model, "production", version).version_id == version
    assert client.get_alias(model, "production").version_id == version
    assert [a.alias for a in client.list_aliases(model)] == ["production"]
    assert [m.id for m in client.search_models(namespace, "task = 'asr'")] == [model]
    with pytest.raises(modelbox.InvalidArgument):
        list(client.search_models(namespace, "task = = 'asr'"))
    lineage = client.get_lineage(version)
    assert lineage.experiment.id == exp and lineage.checkpoint.id == ckpt
    paths = modelbox.pull(f"{namespace}/asr@production", str(tmp_path / "serve"), server_addr=client.server_addr)
    assert [open(p, "rb").read() for p in paths] == [weights.read_bytes()]
    client.delete_alias(model, "production")
    with pytest.raises(modelbox.NotFound):
        client.get_alias(model, "production")


def test_watch_yields_changes_and_resumes_after_a_sequence(client, namespace):
    seen = []
    done = threading.Event()

    def consume():
        for change in modelbox.watch(namespace, server_addr=client.server_addr):
            seen.append(change)
            if len(seen) == 2:
                done.set()
                return

    threading.Thread(target=consume, daemon=True).start()
    first = client.create_experiment("w1", namespace).id
    second = client.create_experiment("w2", namespace).id
    assert done.wait(30)
    assert [c.object_id for c in seen] == [first, second]
    resumed = client.watch(namespace, since=seen[0].sequence)
    assert next(resumed).object_id == second
    resumed.close()


def test_metric_reads_as_lists_and_downsampled(client, namespace):
    exp = client.create_experiment("exp-m", namespace).id
    for step in range(100):
        client.log_metrics(exp, {"loss": 1.0 / (step + 1)}, step)
    points = client.get_metric_series(exp, "loss")
    assert [p.step for p in points] == list(range(100)) and points[9].value == pytest.approx(0.1)
    assert len(client.get_metric_series(exp, "loss", max_points=10)) <= 10
    assert list(client.get_metrics(exp)) == ["loss"]
    steps, _, values = client.get_metric_series(exp, "loss", as_numpy=True)
    assert steps.tolist() == list(range(100)) and values[9] == pytest.approx(0.1)
    assert [p.step for p in client.export_metric_points(exp, "loss", page_size=7)] == list(range(100))
    [summary] = client.get_metric_summaries([exp])
    assert (summary.key, summary.count, summary.last.step) == ("loss", 100, 99)
    assert summary.sum == pytest.approx(sum(1.0 / (s + 1) for s in range(100))) and summary.min.d_val == pytest.approx(0.01)
    assert client.get_metric_summaries([exp], keys=["acc"]) == []


def test_watch_resumes_by_itself_across_a_server_restart(private_server, namespace):
    seen = []
    first_seen = threading.Event()
    done = threading.Event()

    def consume():
        with modelbox.Client(private_server.address, backoff=0.05) as watcher:
            for change in watcher.watch(namespace):
                seen.append(change.object_id)
                first_seen.set()
                if len(seen) == 2:
                    done.set()
                    return

    with modelbox.Client(private_server.address) as client:
        first = client.create_experiment("before", namespace).id
        threading.Thread(target=consume, daemon=True).start()
        assert first_seen.wait(30)
        private_server.stop()
        private_server.start()
        second = client.create_experiment("after", namespace).id
        assert done.wait(60)
    assert seen == [first, second]


def test_metric_series_batch_reads_many_series_in_request_order_as_lists_or_arrays(client, namespace):
    first = client.create_experiment("batch-a", namespace).id
    second = client.create_experiment("batch-b", namespace).id
    for step in range(50):
        client.log_metrics(first, {"loss": 1.0 / (step + 1), "acc": step / 50}, step)
    for step in range(0, 100, 2):
        client.log_metrics(second, {"loss": 2.0 / (step + 1)}, step)

    series = client.get_metric_series_batch([(second, "loss"), (first, "loss"), (first, "missing")])
    assert [(s.parent_id, s.key) for s in series] == [(second, "loss"), (first, "loss"), (first, "missing")]
    assert [p.step for p in series[0].points] == list(range(0, 100, 2)) and series[0].total_points == 50
    assert series[1].points[9].value == pytest.approx(0.1) and not series[1].downsampled and series[1].start_time > 0
    assert series[2].points == [] and series[2].total_points == 0

    ranged = client.get_metric_series_batch([(first, "acc")], start=10, end=19)
    assert [p.step for p in ranged[0].points] == list(range(10, 20))
    small = client.get_metric_series_batch([(first, "loss"), (second, "loss")], max_points=10)
    assert all(len(s.points) <= 10 and s.downsampled for s in small)

    steps, times, values = client.get_metric_series_batch([(first, "loss")], as_numpy=True)[0].points
    assert steps.tolist() == list(range(50)) and values[9] == pytest.approx(0.1) and len(times) == 50
    by_time = client.get_metric_series_batch([(first, "loss")], x_axis="relative_time", start=0)
    assert len(by_time[0].points) == 50
    with pytest.raises(modelbox.InvalidArgument, match="x_axis"):
        client.get_metric_series_batch([(first, "loss")], x_axis="epochs")
    with pytest.raises(modelbox.InvalidArgument):
        client.get_metric_series_batch([(first, "loss")], max_points=1)


def test_action_and_agent_calls_reach_the_server_and_map_its_answer(client, namespace):
    # The server answers the action and agent RPCs with UNIMPLEMENTED (docs/reliability.md: a later capability); the
    # SDK sends well-formed requests and raises the typed error, and rejects bad values before sending.
    exp = client.create_experiment("actions", namespace).id
    with pytest.raises(modelbox.Unimplemented):
        client.create_action(exp, "evaluate", arch="x86_64", params={"dataset": "val"}, predicate="obj.epoch > 3")
    with pytest.raises(modelbox.Unimplemented):
        client.list_actions(exp)
    with pytest.raises(modelbox.Unimplemented):
        client.register_agent("trainer-agent")
    with pytest.raises(modelbox.Unimplemented):
        client.heartbeat("node-1")
    with pytest.raises(modelbox.Unimplemented):
        client.get_runnable_action_instances("evaluate", arch="x86_64")
    with pytest.raises(modelbox.Unimplemented):
        client.update_action_status("ai-1", "finished", outcome="success", reason="done")
    with pytest.raises(modelbox.InvalidArgument, match="status"):
        client.update_action_status("ai-1", "exploded")
    with pytest.raises(modelbox.InvalidArgument, match="outcome"):
        client.update_action_status("ai-1", "finished", outcome="maybe")
    with pytest.raises(modelbox.InvalidArgument, match="params"):
        client.create_action(exp, "evaluate", params={"x": object()})
