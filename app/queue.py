"""Background jobs, enqueued only once the data they refer to is committed.

``enqueue(func, *ids)`` is what services call. The job is held on the current
SQLAlchemy session and handed over when that session's transaction COMMITS
(dropped if it rolls back); with no transaction open it is handed over at once.
So a fast worker can never look for a row that is not committed yet, and a
failed filing never leaves a job behind.

Where it goes:

- ``REDIS_URL`` set: an RQ queue (``RQ_QUEUE``), as ``app.jobs.run(<dotted path>, *args)``
  with ``Retry(max=3, interval=[10, 30, 60])``; any number of ``rq worker``
  processes run it. If Redis cannot be reached the job is logged and run
  in-process instead: filing must never fail because Redis is down.
- ``REDIS_URL`` unset (the embedded default): one daemon thread per process
  consumes a ``queue.Queue`` and runs each job inside an app context; an
  exception is logged and never kills the thread.

Jobs take ids (never ORM objects), and must be safe to run twice (see ``app.jobs``).
"""
import logging
import os
import queue as _stdqueue
import threading
import time

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import within
from app.extensions import db

log = logging.getLogger(__name__)

RETRY_INTERVALS = [10, 30, 60]
_PENDING = "app.queue.pending"
_DURABLE = "_durable"


# ---------------------------------------------------------------- enqueue after commit


def enqueue(func, *args, durable=False, **kwargs):
    """Run ``func(*args, **kwargs)`` in the background after the current transaction commits.

    ``durable=True`` says the database already holds the work (a pending delivery the sweep
    re-enqueues): if Redis is unreachable the job is left for the sweep instead of running
    in the web process.
    """
    path = dotted_path(func)
    app = current_app._get_current_object()
    job = (app, path, args, dict(kwargs, **({_DURABLE: True} if durable else {})))
    session = db.session()
    if session.in_transaction():
        # Remember the innermost transaction: a rolled-back savepoint drops its own jobs only.
        owner = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((owner, job))
    else:
        _dispatch(job)


def dotted_path(func):
    """``module.function`` for a module-level function, or the string given."""
    if isinstance(func, str):
        if "." not in func:
            raise ValueError(f"job {func!r} is not a dotted path (module.function)")
        return func
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None)
    if not module or not qualname or "<" in qualname or "." in qualname:
        raise ValueError(f"job {func!r} must be a module-level function (it is enqueued by name)")
    return f"{module}.{qualname}"


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint was released: the outer transaction may still roll back
    pending = session.info.pop(_PENDING, None)
    for _owner, job in pending or ():
        _dispatch(job)


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session, previous_transaction):
    pending = session.info.get(_PENDING)
    if not pending:
        return
    kept = [(owner, job) for owner, job in pending if not within(owner, previous_transaction)]
    if len(kept) != len(pending):
        log.info("dropped %d job(s) of a rolled-back transaction", len(pending) - len(kept))
    session.info[_PENDING] = kept


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    # A root transaction that ended without a commit (closed, removed): its jobs never run.
    if transaction.parent is None and not transaction.nested:
        dropped = session.info.pop(_PENDING, None)
        if dropped:
            log.info("dropped %d job(s) of a transaction that was not committed", len(dropped))



def _dispatch(job):
    """Hand a job over to RQ or to the in-process worker; never raise (the commit is done)."""
    app, path, args, kwargs = job
    durable = bool(kwargs.pop(_DURABLE, False))
    try:
        url = app.config.get("REDIS_URL")
        if url:
            try:
                _enqueue_rq(url, app.config.get("RQ_QUEUE", "default"), path, args, kwargs)
                return
            except Exception:  # redis.exceptions.RedisError, OSError, ...
                if durable:
                    log.warning("Redis at %s unreachable; job %s%r left to the sweep", _redact(url), path, args)
                    return
                log.warning("Redis at %s unreachable; running job %s in-process", _redact(url), path,
                            exc_info=True)
        _worker().put(app, path, args, kwargs)
    except Exception:
        log.exception("could not dispatch job %s", path)


# ---------------------------------------------------------------- RQ

_connections = {}


def redis_connection(url):
    """A Redis connection for ``url`` (one per process and URL), failing fast when down."""
    from redis import Redis

    key = (os.getpid(), url)
    conn = _connections.get(key)
    if conn is None:
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        _connections[key] = conn
    return conn


def _enqueue_rq(url, queue_name, path, args, kwargs):
    from rq import Queue, Retry

    q = Queue(queue_name, connection=redis_connection(url))
    return q.enqueue_call(
        func="app.jobs.run",
        args=(path, *args),
        kwargs=kwargs,
        retry=Retry(max=3, interval=list(RETRY_INTERVALS)),
        description=f"{path}{tuple(args)!r}",
    )


def _redact(url):
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# ---------------------------------------------------------------- in-process worker


class InProcessWorker:
    """A single daemon thread that runs jobs one at a time, each in an app context."""

    def __init__(self):
        self.jobs = _stdqueue.Queue()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._loop, name="app-jobs", daemon=True)
        self.thread.start()

    def put(self, app, path, args, kwargs):
        """Queue one job."""
        self.jobs.put((app, path, args, kwargs))

    def _loop(self):
        from app import jobs

        while True:
            app, path, args, kwargs = self.jobs.get()
            try:
                jobs.run_in_app(app, path, *args, **kwargs)
            except BaseException:  # noqa: BLE001 - the thread must survive anything
                log.exception("background job %s failed", path)
            finally:
                self.jobs.task_done()

    def wait(self, timeout=10.0):
        """Block until every queued job has run; True unless ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True


_lock = threading.Lock()
_instance = None


def _worker():
    """The process's in-process worker (a new one after a fork, e.g. in a gunicorn worker)."""
    global _instance
    with _lock:
        if _instance is None or _instance.pid != os.getpid() or not _instance.thread.is_alive():
            _instance = InProcessWorker()
        return _instance


def wait_for_jobs(timeout=10.0):
    """Wait until the in-process worker is idle (tests, and the CLI before it exits)."""
    return _worker().wait(timeout)
