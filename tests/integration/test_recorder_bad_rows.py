"""A row the database refuses (a value too big, a NUL byte) is skipped; every other host's rows are written."""
from __future__ import annotations

from sqlalchemy import func, select

from collector.recorder import BatchWriter, SampleRows
from schema.models import GpuSample, Sample


def _rows(host: str, ts: float, **sample) -> SampleRows:
    return SampleRows(sample={"host_id": host, "ts": ts, "state": "up", **sample}, gpus=[], disks=[], services=[])


async def test_one_refused_row_does_not_hold_back_the_others(session):
    writer = BatchWriter(session.get_bind())
    try:
        writer.add_sample(_rows("good-1", 100.0, cpu_pct=5.0))
        writer.add_sample(_rows("bad", 100.0, mem_total_bytes=2**70))  # beyond 64 bits: both databases refuse
        with_gpu = _rows("good-2", 100.0, cpu_pct=7.0)
        with_gpu.gpus.append({"host_id": "good-2", "ts": 100.0, "gpu_index": 0, "util_pct": 50.0, "name": "ok"})
        writer.add_sample(with_gpu)
        written = await writer.flush()
        assert written >= 3 and writer.rows_skipped == 1
        assert "skipped" in writer.last_error and "samples row of bad" in writer.last_error
        hosts = sorted(session.execute(select(Sample.host_id)).scalars())
        assert hosts == ["good-1", "good-2"]
        assert session.execute(select(func.count()).select_from(GpuSample)).scalar_one() == 1

        writer.add_sample(_rows("good-1", 105.0, cpu_pct=6.0))  # nothing is kept for a retry
        assert await writer.flush() == 1 and writer.last_error is None
    finally:
        writer.close()


async def test_an_unreachable_database_keeps_the_rows(tmp_path):
    from sqlalchemy import create_engine

    missing = tmp_path / "no-such-dir" / "x.db"
    writer = BatchWriter(create_engine(f"sqlite:///{missing}"))
    try:
        writer.add_sample(_rows("h", 1.0, cpu_pct=1.0))
        assert await writer.flush() == 0
        assert writer.rows_skipped == 0 and writer._batch.size == 1, "kept for the next try"
    finally:
        writer.close()
