"""Conventions a test can hold: services are the only writers; every module says what it is for."""
import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _modules(*parts):
    for folder in parts:
        yield from sorted((APP / folder).rglob("*.py"))


def test_views_and_api_never_touch_the_session():
    offenders = []
    for path in _modules("web", "api"):
        text = path.read_text(encoding="utf-8")
        if "db.session" in text or "from app.extensions import db" in text:
            offenders.append(str(path.relative_to(APP.parent)))
    assert offenders == [], f"views must call services, not the session: {offenders}"


def test_every_module_has_a_docstring():
    missing = []
    for path in APP.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.stat().st_size and ast.get_docstring(tree) is None:
            missing.append(str(path.relative_to(APP.parent)))
    assert missing == [], f"modules without a docstring: {missing}"
