"""Exactly one scheduler works per node: the database lease decides which."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import select

from scamshare import db, scheduler
from scamshare.clock import utcnow
from scamshare.models import AuditEntry, Organisation


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        """Start now."""
        self.now = utcnow()

    def __call__(self):
        """Tell the time."""
        return self.now


def test_only_one_keeper_holds_the_lease_until_it_lapses(app):
    """A second scheduler waits; it takes over once the holder stops renewing."""
    clock = Clock()
    first = scheduler.LeaseKeeper(app, "host-a:1", clock)
    second = scheduler.LeaseKeeper(app, "host-b:2", clock)
    assert first.hold() is True
    assert second.hold() is False
    assert first.hold() is True  # renewing is holding
    clock.now += timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"] + 1)
    assert second.hold() is True
    assert first.hold() is False
    second.release()
    assert first.hold() is True


def test_jobs_run_only_under_the_lease_and_are_audited(app):
    """The holder runs the job in one transaction and audits it; the other does nothing."""
    runs = []

    def count_organisations(session, app_, now):
        """A job that reads the database and reports what it saw."""
        runs.append(now)
        return {"organisations": len(session.scalars(select(Organisation)).all())}

    job = scheduler.Job("census", count_organisations, 60, "test")
    clock = Clock()
    holder = scheduler.LeaseKeeper(app, "host-a:1", clock)
    standby = scheduler.LeaseKeeper(app, "host-b:2", clock)
    assert scheduler.run_job(app, job, holder) == {"organisations": 0}
    assert scheduler.run_job(app, job, standby) is None
    assert len(runs) == 1
    with db.transaction(app) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "job.census"))
        assert entry.organisation_name == "scheduler:host-a:1"
        assert entry.details == {"organisations": 0}


def test_a_failing_job_rolls_back_and_is_audited_as_an_error(app):
    """Half-done work of a failed run is not kept; the failure is on record."""

    def half_then_fail(session, app_, now):
        """Write something, then fail."""
        session.add(Organisation(name="Half-made", role="operator", country="SG"))
        session.flush()
        raise RuntimeError("peer unreachable")

    keeper = scheduler.LeaseKeeper(app, "host-a:1", Clock())
    assert scheduler.run_job(app, scheduler.Job("flaky", half_then_fail, 60, "t"), keeper) is None
    with db.transaction(app) as session:
        assert (
            session.scalars(select(Organisation).where(Organisation.name == "Half-made")).all()
            == []
        )
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "job.flaky"))
        assert entry.outcome == "error"
        assert entry.details == {"error": "peer unreachable"}


def test_every_node_job_says_why_it_exists(app):
    """Jobs are declared with their reason."""
    jobs = scheduler.node_jobs(app)
    assert {job.name for job in jobs} >= {"expire"}
    assert all(job.why and job.seconds > 0 for job in jobs)


def test_two_scheduler_processes_run_jobs_from_one_only_and_fail_over(app, database_url, tmp_path):
    """Start two `scamshare scheduler` processes: one works; kill it and the other takes over."""
    env = {
        **os.environ,
        "SCAMSHARE_DATABASE_URL": database_url,
        "SCAMSHARE_DATA_DIR": str(tmp_path),
        "SCAMSHARE_EXPIRE_INTERVAL_SECONDS": "1",
        "SCAMSHARE_SCHEDULER_LEASE_SECONDS": "3",
        "SCAMSHARE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "scamshare", "scheduler"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]

    def holders(minimum_runs: int, deadline: float) -> list[str]:
        """Wait until the expire job ran at least `minimum_runs` times; return who ran each."""
        while True:
            with db.transaction(app) as session:
                runs = session.scalars(
                    select(AuditEntry.organisation_name)
                    .where(AuditEntry.action == "job.expire")
                    .order_by(AuditEntry.id)
                ).all()
            if len(runs) >= minimum_runs or time.monotonic() > deadline:
                return list(runs)
            time.sleep(0.2)

    try:
        runs = holders(4, time.monotonic() + 30)
        assert len(runs) >= 4
        assert len(set(runs)) == 1, runs
        working_pid = int(runs[0].split(":")[2])
        worker = next(p for p in processes if p.pid == working_pid)
        worker.kill()
        worker.wait(timeout=10)
        runs = holders(len(runs) + 3, time.monotonic() + 30)
        assert len(set(runs)) == 2, runs
        survivor = next(p for p in processes if p.pid != working_pid)
        assert str(survivor.pid) in runs[-1]
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
