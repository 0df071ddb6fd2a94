"""Background job of the report pack (thin: scope, then the service)."""
from app.tenancy import scoped


def build_pack_job(org_id, job_id):
    """Build the file of report-pack job ``job_id`` of organisation ``org_id`` (safe to run twice)."""
    from app.reports import service

    with scoped(org_id):
        service.run_pack_job(job_id)
