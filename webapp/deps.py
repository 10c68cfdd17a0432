"""Request dependencies: the running hub and a database session."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from collector.hub import Hub


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


def get_session(request: Request) -> Iterator[Session]:
    """A session on the web's pool (webapp.database), closed as soon as the handler returns."""
    with Session(request.app.state.engine) as session:
        yield session


HubDep = Annotated[Hub, Depends(get_hub)]
# scope="function": the connection goes back to the pool before the response is sent, not after a slow
# client has read it
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
