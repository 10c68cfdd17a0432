"""`fleetwatch user add|list|delete` and `fleetwatch token create|list|revoke` (SPEC section 6).

A password is never a command-line argument (it would show in `ps` and the shell
history): it is asked twice at a terminal, or read from stdin with
`--password-stdin`. A token is printed once; only its digest is stored.
"""
from __future__ import annotations

import argparse
import getpass
import sys
import time

from collector.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from collector.cli.common import err as _err
from collector.cli.db import DB_HELP
from schema.auth_models import ROLES


def _session(url: str | None):
    """A session on the (upgraded) database; DatabaseError says what is wrong."""
    from sqlmodel import Session

    from schema.db import make_engine
    from schema.migrate import upgrade

    url = _db(url)
    upgrade(url, log=lambda line: print(f"fleetwatch db: {line}", file=sys.stderr))
    return Session(make_engine(url))


def _db(url: str | None) -> str:
    from schema.db import default_db_url, normalize_url

    return normalize_url(url or default_db_url())


def _where(url: str | None) -> str:
    """The database a user or token went into, for the confirmation: without --db it is $FLEETWATCH_DB or the
    data folder's file, and a user added to another database than the hub's cannot log in there."""
    from schema.db import redact

    return f"in {redact(_db(url))} (the hub must use the same database: --db or $FLEETWATCH_DB)"


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        _err("the two passwords differ; nothing was changed")
        return None
    return first


def _run(fn) -> int:
    from schema.auth import AuthError
    from schema.db import DatabaseError

    try:
        return fn()
    except (AuthError, DatabaseError) as exc:
        _err(str(exc))
        return EXIT_USAGE


def cmd_user_add(args: argparse.Namespace) -> int:
    from schema import auth

    def add() -> int:
        password = _password(args)
        if password is None:
            return EXIT_FAILED
        with _session(args.db) as session:
            auth.add_user(session, args.name, args.role, password, time.time())
        print(f"user {args.name} ({args.role}) added {_where(args.db)}; log in at the hub's /login")
        return EXIT_OK
    return _run(add)


def cmd_user_list(args: argparse.Namespace) -> int:
    from schema import auth

    def show() -> int:
        with _session(args.db) as session:
            users = auth.list_users(session)
        if not users:
            print("no users yet: fleetwatch user add NAME --role admin")
        for u in users:
            print(f"{u.name}\t{u.role}\tsince {time.strftime('%Y-%m-%d %H:%M', time.localtime(u.created_at))}")
        return EXIT_OK
    return _run(show)


def cmd_user_delete(args: argparse.Namespace) -> int:
    from schema import auth

    def remove() -> int:
        with _session(args.db) as session:
            if not auth.delete_user(session, args.name):
                _err(f"no user named {args.name!r} (fleetwatch user list shows them)")
                return EXIT_FAILED
        print(f"user {args.name} deleted; their sessions are ended")
        return EXIT_OK
    return _run(remove)


def cmd_token_create(args: argparse.Namespace) -> int:
    from schema import auth

    def create() -> int:
        with _session(args.db) as session:
            token = auth.create_token(session, args.name, args.role, time.time())
        print(token)
        print(f"token {args.name} ({args.role}) created {_where(args.db)}: send it as `Authorization: Bearer "
              "<token>`. It is shown this once; only its digest is stored.", file=sys.stderr)
        return EXIT_OK
    return _run(create)


def cmd_token_list(args: argparse.Namespace) -> int:
    from schema import auth

    def show() -> int:
        with _session(args.db) as session:
            tokens = auth.list_tokens(session)
        if not tokens:
            print("no tokens: fleetwatch token create NAME --role viewer")
        for t in tokens:
            state = "revoked" if t.revoked_at else "active"
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.last_used_at)) if t.last_used_at else "never"
            print(f"{t.name}\t{t.role}\t{t.prefix}...\t{state}\tlast used {used}")
        return EXIT_OK
    return _run(show)


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from schema import auth

    def revoke() -> int:
        with _session(args.db) as session:
            if not auth.revoke_token(session, args.name, time.time()):
                _err(f"no active token named {args.name!r} (fleetwatch token list shows them)")
                return EXIT_FAILED
        print(f"token {args.name} revoked")
        return EXIT_OK
    return _run(revoke)


def register(subparsers) -> None:
    user = subparsers.add_parser("user", help="web UI users (admins change things, viewers look)")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="SUBCOMMAND")
    add = user_sub.add_parser("add", help="add a user; the password is asked (or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=cmd_user_add)
    for name, func, text in (("list", cmd_user_list, "list users"), ("delete", cmd_user_delete, "delete a user")):
        p = user_sub.add_parser(name, help=text)
        if name == "delete":
            p.add_argument("name")
        p.set_defaults(func=func)

    token = subparsers.add_parser("token", help="API tokens (Authorization: Bearer)")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="SUBCOMMAND")
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, required=True)
    create.set_defaults(func=cmd_token_create)
    token_sub.add_parser("list", help="list tokens (names, roles, first characters)").set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_token_revoke)
    for p in (add, create, revoke, *(user_sub.choices[n] for n in ("list", "delete")), token_sub.choices["list"]):
        p.add_argument("--db", metavar="URL", help=DB_HELP)
