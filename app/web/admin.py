"""Administration: users (invite, role, deactivate), the invitation page and API tokens."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import Conflict, ValidationFailed
from app.orgs import service as orgs
from app.web import bp
from app.web.forms import AcceptInviteForm, ActiveForm, EmptyForm, InviteForm, RoleForm, TokenForm
from app.web.helpers import apply_service_errors, roles_required, translate_message
from app.web.labels import ROLE_LABELS


def _users_page(invite_form, invite_link=None, status=200, problems=()):
    return render_template(
        "admin/users.html", users=orgs.list_users(), invite_form=invite_form, invite_link=invite_link,
        role_form=RoleForm(formdata=None), active_form=ActiveForm(formdata=None), problems=problems,
    ), status


@bp.get("/admin/users")
@roles_required("admin")
def admin_users():
    """The organisation's people, with the invitation form."""
    return _users_page(InviteForm(formdata=None))


@bp.post("/admin/users")
@roles_required("admin")
def admin_invite():
    """Invite a person; the one-time link is shown on this answer only."""
    form = InviteForm()
    problems = []
    if form.validate_on_submit():
        try:
            user, raw = orgs.invite_user(actor=current_user, email=form.email.data, name=form.name.data or "",
                                         role=form.role.data, locale=form.locale.data or None)
        except (ValidationFailed, Conflict) as exc:
            problems = apply_service_errors(form, exc.fields)
        else:
            link = url_for("web.accept_invite", token=raw, _external=True)
            flash(_("%(email)s was invited.", email=user.email), "success")
            return _users_page(InviteForm(formdata=None), invite_link=link)
    return _users_page(form, status=422, problems=problems)


@bp.post("/admin/users/<int:user_id>/role")
@roles_required("admin")
def admin_set_role(user_id):
    """Change one user's role."""
    orgs.get_user(user_id)  # another organisation's user is a 404 before anything else
    form = RoleForm()
    if not form.validate_on_submit():
        abort(422)
    try:
        user = orgs.set_role(actor=current_user, user_id=user_id, role=form.role.data)
    except Conflict as exc:
        flash(_msg(exc), "error")
    else:
        flash(_("The role of %(name)s is now %(role)s.", name=user.name, role=ROLE_LABELS[user.role]), "success")
    return redirect(url_for("web.admin_users"))


@bp.post("/admin/users/<int:user_id>/active")
@roles_required("admin")
def admin_set_active(user_id):
    """Deactivate (which ends sessions and tokens) or reactivate one user."""
    orgs.get_user(user_id)  # another organisation's user is a 404 before anything else
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        abort(422)
    try:
        user = orgs.set_active(actor=current_user, user_id=user_id, active=form.active.data == "1")
    except Conflict as exc:
        flash(_msg(exc), "error")
    else:
        if user.active:
            flash(_("%(name)s can sign in again.", name=user.name), "success")
        else:
            flash(_("%(name)s was deactivated; their sessions and tokens no longer work.", name=user.name), "success")
    return redirect(url_for("web.admin_users"))


def _msg(exc):
    for messages in exc.fields.values():
        if messages:
            return translate_message(messages[0])
    return translate_message(exc.message)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token):
    """The invitee chooses a password, then signs in."""
    if orgs.find_invitation(token) is None:
        abort(404, _("This invitation link is unknown, used or expired."))
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            orgs.accept_invitation(raw=token, password=form.password.data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc.fields)
        else:
            flash(_("Your password is set. Sign in with your e-mail and the new password."), "success")
            return redirect(url_for("web.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/invite.html", form=form), status


def _tokens_page(form, raw=None, status=200):
    tokens = orgs.list_tokens()
    if current_user.role != "admin":
        tokens = [t for t in tokens if t.user_id == current_user.id]
    return render_template("admin/tokens.html", tokens=tokens, form=form, raw=raw,
                           revoke_form=EmptyForm(formdata=None)), status


@bp.get("/tokens")
@login_required
def tokens():
    """API tokens: the organisation's for admins, one's own for everyone else."""
    return _tokens_page(TokenForm(formdata=None))


@bp.post("/tokens")
@login_required
def token_create():
    """Create a token; the raw value appears on this answer only."""
    form = TokenForm()
    if form.validate_on_submit():
        try:
            _token, raw = orgs.create_token(user=current_user, name=form.name.data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc.fields)
        else:
            return _tokens_page(TokenForm(formdata=None), raw=raw)
    return _tokens_page(form, status=422)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def token_revoke(token_id):
    """Revoke a token (admins: any of the organisation's; others: their own)."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    token = orgs.revoke_token(actor=current_user, token_id=token_id)
    flash(_("The token %(name)s was revoked.", name=token.name), "success")
    return redirect(url_for("web.tokens"))
