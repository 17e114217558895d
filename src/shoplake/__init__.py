"""shoplake: the e-commerce ML data platform library.

Pure Python: lake paths and partition IO, Mongo ingestion, Spark transforms. It never imports Airflow;
the Airflow glue lives in ``plugins/shoplake_airflow``.
"""

__version__ = "0.1.0"
