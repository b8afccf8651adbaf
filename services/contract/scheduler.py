"""Recurring jobs that run once across all replicas, and survive restarts.

Two parts, each doing what it is good at:

- *When*: APScheduler 3 (``BackgroundScheduler``) wakes each job in every replica on an
  interval trigger with jitter, on a thread pool (a slow job, e.g. delegated signing,
  does not hold up expiry), one instance of a job per process at a time, missed wake-ups
  coalesced, and a clean ``shutdown(wait=True)``. Its job store is memory: the schedule
  is code, not data.
- *Who*: the service's own database. Each job has a ``scheduled_jobs`` row with the time
  it is next due and a lease. A wake-up claims the job with one conditional UPDATE
  (due, and no live lease), which only one replica can win on PostgreSQL and SQLite
  alike; the winner runs it and releases the lease. A replica that dies mid-run leaves a
  lease that runs out, and the job is due again, so nothing is lost across a restart.

APScheduler 3 alone would run every job in every replica (it has no coordination
between schedulers); APScheduler 4 has it but is a pre-release whose schema and API
still change and which makes its own tables outside our migrations; procrastinate
needs PostgreSQL (our default is SQLite); a Redis lock alone would forget when a job
last ran and, without fencing, lets a second runner in once it expires. The work a job
does is claimed again item by item (compare-and-set on contracts, unique notice and
leaf rows), so even a lease that ran out under a stalled replica cannot make one effect
happen twice.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from services.contract.scheduled_store import ScheduledJobRow
from services.contract.times import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A recurring job: ``run`` is called at most once per ``every`` seconds across replicas."""

    name: str
    every: float
    run: Callable[[], object]


@dataclass(frozen=True)
class JobState:
    name: str
    next_run_at: datetime
    lease_owner: str
    lease_until: datetime | None
    runs: int
    last_error: str


class Scheduler:
    def __init__(
        self,
        sessions: sessionmaker,
        jobs: Sequence[Job],
        *,
        tick_seconds: float = 1.0,
        lease_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._sessions = sessions
        self._jobs = {job.name: job for job in jobs}
        self._tick = tick_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self.owner = "s_" + secrets.token_hex(6)
        self._background = None
        self._rows: set[str] = set()  # jobs whose row is known to exist

    # -- the in-process wake-ups -----------------------------------------------------------

    def start(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        # A wake-up that finds its job still running is skipped by design: not worth a warning.
        quiet = log.getChild("apscheduler")
        quiet.setLevel(logging.ERROR)
        background = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max(1, len(self._jobs)))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC", logger=quiet,
        )
        for job in self._jobs.values():
            # Waking more often than the job is due keeps the gap between runs close to
            # ``every`` whichever replica wins; a wake-up that finds nothing due is one UPDATE.
            tick = min(self._tick, job.every)
            background.add_job(self.run_if_due, IntervalTrigger(seconds=tick, jitter=tick / 4), args=[job.name],
                               id=job.name, name=job.name, next_run_time=self._clock())
        background.start()
        self._background = background
        log.info("scheduler %s started: %s", self.owner, ", ".join(self._jobs))

    def stop(self) -> None:
        """Let running jobs finish (their leases are released), then return."""
        if self._background is not None:
            self._background.shutdown(wait=True)
            self._background = None

    # -- claiming and running ----------------------------------------------------------------

    def run_if_due(self, name: str) -> bool:
        """Run job ``name`` here if it is due and no other replica holds it; True if it ran."""
        job = self._jobs[name]
        if not self._claim(job):
            return False
        error = ""
        try:
            job.run()
        except Exception as exc:  # noqa: BLE001 - a failed run is retried at the next due time
            log.exception("scheduled job %s failed", name)
            error = f"{exc.__class__.__name__}: {exc}"[:1000]
        self._release(job, error)
        return True

    def _claim(self, job: Job) -> bool:
        now = self._clock()
        self._ensure_row(job.name, now)
        with self._sessions.begin() as session:
            claimed = session.execute(
                sa.update(ScheduledJobRow)
                .where(
                    ScheduledJobRow.name == job.name,
                    # Due by the stored time, or by this replica's interval (after a change of configuration).
                    sa.or_(ScheduledJobRow.next_run_at <= now,
                           ScheduledJobRow.last_finished_at <= now - timedelta(seconds=job.every)),
                    sa.or_(ScheduledJobRow.lease_until.is_(None), ScheduledJobRow.lease_until < now),
                )
                # next_run_at stays: should this replica die mid-run, the job is still due when the lease ends.
                .values(lease_owner=self.owner, lease_until=now + self._lease, last_started_at=now)
                .execution_options(synchronize_session=False)
            )
            return claimed.rowcount == 1

    def _release(self, job: Job, error: str) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            # Only our own lease: if it ran out and another replica took the job, leave it be.
            session.execute(
                sa.update(ScheduledJobRow)
                .where(ScheduledJobRow.name == job.name, ScheduledJobRow.lease_owner == self.owner)
                .values(lease_owner="", lease_until=None, last_finished_at=now, runs=ScheduledJobRow.runs + 1,
                        last_error=error, next_run_at=now + timedelta(seconds=job.every))
                .execution_options(synchronize_session=False)
            )

    def _ensure_row(self, name: str, now: datetime) -> None:
        if name in self._rows:
            return
        with self._sessions() as session:
            exists = session.get(ScheduledJobRow, name) is not None
        if not exists:
            try:
                with self._sessions.begin() as session:
                    session.add(ScheduledJobRow(name=name, next_run_at=now, lease_owner="", runs=0, last_error=""))
            except IntegrityError:
                pass  # another replica made it first
        self._rows.add(name)

    def state(self, name: str) -> JobState | None:
        with self._sessions() as session:
            row = session.get(ScheduledJobRow, name)
            if row is None:
                return None
            return JobState(row.name, row.next_run_at, row.lease_owner, row.lease_until, row.runs, row.last_error)
