"""app.queue: jobs are handed over only after the commit, dropped on rollback, and run
in-process (a daemon thread, in an app context) when REDIS_URL is not set."""
import logging
import threading

import pytest
from flask import current_app, has_app_context

from app import jobs, queue
from app.db import transaction
from app.extensions import db
from app.orgs import service as orgs

RECORDED = []


def record(value):
    """Test job: remember the value, the thread and whether an app context was pushed."""
    RECORDED.append((value, threading.current_thread().name, has_app_context()))


def create_org_job(slug):
    """Test job: write a row through a service (takes plain values, not objects)."""
    if orgs.get_org_by_slug(slug) is None:  # safe to run twice
        orgs.create_org(slug=slug, name=f"Made by a job {slug}")


def failing_job(value):
    """Test job that always fails."""
    raise RuntimeError(f"job failed on purpose ({value})")


@pytest.fixture
def in_process(app, monkeypatch):
    """The app with REDIS_URL unset (jobs on the in-process thread), inside an app context."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    RECORDED.clear()
    with app.app_context():
        yield app
        assert queue.wait_for_jobs(10)
        db.session.remove()
    RECORDED.clear()


def values():
    """The values the test jobs recorded so far."""
    return [value for value, _thread, _ctx in RECORDED]


def test_job_waits_for_commit(in_process):
    with transaction():
        orgs_before = orgs.all_orgs()
        queue.enqueue(record, 1)
        assert queue.wait_for_jobs(5)
        assert values() == [], "the job ran before the commit"
    assert queue.wait_for_jobs(5)
    assert values() == [1]
    _value, thread, had_ctx = RECORDED[0]
    assert thread == "app-jobs" and thread != threading.current_thread().name
    assert had_ctx
    assert orgs_before == []


def test_job_dropped_on_rollback(in_process):
    with pytest.raises(RuntimeError):
        with transaction():
            queue.enqueue(record, "never")
            raise RuntimeError("the service failed")
    queue.enqueue(record, "after")  # no transaction open: handed over at once
    assert queue.wait_for_jobs(5)
    assert values() == ["after"]


def test_job_dropped_when_session_closes_without_commit(in_process):
    db.session.execute(db.select(db.literal(1)))  # opens a transaction (autobegin)
    assert db.session().in_transaction()
    queue.enqueue(record, "never")
    db.session.remove()
    queue.enqueue(record, "later")
    assert queue.wait_for_jobs(5)
    assert values() == ["later"]


def test_savepoint_rollback_drops_only_its_own_jobs(in_process):
    with transaction() as s:
        queue.enqueue(record, "outer")
        try:
            with s.begin_nested():
                queue.enqueue(record, "inner")
                raise ValueError("savepoint fails")
        except ValueError:
            pass
        with s.begin_nested():
            queue.enqueue(record, "inner-kept")
        assert queue.wait_for_jobs(5)
        assert values() == []
    assert queue.wait_for_jobs(5)
    assert values() == ["outer", "inner-kept"]


def test_job_writes_through_a_service_in_its_own_context(in_process):
    with transaction():
        queue.enqueue(create_org_job, "from-job")
        queue.enqueue(f"{__name__}.create_org_job", "from-job")  # by name; runs twice safely
    assert queue.wait_for_jobs(10)
    db.session.remove()
    org = orgs.get_org_by_slug("from-job")
    assert org is not None and org.name == "Made by a job from-job"
    assert len([o for o in orgs.all_orgs() if o.slug == "from-job"]) == 1


def test_failing_job_is_logged_and_the_thread_survives(in_process, caplog):
    caplog.set_level(logging.ERROR, logger="app.queue")
    queue.enqueue(failing_job, 7)
    queue.enqueue(record, "still-alive")
    assert queue.wait_for_jobs(5)
    assert values() == ["still-alive"]
    assert any("failing_job" in r.getMessage() and r.exc_info for r in caplog.records)


def test_unreachable_redis_falls_back_to_in_process(in_process, monkeypatch, caplog):
    # A closed port on the loopback: connecting is refused at once.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(current_app.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    caplog.set_level(logging.WARNING, logger="app.queue")
    with transaction():
        queue.enqueue(record, "fallback")  # must not raise
    assert queue.wait_for_jobs(10)
    assert values() == ["fallback"]
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_rq_enqueue_uses_dotted_path_ids_and_retry(in_process, monkeypatch):
    calls = []

    class FakeQueue:
        def __init__(self, name, connection):
            calls.append(("queue", name))

        def enqueue_call(self, func, args, kwargs, retry, description):
            calls.append((func, args, kwargs, retry.max, list(retry.intervals)))

    import rq

    monkeypatch.setattr(rq, "Queue", FakeQueue)
    monkeypatch.setitem(current_app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(current_app.config, "RQ_QUEUE", "tracker-test")
    with transaction():
        queue.enqueue(record, 42, note="x")
        assert calls == []
    assert calls == [
        ("queue", "tracker-test"),
        ("app.jobs.run", (f"{__name__}.record", 42), {"note": "x"}, 3, [10, 30, 60]),
    ]


def test_only_module_level_functions_can_be_enqueued(in_process):
    with pytest.raises(ValueError):
        queue.enqueue(lambda: None)

    def nested():
        pass

    with pytest.raises(ValueError):
        queue.enqueue(nested)
    with pytest.raises(ValueError):
        queue.enqueue("no_module_part")


def test_jobs_run_rolls_back_on_error(app):
    with app.app_context():
        with pytest.raises(RuntimeError):
            jobs.run(f"{__name__}.failing_job", 1)
        assert not db.session().in_transaction()
        RECORDED.clear()
        jobs.run(f"{__name__}.record", "direct")
        assert values() == ["direct"]
        RECORDED.clear()
