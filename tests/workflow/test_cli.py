"""``flask workflows check [PATH]``."""
from app.workflow import loader

NEAR_MISS_TEXT = (loader.SHIPPED_DIR / "near-miss.yaml").read_text(encoding="utf-8")


def test_check_the_shipped_folder(runner):
    result = runner.invoke(args=["workflows", "check"])
    assert result.exit_code == 0, result.output
    for name in ("jp-ai-incident", "appi-personal-data", "eu-ai-act-serious-incident", "near-miss"):
        assert f"OK workflows/{name}.yaml ({name} v1)" in result.output


def test_check_one_file(runner):
    result = runner.invoke(args=["workflows", "check", str(loader.SHIPPED_DIR / "near-miss.yaml")])
    assert result.exit_code == 0 and "OK workflows/near-miss.yaml" in result.output


def test_check_reports_each_problem_and_fails(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(NEAR_MISS_TEXT.replace("    to: review\n", "    to: reviw\n", 1)
                   .replace("label: {en: Review, ja: レビュー}", "label: {en: Review}", 1), encoding="utf-8")
    result = runner.invoke(args=["workflows", "check", str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml: transitions[0].to: unknown state 'reviw' (line" in result.output
    assert "bad.yaml: states.review.label.ja: Missing data for required field." in result.output


def test_check_a_folder_with_two_defaults(runner, tmp_path):
    text = (loader.SHIPPED_DIR / "jp-ai-incident.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text.replace("id: jp-ai-incident", "id: other", 1), encoding="utf-8")
    result = runner.invoke(args=["workflows", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "exactly one workflow may be the default; found 2" in result.output
