"""The tickerplant's journal: frames written and read back, a torn or corrupt tail cut off and
reported, and the fsync policies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from indb.errors import DirectoryError  # noqa: E402
from indb.stream import kdb  # noqa: E402
from indb.stream.journal import MAGIC, Journal, read  # noqa: E402


def message(n: int) -> bytes:
    return kdb.encode(kdb.call(".u.upd", kdb.symbol("trade"),
                               kdb.kx.toq([kdb.symbol(f"S{n}"), kdb.kx.FloatAtom(float(n))])), kdb.ASYNC)


def written(path: Path, count: int, fsync_ms: int = 0) -> Journal:
    journal = Journal(path, fsync_ms)
    for n in range(count):
        journal.append(1_000 + n, message(n))
    journal.commit()
    return journal


def test_messages_are_read_back_in_order_with_their_stamps(tmp_path):
    path = tmp_path / "j.journal"
    written(path, 3).close()
    again = Journal(path)
    entries = again.release_entries()
    assert again.count == 3 and again.truncated == 0
    assert [(e.index, e.stamp, e.message) for e in entries] == [
        (n, 1_000 + n, message(n)) for n in range(3)]
    assert again.append(5, message(9)) == 3  # numbering goes on: .u.i


@pytest.mark.parametrize("damage", ["torn", "corrupt"])
def test_a_damaged_tail_is_cut_off_and_reported(tmp_path, damage, caplog):
    path = tmp_path / "j.journal"
    written(path, 3).close()
    data = bytearray(path.read_bytes())
    last = len(data) - len(message(2))  # where the last message's bytes begin
    if damage == "torn":
        del data[-5:]                    # a write cut short by a crash
    else:
        data[last + 10] ^= 0xFF          # a flipped byte: the CRC no longer matches
    path.write_bytes(bytes(data))
    journal = Journal(path)
    assert journal.count == 2 and len(journal.release_entries()) == 2
    assert journal.truncated > 0
    assert "torn or corrupt tail" in caplog.text
    assert path.stat().st_size == len(data) - journal.truncated  # cut where the good frames end
    journal.append(7, message(7))
    journal.close()
    assert [e.stamp for e in read(path)[0]] == [1_000, 1_001, 7]


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    path = tmp_path / "j.journal"
    path.write_bytes(b"not a journal at all")
    with pytest.raises(DirectoryError, match="not an indb tickerplant journal"):
        Journal(path)
    assert path.read_bytes() == b"not a journal at all"  # left alone


def test_every_message_policy_syncs_at_each_commit_and_n_ms_does_not(tmp_path, monkeypatch):
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    each = written(tmp_path / "a.journal", 2, fsync_ms=0)
    after_open = len(synced)
    each.append(1, message(1))
    each.commit()
    assert len(synced) == after_open + 1  # written and synced before commit returns
    later = written(tmp_path / "b.journal", 2, fsync_ms=60_000)
    before = len(synced)
    later.append(1, message(1))
    later.commit()
    later.sync_due()  # not due for a minute
    assert len(synced) == before
    later.sync()
    assert len(synced) == before + 1
    assert read(tmp_path / "b.journal")[0][-1].message == message(1)  # written already, unsynced


def test_an_empty_file_becomes_a_journal(tmp_path):
    path = tmp_path / "j.journal"
    path.touch()
    Journal(path).close()
    assert path.read_bytes() == MAGIC
