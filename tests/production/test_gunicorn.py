"""gunicorn serves the application in production mode against PostgreSQL: the schema
comes from ``flask db upgrade``, the organisation, user and token from the contract's CLI,
and an incident is filed and read back through the JSON API."""
from datetime import datetime, timedelta, timezone

import pytest
import requests

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]


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
