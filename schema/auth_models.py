"""Tables of who may use the hub (SPEC section 6): users, API tokens, login sessions.

No secret is stored: passwords as argon2 hashes, tokens and session ids as
SHA-256 digests of 256-bit random values (a slow hash buys nothing there).
"""
from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

ROLES = ("admin", "viewer")


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    created_at: float


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # the first characters, to recognise a token in a list
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)
    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(index=True)
    csrf_token: str = Field(max_length=64)
    created_at: float
    expires_at: float
