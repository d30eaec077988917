"""Who may do what. Pages declare a permission; a permission names the roles that hold it.

The unit role is also enforced in the queries: :func:`ticket_scope` narrows every ticket query
of a unit user to its own unit, so a unit never sees another's ticket whatever URL it types.
"""
from __future__ import annotations

from sqlalchemy import false

from tickets.models import Ticket
from web.console.users import Who

ADMIN, AGENT, LEADER, UNIT = "admin", "agent", "leader", "unit"

PERMISSIONS: dict[str, frozenset[str]] = {
    "overview": frozenset({ADMIN, LEADER}),
    "audit": frozenset({ADMIN}),
    "blocklist.admin": frozenset({ADMIN}),              # search, add, approve, reject, lift, history
    "blocklist.propose": frozenset({ADMIN, AGENT}),     # from a call, on the agent screen
    "tickets.view": frozenset({ADMIN, AGENT, LEADER, UNIT}),   # units: their own only (ticket_scope)
    "tickets.create": frozenset({ADMIN, AGENT}),
    "tickets.dispatch": frozenset({ADMIN, AGENT}),
    "tickets.review": frozenset({ADMIN}),               # closure review, extensions, reopen
    "tickets.unit": frozenset({UNIT}),                  # accept, decline, report, ask for an extension
    "tickets.rate": frozenset({ADMIN, AGENT}),          # a rating heard on a return visit
    "tickets.personal": frozenset({ADMIN, AGENT}),      # the caller's full number
    "kb.search": frozenset({ADMIN, AGENT}),
    "kb.edit": frozenset({ADMIN}),
    "leader.view": frozenset({ADMIN, AGENT, LEADER}),
    "leader.publish": frozenset({ADMIN, LEADER}),
    "agent.screen": frozenset({ADMIN, AGENT}),
}

LANDING = {ADMIN: "/console/overview", LEADER: "/console/leader", AGENT: "/console/agent", UNIT: "/console/tickets"}


def can(who: Who | None, permission: str) -> bool:
    if who is None:
        return False
    roles = PERMISSIONS.get(permission)
    if roles is None:
        raise KeyError(f"unknown permission {permission!r}")
    return who.role in roles


def landing(who: Who) -> str:
    return LANDING.get(who.role, "/console/tickets")


def ticket_scope(query, who: Who):
    """Tickets ``who`` may see: a unit user its unit's only (none if it has no unit)."""
    if who.role == UNIT:
        if who.unit_id is None:
            return query.where(false())
        return query.where(Ticket.unit_id == who.unit_id)
    return query
