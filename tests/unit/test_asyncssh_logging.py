"""collector.ssh_pool asks asyncssh's logger for the level before asyncssh formats a record's arguments."""
from __future__ import annotations

import logging

import asyncssh.logging as ssh_logging

import collector.ssh_pool  # noqa: F401 - installs the check


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return "counted"


def test_disabled_records_are_not_formatted(caplog):
    logger = ssh_logging.logger.get_child("conn", "conn=1")
    caplog.set_level(logging.WARNING, logger="asyncssh")
    arg = Counted()
    logger.debug1("Opening %s", [arg])  # a list: asyncssh joins its items' text (str() of each)
    logger.info("Received %s", [arg])
    assert arg.calls == 0
    assert not [r for r in caplog.records if r.name.startswith("asyncssh")]


def test_enabled_records_are_logged_as_asyncssh_writes_them(caplog):
    logger = ssh_logging.logger.get_child("conn", "conn=1")
    caplog.set_level(logging.INFO, logger="asyncssh")
    arg = Counted()
    logger.info("Received %s", [arg, b"bytes", 7])
    assert arg.calls == 1
    assert [r.getMessage() for r in caplog.records if r.name.startswith("asyncssh")] == \
        ["[conn=1] Received counted,bytes,7"]
