"""Configuration read from the environment.

`Config` is the embedded default (SQLite under ``instance/``, jobs in-process);
`ProductionConfig` refuses to start without a real ``SECRET_KEY``;
`TestConfig` is what the test suite uses.
"""
import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))
DEV_SECRET = "dev-not-secret"


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """The embedded default: SQLite file, in-process jobs."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'tracker.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "tracker")
    ESCALATION_SWEEP_SECONDS = int(os.environ.get("ESCALATION_SWEEP_SECONDS", "30"))
    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "Asia/Tokyo")
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("ja", "en")
    MAX_CONTENT_LENGTH = 1 * 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    SESSION_COOKIE_NAME = "aitracker_session"
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None
    # Login throttling: failures allowed per e-mail and per client address in the window.
    LOGIN_MAX_FAILURES_PER_EMAIL = 5
    LOGIN_MAX_FAILURES_PER_IP = 30
    LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
    # argon2id, OWASP / ASVS 5.0 V11.4.2 minimum: m=19 MiB, t=2, p=1.
    ARGON2_TIME_COST = 2
    ARGON2_MEMORY_KIB = 19 * 1024
    ARGON2_PARALLELISM = 1
    HSTS = False
    RUN_JOBS_IN_PROCESS = True
    # The queue's tab counts are cached this long per worker (0 turns the cache off).
    QUEUE_COUNTS_TTL_SECONDS = int(os.environ.get("QUEUE_COUNTS_TTL_SECONDS", "5"))
    # The dashboard's figures are cached this long per organisation and period (0: off).
    DASHBOARD_METRICS_TTL_SECONDS = int(os.environ.get("DASHBOARD_METRICS_TTL_SECONDS", "10"))
    # The web process runs the escalation sweep on a background thread (the embedded
    # default); production runs `flask escalation sweep --every N` instead (README).
    ESCALATION_SWEEP_IN_PROCESS = _bool("ESCALATION_SWEEP_IN_PROCESS", not os.environ.get("REDIS_URL"))
    # A claimed delivery is someone's for this long; after it the sweep may enqueue it again.
    DELIVERY_LEASE_SECONDS = int(os.environ.get("DELIVERY_LEASE_SECONDS", "120"))
    # A new or failed delivery not sent by then is enqueued again by the sweep.
    DELIVERY_REQUEUE_AFTER_SECONDS = int(os.environ.get("DELIVERY_REQUEUE_AFTER_SECONDS", "60"))
    DELIVERY_MAX_ATTEMPTS = int(os.environ.get("DELIVERY_MAX_ATTEMPTS", "8"))
    # Enqueue the delivery jobs (after the commit, and again from the sweep). The test suite
    # turns this off and runs app.escalation.delivery itself, so no job races a test.
    DELIVERY_JOBS_ENABLED = _bool("DELIVERY_JOBS_ENABLED", True)
    # Links in e-mails (acknowledge, open the incident) start with this.
    BASE_URL = os.environ.get("BASE_URL", "http://localhost:5000")
    # E-mail over SMTP (no MAIL_SERVER: e-mail deliveries fail with "no SMTP server configured").
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_STARTTLS = _bool("MAIL_USE_STARTTLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_FROM = os.environ.get("MAIL_FROM", "ai-incidents@localhost")
    MAIL_TIMEOUT_SECONDS = int(os.environ.get("MAIL_TIMEOUT_SECONDS", "10"))
    WEBHOOK_TIMEOUT_SECONDS = int(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    # The ledger checkpoints' Ed25519 key: a file outside the database (default instance/).
    LEDGER_SIGNING_KEY_FILE = os.environ.get("LEDGER_SIGNING_KEY_FILE") or None


class ProductionConfig(Config):
    """PostgreSQL, Redis and gunicorn; secure cookies; a real secret is mandatory."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = True
    HSTS = True

    @classmethod
    def validate(cls):
        """Refuse to start with a missing or default secret."""
        secret = os.environ.get("SECRET_KEY", "")
        if not secret or secret == DEV_SECRET or len(secret) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        cls.SECRET_KEY = secret


class TestConfig(Config):
    """The test suite: a database from TEST_DATABASE_URL, or a temporary SQLite file."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-with-at-least-32-characters"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    LOGIN_MAX_FAILURES_PER_IP = 1000
    QUEUE_COUNTS_TTL_SECONDS = 0
    DASHBOARD_METRICS_TTL_SECONDS = 0
    ESCALATION_SWEEP_IN_PROCESS = False
    DELIVERY_JOBS_ENABLED = False
    LEDGER_SIGNING_KEY_FILE = os.environ.get("TEST_LEDGER_SIGNING_KEY_FILE") or os.path.join(
        tempfile.gettempdir(), f"ait-test-ledger-key-{os.getuid()}.pem")


def config_from_env():
    """Pick the configuration class named by APP_ENV (development, production)."""
    name = os.environ.get("APP_ENV", "development").lower()
    if name == "production":
        ProductionConfig.validate()
        return ProductionConfig
    return Config
