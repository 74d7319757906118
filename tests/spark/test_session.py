"""Under spark-submit, a rebuild runs on the master spark-submit was given (its JVM is up
before idgraph starts), not in local mode on every core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
from app.spark.session import SparkConfig, spark_session
session = spark_session(SparkConfig())
print("master=" + session.sparkContext.master)
session.stop()
"""


def test_under_spark_submit_the_session_has_the_master_it_was_given(tmp_path):
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([str(submit), "--master", "local[1]", str(probe)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "master=local[1]" in done.stdout.splitlines()
