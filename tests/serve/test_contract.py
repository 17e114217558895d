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
#: operations whose model this test's lake does not hold (they need Spark to train): only their 503 is checked; the
#: document lists every model key, so /models/{key} is asked for those too (its 500s are checked by
#: test_models_key_answers_each_listed_key_without_a_server_error)
NO_MODEL = {"/predict/churn/{source}", "/predict/clickstream_engagement", "/models/{key}"}
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


def test_models_key_answers_each_listed_key_without_a_server_error(contract_schema, service_lake, tiny_sentiment_model):
    """Every key the document's enum lists: 200 with a request body for a model the lake holds, the declared 503
    (what to run) for one it does not — never a 500; a key outside the enum is a 404 naming the keys."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from shoplake.serve.app import create_app

    client = TestClient(create_app(replace(settings_for(service_lake, tiny_sentiment_model), api_key=KEY)))
    headers = {"X-API-Key": KEY}
    keys = client.get("/openapi.json").json()["paths"]["/models/{key}"]["get"]["parameters"][0]["schema"]["enum"]
    assert {"purchase", "sentiment", "review_sentiment", "churn/telco", "recommendations"} <= set(keys)
    for key in keys:
        answer = client.get(f"/models/{key}", headers=headers)
        assert answer.status_code in (200, 503), (key, answer.text)
        if answer.status_code == 503:
            assert answer.json()["detail"]["reason"], key
    unknown = client.get("/models/nope", headers=headers)
    assert unknown.status_code == 404
    assert "churn/telco" in unknown.json()["detail"]


def test_what_a_caller_gets_wrong_is_refused_in_the_documents_own_terms(service_lake, tiny_sentiment_model):
    """Each of these was taken, or answered in FastAPI's words, though the document said otherwise."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from shoplake.serve.app import create_app

    client = TestClient(create_app(replace(settings_for(service_lake, tiny_sentiment_model), api_key=KEY)))
    key = {"X-API-Key": KEY}
    doc = client.get("/openapi.json").json()
    created = doc["components"]["schemas"]["EngagementRequest"]["properties"]["created_at"]
    assert {"type": "string", "format": "date-time"} in created["anyOf"]
    for bad in ("0", "1671703200", "2022-12-22", "2022-12-22T10:00:00", "yesterday"):  # not RFC 3339 date-times
        answer = client.post("/predict/engagement", json={"text": "sale", "created_at": bad}, headers=key)
        assert answer.status_code == 422, bad
        assert answer.json()["detail"][0]["field"] == "body.created_at"
    for good in ("2022-12-22T10:00:00Z", "2022-12-22T17:00:00+07:00", "2022-12-22T10:00:00.250Z"):
        assert (
            client.post("/predict/engagement", json={"text": "sale", "created_at": good}, headers=key).status_code
            == 200
        )

    broken = client.post(
        "/predict/engagement", content=b'{"text": sale}', headers={**key, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    [problem] = broken.json()["detail"]
    assert problem["field"] == "body"  # not a character offset as a field name (body.10)
    assert problem["reason"].startswith("the body is not valid JSON at character 9")
    plain = client.post(
        "/predict/engagement", content=b'{"text": "sale"}', headers={**key, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 422
    assert "send JSON with Content-Type: application/json" in plain.json()["detail"][0]["reason"]

    klingon = client.post("/predict/sentiment", json={"texts": ["Qapla'"], "languages": ["klingon"]}, headers=key)
    assert klingon.status_code == 422
    assert klingon.json()["detail"][0]["field"] == "body.languages.0"
    routed = client.post(
        "/predict/sentiment", json={"texts": ["bueno", "good"], "languages": ["es", None]}, headers=key
    )
    assert routed.status_code == 200
    assert [p["route"] for p in routed.json()["predictions"]] == ["*", "*"]  # this service routes every language to '*'

    refused = client.get("/models")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("APIKey ")
    source = doc["paths"]["/predict/churn/{source}"]["post"]["parameters"][0]["schema"]
    assert source["enum"] == ["sparkify", "telco", "clickstream"]
