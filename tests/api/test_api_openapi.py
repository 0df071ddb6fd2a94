"""The OpenAPI document lists every API route and is structurally valid OpenAPI 3."""
import re

import pytest

ERROR_CODES = {"400", "401", "403", "404", "409", "422"}


@pytest.fixture
def document(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def _openapi_path(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def _api_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")]


def test_every_api_route_and_method_is_documented(app, document):
    rules = _api_rules(app)
    assert len(rules) >= 11
    for rule in rules:
        path = _openapi_path(rule)
        assert path in document["paths"], path
        for method in set(rule.methods) - {"HEAD", "OPTIONS"}:
            op = document["paths"][path].get(method.lower())
            assert op, f"{method} {path} is not in the document"
            assert op["summary"] != "Undocumented", f"{method} {path}: add @doc to its handler"
            assert op["responses"], f"{method} {path} has no responses"
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == set(rule.arguments), f"{method} {path} path parameters"
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    listed = {(_openapi_path(r), m.lower()) for r in rules for m in set(r.methods) - {"HEAD", "OPTIONS"}}
    assert documented == listed


def test_bodies_errors_and_security(document):
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    post = document["paths"]["/api/v1/incidents"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IncidentCreate"}
    assert {"201", "400", "401", "422"} <= set(post["responses"])
    patch = document["paths"]["/api/v1/incidents/{incident_id}"]["patch"]
    assert {"403", "404", "409", "422"} <= set(patch["responses"])
    create = document["components"]["schemas"]["IncidentCreate"]
    assert set(create["required"]) == {"title", "description", "severity", "occurred_at", "aware_at"}
    assert create["properties"]["severity"]["enum"] == ["sev1", "sev2", "sev3", "sev4"]
    assert "JP" in create["properties"]["jurisdictions"]["items"]["enum"]
    assert document["components"]["schemas"]["IncidentUpdate"]["required"] == ["version"]
    staff = document["components"]["schemas"]["IncidentStaffView"]["properties"]
    assert {"reporter", "assignee", "updated_at", "deadlines", "version", "ref"} <= set(staff)
    reporter = document["components"]["schemas"]["IncidentReporterView"]["properties"]
    assert "reporter" not in reporter and "personal_data" not in reporter
    error = document["components"]["schemas"]["ErrorBody"]["properties"]
    assert {"code", "message", "fields"} <= set(error)
    responses = {code for ops in document["paths"].values() for op in ops.values() for code in op["responses"]}
    assert ERROR_CODES <= responses
    query = {p["name"] for p in document["paths"]["/api/v1/incidents"]["get"]["parameters"]}
    assert {"state", "severity", "kind", "ai_system_id", "jurisdiction", "harm_type", "principle", "q",
            "limit", "cursor"} <= query


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_ref_resolves(document):
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved {ref}"
            node = node[part]


def test_operation_ids_are_unique(document):
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_valid_openapi_3(document):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)
