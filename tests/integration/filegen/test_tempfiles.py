"""The temporary area: items expire on their own and are swept in bounded steps."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import errors
from services.filegen.tempfiles import DEFAULT_DIRECTORY, TempFiles


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_item_is_returned_until_it_expires(tmp_path: Path) -> None:
    clock = Clock()
    area = TempFiles(tmp_path, ttl=60, clock=clock)
    blob_id = area.put(b"%PDF- render")

    clock.now += 59
    assert area.get(blob_id) == b"%PDF- render"
    assert area.expires_at(blob_id) == pytest.approx(1_700_000_060.0)
    clock.now += 1
    with pytest.raises(errors.NotFound, match="expired"):
        area.get(blob_id)


def test_a_per_item_lifetime_overrides_the_default(tmp_path: Path) -> None:
    clock = Clock()
    area = TempFiles(tmp_path, ttl=60, clock=clock)
    short, long = area.put(b"a", ttl=5), area.put(b"b", ttl=600)

    clock.now += 100
    with pytest.raises(errors.NotFound):
        area.get(short)
    assert area.get(long) == b"b"


def test_writes_sweep_expired_items_in_bounded_steps(tmp_path: Path) -> None:
    clock = Clock()
    area = TempFiles(tmp_path, ttl=10, clock=clock, sweep_batch=4)
    old = [area.put(b"old") for _ in range(10)]
    clock.now += 11

    assert area.sweep() <= 4  # one step looks at no more than sweep_batch files
    for _ in range(5):
        area.put(b"new")
    remaining = set(os.listdir(tmp_path))
    assert not remaining & set(old)
    assert len(remaining) == 5


def test_a_crashed_writer_leaves_nothing_for_long(tmp_path: Path) -> None:
    clock = Clock()
    area = TempFiles(tmp_path, ttl=10, clock=clock)
    leftover = tmp_path / "half-written.part"
    leftover.write_bytes(b"partial")
    os.utime(leftover, (clock.now, clock.now))

    area.sweep()
    assert leftover.exists()  # maybe still being written
    clock.now = leftover.stat().st_ctime + 3601
    area.sweep()
    area.sweep()
    assert not leftover.exists()


def test_ids_are_checked_and_unknown_ids_are_not_found(tmp_path: Path) -> None:
    area = TempFiles(tmp_path)
    with pytest.raises(errors.InvalidArgument):
        area.get("../../etc/passwd")
    with pytest.raises(errors.NotFound):
        area.get("A" * 24)
    blob_id = area.put(b"x")
    area.delete(blob_id)
    with pytest.raises(errors.NotFound):
        area.get(blob_id)


def test_settings_come_from_the_environment() -> None:
    area = TempFiles.from_env({"FILEGEN_TMP_TTL": "90"})
    assert area.directory == DEFAULT_DIRECTORY == Path("var/blobs/tmp")
    assert area.ttl == 90
    with pytest.raises(ValueError, match="FILEGEN_TMP_TTL"):
        TempFiles.from_env({"FILEGEN_TMP_TTL": "soon"})
    with pytest.raises(ValueError):
        TempFiles.from_env({"FILEGEN_TMP_TTL": "0"})
