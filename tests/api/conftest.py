"""Fixtures of the API tests: a client that speaks as one user with a bearer token."""
import pytest

from app.extensions import db
from app.orgs import service as orgs
from app.tenancy import scoped

PREFIX = "/api/v1"


class ApiClient:
    """The Flask test client, speaking JSON to /api/v1 as one user (``user``, ``org``, ``token``)."""

    def __init__(self, client, token, user, org):
        self.client, self.token, self.user, self.org = client, token, user, org

    def request(self, method, path, json=None, headers=None, **kwargs):
        """Send a request with this user's bearer token."""
        all_headers = {"Authorization": f"Bearer {self.token}"}
        all_headers.update(headers or {})
        return self.client.open(PREFIX + path, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path, **kwargs):
        """GET as this user."""
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        """POST JSON as this user."""
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        """PATCH JSON as this user."""
        return self.request("PATCH", path, json=json, **kwargs)


@pytest.fixture
def api(client, factory):
    """``api(role="lead", org=None)`` -> an ApiClient for a new user (in a new organisation by default)."""

    def make(role="lead", org=None, name=None):
        org = org or factory.org()
        user = factory.user(org, role, name=name)
        return ApiClient(client, factory.token(user), user, org)

    return make


@pytest.fixture
def token_row(app):
    """``token_row(user)`` -> (token id, raw token), made through the service."""

    def make(user):
        with app.app_context(), scoped(user.org_id):
            token, raw = orgs.create_token(user=user, name="revocable")
            token_id = token.id
            db.session.remove()
        return token_id, raw

    return make
