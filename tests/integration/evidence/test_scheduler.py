"""The scheduler with two replicas on one real database (SQLite and PostgreSQL): a job
never runs in both at once nor twice for one due time, and a replica that dies holding
a job does not lose it."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.db import make_engine, make_sessions, migrate
from core.settings import load
from services.contract.scheduled_store import ScheduledJobRow
from services.contract.scheduler import Job, Scheduler
from services.contract.times import utcnow
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path, run_id, use_postgres):
    env = {"ECONTRACT_VAR_DIR": str(tmp_path)}
    if request.param == "postgresql":
        if not use_postgres:
            pytest.skip("PostgreSQL does not answer")
        env.update(DATABASE_URL=PG_URL, ECONTRACT_DB_SCHEMA_PREFIX=f"{run_id}_sched{tmp_path.name[-6:]}_")
    settings = load("contract", env)
    engine = make_engine(settings)
    migrate(settings, engine)
    yield make_sessions(engine)
    engine.dispose()


class Recorder:
    """A job body that notes who ran it when, and fails the test on any overlap."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.runs: list[tuple[str, float, float]] = []
        self.running = 0
        self.overlaps = 0
        self.lock = threading.Lock()

    def body(self, owner: str):
        def run() -> None:
            with self.lock:
                self.running += 1
                self.overlaps += self.running > 1
            began = time.monotonic()
            time.sleep(self.seconds)
            with self.lock:
                self.running -= 1
                self.runs.append((owner, began, time.monotonic()))
        return run


def test_two_replicas_never_run_a_job_at_once_or_twice_per_due_time(sessions):
    recorder = Recorder(0.05)
    every = 0.3
    replicas = []
    for name in ("a", "b"):
        replica = Scheduler(sessions, [Job("tick", every, recorder.body(name))], tick_seconds=0.02, lease_seconds=10)
        replicas.append(replica)
    for replica in replicas:
        replica.start()
    time.sleep(3.2)
    for replica in replicas:
        replica.stop()

    assert recorder.overlaps == 0
    starts = sorted(began for _, began, _ in recorder.runs)
    assert 4 <= len(starts) <= 11, starts  # about one run per 0.35 s over 3.2 s, never one per replica
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= every - 0.05, gaps  # never run again before it is due
    assert {owner for owner, _, _ in recorder.runs} <= {"a", "b"}
    state = replicas[0].state("tick")
    assert state is not None and state.runs == len(recorder.runs) and state.lease_owner == ""


def test_a_job_held_by_a_replica_that_died_runs_once_after_its_lease(sessions):
    recorder = Recorder(0.0)
    dead = Scheduler(sessions, [Job("sweep", 60, recorder.body("dead"))], lease_seconds=1.5)
    assert dead._claim(dead._jobs["sweep"])  # claimed, then the process "dies" before running or releasing
    survivor = Scheduler(sessions, [Job("sweep", 60, recorder.body("survivor"))], tick_seconds=0.05, lease_seconds=30)
    survivor.start()
    time.sleep(0.5)
    assert recorder.runs == []  # the dead replica's lease still holds
    deadline = time.monotonic() + 5
    while not recorder.runs and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    survivor.stop()
    assert [owner for owner, _, _ in recorder.runs] == ["survivor"]


def test_stopping_finishes_the_run_and_a_restarted_replica_goes_on(sessions):
    recorder = Recorder(0.4)
    first = Scheduler(sessions, [Job("work", 0.5, recorder.body("first"))], tick_seconds=0.05)
    first.start()
    time.sleep(0.2)  # mid-run
    first.stop()  # waits for the run, releases the lease
    assert [owner for owner, _, _ in recorder.runs] == ["first"]
    with sessions() as session:
        row = session.get(ScheduledJobRow, "work")
        assert row.lease_owner == "" and row.lease_until is None and row.runs == 1
    with sessions.begin() as session:  # pretend the service was down past the due time
        session.execute(sa.update(ScheduledJobRow).where(ScheduledJobRow.name == "work")
                        .values(next_run_at=utcnow() - timedelta(hours=1)))
    second = Scheduler(sessions, [Job("work", 0.5, recorder.body("second"))], tick_seconds=0.05)
    second.start()
    time.sleep(0.3)
    second.stop()
    assert [owner for owner, _, _ in recorder.runs] == ["first", "second"]  # the missed run, once, not one per missed slot


def test_a_failing_run_is_recorded_and_tried_again_when_due(sessions):
    calls = []

    def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("database restarting")

    replica = Scheduler(sessions, [Job("flaky", 0.2, flaky)], tick_seconds=0.02)
    assert replica.run_if_due("flaky") is True
    assert "database restarting" in replica.state("flaky").last_error
    assert replica.run_if_due("flaky") is False  # not due yet
    time.sleep(0.25)
    assert replica.run_if_due("flaky") is True
    assert replica.state("flaky").last_error == "" and len(calls) == 2
