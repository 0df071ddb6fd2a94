"""gunicorn serves the application in production mode against PostgreSQL: the schema
comes from ``flask db upgrade``, the organisation, user and token from the contract's CLI,
and an incident is filed and read back through the JSON API."""
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prod_env(fresh_database_url, redis_url, tmp_path):
    """The environment of a production deployment on a throwaway PostgreSQL database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE": f"test-gunicorn-{secrets.token_hex(4)}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def flask(env, *args):
    """Run ``flask --app wsgi ARGS`` as an operator would; returns its stdout."""
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture
def token(prod_env):
    """Schema, organisation, user and API token, made as an operator would with the CLI."""
    flask(prod_env, "db", "upgrade")
    flask(prod_env, "org", "create", "prod-acme", "--name", "本番 株式会社")
    flask(prod_env, "user", "create", "lead@prod-acme.example.jp", "--org", "prod-acme",
          "--role", "lead", "--password", "a-long-production-password")
    return flask(prod_env, "token", "create", "lead@prod-acme.example.jp").strip().splitlines()[-1]


@pytest.fixture
def gunicorn(prod_env, token, tmp_path):
    """``gunicorn -w 2 wsgi:app`` on a free loopback port; yields its base URL."""
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"],
        cwd=ROOT, env=prod_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read()}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not answer /healthz within 60 s:\n{log.read()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_gunicorn_serves_the_api_on_postgresql(gunicorn, token):
    health = requests.get(f"{gunicorn}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.headers.get("Strict-Transport-Security", "").startswith("max-age=")

    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{gunicorn}/api/v1/incidents", timeout=10).status_code == 401

    now = datetime.now(timezone.utc)
    body = {
        "title": "採用AIが特定の大学の応募者を一律に低評価",
        "description": "The screening model scored applicants from one university lower.",
        "severity": "sev2",
        "occurred_at": (now - timedelta(days=2)).isoformat(),
        "aware_at": (now - timedelta(hours=3)).isoformat(),
        "jurisdictions": ["JP"],
        "personal_data": True,
        "harm_types": ["discrimination"],
    }
    created = requests.post(f"{gunicorn}/api/v1/incidents", json=body, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    data = created.json()
    for key in ("id", "workflow", "state", "version", "deadlines"):
        assert key in data, f"{key} missing from {data}"

    # Both workers share the database: read it back a few times (any worker may answer).
    for _ in range(4):
        got = requests.get(f"{gunicorn}/api/v1/incidents/{data['id']}", headers=auth, timeout=10)
        assert got.status_code == 200, got.text
        assert got.json()["title"] == body["title"]
