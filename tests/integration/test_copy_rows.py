"""Sample rows into PostgreSQL through COPY (schema.copy_rows), against real SQLite and PostgreSQL:
the same rows as Core's INSERT would store, and the same exceptions for a refused value."""
from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from schema.copy_rows import copy_rows
from schema.models import Event, Sample, ServiceSample
from schema.samples import insert_many


def test_rows_land_with_defaults_and_nulls(session):
    rows = [{"host_id": "a", "ts": 1.5, "cpu_pct": 12.5, "mem_used_bytes": 2**40, "state": "degraded"},
            {"host_id": "b", "ts": 2.5, "cpu_pct": None}]  # no state: the column's default, "up"
    insert_many(session, Sample.__table__, rows)
    insert_many(session, ServiceSample.__table__, [
        {"host_id": "a", "ts": 1.5, "unit": "nginx.service", "active_state": "failed", "sub_state": "failed",
         "load_state": "loaded"}])
    insert_many(session, Event.__table__, [{"host_id": "a", "ts": 1.5, "type": "host_up", "subject": None,
                                             "message": "back: 中文 ok"}])
    session.commit()
    got = {r.host_id: r for r in session.scalars(select(Sample)).all()}
    assert (got["a"].state, got["a"].cpu_pct, got["a"].mem_used_bytes) == ("degraded", 12.5, 2**40)
    assert (got["b"].state, got["b"].cpu_pct, got["b"].mem_used_bytes) == ("up", None, None)
    assert session.scalars(select(ServiceSample.active_state)).all() == ["failed"]
    event = session.scalars(select(Event)).one()
    assert event.id is not None and event.message == "back: 中文 ok"
    assert copy_rows(session, Sample.__table__, [{"host_id": "c", "ts": 3.0}]) is \
        (session.get_bind().dialect.name == "postgresql")  # COPY on PostgreSQL only


@pytest.mark.parametrize("bad", [{"mem_used_bytes": 2**70}])
def test_a_refused_value_raises_what_an_insert_would(session, bad):
    """The batch writer falls back to row-by-row writes on a refused value (collector.recorder.refused_value):
    COPY must raise the same kind of exception, and the transaction must be usable after a rollback."""
    from collector.recorder import refused_value

    row = {"host_id": "a", "ts": 1.0, **bad}
    with pytest.raises(Exception) as caught:
        insert_many(session, Sample.__table__, [row])
        session.flush()
    assert refused_value(caught.value), repr(caught.value)
    session.rollback()
    insert_many(session, Sample.__table__, [{"host_id": "ok", "ts": 2.0}])
    session.commit()
    assert session.scalars(select(Sample.host_id)).all() == ["ok"]


def test_a_lost_connection_is_not_a_refused_value(pg_test_url):
    """A COPY whose server connection is gone raises what the writer keeps the rows for (not a refused value)."""
    from sqlalchemy import text
    from sqlmodel import Session, SQLModel

    from collector.recorder import refused_value
    from schema.db import make_engine

    engine = make_engine(pg_test_url)
    SQLModel.metadata.drop_all(engine)  # the module's database: start empty
    SQLModel.metadata.create_all(engine)
    try:
        session = Session(engine)
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(Exception) as caught:
            insert_many(session, Sample.__table__, [{"host_id": "a", "ts": 1.0}])
        session.invalidate()  # its connection is gone: nothing to roll back
        assert isinstance(caught.value, sa_exc.DBAPIError) and not refused_value(caught.value), repr(caught.value)
    finally:
        engine.dispose()


def test_a_nul_in_text_is_refused_on_postgresql_as_an_insert_would_be(pg_test_url):
    """PostgreSQL text cannot hold NUL (SQLite can): COPY refuses it as a value, not as an outage."""
    from sqlmodel import Session, SQLModel

    from collector.recorder import refused_value
    from schema.db import make_engine

    engine = make_engine(pg_test_url)
    SQLModel.metadata.drop_all(engine)  # the module's database: start empty
    SQLModel.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            with pytest.raises(Exception) as caught:
                insert_many(session, Sample.__table__, [{"host_id": "nul\x00byte", "ts": 1.0}])
            assert refused_value(caught.value), repr(caught.value)
            session.rollback()
            insert_many(session, Sample.__table__, [{"host_id": "ok", "ts": 2.0}])
            session.commit()
            assert session.scalars(select(Sample.host_id)).all() == ["ok"]
    finally:
        engine.dispose()
