"""Request dependencies: the fleet as the web sees it, and a database session."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from webapp.fleet_source import FleetSource


def get_fleet(request: Request) -> FleetSource:
    return request.app.state.fleet


def get_session(request: Request) -> Iterator[Session]:
    """A session on the web's pool (webapp.database), closed as soon as the handler returns."""
    with Session(request.app.state.engine) as session:
        yield session


FleetDep = Annotated[FleetSource, Depends(get_fleet)]
# scope="function": the connection goes back to the pool before the response is sent, not after a slow
# client has read it
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
