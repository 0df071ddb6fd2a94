"""Query parameters of the export endpoints: the incident list's filters, without paging."""
from marshmallow import fields

from app.incidents.schemas import IncidentListQuerySchema


class ExportQuerySchema(IncidentListQuerySchema):
    """The incident list's filters; an export has every matching incident, so no limit or cursor."""

    class Meta:
        exclude = ("limit", "cursor")


class AiidExportQuerySchema(ExportQuerySchema):
    """The filters, and whether an admin wants confidential incidents in the draft too."""

    include_confidential = fields.Bool(
        load_default=False,
        metadata={"description": "Admins only (403 otherwise): also export confidential incidents. "
                                 "Left out by default."},
    )
