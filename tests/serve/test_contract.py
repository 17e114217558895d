"""The OpenAPI document is the service's contract: schemathesis generates requests for every operation from
``/openapi.json`` (its examples, then generated and negative data) and checks each answer against it — status codes
declared, bodies of the declared shape, content types, invalid input refused, the API key enforced, no 5xx."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from serve_lake import settings_for  # noqa: E402

KEY = "contract-key"
#: operations whose model this test's lake does not hold (they need Spark to train): only their 503 is checked
NO_MODEL = {"/predict/churn/{source}", "/predict/clickstream_engagement"}
#: operations with rules a JSON Schema cannot state: languages (titles) as many as texts; a rows model's own columns
SEMANTIC = {"/predict/sentiment", "/predict/review_sentiment", "/predict/churn/{source}",
            "/predict/clickstream_engagement"}  # fmt: skip
#: operations whose only query parameter is ``k``: schemathesis's negative cases add query parameters it then cannot
#: put on the wire (a null value is dropped), and reports the plain request's 200 as a schema-violating request
#: accepted; unknown query parameters are refused, tested by name in tests/serve/test_newcomer.py
QUERY_ONLY_K = {"/recommendations/{user_id}", "/similar/{product_id}"}


@pytest.fixture(scope="module")
def contract_schema(service_lake, tiny_sentiment_model, tmp_path_factory):
    from dataclasses import replace

    from tiny_models import build_five_class_classifier

    from shoplake.ml.registry import promote_if_not_worse
    from shoplake.serve.app import create_app

    lake = str(tmp_path_factory.mktemp("contract") / "lake")
    shutil.copytree(service_lake, lake)
    five = build_five_class_classifier(tmp_path_factory.mktemp("five"))
    shutil.copytree(five, f"{lake}/model/review_sentiment/version=2026-11-30")
    promote_if_not_worse(lake, "review_sentiment", "2026-11-30", metric="macro_f1", score=0.5)
    app = create_app(replace(settings_for(lake, tiny_sentiment_model, max_batch=8, max_text_chars=200,
                                          pointer_ttl_s=60.0), api_key=KEY))  # fmt: skip
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _generated(op, mode, excluded: list):
    """A hypothesis test of ``op``: requests of ``mode`` (positive / negative), every check but ``excluded``."""
    from hypothesis import given

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)  # fmt: skip
    def run(case) -> None:
        case.call_and_validate(headers={"X-API-Key": KEY}, excluded_checks=excluded)

    return run


def test_every_answer_conforms_to_the_openapi_document(contract_schema):
    """Each operation: its documented examples, then positive and negative generated requests (schemathesis's
    strategies; its pytest plugin is not used: it does not run under this pytest), every check on."""
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

    failures: dict[str, str] = {}
    operations = [result.ok() for result in contract_schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:
        path = op.path
        excluded = []
        if path in NO_MODEL:  # this lake has no such model: every answer is the declared 503
            excluded.append(not_a_server_error)
        if path in SEMANTIC:  # rules JSON Schema cannot state: valid-shaped bodies may still get a named 422
            excluded.append(positive_data_acceptance)
        if path in QUERY_ONLY_K:
            excluded.append(negative_data_rejection)
        for mode in GenerationMode:
            try:
                _generated(op, mode, excluded)()
            except Unsatisfiable:  # an operation with no input has no invalid requests to make
                continue
            except (Exception, BaseExceptionGroup) as exc:  # collected: one operation's failure must not hide another's
                failures[f"{op.label} ({mode.value})"] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def test_the_document_declares_every_error_with_its_shape_and_an_example_per_body(service_lake, tiny_sentiment_model):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from shoplake.serve.app import create_app

    doc = (
        TestClient(create_app(replace(settings_for(service_lake, tiny_sentiment_model), api_key=KEY)))
        .get("/openapi.json")
        .json()
    )
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's default 422 is not what we answer
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path not in ("/healthz", "/readyz"):
                assert "401" in codes, (method, path)
            if path.startswith("/predict/"):
                assert {"413", "422", "503"} <= codes, (method, path)
                body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert doc["components"]["schemas"][body].get("examples"), (path, body)
    assert doc["paths"]["/predict/churn/{source}"]["post"]["responses"]["404"]
    unavailable = doc["components"]["schemas"]["UnavailableProblem"]
    assert unavailable["properties"]["detail"]["$ref"].endswith("/Unavailable")


#: every operation of the service and each status it declares (with a key): the document may grow, never lose one
DECLARED = {
    ("GET", "/healthz"): {"200"},
    ("GET", "/readyz"): {"200", "503"},
    ("GET", "/models"): {"200", "401"},
    ("GET", "/models/{key}"): {"200", "401", "404", "422", "503"},
    ("POST", "/predict/purchase"): {"200", "401", "413", "422", "503"},
    ("POST", "/predict/sentiment"): {"200", "401", "413", "422", "503"},
    ("POST", "/predict/review_sentiment"): {"200", "401", "413", "422", "503"},
    ("POST", "/predict/engagement"): {"200", "401", "413", "422", "503"},
    ("POST", "/predict/churn/{source}"): {"200", "401", "404", "413", "422", "503"},
    ("POST", "/predict/clickstream_engagement"): {"200", "401", "413", "422", "503"},
    ("GET", "/recommendations/{user_id}"): {"200", "401", "422", "503"},
    ("GET", "/similar/{product_id}"): {"200", "401", "404", "422", "503"},
}


def test_the_document_keeps_every_operation_and_status_the_split_service_had(tmp_path):
    """The service is assembled from route modules (``shoplake.serve.routes``): none of today's operations or their
    declared statuses may go missing, and each request body is importable on its own."""
    from dataclasses import replace

    from shoplake.config import Settings
    from shoplake.serve import schemas
    from shoplake.serve.app import create_app

    doc = create_app(replace(Settings.from_env(), lake_root=str(tmp_path), api_key=KEY)).openapi()
    found = {(m.upper(), p): set(op["responses"]) for p, ops in doc["paths"].items() for m, op in ops.items()}
    for operation, statuses in DECLARED.items():
        assert operation in found, f"{operation} is gone from /openapi.json"
        assert statuses <= found[operation], (operation, statuses - found[operation])
    limits = Settings.from_env().serve
    for build in (schemas.purchase_request, schemas.sentiment_request, schemas.review_sentiment_request,
                  schemas.engagement_request, schemas.rows_request):  # fmt: skip
        model = build(limits)
        example = model.model_json_schema()["examples"][0]
        assert model.model_validate(example), build.__name__
