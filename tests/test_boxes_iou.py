"""box_iou (keras_has.boxes.iou): hand cases and the oracle."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from box_oracles import HOST, HOST_APPROX, oracle_iou
from hypothesis import given
from hypothesis import strategies as st

from keras_has.boxes import box_iou


def test_box_iou_hand_cases():
    a = [[0, 0, 4, 4], [0, 0, 2, 2], [5, 5, 5, 9]]
    b = [[0, 0, 4, 4], [2, 0, 6, 4], [4, 0, 8, 4]]
    expected = [
        [1.0, 8 / 24, 0.0],  # identical; half overlap; touching edges (half-open)
        [4 / 16, 0.0, 0.0],  # inside
        [0.0, 0.0, 0.0],  # zero width
    ]
    np.testing.assert_allclose(box_iou(a, b), expected, **HOST)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0.0  # the fill of an empty union


@given(
    a=hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.just(4)), elements=st.integers(-5, 5)),
    b=hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.just(4)), elements=st.integers(-5, 5)),
)
def test_box_iou_matches_the_oracle(a, b):
    got = box_iou(a, b)
    assert got.shape == (len(a), len(b))
    for i in range(len(a)):
        for j in range(len(b)):
            assert got[i, j] == pytest.approx(oracle_iou(a[i], b[j]), **HOST_APPROX)
            assert got[i, j] == pytest.approx(box_iou(b, a)[j, i], **HOST_APPROX)
