"""Each organisation has its own chain: its own sequence numbers from 1, its own genesis, its own head."""
from app.ledger import canonical
from app.ledger import service as ledger
from tests.ledger.conftest import entries_of


def test_two_organisations_chains_are_independent(app, factory, team):
    other = factory.org("second")
    factory.user(other, "admin")
    team.file()
    mine, theirs = team.entries(), entries_of(app, other.id)
    assert [e["seq"] for e in theirs] == [1, 2] and [e["seq"] for e in mine] == list(range(1, len(mine) + 1))
    assert mine[0]["prev_hash"] == theirs[0]["prev_hash"] == canonical.GENESIS
    assert theirs[1]["prev_hash"] == theirs[0]["hash"]
    # Appends of one organisation never move the other's head.
    assert team.run(lambda: ledger.head(other.id)) == (2, theirs[1]["hash"])
    team.file()
    assert team.run(lambda: ledger.head(other.id)) == (2, theirs[1]["hash"])
    assert team.run(lambda: ledger.verify(other.id))["entries"] == 2
