"""A training process for the kill -9 test: logs steps forever, printing the last step the journal has after each
flush (``flushed STEP``), until it is killed."""

import sys

sys.path.insert(0, sys.argv[1])
import modelbox  # noqa: E402

address, journal_root, namespace = sys.argv[2], sys.argv[3], sys.argv[4]
run = modelbox.init(namespace=namespace, experiment="killed", server_addr=address, journal_dir=journal_root,
                    system_metrics=False, flush_interval=0.05, batch_points=500)
print(f"run {run.id}", flush=True)
step = 0
while True:
    for _ in range(100):
        run.log({"loss": float(step), "acc": 1.0}, step=step)
        step += 1
    run.flush()
    print(f"flushed {step - 1}", flush=True)
