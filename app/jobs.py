"""Entry points for background jobs (RQ workers and the in-process thread).

Three rules every job follows:

- **Jobs take ids.** A job is enqueued by the dotted path of a module-level function
  with plain ids as arguments (``enqueue(escalation.sweep_due, org_id)``), never ORM
  objects: the worker loads fresh rows itself, under ``tenancy.scoped(org_id)``.
- **Enqueue after commit.** ``app.queue.enqueue`` holds the job until the caller's
  transaction commits and drops it on rollback, so a worker never races the row.
- **Safe to run twice.** RQ retries a failed job (3 times, after 10, 30, 60 s) and a
  job may also run again after a worker dies: a job re-reads the state and does
  nothing when its work is already done (deadlines and escalation due times live in
  the database, so the next sweep catches whatever a lost job missed).

``run`` is what RQ calls (``app.jobs.run('module.function', *ids)``): it pushes an
app context, calls the function (which is thin and calls a service), and rolls the
session back if the function fails, so the worker's session is clean for the next
job. The worker is plain ``rq worker``, in the web processes' environment, e.g.
``rq worker --with-scheduler --url "$REDIS_URL" tracker`` (the scheduler re-enqueues a
failed job after its retry delay).

Services import ``app.queue``; this module imports the job functions by name at run
time: there is no import circle.
"""
import importlib
import logging
import os

from flask import current_app, has_app_context

from app.extensions import db

log = logging.getLogger(__name__)

_app = None
_app_pid = None


def resolve(path):
    """The function named by a dotted path ``package.module.function``."""
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ValueError(f"not a dotted path: {path!r}")
    return getattr(importlib.import_module(module_name), attr)


def worker_app(app_factory=None):
    """The app this worker process runs jobs in (built once, from the environment).

    Built in RQ's main process (``rq worker -c app.rq_settings``), it is inherited by every
    forked work-horse; a horse first drops the pooled connections it inherited (they belong
    to the parent), so no two processes ever share a database connection.
    """
    global _app, _app_pid
    if _app is None:
        if app_factory is None:
            from app import create_app as app_factory
        _app = app_factory()
        _app_pid = os.getpid()
    elif _app_pid != os.getpid():
        with _app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        _app_pid = os.getpid()
    return _app


def run(path, *args, **kwargs):
    """RQ entry point: run the job ``path`` in an app context; roll back on error."""
    if has_app_context():
        # Already inside an app (a SimpleWorker in the same process, a CLI command).
        return run_in_app(current_app._get_current_object(), path, *args, **kwargs)
    return run_in_app(worker_app(), path, *args, **kwargs)


def run_in_app(app, path, *args, **kwargs):
    """Call the job function inside ``app``'s context with a clean session."""
    func = resolve(path)
    with app.app_context():
        try:
            return func(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
