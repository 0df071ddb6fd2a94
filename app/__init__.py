"""The application factory: ``create_app`` is a short list of ``register_*`` steps."""
from pathlib import Path

from flask import Flask, g, request
from flask_login import current_user

from config import config_from_env

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class=None):
    """Build the Flask application for a configuration class (default: from the environment)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config_class or config_from_env())
    register_extensions(app)
    register_workflows(app)
    register_tenancy(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_commands(app)
    from app.escalation import runner

    runner.init_app(app)
    return app


def register_extensions(app):
    """Bind db, migrations, login, CSRF and Babel to the app."""
    from app import db as _db  # noqa: F401  (SQLite pragmas and BEGIN IMMEDIATE)
    from app.extensions import babel, csrf, db, login_manager, migrate
    from app.i18n import select_locale
    from app.orgs import service as orgs

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(ROOT / "translations"))
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.session_protection = None  # the server-side session row is what counts

    @login_manager.user_loader
    def _load(session_id):
        found = orgs.load_session(session_id)
        if found is None:
            return None
        sess, user = found
        user.session_id = sess.id
        return user

    import app.orgs.models  # noqa: F401
    import app.systems.models  # noqa: F401
    import app.incidents.models  # noqa: F401
    import app.workflow.models  # noqa: F401
    import app.ledger.models  # noqa: F401
    import app.escalation.models  # noqa: F401
    import app.reports.models  # noqa: F401


def register_workflows(app):
    """Load and validate the shipped workflow definitions and deadline rules (stops on error)."""
    from app.incidents import deadlines
    from app.workflow import loader

    loader.init_app(app)
    deadlines.init_app(app)  # raises RulesFileError naming the file, the path and the problem
    from app.escalation import policy

    policy.init_app(app)  # raises DefinitionError naming the file, the path and the problem


def register_tenancy(app):
    """Put each web request under the logged-in user's organisation."""
    from app.tenancy import set_request_org

    @app.before_request
    def _scope_web_request():
        if request.path.startswith("/api/") or request.path.startswith("/static/"):
            return
        if current_user.is_authenticated:
            set_request_org(current_user.org_id)
            g.org_timezone = current_user.organisation.timezone


def register_blueprints(app):
    """Web pages for people, the JSON API for programs."""
    from app.api import bp as api_bp
    from app.extensions import csrf
    from app.web import bp as web_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)

    @app.get("/healthz")
    def healthz():
        """Liveness and database check."""
        from app.extensions import db
        from sqlalchemy import text

        db.session.execute(text("SELECT 1"))
        return {"status": "ok"}


def register_errorhandlers(app):
    """JSON errors under /api, HTML elsewhere."""
    from app.errors import register_errorhandlers as _register

    _register(app)


def register_security_headers(app):
    """CSP without inline script or style, nosniff, frame-ancestors, referrer policy, HSTS."""

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("HSTS"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if not request.path.startswith("/static/"):
            # Pages, API answers, exports and downloads: never kept by a browser or proxy (ASVS 14.3.2).
            h.setdefault("Cache-Control", "no-store")
        return response


def register_template_helpers(app):
    """Filters and globals the templates use (dates in the org's zone, vocab labels)."""
    from flask_babel import get_locale

    from app import i18n
    from app.incidents import vocab

    app.jinja_env.filters["dt"] = i18n.format_dt
    app.jinja_env.filters["dt_input"] = i18n.local_input_value
    app.jinja_env.globals["vocab"] = vocab
    app.jinja_env.globals["vlabel"] = vocab.label
    app.jinja_env.globals["get_locale"] = get_locale

    def incident_state_label(incident):
        """The label of the incident's state in its own workflow, in the page's language."""
        from app.workflow import loader

        try:
            definition = loader.get_definition(
                org_id=incident.org_id, workflow_id=incident.workflow, version=incident.workflow_version)
            state = definition.states.get(incident.state)
        except (KeyError, LookupError):
            state = None
        if state is None:
            return vocab.label(vocab.STATES, incident.state)
        return state.label.get(str(get_locale()))

    app.jinja_env.globals["incident_state_label"] = incident_state_label


def register_commands(app):
    """The contract's CLI: org, user, token, demo (db comes from Flask-Migrate)."""
    from app.cli import register

    register(app)
