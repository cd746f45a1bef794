"""A small integration for a plain PyTorch training loop (needs ``torch``; the rest of the SDK does not).

    helper = TorchHelper(run, model, optimizer)
    for step, (x, y) in enumerate(data):
        loss = loss_fn(model(x), y); loss.backward()
        helper.after_backward(loss, step)       # logs train/loss, train/lr, train/grad_norm
        optimizer.step(); optimizer.zero_grad()
    helper.save_checkpoint(epoch, {"val_loss": v})
    helper.register_best("my-model", "v1", metric="val_loss")
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import torch

from .errors import InvalidArgument
from .run import Run


def grad_norm(model: torch.nn.Module) -> float:
    """The L2 norm of all parameter gradients (0 when there are none)."""
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float(p.grad.detach().pow(2).sum())
    return math.sqrt(total)


class TorchHelper:
    """Logs loss, learning rate and gradient norm; saves checkpoints through :meth:`Run.log_checkpoint`; registers the
    best checkpoint as a model version with lineage to the run."""

    def __init__(self, run: Run, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                 *, checkpoint_dir: str | None = None, log_every: int = 1) -> None:
        self.run = run
        self.model = model
        self.optimizer = optimizer
        self.log_every = max(1, log_every)
        self.checkpoint_dir = checkpoint_dir or tempfile.mkdtemp(prefix="modelbox-ckpt-")
        self.checkpoints: list[tuple[int, str, str, dict[str, float]]] = []  # (epoch, checkpoint id, path, metrics)

    def after_backward(self, loss: Any, step: int) -> None:
        """Call after ``loss.backward()`` (before ``optimizer.step()``): logs train/loss, train/lr, train/grad_norm."""
        if step % self.log_every:
            return
        values = {"train/loss": float(loss), "train/grad_norm": grad_norm(self.model)}
        if self.optimizer is not None:
            values["train/lr"] = float(self.optimizer.param_groups[0]["lr"])
        self.run.log(values, step=step)

    def save_checkpoint(self, epoch: int, metrics: Mapping[str, float] | None = None) -> str:
        """Saves model (and optimizer) state with ``torch.save`` and records it as the run's checkpoint at `epoch`."""
        path = os.path.join(self.checkpoint_dir, f"checkpoint-epoch{epoch}.pt")
        state: dict[str, Any] = {"epoch": epoch, "model": self.model.state_dict()}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        torch.save(state, path)
        values = {k: float(v) for k, v in (metrics or {}).items()}
        checkpoint_id = self.run.log_checkpoint(path, epoch=epoch, metrics=values)
        self.checkpoints.append((epoch, checkpoint_id, path, values))
        return checkpoint_id

    def best(self, metric: str, mode: str = "min") -> tuple[int, str, str, dict[str, float]]:
        """The saved checkpoint with the lowest (``mode="min"``) or highest `metric`."""
        scored = [c for c in self.checkpoints if metric in c[3]]
        if not scored:
            raise InvalidArgument(f"no saved checkpoint has the metric '{metric}'")
        pick = min if mode == "min" else max
        return pick(scored, key=lambda c: c[3][metric])

    def register_best(self, model_name: str, version: str, *, metric: str, mode: str = "min",
                      namespace: str | None = None, aliases: tuple[str, ...] = ()) -> str:
        """Registers the best checkpoint as version `version` of model `model_name` (created when missing), with
        lineage to this run and that checkpoint, its file uploaded; returns the version id."""
        epoch, checkpoint_id, path, values = self.best(metric, mode)
        client = self.run.client
        namespace = namespace or client.get_experiment(self.run.id).namespace
        model_id = client.create_model(model_name, namespace).id
        created = client.create_model_version(
            model_id, version, framework="pytorch", experiment_id=self.run.id, checkpoint_id=checkpoint_id,
            metadata={"epoch": epoch, **values})
        if not created.existed:
            client.upload_file(created.id, path, file_type="model", name="model.pt")
        for alias in aliases:
            client.set_alias(model_id, alias, created.id)
        return created.id
