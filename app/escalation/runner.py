"""The escalation sweep on a schedule.

- Embedded default (no ``REDIS_URL``): each web process starts a daemon thread on its
  first request that runs :func:`app.escalation.service.sweep` every
  ``ESCALATION_SWEEP_SECONDS``. Several processes sweeping is harmless (the sweep records
  each escalation once).
- Production: ``flask escalation sweep --every 30`` as its own process (one or more, on any
  machine); it calls the same function. The web processes do not sweep
  (``ESCALATION_SWEEP_IN_PROCESS`` is off when ``REDIS_URL`` is set).
"""
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started = {}


def run_once(app):
    """One sweep in an app context; returns its counts (errors logged, never raised)."""
    from app.escalation import service
    from app.extensions import db

    with app.app_context():
        try:
            return service.sweep()
        except Exception:  # noqa: BLE001 - the loop must survive a bad sweep
            log.exception("escalation sweep failed")
            db.session.rollback()
            return None
        finally:
            db.session.remove()


def loop(app, every, *, stop=None, iterations=None):
    """Sweep every ``every`` seconds until ``stop`` is set (or ``iterations`` sweeps ran)."""
    done = 0
    while stop is None or not stop.is_set():
        started = time.monotonic()
        counts = run_once(app)
        if counts and (counts["fired"] or counts["requeued"]):
            log.info("escalation sweep: %s", counts)
        done += 1
        if iterations is not None and done >= iterations:
            return
        wait = max(0.0, every - (time.monotonic() - started))
        if stop is not None:
            stop.wait(wait)
        else:
            time.sleep(wait)


def start_in_process(app):
    """Start this process's sweeping thread once (the embedded default)."""
    key = (os.getpid(), id(app))
    with _lock:
        thread = _started.get(key)
        if thread is not None and thread.is_alive():
            return thread
        every = max(1, int(app.config.get("ESCALATION_SWEEP_SECONDS", 30)))
        thread = threading.Thread(target=loop, args=(app, every), name="escalation-sweep", daemon=True)
        thread.start()
        _started[key] = thread
        return thread


def init_app(app):
    if not app.config.get("ESCALATION_SWEEP_IN_PROCESS"):
        return

    @app.before_request
    def _start_sweeper():
        start_in_process(app)
