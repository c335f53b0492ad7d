from datetime import timedelta

import numpy as np

from comet_pipeline.imaging.difference import running_difference
from comet_pipeline_tests.imaging.synth import T0


def test_difference_within_gap_and_nan_propagates():
    a = np.array([[5.0, 3.0, np.nan]], dtype=np.float32)
    b = np.array([[2.0, np.nan, 1.0]], dtype=np.float32)
    d = running_difference(a, b, current_time=T0 + timedelta(minutes=12), previous_time=T0)
    assert d is not None and d.dtype == np.float32
    assert d[0, 0] == 3.0
    assert np.isnan(d[0, 1]) and np.isnan(d[0, 2])


def test_skipped_across_long_gap_or_wrong_order():
    a = np.ones((2, 2), np.float32)
    later = T0 + timedelta(minutes=41)
    assert running_difference(a, a, current_time=later, previous_time=T0) is None
    assert (
        running_difference(
            a, a, current_time=later, previous_time=T0, max_gap=timedelta(minutes=60)
        )
        is not None
    )
    assert running_difference(a, a, current_time=T0, previous_time=later) is None
    assert running_difference(a, a, current_time=T0, previous_time=T0) is None
