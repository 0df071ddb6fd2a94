"""Login, logout and the language switch."""
from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from app.orgs import service as orgs
from app.web import bp
from app.web.forms import LoginForm


def _safe_next(target):
    """``target`` when it is a path of this site, else the home page.

    Browsers drop tabs and newlines from URLs, so ``/<TAB>/evil.example`` would become
    ``//evil.example``: a target with any control or space character is refused too.
    """
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target)):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a new session id at every login."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            sess = orgs.authenticate(email=form.email.data, password=form.password.data, ip=request.remote_addr or "?")
        except orgs.Throttled as exc:
            err = TooManyRequests(_("Too many failed logins. Try again in %(n)s seconds.", n=exc.retry_after))
            err.retry_after = exc.retry_after
            raise err from None
        if sess is None:
            form.password.errors.append(_("The e-mail or password is wrong."))
        else:
            locale = session.get("locale")
            session.clear()  # renew: nothing of the anonymous session carries over but the language
            if locale:
                session["locale"] = locale
            user = sess.user
            user.session_id = sess.id
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form), (200 if request.method == "GET" or not form.errors else 422)


@bp.post("/logout")
@login_required
def logout():
    """End the session on the server and in the cookie."""
    orgs.end_session(getattr(current_user, "session_id", None))
    logout_user()
    session.clear()
    return redirect(url_for("web.login"))


@bp.post("/language/<lang>")
def set_language(lang):
    """Switch the page language (saved for logged-in users)."""
    if lang not in ("ja", "en"):
        abort(404)
    session["locale"] = lang
    if current_user.is_authenticated:
        orgs.set_locale(user=current_user, locale=lang)
    return redirect(_safe_next(request.form.get("next") or request.referrer and _path_of(request.referrer)))


def _path_of(url):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (("?" + parts.query) if parts.query else "")
