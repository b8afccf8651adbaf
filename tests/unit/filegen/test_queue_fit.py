"""The conversion queue is sized so that the pool, not gRPC's unbounded wait, refuses callers."""
from __future__ import annotations

import pytest

from core.settings import SettingsError
from services.filegen.convert import ConverterSettings
from services.filegen.server import SPARE_THREADS, fit_queue


def test_unset_the_queue_takes_the_threads_left():
    fitted = fit_queue(ConverterSettings(workers=2), threads=16, environ={})
    assert fitted.max_queue == 16 - 2 - SPARE_THREADS


def test_a_queue_that_fits_is_kept():
    settings = ConverterSettings(workers=2, max_queue=5)
    assert fit_queue(settings, threads=16, environ={"FILEGEN_CONVERT_QUEUE": "5"}).max_queue == 5


def test_a_queue_the_threads_cannot_reach_stops_the_service():
    with pytest.raises(SettingsError, match="FILEGEN_CONVERT_QUEUE=64 cannot be reached.*raise ECONTRACT_RPC_WORKERS to 68"):
        fit_queue(ConverterSettings(workers=2, max_queue=64), threads=16, environ={"FILEGEN_CONVERT_QUEUE": "64"})


def test_more_workers_than_threads_names_the_threads_needed():
    with pytest.raises(SettingsError, match="needs ECONTRACT_RPC_WORKERS of at least 34"):
        fit_queue(ConverterSettings(workers=32), threads=16, environ={})
