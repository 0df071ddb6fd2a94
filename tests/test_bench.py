"""The benchmark suite's pure-Python pieces (no servers, no timing): options, rows, ratios,
targets, flags and the table, and that ``python -m bench --help`` works."""
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bench import table
from bench.__main__ import parse_args
from bench.queue import SEARCH_KEYS, SEARCH_TERM, incident_batches

ROOT = Path(__file__).resolve().parent.parent


def m(rps, p50=1.0, p99=2.0, non_2xx=0, errors=0):
    return {"name": "x", "rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": non_2xx, "errors": errors}


def test_help_runs():
    out = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--quick" in out.stdout and "--only" in out.stdout and "--database-url" in out.stdout


def test_modes_and_options():
    quick = parse_args(["--quick"])
    assert quick.size_list == [10_000, 50_000] and quick.databases == ("sqlite",) and quick.duration == 2
    full = parse_args([])
    assert full.size_list == [10_000, 1_000_000] and full.databases == ("sqlite", "postgresql")
    assert full.duration == 10 and full.sweep_timers == 100_000 and full.ledger_entries == 100_000
    picked = parse_args(["--quick", "--only", "queue,ledger", "--database", "postgresql", "--sizes", "1_000"])
    assert picked.parts == ("queue", "ledger") and picked.databases == ("postgresql",)
    assert picked.size_list == [1000]


def test_ratio_and_verdicts():
    assert table.ratio(60, 100) == 0.6 and table.ratio(1, 0) is None and table.ratio(None, 5) is None
    assert table.verdict(0.6, (">=", 0.6)) == "met"
    assert table.verdict(0.59, (">=", 0.6)) == "MISSED"
    assert table.verdict(1.5, ("<=", 1.5)) == "met"
    assert table.verdict(2.1, ("<=", 2.0)) == "MISSED"
    assert table.verdict(3.0, None) == "" and table.verdict(None, (">=", 1)) == ""


def test_pair_rows_take_their_targets_and_flag_failures():
    filing = table.pair_row("filing", "sqlite", "-", m(300), m(1000))
    assert filing["target"] == (">=", 0.6) and filing["verdict"] == "MISSED" and abs(filing["value"] - 0.3) < 1e-9
    queue = table.pair_row("queue HTML", "sqlite", 10_000, m(80), m(100))
    assert queue["target"] == (">=", 0.7) and queue["verdict"] == "met"
    assert table.pair_row("search API", "postgresql", 10_000, m(1), m(2))["target"] is None
    # filing's measure() gives dicts of statuses and socket errors, the GET measure() counts.
    flagged = table.pair_row("filing", "sqlite", "-", {**m(900), "non_2xx": {"500": 3}, "socket_errors": {"read": 0}},
                             m(1000))
    assert flagged["verdict"] == "FLAGGED" and flagged["notes"] == ["ours: 3 non-2xx"]
    assert table.pair_row("queue API", "sqlite", 1, m(900), m(1000, errors=2))["notes"] == ["bare: 2 socket errors"]


def test_scaling_rows_compare_largest_with_smallest():
    rows = table.scaling_rows("sqlite", {10_000: {"queue API": m(1, p50=10), "dashboard HTML": m(1, p50=50)},
                                         1_000_000: {"queue API": m(1, p50=16), "dashboard HTML": m(1, p50=90)}})
    by_part = {r["part"]: r for r in rows}
    assert by_part["queue API p50 1M/10k"]["verdict"] == "MISSED"  # 1.6 > 1.5
    assert by_part["dashboard HTML p50 1M/10k"]["verdict"] == "met"  # 1.8 <= 2
    assert table.scaling_rows("sqlite", {10_000: {"queue API": m(1)}}) == []


def test_table_text_and_markdown():
    rows = [table.pair_row("queue API", "sqlite", 1_000_000, m(950.04, 8.3, 13.1), m(2300, 3.4, 6.0)),
            table.figure_row("sweep two/one", "postgresql", 100_000, 1.71, table.SWEEP, ["one 10 s, two 5.8 s"])]
    text = table.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["part", "database", "size"] and len(lines) == 3
    assert "950.0" in lines[1] and "0.41" in lines[1] and "8.3/13.1" in lines[1] and "MISSED" in lines[1]
    assert "1.71" in lines[2] and ">= 1.6" in lines[2] and "met" in lines[2] and "100k" in lines[2]
    md = table.format_table(rows, markdown=True).splitlines()
    assert md[0].startswith("| part | database | size |") and md[1].startswith("|---")
    assert all(line.count("|") == len(table.COLUMNS) + 1 for line in md)
    assert [table.human(n) for n in (10_000, 1_000_000, 1234, "-")] == ["10k", "1M", "1234", "-"]


def test_seed_rows_fit_the_columns_and_carry_the_search_term():
    columns = ["id", "org_id", "number", "title", "description", "kind", "severity", "occurred_at", "aware_at",
               "jurisdictions", "harm_types", "assignee_id", "reporter_id", "state", "state_entered_at", "is_open",
               "queue_due_at", "created_at", "updated_at", "resolved_at"]
    batches = list(incident_batches(columns, 2500, 1, 1, [1, 2], datetime(2026, 11, 27), batch=1000))
    rows = [r for batch, _tags in batches for r in batch]
    assert [len(b) for b, _ in batches] == [1000, 1000, 500] and all(len(r) == len(columns) for r in rows)
    assert [r[0] for r in rows] == list(range(1, 2501))
    title = columns.index("title")
    assert sum(SEARCH_TERM in r[title] for r in rows) == len([n for n in range(1, 2501) if n % SEARCH_KEYS == 42])
    assert all(r[columns.index("is_open")] == 1 for r in rows[-50:])
