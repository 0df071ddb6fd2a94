"""The contract's CLI: org create, user create, token create (token is the last line)."""
from app.orgs import service as orgs


def test_org_user_token_create(runner, client, app):
    result = runner.invoke(args=["org", "create", "acme", "--name", "Acme 株式会社"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["user", "create", "lead@acme.jp", "--org", "acme", "--role", "lead",
                                 "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["token", "create", "lead@acme.jp"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    resp = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    with app.app_context():
        org = orgs.get_org_by_slug("acme")
        assert org.name == "Acme 株式会社"
        assert org.timezone == "Asia/Tokyo"


def test_org_create_rejects_duplicate_and_bad_slug(runner):
    assert runner.invoke(args=["org", "create", "acme", "--name", "A"]).exit_code == 0
    dup = runner.invoke(args=["org", "create", "acme", "--name", "B"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    bad = runner.invoke(args=["org", "create", "no spaces", "--name", "B"])
    assert bad.exit_code != 0 and "slug" in bad.output


def test_user_create_validates(runner):
    runner.invoke(args=["org", "create", "acme", "--name", "A"])
    no_org = runner.invoke(args=["user", "create", "x@y.jp", "--org", "nope", "--role", "lead", "--password", "a-long-password-1"])
    assert no_org.exit_code != 0 and "nope" in no_org.output
    weak = runner.invoke(args=["user", "create", "x@y.jp", "--org", "acme", "--role", "lead", "--password", "short"])
    assert weak.exit_code != 0 and "password" in weak.output
    bad_role = runner.invoke(args=["user", "create", "x@y.jp", "--org", "acme", "--role", "king", "--password", "a-long-password-1"])
    assert bad_role.exit_code != 0


def test_token_create_unknown_user(runner):
    result = runner.invoke(args=["token", "create", "ghost@example.jp"])
    assert result.exit_code != 0 and "ghost@example.jp" in result.output
