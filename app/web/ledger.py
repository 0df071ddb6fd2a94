"""The ledger page (admins): is the chain intact, its head, the latest signed checkpoint, and the
latest entries; a button signs a checkpoint now."""
import json

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.ledger import service as ledger
from app.web import bp
from app.web.forms import EmptyForm
from app.web.helpers import roles_required

LATEST = 50


def problem_in_words(first_bad):
    """The verifier's finding as a sentence in the page's language."""
    if first_bad is None:
        return None
    problem, seq = first_bad["problem"], first_bad["seq"]
    if problem.startswith("sequence jumps"):
        return _("Entries before number %(seq)s are missing: they were deleted.", seq=seq)
    if "repeated or out of order" in problem:
        return _("Entry number %(seq)s is repeated or out of order: entries were inserted or reordered.", seq=seq)
    if problem.startswith("prev_hash"):
        return _("Entry number %(seq)s does not follow the entry before it: entries were deleted, inserted "
                 "or reordered.", seq=seq)
    if problem.startswith("hash does not match"):
        return _("Entry number %(seq)s was changed after it was written.", seq=seq)
    if problem.startswith("the chain ends"):
        return _("The chain ends before number %(seq)s that its head records: entries were removed at the end, "
                 "or the head was changed.", seq=seq)
    if "checkpoint" in problem:
        return _("The chain no longer matches the latest signed checkpoint (number %(seq)s): it was rewritten.",
                 seq=seq)
    return problem


def _short_subject(entry):
    if not entry.subject_type:
        return ""
    return f"{entry.subject_type} {entry.subject_id}" if entry.subject_id is not None else entry.subject_type


@bp.get("/admin/ledger")
@roles_required("admin")
def admin_ledger():
    """Verification status, head, latest checkpoint and the latest entries."""
    org_id = current_user.org_id
    result = ledger.verify(org_id)
    head_seq = result["head"]["seq"]
    latest = ledger.entries(org_id=org_id, after_seq=max(head_seq - LATEST, 0), limit=LATEST)
    rows = [{"entry": e, "subject": _short_subject(e), "payload": json.loads(e.payload)}
            for e in reversed(latest)]
    return render_template("admin/ledger.html", result=result, problem=problem_in_words(result["first_bad"]),
                           checkpoint=ledger.latest_checkpoint(org_id), rows=rows,
                           checkpoint_form=EmptyForm(formdata=None))


@bp.post("/admin/ledger/checkpoint")
@roles_required("admin")
def admin_ledger_checkpoint():
    """Sign the chain head now."""
    if not EmptyForm().validate_on_submit():
        abort(422)
    row = ledger.checkpoint(current_user.org_id, actor=current_user)
    flash(_("A checkpoint of entry number %(seq)s was signed.", seq=row.seq), "success")
    return redirect(url_for("web.admin_ledger"))
