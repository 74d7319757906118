"""The staging directory of a rebuild: every stage's output as Parquet, written before the
store is touched. A stage written is read back from its files, which cuts Spark's lineage
(a later failure never recomputes from the input) and is what a re-run or the store writer
reads."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _uri(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


@dataclass(frozen=True, slots=True)
class Staging:
    root: str  # a directory, local or a URI that Spark and pyarrow both reach

    @property
    def uri(self) -> str:
        return _uri(self.root)

    def path(self, *parts: str) -> str:
        return "/".join([self.uri.rstrip("/"), *parts])

    def stage(self, spark: SparkSession, frame: DataFrame, name: str) -> DataFrame:
        """Write `frame` as stage `name` and read it back."""
        path = self.path("stage", name)
        frame.write.mode("overwrite").parquet(path)
        return spark.read.parquet(path)

    def result(self, frame: DataFrame, name: str) -> str:
        path = self.path("result", name)
        frame.write.mode("overwrite").parquet(path)
        return path

    def rows(self, *parts: str) -> int:
        """How many rows a stage or result holds, from its files' footers."""
        import pyarrow.dataset as ds

        if not self.exists(*parts):
            return 0
        fs, inner = pafs.FileSystem.from_uri(self.path(*parts))
        return int(ds.dataset(inner, filesystem=fs, format="parquet").count_rows())

    def exists(self, *parts: str) -> bool:
        fs, inner = pafs.FileSystem.from_uri(self.path(*parts))
        return fs.get_file_info(inner).type != pafs.FileType.NotFound

    def remove(self, *parts: str) -> None:
        target = self.path(*parts)
        if "://" not in self.root:
            shutil.rmtree(target.removeprefix("file://"), ignore_errors=True)
            return
        fs, inner = pafs.FileSystem.from_uri(target)
        if fs.get_file_info(inner).type != pafs.FileType.NotFound:
            fs.delete_dir(inner)
