"""Schemas of the transitions API: the request to take one, and the list of those on offer."""
from marshmallow import INCLUDE, Schema, fields, validate

from app.workflow.definition import FIELD_TYPES


class TransitionRequestSchema(Schema):
    """Take a transition with the version you read.

    The transition's own fields may be sent under ``fields`` or at the top level.
    """

    class Meta:
        unknown = INCLUDE

    transition = fields.Str(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "The transition's name, e.g. start_triage"})
    version = fields.Int(required=True, strict=True,
                         metadata={"description": "The incident's version you read (409 when stale)"})
    comment = fields.Str(load_default="", validate=validate.Length(max=5000))
    fields_ = fields.Dict(keys=fields.Str(), data_key="fields", load_default=dict,
                          metadata={"description": "Values of the transition's fields, by name"})


class TransitionLabelSchema(Schema):
    """A text in English and Japanese."""

    en = fields.Str(dump_only=True)
    ja = fields.Str(dump_only=True)


class TransitionFieldSchema(Schema):
    """A field a transition asks for."""

    name = fields.Str(dump_only=True)
    type = fields.Str(dump_only=True, metadata={"enum": list(FIELD_TYPES)})
    required = fields.Bool(dump_only=True)
    label = fields.Str(dump_only=True, metadata={"description": "In the caller's language"})
    labels = fields.Nested(TransitionLabelSchema, dump_only=True)
    options = fields.List(fields.Str(), dump_only=True, metadata={"description": "choice and multichoice only"})


class AvailableTransitionSchema(Schema):
    """A transition the caller may take now."""

    name = fields.Str(dump_only=True)
    label = fields.Str(dump_only=True, metadata={"description": "In the caller's language (ja or en)"})
    labels = fields.Nested(TransitionLabelSchema, dump_only=True)
    to = fields.Str(dump_only=True, metadata={"description": "The target state"})
    to_label = fields.Str(dump_only=True)
    required_fields = fields.List(fields.Nested(TransitionFieldSchema), dump_only=True,
                                  metadata={"description": "The fields that must be sent"})
    fields_ = fields.List(fields.Nested(TransitionFieldSchema), dump_only=True, data_key="fields",
                          metadata={"description": "Every field the transition takes (required or not)"})


class AvailableTransitionListSchema(Schema):
    """The transitions the caller may take now."""

    items = fields.List(fields.Nested(AvailableTransitionSchema), dump_only=True)
    state = fields.Str(dump_only=True)
    version = fields.Int(dump_only=True)


def field_view(spec, locale):
    """A FieldSpec as the API shows it."""
    return {
        "name": spec.name, "type": spec.type, "required": spec.required,
        "label": spec.label.get(locale), "labels": {"en": spec.label.en, "ja": spec.label.ja},
        "options": [str(o) for o in spec.options],
    }


def transition_view(transition, definition, locale, current_state=None):
    """A Transition as the API shows it (``to`` resolved from ``current_state`` for "=")."""
    to_state = definition.target_of(transition, current_state) if current_state else transition.to
    target = definition.states.get(to_state)
    every = [field_view(f, locale) for f in transition.fields]
    return {
        "name": transition.name,
        "label": transition.label.get(locale),
        "labels": {"en": transition.label.en, "ja": transition.label.ja},
        "to": to_state,
        "to_label": target.label.get(locale) if target else to_state,
        "required_fields": [f for f in every if f["required"]],
        "fields_": every,
    }
