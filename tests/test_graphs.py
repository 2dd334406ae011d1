"""CUDA graphs' batch sizes (the graphs themselves run in tests/test_gpu.py, on a GPU)."""

import pytest

from indb.runtime.graphs import MAX_ROWS, SMALL_PIECE, bucket, pieces


@pytest.mark.parametrize("rows, size", [(0, 1), (1, 1), (2, 2), (3, 4), (1000, 1024), (1024, 1024),
                                        (1025, 2048), (MAX_ROWS, MAX_ROWS)])
def test_batches_are_padded_to_the_next_power_of_two(rows, size):
    assert bucket(rows) == size



@pytest.mark.parametrize("rows, sizes", [(0, []), (1, [1]), (72, [128]), (1000, [1024]),
                                         (2120, [2048, 128]), (4816, [4096, 512, 256]),
                                         (8192, [8192])])
def test_a_short_batch_runs_as_powers_of_two_with_little_padding(rows, sizes):
    assert pieces(rows) == sizes


@pytest.mark.parametrize("rows", range(1, 9000, 53))
def test_pieces_cover_the_rows_and_only_the_last_is_padded(rows):
    sizes = pieces(rows)
    assert all(size == bucket(size) for size in sizes)  # shapes: powers of two only
    assert sum(sizes[:-1]) < rows <= sum(sizes)
    assert sum(sizes) - rows <= max(SMALL_PIECE, (rows - sum(sizes[:-1])) // 8)
