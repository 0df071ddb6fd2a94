"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis, in process).

Every operation of ``/api/v1/openapi.json`` is called with generated valid and invalid
input, as an admin (most operations allowed) and as a reporter (mostly 403/404s), with
a real bearer token and real objects (an AI system, incidents, a ministry request), so
that ids in paths sometimes hit existing objects. Each answer must:

- never be a 5xx (``not_a_server_error``);
- conform to the document: a documented status code, content type, headers and
  response schema;
- on a 4xx, have the contract's shape ``{"error": {"code", "message", "fields"}}``.

The document's ``links`` (POST /incidents -> GET/PATCH /incidents/{id}, ...) drive a
stateful run through schemathesis' state machine.

The budget: ``FUZZ_EXAMPLES`` examples per operation (default 25), ``FUZZ_STEPS`` steps
per stateful run; e.g. ``FUZZ_EXAMPLES=300 python -m pytest tests/fuzz``.
"""
from datetime import datetime, timedelta, timezone

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error

from tests.fuzz.conftest import FUZZ_COVERAGE, FUZZ_DERANDOMIZE, FUZZ_EXAMPLES, FUZZ_STEPS

OPENAPI = "/api/v1/openapi.json"
PREFIX = "/api/v1"


def error_shape(ctx: CheckContext, response, case):
    """Every 4xx answer is ``{"error": {"code": str, "message": str, "fields": {name: [str]}}}``."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        payload = response.json()
    except Exception as exc:  # noqa: BLE001 - any decoding problem is the failure
        raise AssertionError(f"{response.status_code} without a JSON body: {exc}") from None
    assert isinstance(payload, dict) and set(payload) == {"error"}, f"not the error shape: {payload!r}"
    error = payload["error"]
    assert isinstance(error, dict), f"not the error shape: {payload!r}"
    assert {"code", "message", "fields"} <= set(error), f"error lacks code/message/fields: {error!r}"
    assert isinstance(error["code"], str) and error["code"], f"bad error code: {error!r}"
    assert isinstance(error["message"], str) and error["message"], f"bad error message: {error!r}"
    assert isinstance(error["fields"], dict), f"fields is not an object: {error!r}"
    for name, messages in error["fields"].items():
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (name, messages)
    return True


CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
    response_schema_conformance, error_shape,
]


def _seed(api):
    """Real objects whose ids the generated requests sometimes use; returns ids by path parameter."""
    now = datetime.now(timezone.utc)
    system = api("POST", "/ai-systems", {"name": "Support chatbot", "purpose": "Customer support",
                                         "actor_role": "provider"})
    assert system.status_code == 201, system.get_json()
    system_id = system.get_json()["id"]
    incidents = []
    for severity, jurisdictions, personal in (("sev1", ["JP", "EU"], True), ("sev3", ["JP"], False)):
        resp = api("POST", "/incidents", {
            "title": f"Fuzz seed {severity}", "description": "Seeded for the API fuzz test.",
            "severity": severity, "occurred_at": (now - timedelta(hours=5)).isoformat(),
            "aware_at": (now - timedelta(hours=2)).isoformat(), "jurisdictions": jurisdictions,
            "personal_data": personal, "ai_system_id": system_id, "deaths": 1 if severity == "sev1" else 0,
        })
        assert resp.status_code == 201, resp.get_json()
        incidents.append(resp.get_json()["id"])
    request = api("POST", "/ministry-requests", {
        "ministry": "METI", "reference": "Fuzz seed request", "received_at": (now - timedelta(hours=1)).isoformat(),
    })
    assert request.status_code == 201, request.get_json()
    return {"system_id": [system_id], "incident_id": incidents, "request_id": [request.get_json()["id"]]}


class _Seeded:
    def __init__(self, app, factory, role):
        org = factory.org()
        admin = factory.user(org, "admin")
        admin_token = factory.token(admin)
        client = app.test_client()

        def api(method, path, body=None):
            return client.open(PREFIX + path, method=method, json=body,
                               headers={"Authorization": f"Bearer {admin_token}"})

        self.ids = _seed(api)
        if role == "admin":
            self.token = admin_token
        else:
            self.token = factory.token(factory.user(org, role))


def _load(app, token, ids):
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app)
    schema.config.update(headers={"Authorization": f"Bearer {token}"})
    schema.config.generation.update(max_examples=FUZZ_EXAMPLES, database="none")
    # The coverage phase (boundary values of every parameter, many cases per operation) is
    # slow: on with FUZZ_COVERAGE=1, or with a budget larger than CI's.
    schema.config.phases.coverage.enabled = FUZZ_COVERAGE
    schema.config.phases.stateful.max_steps = FUZZ_STEPS

    @schema.hook
    def map_path_parameters(context, path_parameters):
        # Half of the generated ids are replaced by real ones (which still vary by example).
        if not path_parameters:
            return path_parameters
        out = dict(path_parameters)
        for name, value in path_parameters.items():
            real = ids.get(name)
            if real and isinstance(value, int) and value % 2 == 0:
                out[name] = real[(value // 2) % len(real)]
        return out

    return schema


@pytest.fixture
def admin_schema(app, factory):
    seeded = _Seeded(app, factory, "admin")
    return _load(app, seeded.token, seeded.ids)


@pytest.fixture
def reporter_schema(app, factory):
    seeded = _Seeded(app, factory, "reporter")
    return _load(app, seeded.token, seeded.ids)


admin = schemathesis.pytest.from_fixture("admin_schema")
reporter = schemathesis.pytest.from_fixture("reporter_schema")

FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=FUZZ_DERANDOMIZE,
    suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


def test_document_links_name_real_operations(admin_schema):
    """The links the stateful run follows exist (a typo would silently disable them)."""
    document = admin_schema.raw_schema
    ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    links = [link for ops in document["paths"].values() for op in ops.values()
             for response in op["responses"].values() for link in response.get("links", {}).values()]
    assert len(links) >= 15
    assert {link["operationId"] for link in links} <= ids
    created = document["paths"]["/api/v1/incidents"]["post"]["responses"]["201"]["links"]
    assert {"get_incident", "update_incident", "take_transition", "incident_timeline",
            "incident_escalations"} <= set(created)


@admin.parametrize()
@FUZZ_SETTINGS
def test_api_as_admin(case):
    case.call_and_validate(checks=CHECKS)


@reporter.parametrize()
@FUZZ_SETTINGS
def test_api_as_reporter(case):
    case.call_and_validate(checks=CHECKS)


def test_api_stateful_links(admin_schema):
    """Sequences of calls that follow the document's links (create, then read/edit/move the object)."""
    base = admin_schema.as_state_machine()

    class LinkedCalls(base):
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    LinkedCalls.run(settings=settings(
        max_examples=max(5, FUZZ_EXAMPLES // 2), stateful_step_count=FUZZ_STEPS, deadline=None, database=None,
        derandomize=FUZZ_DERANDOMIZE,
        suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate],
    ))
