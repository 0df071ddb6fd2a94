"""The user's own account: who they are, their language, their password."""
from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from app.errors import ValidationFailed
from app.orgs import service as orgs
from app.web import bp
from app.web.forms import PasswordChangeForm
from app.web.helpers import apply_service_errors


@bp.get("/account")
@login_required
def account():
    """Name, e-mail, role, language and the password form."""
    return render_template("account.html", form=PasswordChangeForm(formdata=None))


@bp.post("/account/password")
@login_required
def account_password():
    """Change the password; every session ends, this one too, so sign in again."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            orgs.change_password(user=current_user, current_password=form.current_password.data,
                                 new_password=form.new_password.data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc.fields)
        else:
            locale = session.get("locale")
            logout_user()
            session.clear()
            if locale:
                session["locale"] = locale
            flash(_("Your password was changed. Every session has ended: sign in with the new password."), "success")
            return redirect(url_for("web.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("account.html", form=form), status
