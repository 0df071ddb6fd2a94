"""The OpenAPI 3 document, built with apispec from the handlers' ``@doc`` and the schemas.

Paths come from the application's URL map, so every API route is listed; a route
whose handler has no ``@doc`` is still listed (and the tests fail on it).
"""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from app.db import ID_MAX
from app.incidents import schemas as incident_schemas
from app.orgs import schemas as org_schemas
from app.systems import schemas as system_schemas

OPERATIONS = {}  # endpoint -> what @doc recorded

ERROR_RESPONSES = {
    400: ("BadRequest", "Malformed JSON, or a body that is not a JSON object"),
    401: ("Unauthorized", "No bearer token, or an unknown or revoked one"),
    403: ("Forbidden", "The caller's role may not do this"),
    404: ("NotFound", "No such object in the caller's organisation"),
    409: ("Conflict", "The object changed since the caller read it (stale version)"),
    415: ("UnsupportedMediaType", "The body is not sent as application/json"),
    422: ("ValidationFailed", "The input is not valid; fields names each bad field"),
}


class ErrorBodySchema(Schema):
    """What went wrong."""

    code = fields.Str(metadata={"description": "Stable machine-readable code, e.g. validation_failed"})
    message = fields.Str()
    fields_ = fields.Dict(
        keys=fields.Str(), values=fields.List(fields.Str()), data_key="fields",
        metadata={"description": "Messages per input field (empty when none applies)"},
    )


class ErrorSchema(Schema):
    """The error shape of every non-2xx answer."""

    error = fields.Nested(ErrorBodySchema, required=True)


COMPONENT_SCHEMAS = {
    # Nested schemas before the schemas that use them (apispec registers nested ones itself).
    "ErrorBody": ErrorBodySchema,
    "Error": ErrorSchema,
    "UserBrief": org_schemas.UserBriefSchema,
    "UserRef": org_schemas.UserRefSchema,
    "Organisation": org_schemas.OrganisationSchema,
    "Me": org_schemas.MeSchema,
    "AISystemCreate": system_schemas.AISystemCreateSchema,
    "AISystemUpdate": system_schemas.AISystemUpdateSchema,
    "AISystem": system_schemas.AISystemSchema,
    "AISystemList": system_schemas.AISystemListSchema,
    "AISystemRef": incident_schemas.AISystemRefSchema,
    "Deadline": incident_schemas.DeadlineSchema,
    "IncidentCreate": incident_schemas.IncidentCreateSchema,
    "IncidentUpdate": incident_schemas.IncidentUpdateSchema,
    "IncidentReporterView": incident_schemas.IncidentReporterViewSchema,
    "IncidentStaffView": incident_schemas.IncidentStaffViewSchema,
    "IncidentPage": incident_schemas.IncidentPageSchema,
    "TimelineEvent": incident_schemas.TimelineEventSchema,
    "Timeline": incident_schemas.TimelineSchema,
}


def _follow(source, param, *targets):
    """Links from an answer's ``id`` (or another field) to operations taking it as ``param``."""
    return {target: {"operationId": target, "parameters": {param: f"$response.body#/{source}"}} for target in targets}


# OpenAPI links: what a client can do next with the object an operation answered
# (clients and stateful testers follow them; ``$response.body#/id`` is the new object's id).
LINKS = {
    "create_incident": _follow(
        "id", "incident_id", "get_incident", "update_incident", "list_transitions", "take_transition",
        "incident_timeline", "incident_escalations", "assign_incident", "get_report_pack", "create_report_job"),
    "create_system": _follow("id", "system_id", "get_system", "update_system"),
    "create_ministry_request": _follow(
        "id", "request_id", "get_ministry_request", "update_ministry_request", "link_ministry_request"),
    "create_report_job": _follow("id", "job_id", "get_report_job", "download_report_job"),
    "create_webhook": _follow("id", "webhook_id", "get_webhook", "deactivate_webhook"),
}


def _links(operation_id):
    return {f"{target}": link for target, link in LINKS.get(operation_id, {}).items()}


def doc(summary, *, tag, body=None, query=None, response=None, status=200, errors=(401,), public=False,
        content=None):
    """Decorator: record how an API handler is documented (request, response, errors).

    ``content`` documents a success answer that is not one schema's JSON object:
    ``{media type: JSON schema}`` (e.g. ``{"text/csv": {"type": "string"}}``); it wins over
    ``response``.
    """

    def decorate(view):
        OPERATIONS["api." + view.__name__] = {
            "summary": summary, "tag": tag, "body": body, "query": query, "response": response,
            "status": status, "errors": errors, "public": public, "description": (view.__doc__ or "").strip(),
            "content": content,
        }
        return view

    return decorate


def _openapi_path(rule):
    """``/api/v1/incidents/<int:incident_id>`` -> ``/api/v1/incidents/{incident_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def _path_parameters(rule):
    params = []
    for name in sorted(rule.arguments):
        converter = rule._converters.get(name)
        kind = type(converter).__name__ if converter else ""
        schema = ({"type": "integer", "minimum": 0, "maximum": ID_MAX} if kind == "IntegerConverter"
                  else {"type": "string"})
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    return params


def _json(schema_ref):
    return {"application/json": {"schema": schema_ref}}


def _schema_ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _resolve_schema(schema):
    """A JSON schema as given, a registered schema class as its ``$ref``, a tuple as ``anyOf`` of names."""
    if isinstance(schema, tuple):
        return {"anyOf": [_schema_ref(name) for name in schema]}
    if isinstance(schema, dict):
        return {key: _resolve_schema(value) if key == "items" else value for key, value in schema.items()}
    return _schema_ref(_name_of(schema))


def _name_of(schema_class):
    for name, cls in COMPONENT_SCHEMAS.items():
        if cls is schema_class:
            return name
    raise LookupError(f"{schema_class.__name__} is not registered in COMPONENT_SCHEMAS")


def _operation(rule, method, meta):
    op = {
        "operationId": rule.endpoint.split(".", 1)[-1],
        "summary": meta["summary"] if meta else "Undocumented",
        "tags": [meta["tag"]] if meta else ["Undocumented"],
        "responses": {},
    }
    if meta and meta["description"]:
        op["description"] = meta["description"]
    params = _path_parameters(rule)
    if meta and meta["query"] is not None:
        params.append({"in": "query", "schema": meta["query"]})
    if params:
        op["parameters"] = params
    if meta and meta["body"] is not None:
        op["requestBody"] = {"required": True, "content": _json(_schema_ref(_name_of(meta["body"])))}
    response = meta["response"] if meta else None
    if meta and meta["content"] is not None:
        content = {media: {"schema": _resolve_schema(schema)} for media, schema in meta["content"].items()}
    elif isinstance(response, tuple):
        content = _json({"anyOf": [_schema_ref(name) for name in response]})
    elif response is not None:
        content = _json(_schema_ref(_name_of(response)))
    else:
        content = _json({"type": "object"})
    status = meta["status"] if meta else 200
    success = {"description": "Created" if status == 201 else "OK", "content": content}
    if status == 201:
        success["headers"] = {"Location": {"description": "URL of the new object", "schema": {"type": "string"}}}
    links = _links(op["operationId"])
    if links:
        success["links"] = links
    op["responses"][str(status)] = success
    codes = set(meta["errors"] if meta else (401,))
    if rule.arguments:
        codes.add(404)
    if meta and meta["public"]:
        op["security"] = []
        codes.discard(401)
    for code in sorted(codes):
        op["responses"][str(code)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"}
    return op


def build_spec(app):
    """The OpenAPI 3 document of every ``/api/`` route of ``app``."""
    spec = APISpec(
        title="AI incident tracker API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Incident intake and the AI system inventory. Errors are "
                             '{"error": {"code", "message", "fields"}}.'},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in COMPONENT_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for code, (name, description) in ERROR_RESPONSES.items():
        spec.components.response(name, {"description": description, "content": _json(_schema_ref("Error"))})
    paths = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        meta = OPERATIONS.get(rule.endpoint)
        ops = paths.setdefault(_openapi_path(rule), {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            ops[method.lower()] = _operation(rule, method, meta)
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    return document
