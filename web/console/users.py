"""Console accounts: a name, a role, a password hash (Argon2id) and, for a unit user, its unit.

Roles: ``admin`` (热线管理机构: blocklist, knowledge base, reviews, everything), ``agent`` (话务员:
the agent screen, tickets, proposals to block), ``leader`` (领导及其工作人员: the leader desk and the
overview) and ``unit`` (承办单位: only the tickets dispatched to its unit). Accounts are made with
``hotline users add``; nothing is deleted: an account is disabled.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import require_aware
from core.db import Base, UTCDateTime
from tickets.models import Unit

ROLES = ("admin", "agent", "leader", "unit")
ROLE_ZH = {"admin": "管理员", "agent": "话务员", "leader": "领导", "unit": "承办单位"}
NAME = re.compile(r"^[\w.@-]{1,64}$")
PASSWORD_MAX = 1024

# Argon2id with argon2-cffi's defaults (RFC 9106 "low memory" profile: t=3, m=64 MiB, p=4)
_HASHER = PasswordHasher()
# verified when the account does not exist, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class UserError(ValueError):
    """The account cannot be made or changed; the message says why. Nothing was written."""


class User(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))                # ROLES
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)   # role unit only
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class Who:
    """The signed-in person, as the pages see them (a plain copy, no session attached)."""

    id: int
    name: str
    role: str
    unit_id: int | None = None
    unit_code: str | None = None
    unit_name: str | None = None

    @property
    def role_zh(self) -> str:
        return ROLE_ZH.get(self.role, self.role)


def who_of(session: Session, user: User) -> Who:
    unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
    return Who(user.id, user.name, user.role, user.unit_id, unit.code if unit else None, unit.name if unit else None)


def clean_user_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise UserError("a user name is 1 to 64 letters, digits, _ . @ or -")
    return name


def check_password(password: str, min_length: int) -> str:
    if not isinstance(password, str) or len(password) < min_length:
        raise UserError(f"the password must be at least {min_length} characters long")
    if len(password) > PASSWORD_MAX:
        raise UserError(f"the password is longer than {PASSWORD_MAX} characters")
    if any(ch in "\r\n\x00" for ch in password):
        raise UserError("the password must be one line")
    if password.strip() != password:
        raise UserError("the password must not start or end with spaces")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def get_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == (name or "").strip())).first()


def add_user(session: Session, *, name: str, role: str, password: str, by: str, now: datetime,
             unit_code: str | None = None, min_length: int = 10) -> User:
    require_aware(now, "now")
    name = clean_user_name(name)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    unit_id = None
    if role == "unit":
        if not unit_code:
            raise UserError("a unit user needs --unit CODE (a handling unit: hotline tickets units)")
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise UserError(f"no handling unit {unit_code!r} (see: hotline tickets units)")
        if not unit.active:
            raise UserError(f"handling unit {unit_code!r} is inactive")
        unit_id = unit.id
    elif unit_code:
        raise UserError("--unit is only for unit users (--role unit)")
    check_password(password, min_length)
    if get_user(session, name) is not None:
        raise UserError(f"user {name} already exists")
    user = User(name=name, role=role, unit_id=unit_id, password_hash=hash_password(password), active=True,
                created_at=now, created_by=by[:80], password_changed_at=now)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str, *, now: datetime, min_length: int = 10) -> User:
    user = get_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    check_password(password, min_length)
    user.password_hash, user.password_changed_at = hash_password(password), now
    session.flush()
    return user


def set_active(session: Session, name: str, active: bool) -> User:
    user = get_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    user.active = active
    session.flush()
    return user


def list_users(session: Session) -> list[tuple[User, Unit | None]]:
    rows = session.execute(select(User, Unit).outerjoin(Unit, Unit.id == User.unit_id).order_by(User.name))
    return [tuple(r) for r in rows]


def verify(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, else None (same cost either way).

    A hash made with weaker parameters than today's is replaced after a good log-in."""
    user = get_user(session, name) if NAME.match((name or "").strip()) else None
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _HASHER.verify(stored, (password or "")[:PASSWORD_MAX])
        ok = user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        session.execute(update(User).where(User.id == user.id).values(password_hash=hash_password(password)))
    return user
