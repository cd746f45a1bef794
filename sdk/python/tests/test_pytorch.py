"""The PyTorch helper on a tiny model with synthetic data: a real loop, real checkpoints, the best one registered."""

import pytest

import modelbox

import torch  # noqa: E402
from modelbox.pytorch import TorchHelper  # noqa: E402


def test_training_loop_logs_checkpoints_and_registers_the_best(client, namespace, journal_root, tmp_path):
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with modelbox.init(namespace=namespace, experiment="torch", server_addr=client.server_addr,
                       journal_dir=journal_root, system_metrics=False, framework="pytorch") as run:
        helper = TorchHelper(run, model, optimizer, checkpoint_dir=str(tmp_path))
        step = 0
        for epoch in range(3):
            for i in range(0, 64, 16):
                loss = torch.nn.functional.mse_loss(model(x[i:i + 16]), y[i:i + 16])
                optimizer.zero_grad()
                loss.backward()
                helper.after_backward(loss, step)
                optimizer.step()
                step += 1
            with torch.no_grad():
                val = float(torch.nn.functional.mse_loss(model(x), y))
            helper.save_checkpoint(epoch, {"val_loss": val})
        version_id = helper.register_best("linear", "v1", metric="val_loss", aliases=("candidate",))

    assert [p.step for p in client.get_metric_series(run.id, "train/loss")] == list(range(12))
    assert {"train/loss", "train/lr", "train/grad_norm"} <= set(client.get_metrics(run.id))
    assert [p.value for p in client.get_metric_series(run.id, "train/lr")] == [pytest.approx(0.05)] * 12
    checkpoints = list(client.list_checkpoints(run.id))
    assert [c.epoch for c in checkpoints] == [0, 1, 2]
    best_epoch = min(checkpoints, key=lambda c: c.metrics["val_loss"]).epoch
    lineage = client.get_lineage(version_id)
    assert lineage.experiment.id == run.id and lineage.checkpoint.epoch == best_epoch
    paths = modelbox.pull(f"{namespace}/linear@candidate", str(tmp_path / "serve"), server_addr=client.server_addr)
    restored = torch.nn.Linear(4, 1)
    restored.load_state_dict(torch.load(paths[0])["model"])
    assert torch.load(paths[0])["epoch"] == best_epoch
    assert all(len(client.list_artifacts(c.id)) == 1 for c in checkpoints)
