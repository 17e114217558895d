"""The local Spark driver's class-data archive: built by the install, mapped by a driver JVM."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shoplake.config import Settings
from shoplake.spark_cds import build_archive, driver_java_options

pytestmark = pytest.mark.spark


def test_a_driver_jvm_maps_the_archive(tmp_path):
    if subprocess.run(["java", "-version"], capture_output=True, check=False).returncode:
        pytest.skip("Spark needs Java (make java)")
    archive = Path(Settings.from_env().spark_cds_archive)
    if not archive.exists():  # `make install` builds it; a checkout without it builds one here
        build_archive(str(tmp_path / "spark.jsa"))
        archive = tmp_path / "spark.jsa"
    job = tmp_path / "job.py"
    job.write_text(
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.getOrCreate()\n"
        "print('rows', spark.range(5).count())\n"
        "spark.stop()\n"
    )
    # -Xshare:on: a JVM that can't map the archive (another Java, another class path) exits instead of ignoring it
    options = f"{driver_java_options(str(archive))} -Xshare:on"
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[1]",
           "--driver-java-options", options, "--conf", "spark.ui.enabled=false", str(job)]  # fmt: skip
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows 5" in done.stdout


def test_without_an_archive_the_options_name_only_the_collector():
    assert driver_java_options("") == "-XX:+UseSerialGC"
    assert driver_java_options("/x/spark.jsa") == "-XX:+UseSerialGC -XX:SharedArchiveFile=/x/spark.jsa"
