"""Ledger verification speed: ``ledger.verify(org_id)`` against hashing the same bytes bare.

    python -m bench.ledger [--entries 100000] [--repeat 3] [--database-url postgresql+psycopg://...]

Builds N entries for one organisation quickly in a temporary SQLite file (WAL, the real
migrations): the organisation is created through the service (its first entry), then the
other N-1 entries are chained in Python exactly as the ledger chains them (canonical body,
SHA-256 over the previous hash and the body; payloads of incident-like size with Japanese
text) and inserted in batches, and the head row is moved. With ``--database-url`` (a
PostgreSQL server) the same is done in a throwaway database ``bench_ledger_<random>``
created next to the one named and dropped afterwards (the database named is not touched).

Then, best of ``--repeat`` runs each:

- **verify**: ``ledger.verify(org_id)`` (reads every row by pages of 2000, rebuilds each
  canonical body, recomputes every hash, checks every link, the head and the checkpoint);
- **bare**: a Python loop over the same canonical bodies (already in memory as bytes) doing
  only ``hashlib.sha256(prev.encode()); update(body); hexdigest()``.

Prints entries/s of both and the ratio verify/bare (the cost of reading rows and rebuilding
the bodies on top of the hashing). Results also go to ``bench/results/ledger-*.json``.
"""
import argparse
import hashlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.filing import save_results

BATCH = 5000


def make_config(database_url, tmp):
    """A configuration class for the benchmark's database (no background threads)."""
    from config import Config

    return type("BenchLedgerConfig", (Config,), {
        "ENV_NAME": "bench", "SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": database_url,
        "ESCALATION_SWEEP_IN_PROCESS": False, "DELIVERY_JOBS_ENABLED": False, "REDIS_URL": None,
        "LEDGER_SIGNING_KEY_FILE": str(tmp / "ledger-key.pem"),
    })


def payload_of(i):
    """An incident-like payload (canonical JSON text), varied by ``i``."""
    from app.ledger import canonical

    return canonical.dumps({
        "number": i, "state": "triage", "workflow": "jp-ai-incident", "workflow_version": 1,
        "facts": {"title": f"チャットボットが他の顧客の注文履歴を表示した #{i}",
                  "description": "The support chatbot answered with order details of a different customer.",
                  "severity": ("sev1", "sev2", "sev3", "sev4")[i % 4], "jurisdictions": ["JP"],
                  "personal_data": bool(i % 2), "aware_at": "2026-04-01T00:00:00.000000Z"},
    })


def build(app, n):
    """Create the organisation and chain ``n`` entries; returns (org_id, bodies, seconds)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.ledger import canonical
    from app.ledger.models import LedgerEntry, LedgerHead
    from app.orgs import service as orgs

    started = time.perf_counter()
    with app.app_context():
        org = orgs.create_org(slug="bench", name="Bench 株式会社", actor="bench")
        org_id = org.id
        first = db.session.execute(select(LedgerEntry).where(LedgerEntry.org_id == org_id)
                                   .execution_options(all_orgs=True)).scalar_one()
        bodies = [canonical.entry_body(
            org_id=org_id, seq=1, at=first.at, actor=first.actor, actor_id=first.actor_id, action=first.action,
            subject_type=first.subject_type, subject_id=first.subject_id, payload_text=first.payload)]
        prev, seq = first.hash, 1
        base = datetime.now(timezone.utc)
        table = LedgerEntry.__table__
        rows = []
        while seq < n:
            seq += 1
            at = base + timedelta(milliseconds=seq)
            text = payload_of(seq)
            actor, action = f"user:{seq % 50 + 1} lead{seq % 50}@bench.example.jp", "transition"
            body = canonical.entry_body(org_id=org_id, seq=seq, at=at, actor=actor, actor_id=seq % 50 + 1,
                                        action=action, subject_type="incident", subject_id=seq,
                                        payload_text=text)
            digest = canonical.entry_hash(prev, body)
            bodies.append(body)
            rows.append({"org_id": org_id, "seq": seq, "at": at, "actor": actor, "actor_id": seq % 50 + 1,
                         "action": action, "subject_type": "incident", "subject_id": seq, "payload": text,
                         "prev_hash": prev, "hash": digest})
            prev = digest
            if len(rows) == BATCH or seq == n:
                db.session.execute(table.insert().execution_options(all_orgs=True), rows)
                db.session.commit()
                rows = []
        db.session.execute(LedgerHead.__table__.update().where(LedgerHead.org_id == org_id)
                           .values(seq=seq, hash=prev).execution_options(all_orgs=True))
        db.session.commit()
        db.session.remove()
    return org_id, bodies, time.perf_counter() - started


def bare(bodies):
    """Hash the bodies in a chain, nothing else; returns the last hash."""
    prev = "0" * 64
    sha256 = hashlib.sha256
    for body in bodies:
        digest = sha256(prev.encode("ascii"))
        digest.update(body)
        prev = digest.hexdigest()
    return prev


def best_of(repeat, fn):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(app, n, repeat):
    """Build, verify and hash; returns the figures."""
    from app.extensions import db
    from app.ledger import service as ledger

    org_id, bodies, build_s = build(app, n)
    with app.app_context():
        verify_s, result = best_of(repeat, lambda: (ledger.verify(org_id), db.session.rollback())[0])
        db.session.remove()
    if not result["ok"] or result["entries"] != n:
        raise SystemExit(f"the built chain does not verify: {result}")
    bare_s, last = best_of(repeat, lambda: bare(bodies))
    if last != result["head"]["hash"]:
        raise SystemExit("the bare loop does not reach the head hash: the bodies differ from the ledger's")
    return {"entries": n, "build_seconds": round(build_s, 2), "verify_seconds": round(verify_s, 3),
            "bare_seconds": round(bare_s, 3), "verify_per_s": round(n / verify_s), "bare_per_s": round(n / bare_s),
            "ratio": round(bare_s / verify_s, 3), "body_bytes_avg": round(sum(map(len, bodies)) / n)}


def report(name, r):
    print(f"{name}: {r['entries']} entries (built in {r['build_seconds']} s, {r['body_bytes_avg']} bytes a body)")
    print(f"  ledger.verify     {r['verify_per_s']:>10,} entries/s  ({r['verify_seconds']} s)")
    print(f"  bare hashlib loop {r['bare_per_s']:>10,} entries/s  ({r['bare_seconds']} s)")
    print(f"  ratio verify/bare {r['ratio']:.3f}  (bare is {1 / r['ratio']:.1f}x faster)")


def run_on(database_url, tmp, n, repeat, name):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    app = create_app(make_config(database_url, tmp))
    with app.app_context():
        upgrade()
    try:
        figures = measure(app, n, repeat)
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
    report(name, figures)
    return figures


def throwaway_postgres(url_text, prefix="bench_ledger"):
    """Create ``<prefix>_<random>`` on the server of ``url_text``; returns (url, drop)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(url_text)
    name = f"{prefix}_{secrets.token_hex(4)}"
    maintenance = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with maintenance.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def main(argv=None):
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="entries in the chain (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--database-url", help="also run on this PostgreSQL server (in a throwaway database)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.entries < 1:
        sys.exit("--entries must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    os.environ.setdefault("INSTANCE_PATH", str(tmp / "instance"))
    results = {}
    try:
        results["sqlite"] = run_on(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp, args.entries, args.repeat, "SQLite")
        if args.database_url:
            url, drop = throwaway_postgres(args.database_url)
            try:
                results["postgresql"] = run_on(url, tmp, args.entries, args.repeat, "PostgreSQL")
            finally:
                drop()
        saved_args = {k: v for k, v in vars(args).items() if k != "database_url"}
        saved_args["postgresql"] = bool(args.database_url)
        path = save_results("ledger", {"args": saved_args, "results": results})
        print(f"saved {path.relative_to(Path(__file__).resolve().parent.parent)}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
