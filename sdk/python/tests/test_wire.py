"""The run's hand-written LogMetricsBatchRequest encoding against the generated protobuf classes."""

import math

import modelbox
from modelbox._wire import BatchEncoder, varint

pb = modelbox.pb


def test_batches_encode_exactly_what_the_generated_classes_build():
    points = [
        (0, 0, {"loss": 0.0}),
        (1, 1_700_000_000, {"loss": -1.5, "acc": 1e308, "lr": 5e-324}),
        (127, 1_700_000_000, {"acc": math.inf, "loss": -math.inf, "naïve/κλειδί": 2.0}),
        (128, 1_700_000_001, {"loss": math.nan}),
        (2**64 - 1, 2**63, {"k" * 250: 3.25}),
    ]
    expected = pb.LogMetricsBatchRequest(batch_id="py-1f-42")
    series = {}
    for step, seconds, values in points:
        for key, value in values.items():
            if key not in series:
                series[key] = expected.series.add(parent_id="exp-é1", key=key).values
            series[key].add(step=step, wallclock_time=seconds, d_val=value)
    encoder = BatchEncoder("exp-é1")
    for point in points:
        encoder.add(*point)
    assert encoder.points == 9
    parsed = pb.LogMetricsBatchRequest.FromString(encoder.encode(batch_id="py-1f-42"))
    # Compared as canonical bytes: NaN != NaN as a value, but its encoding is the same.
    assert parsed.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
    assert encoder.points == 0 and encoder.encode() == b""


def test_varint_matches_protobuf():
    for n in (0, 1, 127, 128, 300, 2**32, 2**64 - 1):
        assert pb.MetricsValue.FromString(b"\x08" + varint(n)).step == n
