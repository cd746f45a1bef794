"""Resumable artifact uploads against a real server that is killed mid-upload and started again."""

import hashlib
import os
import time
import urllib.request

import modelbox

MiB = 1024 * 1024


def uploaded_bytes(server) -> int:
    """The server's count of artifact bytes received from clients since it started (its Prometheus counter)."""
    url = f"http://{server.env['MODELBOX_PROMETHEUS_LISTEN_ADDR']}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode("utf-8")
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("modelbox_artifacts_bytes_uploaded") and "_created" not in line.split(" ")[0]))


def test_an_upload_resumes_by_itself_after_the_server_is_killed_and_sends_only_the_missing_bytes(private_server, namespace, tmp_path):
    data = os.urandom(12 * MiB + 4321)
    src = tmp_path / "weights.bin"
    src.write_bytes(data)
    progress_calls = []
    observed = {}

    with modelbox.Client(private_server.address, retries=30, backoff=0.2) as client, \
            modelbox.Client(private_server.address, retries=0, timeout=10) as observer:
        exp = client.create_experiment("resumable", namespace).id
        upload_id = modelbox.client.default_upload_id(exp, "weights.bin", str(src))

        def progress(done: int, total: int) -> None:
            progress_calls.append(done)
            if "kept" in observed or done < 6 * MiB:
                return
            # Wait (bounded) until the server stored at least 2 MiB, then kill -9 it mid-stream and start it again.
            for _ in range(3000):
                status = observer.stub.GetUploadStatus(modelbox.pb.GetUploadStatusRequest(parent_id=exp, upload_id=upload_id), timeout=10)
                if status.received_bytes >= 2 * MiB:
                    break
                time.sleep(0.01)
            assert status.in_progress and status.received_bytes >= 2 * MiB, status
            observed["kept"] = status.received_bytes
            private_server.process.kill()
            private_server.process.wait()
            observed["calls_before_restart"] = len(progress_calls)
            private_server.start()

        record = client.upload_file(exp, str(src), file_type="model", progress=progress)

        assert "kept" in observed, "the server was never killed"
        assert record.size_bytes == len(data) and record.sha256 == hashlib.sha256(data).hexdigest()
        # The restarted server received only what it had not kept: the resumed attempt started at that offset.
        resent = uploaded_bytes(private_server)
        resumed_from = len(data) - resent
        assert observed["kept"] <= resumed_from < len(data)
        assert resumed_from in progress_calls[observed["calls_before_restart"]:]
        assert client.get_upload_status(exp, upload_id) == 0
        out = client.download_file(record.id, str(tmp_path / "copy.bin"))
        assert open(out, "rb").read() == data
        assert [f.id for f in client.list_artifacts(exp)] == [record.id]


def test_an_upload_resumes_in_a_later_call_and_a_plain_upload_still_works(private_server, namespace, tmp_path):
    data = os.urandom(5 * MiB)
    src = tmp_path / "ckpt.bin"
    src.write_bytes(data)
    with modelbox.Client(private_server.address, retries=0) as client:
        exp = client.create_experiment("resumable-later", namespace).id
        upload_id = modelbox.client.default_upload_id(exp, "ckpt.bin", str(src))

        killed = []

        def stop_after_2_mib(done: int, total: int) -> None:
            if done >= 3 * MiB and not killed:
                for _ in range(3000):
                    if client.get_upload_status(exp, upload_id) >= 2 * MiB:
                        break
                    time.sleep(0.01)
                killed.append(done)
                private_server.process.kill()
                private_server.process.wait()

        try:
            client.upload_file(exp, str(src), progress=stop_after_2_mib)
            raise AssertionError("the upload finished although the server was killed")
        except modelbox.Unavailable:
            pass
    private_server.start()
    with modelbox.Client(private_server.address) as client:
        kept = client.get_upload_status(exp, upload_id)
        assert kept >= 2 * MiB
        starts = []
        record = client.upload_file(exp, str(src), progress=lambda done, total: starts.append(done))
        assert starts[0] == kept and uploaded_bytes(private_server) == len(data) - kept
        assert record.sha256 == hashlib.sha256(data).hexdigest()
        plain = client.upload_file(exp, str(src), name="plain.bin", resume=False)
        assert plain.sha256 == record.sha256 and plain.path == "plain.bin"


def test_an_error_raised_while_sending_reaches_the_caller_as_itself(client, namespace, tmp_path):
    # grpc consumes the request frames on its own thread and reports anything raised there as UNKNOWN; the SDK raises the
    # original error (here the caller's progress callback) instead, and the server keeps no file.
    src = tmp_path / "cut.bin"
    src.write_bytes(os.urandom(3 * MiB))
    exp = client.create_experiment("progress-error", namespace).id

    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done >= MiB:
            raise Stop(f"stopped at {done} of {total}")

    try:
        client.upload_file(exp, str(src), chunk_bytes=256 * 1024, progress=progress)
        raise AssertionError("the upload finished although its progress callback raised")
    except Stop as stop:
        assert "stopped at" in str(stop)
    assert [f for f in client.list_artifacts(exp)] == []
