"""Every page and API answer carries the browser security headers (ASVS 5.0 V3.4, V14.3.2).

The walk reads ``app.url_map`` at run time: every GET route without URL arguments of both
blueprints (and the app's own, such as /healthz) is requested anonymously and as a logged-in
admin (web pages with the session cookie, API routes with a bearer token), and error answers
(404, 401, 405) are checked too. HSTS is sent only by the production configuration.
"""
import pytest

from config import Config, ProductionConfig, TestConfig

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


def _no_arg_get_routes(app):
    rules = [r for r in app.url_map.iter_rules()
             if "GET" in (r.methods or ()) and not r.arguments and r.endpoint != "static"]
    return sorted(rules, key=lambda r: r.rule)


def _csp(value):
    """{directive: [sources]} of a Content-Security-Policy value."""
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def header_problems(resp, *, authenticated):
    """What is missing or wrong in one response's security headers (an empty list: fine)."""
    h, problems = resp.headers, []
    for name, value in REQUIRED.items():
        if h.get(name) != value:
            problems.append(f"{name}={h.get(name)!r}")
    if h.get("Referrer-Policy") not in REFERRER_POLICIES:
        problems.append(f"Referrer-Policy={h.get('Referrer-Policy')!r}")
    csp = _csp(h.get("Content-Security-Policy", ""))
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        for directive in ("script-src", "style-src"):
            sources = csp.get(directive, csp.get("default-src"))
            if sources is None:
                problems.append(f"CSP has neither {directive} nor default-src")
            elif "'unsafe-inline'" in sources or "'unsafe-eval'" in sources or "*" in sources:
                problems.append(f"CSP {directive} allows {sources}")
        if csp.get("frame-ancestors") != ["'none'"]:
            problems.append(f"CSP frame-ancestors={csp.get('frame-ancestors')}")
        if csp.get("object-src") != ["'none'"]:
            problems.append(f"CSP object-src={csp.get('object-src')}")
        if csp.get("base-uri") != ["'none'"]:  # ASVS 5.0 V3.4.3: object-src 'none' and base-uri 'none'
            problems.append(f"CSP base-uri={csp.get('base-uri')}")
    if "Strict-Transport-Security" in h:
        problems.append("HSTS outside the production configuration")
    if authenticated and "no-store" not in (h.get("Cache-Control") or ""):
        problems.append(f"Cache-Control={h.get('Cache-Control')!r} on an authenticated answer")
    return problems


@pytest.fixture
def admin_session(web, factory):
    """A logged-in admin (web session) and a bearer token of theirs."""
    user = web.login_as("admin")
    return factory.token(user)


def test_walk_finds_the_pages(app):
    paths = {r.rule for r in _no_arg_get_routes(app)}
    for expected in ("/login", "/incidents", "/dashboard", "/queue", "/api/v1/incidents", "/api/v1/metrics",
                     "/api/v1/openapi.json", "/healthz"):
        assert expected in paths


def test_every_answer_has_the_security_headers(app, client, admin_session):
    token = admin_session
    failures, seen = [], 0
    for rule in _no_arg_get_routes(app):
        headers = {"Authorization": f"Bearer {token}"} if rule.rule.startswith("/api/") else {}
        resp = client.get(rule.rule, headers=headers)
        seen += 1
        assert resp.status_code < 500, f"{rule.rule} -> {resp.status_code}"
        problems = header_problems(resp, authenticated=rule.rule != "/api/v1/openapi.json" and rule.rule != "/healthz")
        if problems:
            failures.append(f"GET {rule.rule} ({resp.status_code}): {problems}")
        resp.close()
    assert seen > 30
    assert not failures, "\n".join(failures)


def test_anonymous_and_error_answers_have_the_headers(app, client):
    failures = []
    checks = [client.get(rule.rule) for rule in _no_arg_get_routes(app)]
    checks += [client.get("/no-such-page"), client.get("/api/v1/no-such-thing"), client.get("/api/v1/incidents"),
               client.delete("/login"), client.get("/static/app.css")]
    for resp in checks:
        problems = header_problems(resp, authenticated=False)
        if problems:
            failures.append(f"{resp.request.method} {resp.request.path} ({resp.status_code}): {problems}")
        resp.close()
    assert not failures, "\n".join(failures)


def test_pages_and_api_answers_are_not_cached(client, admin_session):
    token = admin_session
    for path in ("/incidents", "/incidents/export.csv", "/incidents/export.json", "/dashboard",
                 "/dashboard/open_by_severity.csv", "/account"):
        resp = client.get(path)
        resp.get_data()  # exports stream: read them to the end
        assert resp.status_code == 200, path
        assert "no-store" in resp.headers.get("Cache-Control", ""), path
    resp = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert "no-store" in resp.headers["Cache-Control"]


def test_hsts_only_in_production(make_app, fresh_database_url):
    assert Config.HSTS is False and TestConfig.HSTS is False and ProductionConfig.HSTS is True
    production_like = make_app(fresh_database_url, HSTS=True)
    resp = production_like.test_client().get("/login")
    hsts = resp.headers["Strict-Transport-Security"]
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 31536000 and "includeSubDomains" in hsts  # ASVS 5.0 V3.4.1 (L2: subdomains too)
    resp = production_like.test_client().get("/api/v1/openapi.json")
    assert "Strict-Transport-Security" in resp.headers
