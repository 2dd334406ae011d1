"""The threads an instance process decodes its data files with: its share of the cores, or
INDB_READ_THREADS; a shard read with one thread or several is the same rows, in order."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import OptionError
from indb.storage import files, read_threads
from indb.storage.placement import rowids_in_runs

WIDTH = 784


@pytest.fixture(autouse=True)
def pool_size_restored(monkeypatch):
    """Each test starts with neither variable set and leaves pyarrow's pool as it found it."""
    monkeypatch.delenv("INDB_READ_THREADS", raising=False)
    monkeypatch.delenv(read_threads.MACHINE_SLOTS_VARIABLE, raising=False)
    size = pa.cpu_count()
    yield
    pa.set_cpu_count(size)


def test_by_default_a_process_takes_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(read_threads, "available_cores", lambda: 16)
    assert read_threads.read_threads() == 16  # no cluster said how many share them
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, "4")  # one GPU worker, four slots
    assert read_threads.read_threads() == 4
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, "32")  # more processes than cores
    assert read_threads.read_threads() == 1


def test_the_variable_sets_the_pool_outright(monkeypatch):
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, "64")
    monkeypatch.setenv("INDB_READ_THREADS", "3")
    assert read_threads.use_read_threads() == 3 and pa.cpu_count() == 3


@pytest.mark.parametrize("value", ["0", "-2", "four", "1.5"])
def test_a_bad_value_is_refused_with_what_it_should_be(monkeypatch, value):
    monkeypatch.setenv("INDB_READ_THREADS", value)
    size = pa.cpu_count()
    with pytest.raises(OptionError, match=f"INDB_READ_THREADS={value!r} is not a positive whole "
                                          "number; set it to the threads"):
        read_threads.use_read_threads()
    assert pa.cpu_count() == size  # nothing changed
    monkeypatch.delenv("INDB_READ_THREADS")
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, value)
    with pytest.raises(OptionError, match="INDB_MACHINE_SLOTS=.*instance processes"):
        read_threads.read_threads()


INFO = TableInfo("images", (Column("id", "BIGINT"), Column("pixels", f"UTINYINT[{WIDTH}]")),
                 ("id",), 1)


def images(tmp_path, rows, row_group_rows):
    """A data file of ``rows`` UTINYINT[784] images stored as the tables store them (LZ4), in
    row groups of ``row_group_rows``; its path and the pixels written."""
    pixels = np.random.default_rng(0).integers(0, 256, (rows, WIDTH), dtype=np.uint8)
    user = pa.table({"id": np.arange(rows, dtype=np.int64),
                     "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), WIDTH)})
    path = tmp_path / "images.parquet"
    pq.write_table(files.to_stored(user, INFO, rowids_in_runs(lambda n: 0, 8)), path,
                   row_group_size=row_group_rows, compression="lz4")
    return str(path), pixels


@pytest.mark.parametrize("rows, row_group_rows, groups", [(3000, 256, 12), (100, 1000, 1)])
def test_a_shard_read_with_several_threads_is_the_same_rows_in_order(tmp_path, rows, row_group_rows,
                                                                      groups):
    path, pixels = images(tmp_path, rows, row_group_rows)
    assert pq.ParquetFile(path).metadata.num_row_groups == groups
    pa.set_cpu_count(1)
    one = files.to_user(files.read_stored([path], INFO), INFO)
    pa.set_cpu_count(4)
    several = files.to_user(files.read_stored([path], INFO), INFO)
    assert several.equals(one) and several.schema == INFO.arrow_schema
    assert several["pixels"].type == pa.list_(pa.uint8(), WIDTH)  # the fixed-size array column
    assert several["id"].to_numpy().tolist() == list(range(rows))
    assert np.array_equal(np.stack(several["pixels"].to_numpy(zero_copy_only=False)), pixels)


def test_a_file_without_row_groups_reads_as_no_rows(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.ParquetWriter(path, INFO.storage_schema).close()  # a schema and no row group
    assert pq.ParquetFile(path).metadata.num_row_groups == 0
    pa.set_cpu_count(4)
    read = files.to_user(files.read_stored([str(path)], INFO), INFO)
    assert read.num_rows == 0 and read.schema == INFO.arrow_schema
