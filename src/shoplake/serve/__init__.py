"""The prediction service: the lake's current models behind HTTP (``shoplake serve``; FastAPI + uvicorn).

``models`` finds and loads each model named by the lake's ``current.json`` files (lazily, reloading when a pointer
moves); ``app`` is the FastAPI application (schemas, limits, auth, logs, the HTML page).
"""
