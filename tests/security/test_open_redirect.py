"""Redirects after login and the language switch stay on this site (ASVS 5.0 V3.7.2)."""
import pytest

from tests.conftest import PASSWORD

TARGETS = ["//evil.example.com/x", "https://evil.example.com/x", "/\\evil.example.com", "/\t/evil.example.com",
           "/\n/evil.example.com", "/\r\n/evil.example.com", "/ /evil.example.com", "javascript:alert(1)",
           "\t//evil.example.com"]


@pytest.mark.parametrize("target", TARGETS)
def test_login_next_stays_on_the_site(client, factory, auth, target):
    user = factory.user(factory.org(), "lead")
    token = auth.csrf_token("/login")
    resp = client.post("/login", query_string={"next": target},
                       data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert "evil.example.com" not in location and "javascript:" not in location
    assert location.startswith("/")


@pytest.mark.parametrize("target", TARGETS)
def test_language_switch_stays_on_the_site(client, auth, target):
    resp = client.post("/language/en", data={"csrf_token": auth.csrf_token("/login"), "next": target})
    assert resp.status_code == 302
    assert "evil.example.com" not in resp.headers["Location"] and "javascript:" not in resp.headers["Location"]


def test_a_path_of_the_site_is_kept(client, factory, auth):
    user = factory.user(factory.org(), "lead")
    token = auth.csrf_token("/login")
    resp = client.post("/login", query_string={"next": "/queue?tab=mine"},
                       data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/queue?tab=mine"
