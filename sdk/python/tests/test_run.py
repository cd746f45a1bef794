"""Tracking runs: batching in the background, failures surfaced, the offline journal and its replay."""

import os
import signal
import subprocess
import sys

import pytest

import modelbox
from conftest import INSTALL_DIR, ServerProcess


def steps_of(client, run_id, key="loss"):
    return [p.step for p in client.get_metric_series(run_id, key)]


def test_init_log_finish(client, namespace, journal_root):
    with modelbox.init(namespace=namespace, experiment="r1", config={"lr": 0.1, "opt": "adam"}, labels={"team": "a"},
                       server_addr=client.server_addr, journal_dir=journal_root, system_metrics=False) as run:
        for step in range(1000):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 1000}, step=step)
        run.log({"loss": 0.0})  # next step
        run.log_event("epoch_end", metadata={"epoch": 1})
    assert steps_of(client, run.id) == list(range(1001))
    experiment = client.get_experiment(run.id)
    assert experiment.status == modelbox.pb.EXPERIMENT_STATUS_FINISHED and dict(experiment.labels) == {"team": "a"}
    assert client.get_metadata(run.id) == {"lr": 0.1, "opt": "adam"}
    assert [e.name for e in client.list_events(run.id) if not e.name.startswith("audit.")] == ["epoch_end"]
    assert sorted(client.get_metrics(run.id)) == ["acc", "loss"]
    assert os.listdir(journal_root) == []  # everything confirmed: the journal is gone


def test_init_resumes_the_same_run(client, namespace, journal_root):
    first = modelbox.init(namespace=namespace, experiment="again", server_addr=client.server_addr,
                          journal_dir=journal_root, system_metrics=False)
    first.log({"loss": 1.0}, step=0)
    first.finish()
    second = modelbox.init(namespace=namespace, experiment="again", config={"epochs": 2}, server_addr=client.server_addr,
                           journal_dir=journal_root, system_metrics=False)
    assert second.id == first.id and client.get_experiment(second.id).status == modelbox.pb.EXPERIMENT_STATUS_RUNNING
    second.log({"loss": 0.5}, step=1)
    second.finish()
    assert steps_of(client, first.id) == [0, 1]


def test_context_manager_marks_the_run_failed_on_an_exception(client, namespace, journal_root):
    with pytest.raises(ZeroDivisionError):
        with modelbox.init(namespace=namespace, experiment="boom", server_addr=client.server_addr,
                           journal_dir=journal_root, system_metrics=False) as run:
            run.log({"loss": 1.0}, step=0)
            1 / 0
    assert client.get_experiment(run.id).status == modelbox.pb.EXPERIMENT_STATUS_FAILED
    assert steps_of(client, run.id) == [0]


@pytest.mark.parametrize("metrics, step, message", [
    ({"loss": "high"}, 0, "numbers"),
    ({"loss": None}, 0, "numbers"),
    ({"": 1.0}, 0, "1 to 250"),
    ({"x" * 251: 1.0}, 0, "1 to 250"),
    ({"a\nb": 1.0}, 0, "control"),
    ({3: 1.0}, 0, "string"),
    ({"_modelbox/batch": 1.0}, 0, "reserved"),
    ({"loss": 1.0}, -1, "non-negative"),
    ({"loss": 1.0}, 1.5, "non-negative"),
])
def test_bad_input_is_refused_at_once(client, namespace, journal_root, metrics, step, message):
    with modelbox.init(namespace=namespace, experiment="bad", server_addr=client.server_addr, journal_dir=journal_root,
                       system_metrics=False) as run:
        with pytest.raises(modelbox.InvalidArgument, match=message):
            run.log(metrics, step=step)
        run.log({"loss": 2.0}, step=7)
    assert steps_of(client, run.id) == [7]


def test_a_server_side_failure_is_raised_by_the_next_call_and_by_finish(client, namespace, journal_root):
    run = modelbox.init(namespace=namespace, experiment="deleted", server_addr=client.server_addr,
                        journal_dir=journal_root, system_metrics=False)
    client.delete_experiment(run.id)
    run.log({"loss": 1.0}, step=0)
    with pytest.raises(modelbox.NotFound, match=run.id):
        run.flush()
    with pytest.raises(modelbox.NotFound):
        run.log({"loss": 1.0}, step=1)
    with pytest.raises(modelbox.NotFound):
        run.finish()


def test_back_pressure_keeps_the_queue_bounded_and_loses_nothing(client, namespace, journal_root):
    with modelbox.init(namespace=namespace, experiment="bp", server_addr=client.server_addr, journal_dir=journal_root,
                       system_metrics=False, max_queued_calls=8, batch_points=16) as run:
        for step in range(2000):
            run.log({"loss": float(step)}, step=step)
            assert len(run._queue) <= 8 + 1
    assert steps_of(client, run.id) == list(range(2000))


def test_system_metrics_are_logged(client, namespace, journal_root):
    with modelbox.init(namespace=namespace, experiment="sys", server_addr=client.server_addr, journal_dir=journal_root,
                       system_metrics_interval=0.05) as run:
        run.log({"loss": 1.0}, step=0)
        while run._system.samples < 3:
            run.flush()
    keys = set(client.get_metrics(run.id))
    assert {"system/process_rss_bytes", "system/memory_used_percent", "system/process_cpu_percent"} <= keys


def test_offline_journal_replays_every_point_once_after_a_server_restart(private_server, journal_root):
    client = modelbox.Client(private_server.address)
    run = modelbox.init(namespace="offline", experiment="restart", client=client, journal_dir=journal_root,
                        system_metrics=False, batch_points=100, flush_interval=0.02)
    for step in range(0, 3000):
        run.log({"loss": float(step), "acc": 0.5}, step=step)
        if step == 1000:
            run.flush()
            private_server.stop()
    run.log_event("while_offline")
    run.flush()
    assert run.offline and run.pending_records > 0
    assert any(name.startswith("seg-") for name in os.listdir(run.journal_dir))
    private_server.start()
    for step in range(3000, 4000):
        run.log({"loss": float(step), "acc": 0.5}, step=step)
    run.finish()
    assert steps_of(client, run.id) == list(range(4000))
    assert steps_of(client, run.id, "acc") == list(range(4000))
    assert [e.name for e in client.list_events(run.id) if not e.name.startswith("audit.")] == ["while_offline"]
    assert client.get_experiment(run.id).status == modelbox.pb.EXPERIMENT_STATUS_FINISHED
    client.close()


def test_finish_while_offline_leaves_the_journal_and_sync_uploads_it(private_server, journal_root):
    client = modelbox.Client(private_server.address)
    run = modelbox.init(namespace="offline", experiment="sync", client=client, journal_dir=journal_root,
                        system_metrics=False, finish_timeout=0.5)
    private_server.stop()
    for step in range(500):
        run.log({"loss": float(step)}, step=step)
    run.finish()
    assert os.listdir(journal_root) == [run.id]
    private_server.start()
    done = subprocess.run([sys.executable, "-m", "modelbox", "sync", journal_root], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": INSTALL_DIR})
    assert done.returncode == 0, done.stderr
    assert steps_of(client, run.id) == list(range(500))
    assert client.get_experiment(run.id).status == modelbox.pb.EXPERIMENT_STATUS_FINISHED
    assert os.listdir(journal_root) == []
    again = subprocess.run([sys.executable, "-m", "modelbox", "sync", journal_root], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": INSTALL_DIR})
    assert again.returncode == 0 and "sent 0" in again.stdout
    client.close()


def test_kill_9_of_the_trainer_replays_what_the_journal_acknowledged(server, namespace, journal_root):
    trainer = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "trainer.py"), INSTALL_DIR, server.address,
         journal_root, namespace], stdout=subprocess.PIPE, text=True)
    run_id = trainer.stdout.readline().split()[1]
    flushed = []
    for line in trainer.stdout:
        flushed.append(int(line.split()[1]))
        if len(flushed) == 20:
            trainer.send_signal(signal.SIGKILL)
            break
    trainer.wait()
    trainer.stdout.close()
    done = subprocess.run([sys.executable, "-m", "modelbox", "sync", journal_root], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": INSTALL_DIR})
    assert done.returncode == 0, done.stderr
    with modelbox.Client(server.address) as client:
        steps = steps_of(client, run_id)
    # Everything flushed before the kill is there, nothing twice, in order, with no gap.
    assert len(steps) == len(set(steps)) and steps == list(range(len(steps)))
    assert len(steps) > flushed[-1]


def test_the_journal_is_bounded(private_server, journal_root):
    client = modelbox.Client(private_server.address)
    run = modelbox.init(namespace="offline", experiment="full", client=client, journal_dir=journal_root,
                        system_metrics=False, journal_max_bytes=20_000, batch_points=100, finish_timeout=0.1)
    private_server.stop()
    with pytest.raises(modelbox.JournalFull, match="journal"):
        for step in range(100_000):
            run.log({"loss": float(step)}, step=step)
            if step % 100 == 0:
                run.flush()
    with pytest.raises(modelbox.JournalFull):
        run.finish()
    client.close()


def test_a_second_process_cannot_share_a_run_journal(client, namespace, journal_root):
    run = modelbox.init(namespace=namespace, experiment="locked", server_addr=client.server_addr,
                        journal_dir=journal_root, system_metrics=False)
    with pytest.raises(modelbox.Conflict, match="in use"):
        modelbox.Run(client, run.id, journal_dir=journal_root)
    run.finish()


def test_replay_of_requests_the_server_stored_but_never_confirmed_stores_them_once(client, namespace, journal_root):
    # The state a crash leaves between "the server committed" and "the journal recorded the confirmation": both
    # requests that can be in flight at once are stored on the server and unconfirmed in the journal.
    run = modelbox.init(namespace=namespace, experiment="unconfirmed", server_addr=client.server_addr,
                        journal_dir=journal_root, system_metrics=False)
    confirm = run._journal.ack
    run._journal.ack = lambda seq: None
    for chunk in range(2):
        for step in range(chunk * 100, chunk * 100 + 100):
            run.log({"loss": float(step)}, step=step)
        run.flush()
    assert steps_of(client, run.id) == list(range(200)) and run.pending_records == 2
    run._journal.ack = confirm
    # The process "dies": its worker stops, its files close, nothing is finished.
    modelbox.run._open_runs.discard(run)
    run._stopping = True
    run._wake.set()
    run._worker.join()
    run._journal.close()
    os.close(run._lock_fd)
    done = subprocess.run([sys.executable, "-m", "modelbox", "sync", journal_root], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": INSTALL_DIR})
    assert done.returncode == 0, done.stderr
    # Both are sent again; their batch ids make the server store nothing the second time.
    assert "sent 2" in done.stdout
    assert steps_of(client, run.id) == list(range(200))


def test_a_run_starts_while_the_server_is_down_and_is_created_when_it_answers(private_server, journal_root):
    private_server.stop()
    client = modelbox.Client(private_server.address, retries=1, backoff=0.01)
    run = modelbox.init(namespace="offline", experiment="born-offline", config={"lr": 0.01}, labels={"team": "x"},
                        client=client, journal_dir=journal_root, system_metrics=False)
    assert run.offline
    for step in range(500):
        run.log({"loss": float(step)}, step=step)
    run.log_event("started_offline")
    run.flush()
    private_server.start()
    run.finish()
    created = client.create_experiment("born-offline", "offline")
    assert created.existed and created.id == run.id
    assert steps_of(client, run.id) == list(range(500))
    assert client.get_metadata(run.id) == {"lr": 0.01}
    assert dict(client.get_experiment(run.id).labels) == {"team": "x"}
    assert client.get_experiment(run.id).status == modelbox.pb.EXPERIMENT_STATUS_FINISHED
    assert [e.name for e in client.list_events(run.id) if not e.name.startswith("audit.")] == ["started_offline"]
    client.close()
