# Airflow image of shoplake: Airflow 3.3.2 on Python 3.11, Java 17 for spark-submit, the pinned requirements
# and the shoplake library. Built and run by docker-compose.yaml.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

USER airflow
COPY --chown=airflow:root requirements.txt requirements-nlp.txt requirements-ml.txt constraints.txt /opt/shoplake/
# requirements-nlp.txt brings torch 2.13.0 from PyPI: the CUDA build the gpu worker uses (it runs on CPU elsewhere)
RUN pip install --no-cache-dir -r /opt/shoplake/requirements.txt -r /opt/shoplake/requirements-nlp.txt \
      -r /opt/shoplake/requirements-ml.txt \
      -c /opt/shoplake/constraints.txt
COPY --chown=airflow:root pyproject.toml README.md /opt/shoplake/
COPY --chown=airflow:root src /opt/shoplake/src
RUN pip install --no-cache-dir --no-deps /opt/shoplake
# the local Spark driver's class-data archive (shoplake.spark_cds: a faster JVM start); Spark runs without it if
# this fails
ENV SHOPLAKE_SPARK_CDS_ARCHIVE=/opt/shoplake/spark-cds/spark.jsa
RUN python -c "from shoplake.spark_cds import build_archive; build_archive('/opt/shoplake/spark-cds/spark.jsa')" \
 || echo "note: no Spark CDS archive in the image"
