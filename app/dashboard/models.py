"""Daily rollups of the dashboard, kept in the same transaction as every change of an incident.

One row per (organisation, day in the organisation's time zone, metric, key): ``filed`` counts
incidents by the day they were filed (key ``""`` for all, ``severity:sev1``, ``system:3`` or
``system:none``, ``harm_type:privacy``, ``principle:...``, ``jurisdiction:JP``); ``ack`` and
``res`` count incidents by the day they were acknowledged / resolved, with the sum of seconds
from filing; ``open`` counts the open incidents now (one snapshot day, ``rollup.OPEN_DAY``) by
key ``state<TAB>severity<TAB>workflow<TAB>version``; ``tgt`` counts response targets
(state_target deadlines) by their due day, key ``met_on_time``, ``met_late`` or ``unmet``.
A period's figures read at most (days x keys) rows, whatever the history's size.
"""
from sqlalchemy import Date, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import OrgScoped


class DailyFigure(OrgScoped, db.Model):
    """How many incidents (and seconds) one day contributes to one figure."""

    __tablename__ = "dashboard_daily"
    id: Mapped[int] = mapped_column(primary_key=True)
    day = mapped_column(Date, nullable=False)
    metric: Mapped[str] = mapped_column(String(8), nullable=False)
    key: Mapped[str] = mapped_column(String(160), nullable=False, default="")
    n: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    __table_args__ = (
        UniqueConstraint("org_id", "day", "metric", "key", name="uq_dashboard_daily"),
        # Sums of one metric over all days (the unmet deadlines' ``due`` rows), index-only.
        Index("ix_dashboard_daily_metric_key", "org_id", "metric", "key", "day", "n"),
    )
