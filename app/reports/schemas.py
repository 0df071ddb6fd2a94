"""Schemas of the report pack API: query, job request and job view."""
from marshmallow import Schema, fields, validate


class ReportPackQuerySchema(Schema):
    """How to answer the report pack: the format and the language of its labels."""

    format = fields.Str(load_default="json", validate=validate.OneOf(["json", "csv"]),
                        metadata={"description": "json (default) or csv (UTF-8 with BOM, sections as rows)"})
    lang = fields.Str(validate=validate.OneOf(["ja", "en"]),
                      metadata={"description": "Language of the labels; default: the caller's language"})


class ReportJobCreateSchema(Schema):
    """A report pack to build in the background."""

    format = fields.Str(load_default="json", validate=validate.OneOf(["json", "csv", "html"]),
                        metadata={"description": "json (default), csv or html (the printable page)"})
    lang = fields.Str(validate=validate.OneOf(["ja", "en"]),
                      metadata={"description": "Language of the labels; default: the caller's language"})


class ReportJobSchema(Schema):
    """A report pack job: its status, progress and, once done, the file to download."""

    id = fields.Int(dump_only=True)
    kind = fields.Str(dump_only=True)
    status = fields.Str(dump_only=True, metadata={"enum": ["queued", "running", "done", "failed"]})
    progress = fields.Int(dump_only=True, metadata={"description": "Steps done (sections and ledger entries)"})
    total = fields.Int(dump_only=True, metadata={"description": "Steps in all (0 until the job starts)"})
    percent = fields.Int(dump_only=True)
    incident_id = fields.Int(dump_only=True)
    format = fields.Str(dump_only=True)
    lang = fields.Str(dump_only=True)
    filename = fields.Str(dump_only=True)
    content_type = fields.Str(dump_only=True)
    error = fields.Str(dump_only=True)
    created_at = fields.Str(dump_only=True, metadata={"format": "date-time"})
    finished_at = fields.Str(dump_only=True, allow_none=True, metadata={"format": "date-time"})
    download_url = fields.Str(dump_only=True, allow_none=True, metadata={"description": "Once done"})

