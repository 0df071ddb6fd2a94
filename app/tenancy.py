"""Tenant isolation by construction.

Every model that belongs to an organisation inherits :class:`OrgScoped`. Every
ORM query made through the session is given a criterion ``org_id = <scope>``
for all such entities (including joins, relationship loads and aliases).
A query made with no scope set fails closed with :class:`NoTenantScope`,
unless it explicitly asks for ``execution_options(all_orgs=True)`` (login,
CLI tools that work across organisations).
"""
from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_app_context
from sqlalchemy import ForeignKey, Table, event
from sqlalchemy.sql import visitors
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, with_loader_criteria


class NoTenantScope(RuntimeError):
    """An organisation-owned table was queried with no organisation in scope."""


_scope: ContextVar = ContextVar("tenant_scope", default=None)


class OrgScoped:
    """Mixin for organisation-owned rows: adds ``org_id`` and puts them under the scope."""

    @declared_attr
    def org_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True, nullable=False)


def current_org_id():
    """The organisation in scope: a ``scoped()`` block first, else the request's."""
    value = _scope.get()
    if value is not None:
        return value
    if has_app_context():
        return g.get("org_id")
    return None


def set_request_org(org_id):
    """Put this request under an organisation (called once the caller is authenticated)."""
    g.org_id = org_id


@contextmanager
def scoped(org_id):
    """Run a block (a job, a CLI command, a test) under one organisation's scope."""
    token = _scope.set(org_id)
    try:
        yield
    finally:
        _scope.reset(token)


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state):
    if state.is_column_load or state.is_relationship_load:
        return  # the parent query already carried the criteria (propagated)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_orgs"):
        return
    if not _touches_scoped_entity(state):
        return
    org_id = current_org_id()
    if org_id is None:
        raise NoTenantScope("query of organisation-owned data with no organisation in scope")
    state.statement = state.statement.options(
        with_loader_criteria(OrgScoped, lambda cls: cls.org_id == org_id, include_aliases=True)
    )


def _scoped_tables():
    tables = set()
    for sub in _all_subclasses(OrgScoped):
        table = getattr(sub, "__table__", None)
        if table is not None:
            tables.add(table)
    return tables


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _touches_scoped_entity(state):
    """True when any table of an organisation-owned model appears anywhere in the statement."""
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, OrgScoped):
            return True
    # select(func.count()).select_from(Model), subqueries, EXISTS: walk the statement.
    scoped_tables = _scoped_tables()
    found = False
    for element in visitors.iterate(state.statement):
        if isinstance(element, Table) and element in scoped_tables:
            if not getattr(element, "_annotations", None):
                # A bare Core table would not receive the ORM criteria: refuse it.
                raise NoTenantScope(
                    f"query of table {element.name!r} through Core; use the mapped class so it is scoped"
                )
            found = True
    return found
