"""One organisation with an object of every kind, every free-text field filled by ``text``.

Made through the services, as people would (an admin acts): the organisation's name, people's
names, AI systems, incidents (title, description), transitions (comments and their fields),
ministry requests, the organisation's own workflow (labels edited in its YAML), deadline rules
(labels, description, source), webhook descriptions, API token names, report packs,
escalations and their notifications. ``text(field, limit)`` gives the text of each field (a
payload for the XSS sweep, a marker for the isolation walk).
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import yaml

from app.extensions import db
from app.tenancy import scoped

PASSWORD = "correct-horse-battery-staple"


@dataclass
class World:
    """What was made: the org, its admin, ids of each kind, and every text put in a field."""

    org: object
    admin: object
    ids: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)
    ack_token: str = ""
    invite_token: str = ""
    api_token: str = ""


def build(app, *, slug, text, admin_email=None, locale="en"):
    """Make the organisation ``slug`` and one object of each kind; returns a :class:`World`."""
    from app.escalation import endpoints as webhooks
    from app.escalation import service as escalation
    from app.escalation.models import Escalation
    from app.incidents import deadlines
    from app.incidents import service as incidents
    from app.liaison import service as liaison
    from app.orgs import service as orgs
    from app.reports import service as reports
    from app.systems import service as systems
    from app.workflow import engine
    from app.workflow import service as workflows

    texts = {}

    def t(name, limit=200):
        value = text(name, limit)
        assert len(value) <= limit, (name, len(value), limit)
        texts[name] = value
        return value

    now = datetime.now(timezone.utc)
    with app.app_context():
        org = orgs.create_org(slug=slug, name=t("org_name"))
        org_id = org.id
        db.session.expunge_all()
    with app.app_context(), scoped(org_id):
        org = orgs.get_org(org_id)
        admin = orgs.create_user(org=org, email=admin_email or f"admin@{slug}.example.jp", name=t("admin_name", 100),
                                 role="admin", password=PASSWORD, locale=locale)
        lead = orgs.create_user(org=org, email=f"lead@{slug}.example.jp", name=t("lead_name", 100),
                                role="lead", password=PASSWORD, locale=locale)
        invited, invite_token = orgs.invite_user(actor=admin, email=f"invited@{slug}.example.jp",
                                                 name=t("invited_name", 100), role="responder")
        token, raw_token = orgs.create_token(user=admin, name=t("token_name", 100))

        system = systems.create_system(actor=admin, data={
            "name": t("system_name"), "purpose": t("system_purpose"), "developer": t("system_developer"),
            "model_name": t("system_model_name"), "model_version": t("system_model_version", 100),
            "training_sources": t("system_training_sources"), "deployment_context": t("system_deployment_context"),
            "owner_id": lead.id,
        })

        # The organisation's own workflow: a same-name copy (active at once) with edited labels.
        row = workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident")
        doc = yaml.safe_load(row.yaml_text)
        doc["label"] = {"en": t("workflow_label_en"), "ja": t("workflow_label_ja")}
        doc["states"]["triage"]["label"] = {"en": t("state_label_en", 100), "ja": t("state_label_ja", 100)}
        for tr in doc["transitions"]:
            if tr["name"] == "report_to_executives":
                tr["label"] = {"en": t("transition_label_en", 100), "ja": t("transition_label_ja", 100)}
        row = workflows.save_workflow(actor=admin, workflow_id=row.id,
                                      yaml_text=yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
        workflow_id = row.id

        rule = deadlines.save_org_rule(actor=admin, data={
            "id": "exec-briefing", "label": {"en": t("rule_label_en", 100), "ja": t("rule_label_ja", 100)},
            "description": {"en": t("rule_description_en"), "ja": t("rule_description_ja")},
            "source": t("rule_source", 100), "timezone": "Asia/Tokyo", "period": {"days": 1}})

        webhook = webhooks.create_endpoint(actor=admin, data={
            "url": f"https://hooks.{slug}.example.jp/ai-incidents", "description": t("webhook_description")})[0]
        texts["webhook_url"] = f"https://hooks.{slug}.example.jp/ai-incidents"

        incident = incidents.file_incident(actor=admin, data={
            "title": t("incident_title"), "description": t("incident_description", 20000),
            "severity": "sev1", "occurred_at": now - timedelta(hours=5), "aware_at": now - timedelta(hours=2),
            "jurisdictions": ["JP"], "personal_data": False, "harm_types": ["privacy"],
            "ai_system_id": system.id,
        })
        incident_id = incident.id
        steps = [
            ("start_triage", "comment_triage", {"triage_notes": "field_triage_notes"}),
            ("report_to_executives", "comment_report",
             {"reported_to": "field_reported_to", "executive_summary": "field_executive_summary"}),
        ]
        for name, comment_key, fields in steps:
            current = incidents.get_incident(actor=admin, incident_id=incident_id)
            engine.transition(actor=admin, incident_id=incident_id, name=name, version=current.version,
                              comment=t(comment_key, 2000), fields={k: t(v, 2000) for k, v in fields.items()})

        request = liaison.create_request(actor=admin, data={
            "ministry": "other", "ministry_other": t("ministry_other", 100), "kind": "request",
            "reference": t("ministry_reference", 100), "received_at": now - timedelta(hours=1),
            "requested_actions": t("ministry_requested_actions", 2000), "due_at": now + timedelta(days=3)})
        liaison.link(actor=admin, request_id=request.id, incident_id=incident_id)

        job = reports.create_pack_job(actor=admin, incident_id=incident_id, fmt="json", locale=locale)
        escalation_row = db.session.execute(
            db.select(Escalation).where(Escalation.incident_id == incident_id).order_by(Escalation.id)
        ).unique().scalars().first()
        ids = {"incident": incident_id, "system": system.id, "user": lead.id, "invited_user": invited.id,
               "token": token.id, "org_rule": rule.id, "workflow": workflow_id, "webhook": webhook.id,
               "request": request.id, "report_job": job.id,
               "escalation": escalation_row.id if escalation_row is not None else None}
        ack = escalation.ack_token(escalation_row, admin.id) if escalation_row is not None else ""
        admin_id = admin.id
        db.session.expunge_all()
        db.session.remove()
    with app.app_context(), scoped(org_id):
        admin = orgs.get_user(admin_id)
        org = orgs.get_org(org_id)
        db.session.expunge_all()
    return World(org=org, admin=admin, ids=ids, texts=texts, ack_token=ack, invite_token=invite_token,
                 api_token=raw_token)
