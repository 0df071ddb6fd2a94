"""A NUL character in a search query separates terms (found by fuzzing: FTS5 refused it with a 500)."""
from app.search.service import terms_of


def test_nul_separates_terms():
    assert terms_of("abc\x00def") == ["abc", "def"]
    assert terms_of("\x00\x00") == []
