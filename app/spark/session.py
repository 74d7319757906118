"""The SparkSession a rebuild runs in: local mode by default, any cluster by its master URL
(or the session spark-submit made)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL = "local[*]"
SUBMITTED = ""  # the master spark-submit was given


class SparkMissing(RuntimeError):
    """pyspark is not installed: it is an optional dependency."""


@dataclass(frozen=True, slots=True)
class SparkConfig:
    master: str | None = None  # None: the session spark-submit made, else local[*]
    app_name: str = "idgraph rebuild"
    # Rows per shuffle partition are few on one machine: Spark's 200 partitions would
    # cost more in scheduling than they save. A cluster sets its own.
    shuffle_partitions: int | None = None
    driver_memory: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)


def spark_session(config: SparkConfig) -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkMissing("the Spark engine needs pyspark: pip install -e '.[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None and config.master is None:
        return active
    master = _master(config)
    if master.startswith("local"):
        # Tasks run this interpreter, with idgraph importable, as the driver does.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        # Local mode talks only to itself: loopback, so that a machine whose host name does
        # not resolve (a fresh CI runner, a laptop offline) still starts a session.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder if master == SUBMITTED else SparkSession.builder.master(master)
    builder = (builder.appName(config.app_name)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.adaptive.enabled", "true")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               # The JVM-side progress bar writes over the command's own output.
               .config("spark.ui.showConsoleProgress", "false"))
    partitions = config.shuffle_partitions or (_local_partitions(master)
                                               if master.startswith("local") else None)
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    if config.driver_memory:
        builder = builder.config("spark.driver.memory", config.driver_memory)
    for key, value in config.settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _master(config: SparkConfig) -> str:
    """The master asked for; else spark-submit's (its JVM is up already, with the master
    and settings it was given, and the Python driver reaches it through the gateway port
    spark-submit passes); else local mode on every core."""
    if config.master:
        return config.master
    return SUBMITTED if "PYSPARK_GATEWAY_PORT" in os.environ else LOCAL


def _local_partitions(master: str) -> int:
    cores = master.removeprefix("local").strip("[]").split(",")[0] or "1"
    count = (os.cpu_count() or 1) if cores == "*" else int(cores)
    return max(4, 4 * count)
