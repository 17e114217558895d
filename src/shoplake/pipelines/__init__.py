"""One module per pipeline: its job configs and step functions (what a DAG task or a ``jobs/`` entry point calls).

* :mod:`shoplake.pipelines.steam_reviews`  — source → Mongo → raw → curated → enriched (sentiment) → features
* :mod:`shoplake.pipelines.sentiment_model` — the offline sentiment model (MiniLM + logistic head)
* :mod:`shoplake.pipelines.purchase_model` — the Steam purchase model (XGBoost; local, Spark or SageMaker)
* :mod:`shoplake.pipelines.churn`          — churn on Spark MLlib (Sparkify, Telco, clickstream)

Steps take ``lake_root: str`` and ``ds: str`` (or a config holding them) and return XCom-sized dicts. Modules import
only light things at the top, so DAG files may read their configs' defaults at parse time.
"""
