"""The suite's results table: rows, ratios, targets and their verdicts, as text or Markdown (pure Python)."""
from bench.dashboard import TARGET_SCALING as DASHBOARD_SCALING
from bench.filing import TARGET_RATIO as FILING_RATIO
from bench.queue import TARGET_RATIO as QUEUE_RATIO
from bench.queue import TARGET_SCALING as QUEUE_SCALING
from bench.sweep import TARGET as SWEEP_TARGET

# part -> (operator, target) of ours/bare; parts not listed have no target (the ratio is reported).
RATIO_TARGETS = {"filing": (">=", FILING_RATIO), "queue API": (">=", QUEUE_RATIO), "queue HTML": (">=", QUEUE_RATIO)}
SCALING_TARGETS = {"queue": ("<=", QUEUE_SCALING), "dashboard": ("<=", DASHBOARD_SCALING)}
SWEEP = (">=", SWEEP_TARGET)
COLUMNS = ("part", "database", "size", "ours req/s", "bare req/s", "ours/bare", "ours p50/p99 ms",
           "bare p50/p99 ms", "target", "verdict", "notes")


def ratio(ours, bare):
    """ours / bare, or None when bare is 0 or missing."""
    return ours / bare if ours is not None and bare else None


def verdict(value, target):
    """'met', 'MISSED' or '' (no target or no value); target is (op, bound) with op '>=' or '<='."""
    if target is None or value is None:
        return ""
    op, bound = target
    ok = value >= bound if op == ">=" else value <= bound
    return "met" if ok else "MISSED"


def failures(m):
    """(non-2xx answers, socket errors) of one measurement, whichever script produced it."""
    if m is None:
        return 0, 0
    non2xx = m.get("non_2xx", 0)
    non2xx = sum(non2xx.values()) if isinstance(non2xx, dict) else non2xx
    errors = m.get("errors", m.get("socket_errors", 0))
    errors = sum(errors.values()) if isinstance(errors, dict) else errors
    return non2xx, errors


def pair_row(part, database, size, ours, bare, target=None):
    """A row comparing our endpoint with the bare one (``ours``/``bare``: measure() dicts)."""
    target = target if target is not None else RATIO_TARGETS.get(part)
    value = ratio(ours and ours["rps"], bare and bare["rps"])
    notes = []
    for side, m in (("ours", ours), ("bare", bare)):
        non2xx, errors = failures(m)
        if non2xx:
            notes.append(f"{side}: {non2xx} non-2xx")
        if errors:
            notes.append(f"{side}: {errors} socket errors")
    return {"part": part, "database": database, "size": size, "ours": ours, "bare": bare, "value": value,
            "target": target, "verdict": verdict(value, target) if not notes else "FLAGGED", "notes": notes}


def figure_row(part, database, size, value, target=None, notes=()):
    """A row with one figure (a scaling ratio, sweep two/one, ledger verify/bare) in the ratio column."""
    return {"part": part, "database": database, "size": size, "ours": None, "bare": None, "value": value,
            "target": target, "verdict": verdict(value, target), "notes": list(notes)}


def scaling_rows(database, results, parts=(("queue API", "queue"), ("queue HTML", "queue"),
                                            ("dashboard API", "dashboard"), ("dashboard HTML", "dashboard"))):
    """p50 at the largest size / p50 at the smallest, per part, from ``{size: {part: ours measure}}``."""
    sizes = sorted(results)
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    rows = []
    for part, family in parts:
        a, b = results[small].get(part), results[large].get(part)
        if a and b and a["p50_ms"]:
            rows.append(figure_row(f"{part} p50 {human(large)}/{human(small)}", database, f"{human(large)}",
                                   b["p50_ms"] / a["p50_ms"], SCALING_TARGETS[family]))
    return rows


def human(n):
    """10000 -> '10k', 1000000 -> '1M'."""
    if not isinstance(n, int):
        return str(n)
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def _cells(row):
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    ours, bare = row["ours"], row["bare"]
    lat = lambda m: "-" if m is None else f"{m['p50_ms']:.1f}/{m['p99_ms']:.1f}"  # noqa: E731
    target = "-" if row["target"] is None else f"{row['target'][0]} {row['target'][1]}"
    return [row["part"], row["database"], human(row["size"]), num(ours and ours["rps"], ".1f"),
            num(bare and bare["rps"], ".1f"), num(row["value"], ".2f"), lat(ours), lat(bare), target,
            row["verdict"] or "-", "; ".join(row["notes"])]


def format_table(rows, markdown=False):
    """The table as aligned text, or as a Markdown table."""
    cells = [_cells(r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join("---:" if c in ("ours req/s", "bare req/s", "ours/bare") else "---"
                                for c in COLUMNS) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(COLUMNS, *cells)]
    fmt = "  ".join(f"{{:{'>' if i in (2, 3, 4, 5) else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r).rstrip() for r in [list(COLUMNS)] + cells)
