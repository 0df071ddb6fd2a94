"""The loader: shipped definitions validate; invalid ones are rejected naming file, path and line."""
from pathlib import Path

import pytest

from app import create_app
from app.workflow import loader
from app.workflow.schema import format_duration, parse_duration
from config import TestConfig

SHIPPED = loader.SHIPPED_DIR
DEFAULT_TEXT = (SHIPPED / "jp-ai-incident.yaml").read_text(encoding="utf-8")
NEAR_MISS_TEXT = (SHIPPED / "near-miss.yaml").read_text(encoding="utf-8")


def _write(folder, name, text):
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path, text, name="broken.yaml"):
    with pytest.raises(loader.DefinitionError) as info:
        loader.load_file(_write(tmp_path, name, text))
    return str(info.value)


@pytest.mark.parametrize("name", ["jp-ai-incident", "appi-personal-data", "eu-ai-act-serious-incident", "near-miss"])
def test_every_shipped_workflow_validates(name):
    definition = loader.load_file(SHIPPED / f"{name}.yaml")
    assert definition.id == name
    assert definition.escalation_policy == "default"
    assert definition.initial_state in definition.states
    assert any(s.category == "closed" for s in definition.states.values())
    for state in definition.states.values():
        assert state.label.en and state.label.ja
        if state.category != "closed":
            assert set(state.targets) == {"sev1", "sev2", "sev3", "sev4"}, state.name
    for t in definition.transitions:
        assert t.roles and t.label.en and t.label.ja


def test_the_shipped_folder_has_exactly_one_default(app):
    definitions, errors = loader.load_folder(SHIPPED)
    assert errors == []
    assert [d.id for d in definitions.values() if d.applies_to.default] == ["jp-ai-incident"]
    with app.app_context():
        assert set(loader.shipped()) == {"jp-ai-incident", "appi-personal-data", "eu-ai-act-serious-incident", "near-miss"}


def test_the_laws_are_encoded():
    jp = loader.load_file(SHIPPED / "jp-ai-incident.yaml")
    report = {t.name: t for t in jp.transitions}
    assert report["report_to_executives"].meets == ("jp-ai-promotion",)
    liaison = report["start_government_liaison"]
    assert liaison.to == "government_liaison"
    [guard] = liaison.guards
    assert guard.any[0].facts.severities == ("sev1",) and guard.any[1].ministry_request_linked is True
    assert {f.name for f in liaison.fields} >= {"competent_ministry", "contact_at", "ai_headquarters_informed",
                                               "information_shared_summary"}
    assert report["record_government_contact"].to == "government_liaison"
    assert {f.name for f in report["close"].fields} >= {"root_cause", "corrective_actions", "recurrence_prevention",
                                                       "information_shared"}
    appi = {t.name: t for t in loader.load_file(SHIPPED / "appi-personal-data.yaml").transitions}
    assert appi["file_preliminary_report"].meets == ("appi-preliminary",)
    assert {f.name for f in appi["file_preliminary_report"].fields} >= {
        "awareness_date", "persons_affected", "personal_data_kinds", "cause", "measures_taken"}
    assert appi["file_final_report"].meets == ("appi-final",)
    eu = {t.name: t for t in loader.load_file(SHIPPED / "eu-ai-act-serious-incident.yaml").transitions}
    assert eu["place_evidence_hold"].sets == {"evidence_hold": True}
    assert "eu-ai-act-73" in eu["submit_initial_report"].meets and "eu-ai-act-73" in eu["submit_complete_report"].meets
    near = loader.load_file(SHIPPED / "near-miss.yaml")
    assert list(near.states) == ["reported", "review", "lessons_learned", "closed"]


def test_durations():
    assert [parse_duration(x) for x in ("30m", "4h", "1d", "2w")] == [1800, 14400, 86400, 1209600]
    for bad in ("0h", "4 hours", "1y", "", 5, None, "-1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert format_duration(86400) == "1d" and format_duration(5400) == "90m"


def test_unknown_state_in_a_transition(tmp_path):
    text = DEFAULT_TEXT.replace("    to: review\n", "    to: reviw\n", 1)
    message = _problems(tmp_path, text)
    assert "broken.yaml: transitions[8].to: unknown state 'reviw' (line " in message


def test_unknown_source_state(tmp_path):
    text = NEAR_MISS_TEXT.replace("from: [review]", "from: [reviewed]", 1)
    message = _problems(tmp_path, text)
    assert "transitions[1].from[0]: unknown state 'reviewed'" in message


def test_duplicate_transition_name(tmp_path):
    text = NEAR_MISS_TEXT.replace("  - name: record_lessons", "  - name: start_review", 1)
    message = _problems(tmp_path, text)
    assert "transitions[1].name: duplicate transition 'start_review' (first at transitions[0])" in message


def test_bad_duration(tmp_path):
    text = NEAR_MISS_TEXT.replace("targets: {sev1: 4h,", "targets: {sev1: 4 hours,", 1)
    message = _problems(tmp_path, text)
    assert "states.reported.targets.sev1: '4 hours' is not a duration" in message
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "4 hours" in x)
    assert f"(line {line})" in message


def test_missing_japanese_label(tmp_path):
    text = NEAR_MISS_TEXT.replace("label: {en: Review, ja: レビュー}", "label: {en: Review}", 1)
    message = _problems(tmp_path, text)
    assert "states.review.label.ja: Missing data for required field." in message


def test_yaml_syntax_error_names_its_line(tmp_path):
    lines = NEAR_MISS_TEXT.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("initial_state:"))
    lines[at] = "initial_state: [recorded"
    message = _problems(tmp_path, "\n".join(lines) + "\n")
    assert "broken.yaml: (yaml): YAML syntax error at column " in message
    # The parser reports where it notices the unclosed bracket: at or just after the broken line.
    assert any(f"(line {n})" in message for n in range(at + 1, at + 4)), message


def test_types_enumerations_and_references(tmp_path):
    text = (NEAR_MISS_TEXT
            .replace("category: review\n", "category: reviewing\n", 1)
            .replace("roles: [responder, lead, admin]", "roles: [responder, boss]", 1)
            .replace("kinds: [near_miss]", "kinds: [near_mis]", 1)
            .replace("initial_state: reported", "initial_state: recrded", 1)
            .replace("        type: textarea\n", "        type: essay\n", 1))
    message = _problems(tmp_path, text)
    assert "states.review.category: Must be one of:" in message
    assert "transitions[0].roles[1]: Must be one of:" in message
    assert "applies_to.when.kinds[0]: Must be one of:" in message
    assert "transitions[0].fields[0].type: Must be one of:" in message
    assert "initial_state: unknown state 'recrded'" in message


def test_field_rules(tmp_path):
    text = NEAR_MISS_TEXT.replace("- name: lessons_learned\n        type: textarea",
                                  "- name: severity\n        type: choice", 1)
    message = _problems(tmp_path, text)
    assert "transitions[1].fields[0].name: 'severity' is a fact of the incident" in message
    assert "transitions[1].fields[0].options: A choice field needs options." in message
    text = NEAR_MISS_TEXT.replace("- name: lessons_learned", "- name: Lessons-Learned", 1)
    assert "transitions[1].fields[0].name: 'Lessons-Learned' is not an identifier" in _problems(tmp_path, text)


def test_no_reachable_closed_state(tmp_path):
    text = NEAR_MISS_TEXT.replace("    from: [lessons_learned]\n    to: closed", "    from: [lessons_learned]\n    to: review")
    text = text.replace("    from: [reported]\n    to: closed", "    from: [reported]\n    to: review")
    message = _problems(tmp_path, text)
    assert "states: no closed state is reachable from initial_state 'reported'" in message


def test_unknown_keys_and_duplicate_keys(tmp_path):
    text = NEAR_MISS_TEXT.replace("escalation_policy: default", "escalation_polcy: default", 1)
    assert "escalation_polcy: Unknown field." in _problems(tmp_path, text)
    text = NEAR_MISS_TEXT.replace("  review:\n", "  reported:\n", 1)
    assert "states.reported: duplicate key 'reported'" in _problems(tmp_path, text)


def test_two_defaults_in_a_folder(tmp_path):
    _write(tmp_path, "a.yaml", DEFAULT_TEXT)
    _write(tmp_path, "b.yaml", DEFAULT_TEXT.replace("id: jp-ai-incident", "id: jp-ai-incident-2", 1))
    _definitions, errors = loader.load_folder(tmp_path)
    assert len(errors) == 1 and "exactly one workflow may be the default; found 2" in errors[0]


def test_subfolders_are_ignored(tmp_path):
    _write(tmp_path, "default.yaml", DEFAULT_TEXT)
    (tmp_path / "rules").mkdir()
    _write(tmp_path / "rules", "deadlines.yaml", "rules: [not, a, workflow]\n")
    definitions, errors = loader.load_folder(tmp_path)
    assert errors == [] and list(definitions) == ["jp-ai-incident"]


def test_the_service_refuses_to_start_on_an_invalid_folder(tmp_path):
    _write(tmp_path, "default.yaml", DEFAULT_TEXT)
    _write(tmp_path, "broken.yaml", NEAR_MISS_TEXT.replace("    to: review\n", "    to: nowhere\n", 1))

    class Broken(TestConfig):
        WORKFLOWS_DIR = str(tmp_path)

    with pytest.raises(RuntimeError) as info:
        create_app(Broken)
    message = str(info.value)
    assert "broken.yaml: transitions[0].to: unknown state 'nowhere'" in message
    assert "the service cannot start" in message


def test_the_service_refuses_to_start_without_a_default(tmp_path):
    _write(tmp_path, "near.yaml", NEAR_MISS_TEXT)

    class NoDefault(TestConfig):
        WORKFLOWS_DIR = str(tmp_path)

    with pytest.raises(RuntimeError, match="no workflow is the default"):
        create_app(NoDefault)


def test_an_unknown_deadline_rule_is_named(tmp_path):
    _write(tmp_path, "default.yaml", DEFAULT_TEXT.replace("meets: [jp-ai-promotion]", "meets: [jp-ai-promotoin]", 1))
    _definitions, errors = loader.load_folder(tmp_path)
    assert len(errors) == 1
    assert errors[0].endswith("default.yaml: transitions[3].meets[0]: unknown deadline rule 'jp-ai-promotoin' "
                              "(known: appi-final, appi-preliminary, eu-ai-act-73, gdpr-33, jp-ai-promotion)") or \
        "transitions[3].meets[0]: unknown deadline rule 'jp-ai-promotoin'" in errors[0]
