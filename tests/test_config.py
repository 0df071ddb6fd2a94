"""Configuration from the environment: production refuses a weak secret and sets secure
cookies; the embedded default is an SQLite file under instance/ unless DATABASE_URL says
otherwise."""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from flask import session

import config
from app import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("secret", [None, "", config.DEV_SECRET, "short-secret", "x" * 31])
def test_production_refuses_missing_default_or_short_secret(monkeypatch, secret):
    monkeypatch.setenv("APP_ENV", "production")
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.ProductionConfig.validate()
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.config_from_env()


def test_production_accepts_a_random_64_hex_secret(monkeypatch):
    secret = secrets.token_hex(32)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secret)
    chosen = config.config_from_env()
    assert chosen is config.ProductionConfig
    assert chosen.SECRET_KEY == secret


def test_development_is_the_default(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    assert config.config_from_env() is config.Config


def test_production_cookies_are_secure_httponly_lax(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    config.ProductionConfig.validate()
    attrs = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite3'}"}
    application = create_app(type("ProdForTest", (config.ProductionConfig,), attrs))
    assert application.config["SESSION_COOKIE_SECURE"] is True
    assert application.config["SESSION_COOKIE_HTTPONLY"] is True
    assert application.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert application.config["REMEMBER_COOKIE_SECURE"] is True
    assert application.config["REMEMBER_COOKIE_HTTPONLY"] is True

    @application.get("/_test_cookie")
    def _set_cookie():
        session["seen"] = True
        return "ok"

    response = application.test_client().get("/_test_cookie", base_url="https://tracker.example.jp")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(application.config["SESSION_COOKIE_NAME"] + "=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def _config_in_fresh_process(env_overrides):
    """create_app() as a fresh process sees it (config classes read the environment at import)."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "APP_ENV", "SECRET_KEY", "INSTANCE_PATH"}}
    env.update(env_overrides)
    code = (
        "import json; from app import create_app; a = create_app(); "
        "print(json.dumps({'db': a.config['SQLALCHEMY_DATABASE_URI'], 'redis': a.config['REDIS_URL'], "
        "'env': a.config['ENV_NAME'], 'sweep': a.config['ESCALATION_SWEEP_SECONDS']}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return out


def test_default_config_uses_sqlite_under_instance():
    out = _config_in_fresh_process({})
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["db"] == f"sqlite:///{ROOT / 'instance' / 'tracker.sqlite3'}"
    assert seen["redis"] is None
    assert seen["env"] == "development"
    assert seen["sweep"] == 30


def test_database_url_and_others_are_honoured(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    out = _config_in_fresh_process({
        "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6399/3", "ESCALATION_SWEEP_SECONDS": "5",
    })
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"db": url, "redis": "redis://127.0.0.1:6399/3", "env": "development", "sweep": 5}


def test_production_process_refuses_to_start_without_secret():
    out = _config_in_fresh_process({"APP_ENV": "production"})
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr
