"""The in-memory shape of a workflow definition: what the loader builds and the engine runs.

A definition comes from YAML (``workflows/*.yaml``, or an organisation's stored copy),
is validated by ``app.workflow.schema`` and becomes these frozen dataclasses. The
engine never reads YAML; the loader never runs transitions.

YAML format (all labels are ``{en: ..., ja: ...}``)::

    id: jp-ai-incident            # unique name; an org copy may keep it or take a new one
    version: 1                    # shipped files: version of the file; org copies: stored version
    label: {en: ..., ja: ...}
    description: {en: ..., ja: ...}
    escalation_policy: default    # name of a policy in workflows/policies/ (escalation issue)
    applies_to:                   # selection: see Selector
      priority: 10                # higher wins; ties broken by id
      default: false              # the fallback when nothing else matches (exactly one)
      when:                       # every listed condition must hold; omitted = any
        kinds: [incident, hazard]
        severities: [sev1, sev2]
        jurisdictions_any: [EU]   # at least one of these in the incident's jurisdictions
        personal_data: true
        serious: true             # serious_incident, deaths > 0, widespread_infringement or
                                  # critical_infrastructure (as the eu-ai-act-73 rule reads it)
    initial_state: reported
    states:
      reported:
        category: triage          # triage | active | reporting | review | closed
        label: {en: Reported, ja: 報告済み}
        targets: {sev1: 1h, sev2: 4h, sev3: 1d, sev4: 3d}   # response target per severity
    transitions:
      - name: start_triage
        from: [reported]          # list of states, or "*" for any non-closed state
        to: triage                # or "=": stay in the current state (a step recorded anywhere)
        label: {en: Start triage, ja: トリアージ開始}
        roles: [responder, lead, admin]
        fields:
          - name: summary
            type: text            # text | textarea | datetime | bool | int | choice | multichoice
            required: true
            label: {en: Summary, ja: 概要}
            options: [a, b]       # choice / multichoice only
            option_labels: {a: {en: ..., ja: ...}}   # optional, per option
            help: {en: ..., ja: ...}                 # optional
        guards:                   # every guard must pass for the transition to be offered
          - deadlines_met: [appi-preliminary]      # every deadline of these rules the incident carries is met
          - facts: {severities: [sev1]}            # same keys as applies_to.when
          - ministry_request_linked: true
          - any: [ {facts: {severities: [sev1]}}, {ministry_request_linked: true} ]
        meets: [appi-preliminary]  # deadlines this transition marks met (met_at = now, met_by = name)
        sets: {evidence_hold: true} # flags the transition records on the incident (scalars)
"""
from dataclasses import dataclass, field

# ``to: "="``: the transition records a step and stays in the state it was taken from.
STAY = "="

STATE_CATEGORIES = ("triage", "active", "reporting", "review", "closed")
FIELD_TYPES = ("text", "textarea", "datetime", "bool", "int", "choice", "multichoice")


@dataclass(frozen=True)
class Label:
    """A text in English and Japanese."""

    en: str
    ja: str

    def get(self, locale):
        """The text in ``locale`` ('ja' or 'en'), English as the fallback."""
        return self.ja if str(locale).startswith("ja") and self.ja else self.en


@dataclass(frozen=True)
class Conditions:
    """Facts an incident must have (None = any)."""

    kinds: tuple = None
    severities: tuple = None
    jurisdictions_any: tuple = None
    personal_data: bool = None
    serious: bool = None

    def matches(self, incident):
        """True when ``incident`` (any object with the incident's fact attributes) meets every condition."""
        if self.kinds is not None and (getattr(incident, "kind", None) or "incident") not in self.kinds:
            return False
        if self.severities is not None and getattr(incident, "severity", None) not in self.severities:
            return False
        if self.jurisdictions_any is not None and not set(getattr(incident, "jurisdictions", None) or ()) & set(
            self.jurisdictions_any
        ):
            return False
        if self.personal_data is not None and bool(getattr(incident, "personal_data", False)) != self.personal_data:
            return False
        if self.serious is not None and is_serious(incident) != self.serious:
            return False
        return True

    def is_empty(self):
        """True when no condition is set (matches every incident)."""
        return all(getattr(self, name) is None for name in CONDITION_NAMES)


CONDITION_NAMES = ("kinds", "severities", "jurisdictions_any", "personal_data", "serious")


def is_serious(incident):
    """A serious incident in the sense of the eu-ai-act-73 rule (DESIGN.md)."""
    return bool(
        getattr(incident, "serious_incident", False)
        or (getattr(incident, "deaths", 0) or 0) > 0
        or getattr(incident, "widespread_infringement", False)
        or getattr(incident, "critical_infrastructure", False)
    )


@dataclass(frozen=True)
class Guard:
    """One guard: exactly one of its attributes is set."""

    deadlines_met: tuple = None
    facts: Conditions = None
    ministry_request_linked: bool = None
    any: tuple = None  # of Guard


@dataclass(frozen=True)
class FieldSpec:
    """A field a transition asks for."""

    name: str
    type: str
    required: bool
    label: Label
    options: tuple = ()
    help: Label = None
    option_labels: dict = field(default_factory=dict)  # option code -> Label (optional)

    def option_label(self, code, locale):
        """The label of an option in ``locale`` (the code itself when it has none)."""
        label = self.option_labels.get(code)
        return label.get(locale) if label else code


@dataclass(frozen=True)
class State:
    """A state of the workflow."""

    name: str
    category: str
    label: Label
    targets: dict = field(default_factory=dict)  # severity -> seconds


@dataclass(frozen=True)
class Transition:
    """A move from some states to one state."""

    name: str
    sources: tuple  # state names; ("*",) = any non-closed state
    to: str
    label: Label
    roles: tuple
    fields: tuple = ()  # of FieldSpec
    guards: tuple = ()  # of Guard
    meets: tuple = ()  # rule ids
    sets: dict = field(default_factory=dict)  # flag name -> scalar recorded when taken


@dataclass(frozen=True)
class Selector:
    """Which incidents a workflow applies to."""

    priority: int = 0
    default: bool = False
    when: Conditions = field(default_factory=Conditions)


@dataclass(frozen=True)
class Definition:
    """A validated workflow definition."""

    id: str
    version: int
    label: Label
    description: Label
    initial_state: str
    states: dict  # name -> State, in file order
    transitions: tuple  # of Transition, in file order
    applies_to: Selector
    escalation_policy: str = None
    source: str = ""  # file path or "org:<id>" for messages
    yaml_text: str = ""

    def state(self, name):
        """The State called ``name`` (KeyError when unknown)."""
        return self.states[name]

    def target_of(self, transition, current_state):
        """The state a transition leads to from ``current_state`` (itself for ``to: "="``)."""
        return current_state if transition.to == STAY else transition.to

    def transitions_from(self, state_name):
        """Transitions whose sources include ``state_name`` (or any non-closed state)."""
        closed = self.states[state_name].category == "closed"
        return [t for t in self.transitions if state_name in t.sources or ("*" in t.sources and not closed)]
