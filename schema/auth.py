"""Users, API tokens and login sessions: the query functions the CLI, the login page and the guard share.

Passwords are hashed with argon2id (argon2-cffi's defaults: slow and salted).
Tokens and session ids are 256-bit random values shown once; only their SHA-256
is stored, so a copy of the database lets nobody in.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from schema.auth_models import ROLES, ApiToken, User, WebSession

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
TOKEN_PREFIX = "fw_"
_HASHER = PasswordHasher()
# verified against when the user does not exist, so a wrong name costs as long as a wrong password
@functools.cache
def _dummy_hash() -> str:
    """What an unknown user's password is checked against (same time either way); made on first use,
    not at import: argon2 takes 64 MiB and 50 ms, which every process importing this would pay."""
    return _HASHER.hash("not a password of anyone")


class AuthError(ValueError):
    """A name, role or password that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in user or an API token."""

    name: str
    role: str
    kind: str  # "session" | "token"
    csrf_token: str | None = None  # sessions only: state-changing requests must echo it

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str, what: str = "user") -> str:
    if not NAME.match(name or ""):
        raise AuthError(f"a {what} name is 1-64 letters, digits, . _ @ - (got {name!r})")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    return role


# --------------------------------------------------------------------------- users
def count_users(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


def add_user(session: Session, name: str, role: str, password: str, now: float) -> User:
    check_name(name)
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if session.execute(select(User).where(User.name == name)).first() is not None:
        raise AuthError(f"user {name!r} exists already")
    user = User(name=name, role=role, password_hash=_HASHER.hash(password), created_at=now)
    session.add(user)
    session.commit()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.name)).scalars())


def delete_user(session: Session, name: str) -> bool:
    user = session.execute(select(User).where(User.name == name)).scalars().first()
    if user is None:
        return False
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.delete(user)
    session.commit()
    return True


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if the password is right; None otherwise (same cost whether or not the name exists)."""
    user = session.execute(select(User).where(User.name == name)).scalars().first()
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return user


# --------------------------------------------------------------------------- tokens
def create_token(session: Session, name: str, role: str, now: float) -> str:
    """A new token, returned once; only its digest is stored."""
    check_name(name, "token")
    check_role(role)
    if session.execute(select(ApiToken).where(ApiToken.name == name)).first() is not None:
        raise AuthError(f"a token named {name!r} exists already (revoke it first, or pick another name)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=_digest(token), prefix=token[:8], created_at=now))
    session.commit()
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.name)).scalars())


def revoke_token(session: Session, name: str, now: float) -> bool:
    token = session.execute(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    row = token.scalars().first()
    if row is None:
        return False
    row.revoked_at = now
    session.commit()
    return True


def token_principal(session: Session, token: str, now: float) -> Principal | None:
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                 ApiToken.revoked_at.is_(None))).scalars().first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > 60:  # a write a minute at most
        row.last_used_at = now
        session.commit()
    return Principal(name=row.name, role=row.role, kind="token")


# --------------------------------------------------------------------------- sessions
def start_session(session: Session, user: User, now: float, ttl_s: float) -> str:
    """A new login session; returns the cookie value (only its digest is stored)."""
    cookie = secrets.token_urlsafe(32)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(WebSession(id_hash=_digest(cookie), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                           created_at=now, expires_at=now + ttl_s))
    session.commit()
    return cookie


def session_principal(session: Session, cookie: str, now: float) -> Principal | None:
    row = session.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                          .where(WebSession.id_hash == _digest(cookie))).first()
    if row is None or row[0].expires_at <= now:
        return None
    web, user = row
    return Principal(name=user.name, role=user.role, kind="session", csrf_token=web.csrf_token)


def end_session(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == _digest(cookie)))
    session.commit()


def same_secret(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
