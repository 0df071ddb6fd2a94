"""Full-text search over incidents (issue 5, item 3), on the suite's database (SQLite FTS5
trigrams, or PostgreSQL pg_trgm in CI's second pass): Japanese words in the middle of a
sentence, 1-2 character queries (the LIKE path), English, timeline comments, edits, other
organisations, query syntax characters, keyset pagination; through the service and the API."""
import pytest
from sqlalchemy import text

from app.extensions import db
from app.incidents import service as incidents
from app.search import service as search
from app.tenancy import scoped
from tests.conftest import incident_payload, is_postgres

SENTENCE = "昨日の夕方、顧客対応チャットボットが別の顧客の注文履歴を表示した"
SYNTAX = ['AND', 'OR', 'NOT', '"', '""', '"注文', "'", '*', 'チャット*', 'NEAR()', 'NEAR(a b)',
          '%', '_', '%%', '\\', '^', '-', ':', 'title:x', '(', ')', '{', '}', '+', 'a AND', '" OR "',
          'col: "x', '*)(', 'NEAR("a" "b", 2)', '　', '100%', 'a_b', '☃']


def file(api, **fields):
    """File an incident through the API; return its id."""
    response = api.post("/incidents", json=incident_payload(**fields))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def found(api, q, **params):
    """The ids GET /api/v1/incidents?q= returns (every page)."""
    ids, cursor = [], None
    while True:
        query = {"q": q, "limit": 200, **params}
        if cursor:
            query["cursor"] = cursor
        response = api.get("/incidents", query_string=query)
        assert response.status_code == 200, (q, response.get_json())
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids


@pytest.fixture
def lead(api):
    """A lead of a new organisation, speaking to the API."""
    return api("lead")


@pytest.fixture
def chatbot(lead):
    """The incident with the Japanese sentence, and one that must not match."""
    hit = file(lead, title="チャットボットの誤表示", description=SENTENCE)
    miss = file(lead, title="翻訳エンジンの誤訳", description="契約書の条項が逆の意味に訳された")
    return hit, miss


def service_ids(app, api_client, q):
    """The ids list_incidents(filters={"q": q}) returns for the API client's user."""
    from app.orgs import service as orgs

    with app.app_context(), scoped(api_client.org.id):
        actor = orgs.get_user(api_client.user.id)
        items, _ = incidents.list_incidents(actor=actor, filters={"q": q}, limit=200)
        ids = [i.id for i in items]
        db.session.remove()
        return ids


def test_a_japanese_word_in_the_middle_of_a_sentence(app, lead, chatbot):
    hit, miss = chatbot
    for word in ("注文履歴", "チャットボット", "顧客対応", "別の顧客", "表示した"):
        assert found(lead, word) == [hit], word
        assert service_ids(app, lead, word) == [hit], word
    assert found(lead, "誤") == [miss, hit]
    assert found(lead, "購入履歴") == []


def test_one_and_two_character_japanese_queries_take_the_like_path(lead, chatbot):
    hit, miss = chatbot
    assert found(lead, "履歴") == [hit]      # 2 characters: no trigram, LIKE over the same text
    assert found(lead, "契約") == [miss]
    assert found(lead, "訳") == [miss]       # 1 character
    assert found(lead, "漏洩") == []


def test_english_words_any_case(lead):
    hit = file(lead, title="Recommendation model leaked customer emails",
               description="The recommender exposed email addresses in its explanations.")
    file(lead, title="翻訳エンジンの誤訳", description="契約書の条項が逆の意味に訳された")
    assert found(lead, "leaked") == [hit]
    assert found(lead, "RECOMMENDER") == [hit]
    assert found(lead, "mail") == [hit]      # a word inside a word
    assert found(lead, "AI") == [hit]        # 2 characters, LIKE path, case-insensitive ("emails")
    assert found(lead, "zq") == []


def test_several_terms_must_all_occur_in_any_field(lead, chatbot):
    hit, miss = chatbot
    assert found(lead, "誤表示 注文履歴") == [hit]          # title + description
    assert found(lead, "チャットボット　履歴") == [hit]     # ideographic space, long + short term
    assert found(lead, "チャットボット 契約書") == []


def test_text_only_in_a_timeline_comment(lead, chatbot):
    hit, miss = chatbot
    assert found(lead, "再学習") == []
    version = lead.get(f"/incidents/{miss}").get_json()["version"]
    response = lead.post(f"/incidents/{miss}/transitions", json={
        "transition": "start_triage", "version": version,
        "comment": "ベンダーに連絡し、モデルの再学習を依頼した。Vendor retraining requested.",
    })
    assert response.status_code == 200, response.get_json()
    assert found(lead, "再学習") == [miss]
    assert found(lead, "依頼") == [miss]      # 2 characters in a comment
    assert found(lead, "retraining") == [miss]
    assert found(lead, "再学習 契約書") == [miss]  # one term in a comment, one in the description


def test_an_edited_title_is_found_by_its_new_words_only(lead, chatbot):
    hit, miss = chatbot
    version = lead.get(f"/incidents/{hit}").get_json()["version"]
    response = lead.patch(f"/incidents/{hit}", json={"version": version, "title": "音声認識の誤作動"})
    assert response.status_code == 200, response.get_json()
    assert found(lead, "音声認識") == [hit]
    assert found(lead, "チャットボットの誤表示") == []
    assert found(lead, "チャットボット") == [hit]   # still in the description
    version = lead.get(f"/incidents/{hit}").get_json()["version"]
    lead.patch(f"/incidents/{hit}", json={"version": version, "description": "画面の表示が乱れた"})
    assert found(lead, "チャットボット") == []
    assert found(lead, "注文履歴") == []
    assert found(lead, "乱れ") == [hit]


def test_another_organisations_incidents_are_never_returned(app, api, lead, chatbot):
    hit, _ = chatbot
    other = api("lead")
    theirs = file(other, title="チャットボットの誤表示", description=SENTENCE)
    for word in ("注文履歴", "履歴", "チャットボット", "誤"):
        assert theirs not in found(lead, word)
        assert hit not in found(other, word)
        assert found(other, word) == [theirs]
    with app.app_context(), scoped(lead.org.id):
        ids = db.session.execute(search.search_incident_ids(org_id=lead.org.id, query="注文履歴")).scalars()
        assert list(ids) == [hit]
        db.session.remove()


def test_a_reporter_finds_only_their_own(api, lead, chatbot):
    reporter = api("reporter", org=lead.org)
    mine = file(reporter, title="自分の報告", description=SENTENCE)
    assert found(reporter, "注文履歴") == [mine]
    assert sorted(found(lead, "注文履歴")) == sorted([chatbot[0], mine])


@pytest.mark.parametrize("q", SYNTAX)
def test_query_syntax_characters_do_not_error(app, lead, chatbot, q):
    assert lead.get("/incidents", query_string={"q": q}).status_code == 200
    service_ids(app, lead, q)


def test_syntax_characters_are_matched_as_text(lead):
    plain = file(lead, title="Plain title", description="nothing special here")
    odd = file(lead, title='Rate 100% of "AND" rows', description="NEAR(x) a*b under_score")
    assert found(lead, "100%") == [odd]
    assert found(lead, "%") == [odd]
    assert found(lead, "_") == [odd]
    assert found(lead, "under_score") == [odd]
    assert found(lead, '"AND"') == [odd]
    assert found(lead, "AND") == [odd]
    assert found(lead, "NEAR(x)") == [odd]
    assert found(lead, "a*b") == [odd]
    assert found(lead, "*") == [odd]
    assert found(lead, "ain") == [plain]
    assert found(lead, "zzz") == []


def test_blank_queries_filter_nothing(app, lead, chatbot):
    assert sorted(service_ids(app, lead, "   ")) == sorted(chatbot)
    assert sorted(service_ids(app, lead, "　")) == sorted(chatbot)


def test_results_keep_the_newest_first_keyset_pagination(lead):
    hits = [file(lead, title=f"誤回答 {n}", description=f"社内FAQボットが誤った回答をした ({n})") for n in range(5)]
    file(lead, title="別件", description="関係のない出来事")
    pages, cursor = [], None
    while True:
        query = {"q": "FAQボット", "limit": 2}
        if cursor:
            query["cursor"] = cursor
        body = lead.get("/incidents", query_string=query).get_json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == [hits[4:2:-1], hits[2:0:-1], hits[0:1]]


def test_the_list_page_searches_too(client, auth, factory, app):
    org = factory.org()
    user = factory.user(org, "lead")
    with app.app_context(), scoped(org.id):
        from app.orgs import service as orgs

        actor = orgs.get_user(user.id)
        incidents.file_incident(actor=actor, data=_data(title="チャットボットの誤表示", description=SENTENCE))
        incidents.file_incident(actor=actor, data=_data(title="翻訳エンジンの誤訳", description="契約書"))
        db.session.remove()
    auth.login(user.email)
    html = client.get("/incidents", query_string={"q": "注文履歴"}).get_data(as_text=True)
    assert "チャットボットの誤表示" in html and "翻訳エンジンの誤訳" not in html


def _data(**facts):
    from datetime import datetime

    body = incident_payload(**facts)
    for key in ("occurred_at", "aware_at"):
        body[key] = datetime.fromisoformat(body[key])
    return body


@pytest.mark.skipif(is_postgres(), reason="the FTS5 table and its triggers are SQLite's")
def test_sqlite_index_follows_comment_edits_and_deletes(app, lead, chatbot):
    """The triggers on timeline_event (written by services; edited here in SQL to reach them)."""
    hit, miss = chatbot
    version = lead.get(f"/incidents/{miss}").get_json()["version"]
    lead.post(f"/incidents/{miss}/transitions", json={
        "transition": "start_triage", "version": version, "comment": "一次回答を送付"})
    assert found(lead, "一次回答") == [miss]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE timeline_event SET comment = '二次回答を送付' WHERE comment = '一次回答を送付'"))
    assert found(lead, "一次回答") == [] and found(lead, "二次回答") == [miss]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM timeline_event WHERE comment <> ''"))
    assert found(lead, "二次回答") == []
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM incident WHERE id = :id"), {"id": hit})
        rows = conn.execute(text("SELECT incident_id FROM incident_search")).scalars().all()
    assert rows == [miss]


@pytest.mark.skipif(not is_postgres(), reason="pg_trgm indexes are PostgreSQL's")
def test_postgresql_answers_from_the_trigram_indexes(app, lead, chatbot):
    """With thousands of rows, the planner reads the pg_trgm GIN indexes, not the org's rows."""
    hit, miss = chatbot
    with app.app_context(), db.engine.begin() as conn:
        columns = [c for c in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'incident' "
            "AND table_schema = current_schema()")).scalars() if c not in ("id", "number", "description")]
        names = ", ".join(columns)
        conn.execute(text(
            f"INSERT INTO incident (number, description, {names}) SELECT number + g, 'その他の出来事 ' || g, "
            f"{names} FROM incident, generate_series(1, 3000) g WHERE id = :id"), {"id": miss})
        conn.execute(text(
            "INSERT INTO timeline_event (org_id, incident_id, at, action, comment, data) SELECT i.org_id, i.id, "
            "now(), 'note', 'コメント ' || i.id, '{}' FROM incident i"))
        # What autovacuum does in production: move GIN's pending list into the index proper.
        for index in ("ix_incident_title_trgm", "ix_incident_description_trgm", "ix_timeline_event_comment_trgm"):
            conn.execute(text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": index})
        conn.execute(text("ANALYZE incident"))
        conn.execute(text("ANALYZE timeline_event"))
    with app.app_context(), scoped(lead.org.id):
        conn = db.session.connection()
        stmt = search.search_incident_ids(org_id=lead.org.id, query="注文履歴")
        compiled = stmt.compile(conn)
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))
        db.session.remove()
    assert "ix_incident_description_trgm" in plan, plan
    assert "ix_incident_title_trgm" in plan, plan
    assert "ix_timeline_event_comment_trgm" in plan, plan
    assert found(lead, "注文履歴") == [hit]


def test_the_migration_backfills_existing_incidents(make_app, fresh_database_url):
    """A database at 0003 with incidents and comments in it is searchable after upgrading."""
    application = make_app(fresh_database_url)
    runner = application.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0003"]).exit_code == 0
    with application.app_context(), db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO organisation (id, slug, name, timezone, default_locale, incident_seq, created_at) "
            "VALUES (1, 'acme', 'Acme', 'Asia/Tokyo', 'ja', 1, CURRENT_TIMESTAMP)"))
        conn.execute(text(
            "INSERT INTO incident (id, org_id, number, title, description, kind, severity, occurred_at, aware_at, "
            "harm_types, harmed_parties, principles, jurisdictions, personal_data, deaths, critical_infrastructure, "
            "widespread_infringement, serious_incident, wrongful_purpose, confidential, workflow, workflow_version, "
            "state, is_open, queue_due_at, version, created_at, updated_at) VALUES (1, 1, 1, '既存のインシデント', "
            ":d, 'incident', 'sev2', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '[]', '[]', '[]', '[]', false, 0, false, "
            "false, false, false, false, 'jp-ai-incident', 1, 'reported', true, CURRENT_TIMESTAMP, 1, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"d": SENTENCE})
        for n, comment in enumerate(("", "過去のコメント")):
            conn.execute(text(
                "INSERT INTO timeline_event (id, org_id, incident_id, at, action, comment, data) "
                "VALUES (:n, 1, 1, CURRENT_TIMESTAMP, 'note', :c, '{}')"), {"n": n + 1, "c": comment})
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with application.app_context(), scoped(1):
        for q in ("注文履歴", "既存", "過去のコメント", "履歴"):
            assert list(db.session.execute(search.search_incident_ids(org_id=1, query=q)).scalars()) == [1], q
        db.session.remove()


def _search_objects(conn):
    """The search objects in the database: FTS5 tables and triggers, or pg_trgm indexes."""
    if conn.dialect.name == "sqlite":
        return set(conn.execute(text(
            "SELECT name FROM sqlite_master WHERE name LIKE 'incident_search%' OR name LIKE '%search_a_'"
        )).scalars())
    return set(conn.execute(text(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%trgm' AND schemaname = current_schema()"
    )).scalars()) | set(conn.execute(text("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")).scalars())


def test_0004_downgrades_cleanly_and_autogenerate_ignores_its_objects(make_app, fresh_database_url):
    """Downgrading 0004 removes all it made; env.py's include_object keeps ``flask db check``
    (autogenerate) from proposing to drop the search objects the models do not describe."""
    application = make_app(fresh_database_url)
    runner = application.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with application.app_context(), db.engine.connect() as conn:
        assert len(_search_objects(conn)) in (4, 12)  # PostgreSQL: 3 indexes + pg_trgm; SQLite: 6 tables + 6 triggers
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert runner.invoke(args=["db", "downgrade", "0003"]).exit_code == 0
    with application.app_context(), db.engine.connect() as conn:
        assert _search_objects(conn) == set()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
