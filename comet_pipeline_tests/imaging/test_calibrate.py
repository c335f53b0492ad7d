import numpy as np
import pytest

from comet_pipeline.imaging.calibrate import SATURATION_DN, calibrate, saturated


def test_known_values_bias_exposure():
    raw = np.array([[380, 400], [1380, 16383]], dtype=np.uint16)
    out = calibrate(raw, offset=380.0, exptime=20.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 1.0], [50.0, (16383 - 380) / 20.0]], rtol=1e-6)


def test_binning_divides_by_summed_pixels():
    raw = np.full((4, 4), 780, dtype=np.int16)
    full = calibrate(raw, offset=380.0, exptime=10.0, binning=1)
    binned = calibrate(raw, offset=380.0, exptime=10.0, binning=2)
    np.testing.assert_allclose(full, 40.0)
    np.testing.assert_allclose(binned, 10.0)  # a 2x2 sum holds 4 pixels' signal


def test_input_not_modified_and_float_input():
    raw = np.array([[500.0, 600.0]], dtype=np.float32)
    out = calibrate(raw, offset=100.0, exptime=2.0)
    np.testing.assert_allclose(out, [[200.0, 250.0]])
    np.testing.assert_allclose(raw, [[500.0, 600.0]])


def test_bad_exposure_refused():
    with pytest.raises(ValueError, match="exposure time must be positive"):
        calibrate(np.ones((2, 2)), offset=0.0, exptime=0.0)


def test_saturated_pixels():
    raw = np.array([[100, SATURATION_DN, SATURATION_DN + 5]], dtype=np.int32)
    assert saturated(raw).tolist() == [[False, True, True]]
