"""Tampering with the ledger table by raw SQL is detected and the first bad entry named, by
``flask ledger verify`` (exit 1) and by ``GET /api/v1/ledger/verify``."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.ledger import canonical
from app.ledger import service as ledger
from app.ledger.models import LedgerEntry
from tests.ledger.conftest import sql


@pytest.fixture
def chain(app, team, factory):
    """The team's organisation with a dozen entries, and an admin token for the API."""
    team.file()
    team.file(title="二件目")
    entries = team.entries()
    assert len(entries) >= 9 and [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    team.token = factory.token(team.users["admin"])
    return team


def _cli(runner, slug):
    result = runner.invoke(args=["ledger", "verify", "--org", slug])
    return result.exit_code, result.output


def _api(client, chain):
    resp = client.get("/api/v1/ledger/verify", headers={"Authorization": f"Bearer {chain.token}"})
    assert resp.status_code == 200
    return resp.get_json()


def _assert_broken(runner, client, chain, seq, words):
    body = _api(client, chain)
    assert body["ok"] is False and body["first_bad"]["seq"] == seq, body
    assert words in body["first_bad"]["problem"]
    code, output = _cli(runner, chain.org.slug)
    assert code == 1 and f"BROKEN: {chain.org.slug}: entry seq {seq} " in output, output
    assert words in output
    return body


def test_intact_chain_verifies(runner, client, chain):
    body = _api(client, chain)
    n = len(chain.entries())
    assert body == {"ok": True, "entries": n, "first_bad": None,
                    "head": {"seq": n, "hash": chain.entries()[-1]["hash"]}, "checkpoint": None}
    code, output = _cli(runner, chain.org.slug)
    assert code == 0 and f"ok: {chain.org.slug}: {n} entries" in output


def test_edited_payload(app, runner, client, chain):
    sql(app, "UPDATE ledger_entry SET payload = :p WHERE org_id = :o AND seq = 3",
        p='{"email":"someone-else@example.jp"}', o=chain.org.id)
    body = _assert_broken(runner, client, chain, 3, "edited")
    assert body["first_bad"]["id"] == chain.entries()[2]["id"]


def test_edited_hash(app, runner, client, chain):
    sql(app, "UPDATE ledger_entry SET hash = :h WHERE org_id = :o AND seq = 4", h="f" * 64, o=chain.org.id)
    _assert_broken(runner, client, chain, 4, "hash does not match")


def test_edited_hash_and_next_link(app, runner, client, chain):
    """Even a consistent edit of one hash and the next entry's prev_hash breaks at that entry."""
    sql(app, "UPDATE ledger_entry SET hash = :h WHERE org_id = :o AND seq = 4", h="f" * 64, o=chain.org.id)
    sql(app, "UPDATE ledger_entry SET prev_hash = :h WHERE org_id = :o AND seq = 5", h="f" * 64, o=chain.org.id)
    _assert_broken(runner, client, chain, 4, "edited")


def test_deleted_middle_row(app, runner, client, chain):
    sql(app, "DELETE FROM ledger_entry WHERE org_id = :o AND seq = 5", o=chain.org.id)
    _assert_broken(runner, client, chain, 6, "sequence jumps from 4 to 6")


def test_deleted_last_row_is_a_head_mismatch(app, runner, client, chain):
    last = chain.entries()[-1]["seq"]
    sql(app, "DELETE FROM ledger_entry WHERE org_id = :o AND seq = :s", o=chain.org.id, s=last)
    body = _assert_broken(runner, client, chain, last, "head says")
    assert body["head"]["seq"] == last and body["entries"] == last - 1


def _forge(app, org_id, seq, prev_hash, payload='{"note":"forged"}'):
    """Insert a row whose hash is computed exactly as the ledger would."""
    from datetime import datetime, timezone

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    body = canonical.entry_body(org_id=org_id, seq=seq, at=at, actor="cli", actor_id=None, action="forged",
                                subject_type="", subject_id=None, payload_text=payload)
    digest = canonical.entry_hash(prev_hash, body)
    with app.app_context():
        db.session.execute(LedgerEntry.__table__.insert().values(
            org_id=org_id, seq=seq, at=at, actor="cli", actor_id=None, action="forged", subject_type="",
            subject_id=None, payload=payload, prev_hash=prev_hash, hash=digest))
        db.session.commit()
        db.session.remove()
    return digest


def test_inserted_forged_row_at_the_end(app, runner, client, chain):
    last = chain.entries()[-1]
    _forge(app, chain.org.id, last["seq"] + 1, last["hash"])
    _assert_broken(runner, client, chain, last["seq"] + 1, "head says")


def test_inserted_forged_row_with_the_head_moved_is_caught_by_a_checkpoint_only(app, runner, client, chain):
    """Forging at the end and moving the head is undetectable by the chain alone: that is what
    signed checkpoints are for (see test_checkpoint.py). Here: a wrong hash is caught at once."""
    last = chain.entries()[-1]
    sql(app, "INSERT INTO ledger_entry (org_id, seq, at, actor, action, subject_type, payload, prev_hash, hash) "
             "VALUES (:o, :s, :at, 'cli', 'forged', '', '{}', :p, :h)",
        o=chain.org.id, s=last["seq"] + 1, at="2026-01-01 00:00:00", p=last["hash"], h="a" * 64)
    sql(app, "UPDATE ledger_head SET seq = :s, hash = :h WHERE org_id = :o", s=last["seq"] + 1, h="a" * 64,
        o=chain.org.id)
    _assert_broken(runner, client, chain, last["seq"] + 1, "edited")


def test_swapped_rows(app, runner, client, chain):
    """Two rows' contents (all but id and seq) exchanged: the first no longer links."""
    cols = ("at", "actor", "actor_id", "action", "subject_type", "subject_id", "payload", "prev_hash", "hash")
    with app.app_context():
        rows = {r.seq: r for r in db.session.execute(
            select(LedgerEntry.__table__).where(LedgerEntry.org_id == chain.org.id, LedgerEntry.seq.in_((3, 4)))
            .execution_options(all_orgs=True)).mappings()}
        for seq, other in ((3, 4), (4, 3)):
            db.session.execute(LedgerEntry.__table__.update()
                               .where(LedgerEntry.org_id == chain.org.id, LedgerEntry.seq == seq)
                               .values({c: rows[other][c] for c in cols}).execution_options(all_orgs=True))
        db.session.commit()
        db.session.remove()
    _assert_broken(runner, client, chain, 3, "prev_hash does not match")


def test_swapped_sequence_numbers(app, runner, client, chain):
    """Rows reordered by renumbering (through a free number): seen where they sit, by id."""
    o = chain.org.id
    sql(app, "UPDATE ledger_entry SET seq = 1000 WHERE org_id = :o AND seq = 3", o=o)
    sql(app, "UPDATE ledger_entry SET seq = 3 WHERE org_id = :o AND seq = 4", o=o)
    sql(app, "UPDATE ledger_entry SET seq = 4 WHERE org_id = :o AND seq = 1000", o=o)
    body = _api(client, chain)
    assert body["ok"] is False and body["first_bad"]["seq"] in (3, 4)
    code, output = _cli(runner, chain.org.slug)
    assert code == 1 and "BROKEN" in output


def test_one_organisations_tampering_leaves_the_others_intact(app, runner, client, chain, factory):
    other = factory.org("otherco")
    factory.user(other, "admin")
    sql(app, "UPDATE ledger_entry SET payload = '{}' WHERE org_id = :o AND seq = 2", o=chain.org.id)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN: {chain.org.slug}: entry seq 2 " in result.output
    assert "ok: otherco: 2 entries, head 2" in result.output
    with app.app_context():
        assert ledger.verify(other.id)["ok"] is True
        db.session.remove()
