"""Settings module for RQ workers: ``rq worker -c app.rq_settings --with-scheduler``.

RQ imports this module in the worker's main process, so the application is built ONCE
here (from the environment, like the web processes) and every forked work-horse inherits
it, instead of building it again for each job (about a second each). The horse drops the
database connections it inherited (``app.jobs`` does that after a fork) and opens its own.

``REDIS_URL`` and ``RQ_QUEUE`` come from the environment, as for the web processes.
"""
import os

from app import jobs

REDIS_URL = os.environ.get("REDIS_URL")
QUEUES = [os.environ.get("RQ_QUEUE", "tracker")]

jobs.worker_app()
