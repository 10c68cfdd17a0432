"""Failure classes for talking to a host, shared by the pool, the CLI and the hub."""
from __future__ import annotations

from enum import Enum


class Failure(str, Enum):
    """Why a host could not be probed; the value is what users and the API see."""

    AUTH_FAILED = "auth_failed"
    HOST_KEY_MISMATCH = "host_key_mismatch"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    PROBE_FAILED = "probe_failed"


class HostError(Exception):
    """A classified failure with a message that says what to do next."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message

    def __str__(self) -> str:
        return f"{self.failure.value}: {self.message}"
