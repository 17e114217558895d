"""Airflow-facing glue of shoplake: assets, hooks, the Spark task factory, run-window helpers.

Everything that knows about Airflow lives here; the logic it calls lives in the ``shoplake`` library.
"""
