"""Jobs on real Redis: enqueued only after the commit, run by a real RQ worker (a
SimpleWorker in burst mode), and a Redis that cannot be reached falls back to the
in-process thread without failing the caller."""
import logging
import socket
import uuid

import pytest
from redis import Redis
from rq import Queue, SimpleWorker

from app import queue
from app.db import transaction
from app.extensions import db
from app.orgs import service as orgs

pytestmark = pytest.mark.needs_redis

RECORDED = []


def record(value):
    """Test job: remember the value."""
    RECORDED.append(value)


def create_org_job(slug):
    """Test job that writes through a service and is safe to run twice."""
    if orgs.get_org_by_slug(slug) is None:
        orgs.create_org(slug=slug, name=f"Made by an RQ job {slug}")


@pytest.fixture
def rq_app(app, redis_url, monkeypatch):
    """The app pointed at real Redis with a queue of its own; yields (app, rq.Queue)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "RQ_QUEUE", name)
    conn = Redis.from_url(redis_url)
    rq_queue = Queue(name, connection=conn)
    RECORDED.clear()
    with app.app_context():
        yield app, rq_queue
        db.session.remove()
    rq_queue.empty()
    rq_queue.delete(delete_jobs=True)
    conn.close()
    RECORDED.clear()


def _work(rq_queue):
    worker = SimpleWorker([rq_queue], connection=rq_queue.connection)
    assert worker.work(burst=True)


def test_job_lands_in_redis_after_commit_and_a_worker_runs_it(rq_app):
    app, rq_queue = rq_app
    with transaction():
        queue.enqueue(record, 7)
        assert rq_queue.count == 0, "enqueued before the commit"
    assert rq_queue.count == 1
    job = rq_queue.jobs[0]
    assert job.func_name == "app.jobs.run"
    assert job.args == (f"{__name__}.record", 7)
    assert job.retries_left == 3 and list(job.retry_intervals) == [10, 30, 60]
    _work(rq_queue)
    assert RECORDED == [7]
    assert rq_queue.count == 0


def test_rolled_back_job_never_reaches_redis(rq_app):
    _app, rq_queue = rq_app
    with pytest.raises(RuntimeError):
        with transaction():
            queue.enqueue(record, "never")
            raise RuntimeError("the service failed")
    assert rq_queue.count == 0


def test_worker_job_writes_through_a_service(rq_app):
    _app, rq_queue = rq_app
    queue.enqueue(create_org_job, "rq-made")
    queue.enqueue(create_org_job, "rq-made")  # delivered twice: still one organisation
    assert rq_queue.count == 2
    _work(rq_queue)
    db.session.remove()
    assert [o.slug for o in orgs.all_orgs()] == ["rq-made"]


def test_closed_redis_port_falls_back_to_in_process(rq_app, monkeypatch, caplog):
    app, _rq_queue = rq_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    caplog.set_level(logging.WARNING, logger="app.queue")
    with transaction():
        queue.enqueue(record, "fallback")
    assert queue.wait_for_jobs(10)
    assert RECORDED == ["fallback"]
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_a_real_rq_worker_process_runs_the_job(make_app, fresh_database_url, redis_url, tmp_path):
    """``rq worker`` in a process of its own builds the app from the environment (jobs.run)."""
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    name = f"test-proc-{uuid.uuid4().hex[:8]}"
    application = make_app(fresh_database_url, REDIS_URL=redis_url, RQ_QUEUE=name)
    result = application.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with application.app_context():
        db.session.remove()
        queue.enqueue(create_org_job, "rq-process")  # no transaction open: handed over at once
    conn = Redis.from_url(redis_url)
    rq_queue = Queue(name, connection=conn)
    try:
        assert rq_queue.count == 1
        here = Path(__file__).resolve().parent
        root = here.parents[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
        env.update({
            "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": fresh_database_url,
            "REDIS_URL": redis_url, "RQ_QUEUE": name, "INSTANCE_PATH": str(tmp_path),
            "PYTHONPATH": os.pathsep.join([str(here), str(root)]),
        })
        out = subprocess.run(
            [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url, name],
            cwd=root, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert rq_queue.count == 0
        assert rq_queue.failed_job_registry.count == 0, out.stdout + out.stderr
        with application.app_context():
            assert orgs.get_org_by_slug("rq-process") is not None
            db.session.remove()
    finally:
        rq_queue.delete(delete_jobs=True)
        conn.close()
