"""Signed checkpoints: the signature verifies, and a consistent rewrite of the whole chain after
the checkpoint (every hash recomputed, the head moved) is caught by the checkpoint check."""
import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, text

from app.extensions import db
from app.ledger import canonical
from app.ledger import service as ledger
from app.ledger.models import LedgerEntry


@pytest.fixture
def signed(app, team):
    """A chain with a signed checkpoint and a few entries after it: (team, checkpoint document)."""
    team.file()

    def sign():
        return ledger.checkpoint_document(ledger.checkpoint(team.org.id))

    document = team.run(sign)
    team.file(title="after the checkpoint")
    return team, document


def test_signature_verifies_with_the_public_key(signed):
    team, document = signed
    public = serialization.load_pem_public_key(document["public_key"].encode("ascii"))
    public.verify(base64.b64decode(document["signature"]), document["statement"].encode("utf-8"))
    stated = json.loads(document["statement"])
    assert stated == {"org": team.org.id, "seq": document["seq"], "hash": document["hash"],
                      "signed_at": document["signed_at"]}
    assert document["statement"] == canonical.dumps(stated)
    assert ledger.signature_ok(document, document["public_key"])
    forged = dict(document, statement=document["statement"].replace(document["hash"], "0" * 64))
    assert not ledger.signature_ok(forged, document["public_key"])
    # The signing is itself recorded in the chain, and the checkpoint names an entry that has that hash.
    entries = team.entries()
    assert entries[document["seq"] - 1]["hash"] == document["hash"]
    assert entries[document["seq"]]["action"] == "ledger_checkpoint"
    result = team.run(lambda: ledger.verify(team.org.id))
    assert result["ok"] and result["checkpoint"]["signature_ok"] and result["checkpoint"]["matches"]


def _rewrite_from(app, org_id, seq, payload):
    """Tamper with entry ``seq`` and recompute every hash after it and the head, consistently."""
    with app.app_context():
        rows = list(db.session.execute(
            select(LedgerEntry).where(LedgerEntry.org_id == org_id, LedgerEntry.seq >= seq - 1)
            .order_by(LedgerEntry.seq).execution_options(all_orgs=True)).scalars())
        prev = rows[0].hash
        updates = []
        for row in rows[1:]:
            text_ = payload if row.seq == seq else row.payload
            body = canonical.entry_body(org_id=row.org_id, seq=row.seq, at=row.at, actor=row.actor,
                                        actor_id=row.actor_id, action=row.action, subject_type=row.subject_type,
                                        subject_id=row.subject_id, payload_text=text_)
            digest = canonical.entry_hash(prev, body)
            updates.append({"id": row.id, "payload": text_, "prev": prev, "hash": digest})
            prev = digest
        db.session.remove()
        for u in updates:
            db.session.execute(text("UPDATE ledger_entry SET payload = :payload, prev_hash = :prev, hash = :hash "
                                    "WHERE id = :id"), u)
        db.session.execute(text("UPDATE ledger_head SET seq = :s, hash = :h WHERE org_id = :o"),
                           {"s": rows[-1].seq, "h": prev, "o": org_id})
        db.session.commit()
        db.session.remove()


def test_a_consistent_rewrite_is_caught_by_the_checkpoint(app, runner, tmp_path, signed):
    team, document = signed
    target = 3
    assert target < document["seq"]
    _rewrite_from(app, team.org.id, target, '{"email":"nobody@example.jp"}')
    result = team.run(lambda: ledger.verify(team.org.id))
    # Every link and the head are consistent again: only the checkpoint tells.
    assert result["ok"] is False
    assert result["checkpoint"]["signature_ok"] is True and result["checkpoint"]["matches"] is False
    assert result["first_bad"]["seq"] == document["seq"] and "checkpoint" in result["first_bad"]["problem"]

    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(document), encoding="utf-8")
    out = runner.invoke(args=["ledger", "verify", "--org", team.org.slug, "--checkpoint", str(kept)])
    assert out.exit_code == 1
    assert f"entry seq {document['seq']} " in out.output
    assert f"BROKEN: checkpoint: entry {document['seq']} no longer has the checkpoint's hash" in out.output


def test_the_kept_checkpoint_catches_a_rewrite_that_also_removed_the_stored_checkpoints(app, runner, tmp_path, signed):
    team, document = signed
    _rewrite_from(app, team.org.id, 2, '{}')
    with app.app_context():
        db.session.execute(text("DELETE FROM ledger_checkpoint WHERE org_id = :o"), {"o": team.org.id})
        db.session.commit()
        db.session.remove()
    assert team.run(lambda: ledger.verify(team.org.id))["ok"] is True  # the database alone looks fine
    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(document), encoding="utf-8")
    out = runner.invoke(args=["ledger", "verify", "--checkpoint", str(kept)])
    assert out.exit_code == 1 and "BROKEN: checkpoint" in out.output


def test_an_intact_chain_passes_the_kept_checkpoint(runner, tmp_path, signed):
    team, document = signed
    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(document), encoding="utf-8")
    out = runner.invoke(args=["ledger", "verify", "--checkpoint", str(kept)])
    assert out.exit_code == 0, out.output
    assert f"ok: checkpoint seq {document['seq']} matches the ledger" in out.output


def test_cli_checkpoint_prints_a_document_that_verifies(runner, team):
    out = runner.invoke(args=["ledger", "checkpoint", "--org", team.org.slug])
    assert out.exit_code == 0
    document = json.loads(out.output.strip().splitlines()[-1])
    assert ledger.signature_ok(document, document["public_key"])
    assert document["seq"] == len(team.entries()) - 1  # the checkpoint entry follows it
