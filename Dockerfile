# Airflow image of shoplake: Airflow 3.3.2 on Python 3.11, Java 17 for spark-submit, the pinned requirements
# and the shoplake library. Built and run by docker-compose.yaml (tested as shipped: make test-compose).
# Layers from the least to the most often changed: an edit under src/ rebuilds only the last two.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

USER airflow
COPY --chown=airflow:root requirements.txt requirements-nlp.txt requirements-ml.txt constraints.txt /opt/shoplake/
# requirements-nlp.txt brings torch 2.13.0 from PyPI: the CUDA build the gpu worker uses (it runs on CPU elsewhere).
# EXTRA_WHEELS (a build argument, empty by default): a folder or URL of wheels pip prefers, e.g. a CPU-only torch
# wheel for an image without GPUs (`docker build --build-arg EXTRA_WHEELS=…`; docs/operations.md, Docker Compose)
ARG EXTRA_WHEELS=""
RUN pip install --no-cache-dir ${EXTRA_WHEELS:+--find-links "$EXTRA_WHEELS"} \
      -r /opt/shoplake/requirements.txt -r /opt/shoplake/requirements-nlp.txt -r /opt/shoplake/requirements-ml.txt \
      -c /opt/shoplake/constraints.txt
# the local Spark driver's class-data archive (shoplake.spark_cds: a faster JVM start) depends on Java and pyspark
# only: built from that one module before the source is copied, so a source edit does not rebuild it (about a
# minute); Spark runs without it if this fails
ENV SHOPLAKE_SPARK_CDS_ARCHIVE=/opt/shoplake/spark-cds/spark.jsa
COPY --chown=airflow:root src/shoplake/spark_cds.py /tmp/cds-build/shoplake/spark_cds.py
RUN touch /tmp/cds-build/shoplake/__init__.py \
 && (PYTHONPATH=/tmp/cds-build python -c "from shoplake.spark_cds import build_archive; build_archive('$SHOPLAKE_SPARK_CDS_ARCHIVE')" \
     || echo "note: no Spark CDS archive in the image") \
 && rm -rf /tmp/cds-build
COPY --chown=airflow:root pyproject.toml README.md /opt/shoplake/
COPY --chown=airflow:root src /opt/shoplake/src
RUN pip install --no-cache-dir --no-deps /opt/shoplake
