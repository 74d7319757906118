"""Spark tests: one local SparkSession for the whole test session (starting one costs tens
of seconds), and every test here marked `spark` (pytest -m spark selects them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session", autouse=True)
def spark() -> Iterator[Any]:
    """The session every rebuild of these tests runs in (the command finds it active)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("the Spark tests need pyspark: pip install -e '.[spark]'")
    from app.spark.session import SparkConfig, spark_session

    session = spark_session(SparkConfig(
        master="local[2]", app_name="idgraph tests", shuffle_partitions=2,
        settings={"spark.ui.enabled": "false", "spark.sql.adaptive.enabled": "true"}))
    yield session
    session.stop()
