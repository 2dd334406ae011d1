"""CUDA graphs' batch sizes (the graphs themselves run in tests/test_gpu.py, on a GPU)."""

import pytest

from indb.runtime.graphs import MAX_ROWS, bucket


@pytest.mark.parametrize("rows, size", [(0, 1), (1, 1), (2, 2), (3, 4), (1000, 1024), (1024, 1024),
                                        (1025, 2048), (MAX_ROWS, MAX_ROWS)])
def test_batches_are_padded_to_the_next_power_of_two(rows, size):
    assert bucket(rows) == size

