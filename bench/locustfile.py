"""Locust scenario for the production shape (``python -m bench.load`` runs it headless).

- employees file incidents through the API (``POST /api/v1/incidents``);
- leads list the queue (``GET /api/v1/queue``), read an incident's transitions, take one and
  assign incidents (``POST .../transitions``, ``POST .../assign``);
- executives read ``GET /api/v1/metrics`` and the ``/dashboard`` page (session from the login form).

``LOAD_CONFIG`` names a JSON file written by ``bench.load``: ``{"tokens": {"employee": [...],
"lead": [...], "executive": [...]}, "executive_email": ..., "password": ...}``. When the run
stops, the number of 201s the employees got (and their ids) goes to ``LOAD_RESULT``
(JSON), so the runner can compare it with the incidents in the database. A 409 (another lead
moved or assigned the incident first: optimistic locking doing its job) is counted there
too and is not a failure.
"""
import itertools
import json
import os
import random
import re
import threading
from datetime import datetime, timedelta, timezone

from locust import HttpUser, between, events, task

CONFIG = json.load(open(os.environ["LOAD_CONFIG"], encoding="utf-8")) if os.environ.get("LOAD_CONFIG") else {
    "tokens": {"employee": [], "lead": [], "executive": []}}
_lock = threading.Lock()
FILED = []
CONFLICTS = {"transition": 0, "assign": 0}
_rotation = {role: itertools.cycle(tokens or [None]) for role, tokens in CONFIG["tokens"].items()}

SEVERITIES = ["sev1", "sev2", "sev3", "sev3", "sev4", "sev4"]
# Transitions a lead takes in the load (no guards on facts the scenario does not fill in).
SAFE = {"start_triage", "start_investigation", "contain", "plan_remediation", "start_review"}


def _token(role):
    with _lock:
        return next(_rotation[role])


def incident_body(n):
    now = datetime.now(timezone.utc)
    return {
        "title": f"負荷試験 {n}: チャットボットが別の顧客の注文履歴を表示した",
        "description": "The support chatbot answered with order details of a different customer.",
        "severity": random.choice(SEVERITIES),
        "occurred_at": (now - timedelta(hours=5)).isoformat(),
        "aware_at": (now - timedelta(hours=2)).isoformat(),
        "jurisdictions": ["JP"],
        "personal_data": random.random() < 0.3,
        "harm_types": ["privacy"],
    }


def _fill(field):
    kind = field["type"]
    if field["options"]:
        return field["options"][0]
    if kind == "boolean":
        return True
    if kind in ("date",):
        return datetime.now(timezone.utc).date().isoformat()
    if kind in ("datetime",):
        return datetime.now(timezone.utc).isoformat()
    return "負荷試験: 対応内容を記録 / recorded by the load test"


class Employee(HttpUser):
    """Files incidents."""

    weight = 5
    wait_time = between(1, 3)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {_token('employee')}"

    @task
    def file_incident(self):
        n = random.randrange(10**6)
        with self.client.post("/api/v1/incidents", json=incident_body(n), name="POST /api/v1/incidents",
                              catch_response=True) as res:
            if res.status_code == 201:
                with _lock:
                    FILED.append(res.json()["id"])
                res.success()
            else:
                res.failure(f"{res.status_code}: {res.text[:200]}")


class Lead(HttpUser):
    """Works the queue: lists it, moves incidents along their workflow, assigns them."""

    weight = 2
    wait_time = between(1, 3)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {_token('lead')}"
        self.me = self.client.get("/api/v1/me", name="GET /api/v1/me").json()["id"]
        self.items = []

    @task(3)
    def list_queue(self):
        res = self.client.get("/api/v1/queue?limit=50", name="GET /api/v1/queue")
        if res.status_code == 200:
            self.items = res.json()["items"]

    @task(2)
    def transition(self):
        if not self.items:
            return
        incident = random.choice(self.items)
        res = self.client.get(f"/api/v1/incidents/{incident['id']}/transitions",
                              name="GET /api/v1/incidents/:id/transitions")
        if res.status_code != 200:
            return
        listing = res.json()
        offered = [t for t in listing["items"] if t["name"] in SAFE]
        if not offered:
            return
        chosen = random.choice(offered)
        body = {"transition": chosen["name"], "version": listing["version"], "comment": "load test",
                "fields": {f["name"]: _fill(f) for f in chosen["required_fields"]}}
        with self.client.post(f"/api/v1/incidents/{incident['id']}/transitions", json=body,
                              name="POST /api/v1/incidents/:id/transitions", catch_response=True) as r:
            if r.status_code == 200:
                r.success()
            elif r.status_code == 409:
                with _lock:
                    CONFLICTS["transition"] += 1
                r.success()
            else:
                r.failure(f"{r.status_code}: {r.text[:200]}")

    @task(1)
    def assign(self):
        if not self.items:
            return
        incident = random.choice(self.items)
        got = self.client.get(f"/api/v1/incidents/{incident['id']}", name="GET /api/v1/incidents/:id")
        if got.status_code != 200:
            return
        body = {"assignee_id": self.me, "version": got.json()["version"]}
        with self.client.post(f"/api/v1/incidents/{incident['id']}/assign", json=body,
                              name="POST /api/v1/incidents/:id/assign", catch_response=True) as r:
            if r.status_code == 200:
                r.success()
            elif r.status_code == 409:
                with _lock:
                    CONFLICTS["assign"] += 1
                r.success()
            else:
                r.failure(f"{r.status_code}: {r.text[:200]}")


class Executive(HttpUser):
    """Reads the figures: the metrics API and the dashboard page."""

    weight = 1
    wait_time = between(2, 5)

    def on_start(self):
        self.token = _token("executive")
        page = self.client.get("/login", name="GET /login").text
        csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        res = self.client.post("/login", data={"email": CONFIG["executive_email"], "password": CONFIG["password"],
                                               "csrf_token": csrf}, name="POST /login", allow_redirects=False)
        if res.status_code != 302:
            raise RuntimeError(f"login failed: {res.status_code}")

    @task
    def metrics(self):
        self.client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {self.token}"},
                        name="GET /api/v1/metrics")

    @task
    def dashboard(self):
        self.client.get("/dashboard", name="GET /dashboard")


@events.test_stop.add_listener
def _write_result(environment, **_kw):
    path = os.environ.get("LOAD_RESULT")
    if not path:
        return
    with _lock:
        data = {"filed": len(FILED), "filed_ids": sorted(FILED), "conflicts": dict(CONFLICTS)}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
