"""A small hand-built workflow definition the engine tests share (no YAML, no loader; no tests here)."""
from app.workflow.definition import (
    Conditions, Definition, FieldSpec, Guard, Label, Selector, State, Transition,
)


def L(en, ja=None):
    """A label."""
    return Label(en=en, ja=ja or f"{en}(ja)")


STATES = {
    "reported": State("reported", "triage", L("Reported", "報告済み")),
    "triage": State("triage", "triage", L("Triage", "トリアージ")),
    "active": State("active", "active", L("Containment", "封じ込め")),
    "reporting": State("reporting", "reporting", L("Reporting", "報告")),
    "closed": State("closed", "closed", L("Closed", "完了")),
}

CONTAIN_FIELDS = (
    FieldSpec("summary", "text", True, L("Summary", "概要")),
    FieldSpec("contained_at", "datetime", True, L("Contained at", "封じ込め日時")),
    FieldSpec("users", "int", False, L("Users affected", "影響人数")),
    FieldSpec("evidence_hold", "bool", False, L("Evidence hold", "証拠保全")),
    FieldSpec("scope", "choice", False, L("Scope", "範囲"), options=("internal", "external")),
    FieldSpec("areas", "multichoice", False, L("Areas", "領域"), options=("data", "model", "ui")),
)

TRANSITIONS = (
    Transition("start_triage", ("reported",), "triage", L("Start triage", "トリアージ開始"),
               roles=("responder", "lead", "admin")),
    Transition("contain", ("triage",), "active", L("Contain", "封じ込め"), roles=("lead", "admin"),
               fields=CONTAIN_FIELDS),
    Transition("file_report", ("active",), "reporting", L("File report", "報告提出"), roles=("lead",),
               guards=(Guard(facts=Conditions(jurisdictions_any=("JP",))),), meets=("appi-preliminary",),
               fields=(FieldSpec("authorities_informed", "bool", False, L("Authorities informed", "当局へ通知")),)),
    Transition("close", ("reporting",), "closed", L("Close", "完了"), roles=("lead",),
               guards=(Guard(deadlines_met=("appi-preliminary",)),)),
    Transition("escalate", ("*",), "reporting", L("Escalate", "エスカレーション"), roles=("lead",),
               guards=(Guard(any=(Guard(facts=Conditions(severities=("sev1",))),
                                  Guard(ministry_request_linked=True))),)),
    Transition("reopen", ("closed",), "triage", L("Reopen", "再開"), roles=("lead",)),
)

DEFINITION = Definition(
    id="test-flow", version=1, label=L("Test flow"), description=L("For tests"),
    initial_state="reported", states=STATES, transitions=TRANSITIONS,
    applies_to=Selector(default=True),
)
