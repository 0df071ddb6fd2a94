"""Japanese and English: every message translated, the compiled catalog current, and the
language chosen by the user's saved choice, else by Accept-Language."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "translations" / "ja" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2), "lazy_ngettext": (1, 2)}


def _extracted_ids():
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename="babel.cfg")
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="ja")


def test_every_message_in_the_code_has_a_japanese_translation():
    ids = _extracted_ids()
    assert len(ids) > 100  # the extraction really ran over app/ and templates/
    catalog = _catalog()
    untranslated = sorted(
        i for i in ids
        if catalog.get(i) is None or not catalog.get(i).string or catalog.get(i).fuzzy
    )
    assert not untranslated, f"add Japanese for: {untranslated[:20]} (then run pybabel compile -d translations)"


def test_the_compiled_catalog_matches_the_po_file():
    def key(value):  # plural entries come as lists or tuples: compare them as tuples
        return tuple(value) if isinstance(value, (list, tuple)) else value

    po = {key(m.id): key(m.string) for m in _catalog() if m.id and m.string and not m.fuzzy}
    with MO.open("rb") as f:
        mo = {key(m.id): key(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "messages.mo is stale: run pybabel compile -d translations"


def test_accept_language_picks_the_page_language(client):
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    ja = client.get("/login", headers={"Accept-Language": "ja,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="en"' in en and "Sign in" in en and "ログイン" not in en.split("</header>")[1]
    assert '<html lang="ja"' in ja and "ログイン" in ja and "パスワード" in ja and "AIインシデント管理" in ja


def test_without_accept_language_pages_are_japanese(client):
    assert '<html lang="ja"' in client.get("/login").get_data(as_text=True)


def test_the_users_saved_choice_beats_accept_language(factory, client, auth):
    org = factory.org()
    user = factory.user(org, "reporter", locale="en")
    auth.login(user.email)
    html = client.get("/incidents", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en"' in html and "File an incident" in html


def test_the_language_switch_is_saved_for_the_user(factory, client, auth):
    org = factory.org()
    user = factory.user(org, "reporter")
    auth.login(user.email)
    token = auth.csrf_token("/incidents")
    response = client.post("/language/en", data={"csrf_token": token, "next": "/incidents"},
                           headers={"Accept-Language": "ja"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/incidents")
    client.post("/logout", data={"csrf_token": token})
    auth.login(user.email)  # a fresh session: the choice comes from the user row
    html = client.get("/incidents", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en"' in html


def test_a_form_page_in_both_languages(factory, client, auth):
    org = factory.org()
    user = factory.user(org, "reporter")
    auth.login(user.email)
    ja = client.get("/incidents/new", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert "認知日時" in ja and "重大度" in ja and "AI事業者ガイドラインの原則" in ja
    token = auth.csrf_token("/incidents")
    client.post("/language/en", data={"csrf_token": token})
    en = client.get("/incidents/new").get_data(as_text=True)
    assert "Became aware at" in en and "Severity" in en
