"""AWS Comprehend as a sentiment route: ``SHOPLAKE_SENTIMENT_MODELS=en=<lake model>,*=comprehend`` (or per language).

Managed sentiment for a team on AWS: no model to host, Comprehend's own languages. Texts go to
``BatchDetectSentiment`` in batches of :data:`BATCH_SIZE` (the API's limit), one language per batch, each text cut to
:data:`MAX_BYTES` UTF-8 bytes at a character boundary (the API refuses longer documents). Only the languages
Comprehend's sentiment supports (:data:`LANGUAGES`) go there: the router sends the others to the ``*`` route when that
is another model, else they stay ``unsupported_language``.

* **Credentials and endpoint**: boto3's standard chain — on a worker, what the ``aws_default`` connection exports
  (the DAG's scoring task puts its credentials and region in the job's environment, see
  ``shoplake_airflow.gpu``), an instance role, ``AWS_PROFILE``; ``AWS_ENDPOINT_URL_COMPREHEND`` /
  ``AWS_ENDPOINT_URL`` for a stand-in.
* **Throttling** (``ThrottlingException``, ``TooManyRequestsException``, 5xx) is retried with exponential backoff and
  jitter, :data:`MAX_ATTEMPTS` times a batch; then the task fails (transient: Airflow retries it).
* **Per-item errors** of a batch (``ErrorList``: a document Comprehend would not take) leave that row unscored with
  status ``model_error`` and its reason, quarantined by the scoring step — never the whole partition lost.
* **positive_prob** = ``Positive + (Neutral + Mixed) / 2``: NEUTRAL (neither) and MIXED (both) sit in the middle,
  so a neutral review is neither counted as praise nor as a complaint; ``Negative`` pulls it to 0.
* **Cost**: Comprehend bills 100-character units, at least 3 a document; :attr:`ComprehendClassifier.usage` counts
  calls, documents and units, and the scoring step logs an estimate at :data:`USD_PER_UNIT` (the public price of
  the first 10 M units a month, 2026: $0.0001 a unit).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: the route name in ``SHOPLAKE_SENTIMENT_MODELS``
COMPREHEND = "comprehend"
MODEL_ID = "aws-comprehend"
#: Comprehend's API version: what "revision" means for a managed model
REVISION = "2017-11-27"
#: languages of Comprehend's DetectSentiment (as the curated ``language_code`` spells them; ``zh-TW`` is ``zh``'s)
LANGUAGES = frozenset({"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh"})
BATCH_SIZE = 25
MAX_BYTES = 5000
MAX_ATTEMPTS = 8
RETRYABLE = frozenset({"ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException",
                       "InternalServerException"})  # fmt: skip
UNIT_CHARS, MIN_UNITS = 100, 3
USD_PER_UNIT = 0.0001


def truncate_utf8(text: str, max_bytes: int = MAX_BYTES) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    raw = text.encode("utf-8")
    return text if len(raw) <= max_bytes else raw[:max_bytes].decode("utf-8", errors="ignore")


def units(text: str) -> int:
    """Comprehend's billing units of one document: 100-character units, at least 3."""
    return max(MIN_UNITS, math.ceil(len(text) / UNIT_CHARS))


def positive_prob(score: dict[str, float]) -> float:
    """``Positive + (Neutral + Mixed) / 2`` (see the module docstring)."""
    return float(score.get("Positive", 0.0) + (score.get("Neutral", 0.0) + score.get("Mixed", 0.0)) / 2)


def comprehend_client() -> Any:
    """A boto3 Comprehend client from the standard credential chain and region (botocore's own retries off: this
    module retries throttling itself, with its own backoff)."""
    import boto3
    from botocore.config import Config

    return boto3.client("comprehend", config=Config(retries={"mode": "standard", "max_attempts": 1}))


class ComprehendClassifier:
    """Scores texts with ``BatchDetectSentiment``; the same ``model_id`` / ``revision`` as every route."""

    model_id = MODEL_ID
    revision = REVISION
    #: the router passes each text's language (Comprehend needs it per request)
    by_language = True

    def __init__(self, client: Any = None, *, sleep: Callable[[float], None] = time.sleep,
                 max_attempts: int = MAX_ATTEMPTS, base_delay_s: float = 0.5) -> None:  # fmt: skip
        self._client = client
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.usage = {"calls": 0, "documents": 0, "units": 0, "retries": 0, "errors": 0}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = comprehend_client()
        return self._client

    @staticmethod
    def supports(language: str | None) -> bool:
        return (language or "und") in LANGUAGES

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> tuple[np.ndarray, dict[int, str]]:
        """``positive_prob`` per text (NaN where Comprehend refused the document or does not support the language)
        and ``{position: reason}`` of the refused ones."""
        out = np.full(len(texts), np.nan, dtype=np.float32)
        errors: dict[int, str] = {}
        by_lang: dict[str, list[int]] = {}
        for i, lang in enumerate(languages):
            if self.supports(lang):
                by_lang.setdefault(lang, []).append(i)  # type: ignore[arg-type]
        for lang, idx in by_lang.items():
            for start in range(0, len(idx), BATCH_SIZE):
                chunk = idx[start : start + BATCH_SIZE]
                docs = [truncate_utf8(texts[i] or "") or " " for i in chunk]  # an empty document is refused
                answer = self._call(docs, lang)
                for r in answer.get("ResultList", []):
                    out[chunk[r["Index"]]] = positive_prob(r["SentimentScore"])
                for e in answer.get("ErrorList", []):
                    errors[chunk[e["Index"]]] = f"comprehend {e.get('ErrorCode')}: {e.get('ErrorMessage', '')}".strip()
                self.usage["documents"] += len(docs)
                self.usage["units"] += sum(units(d) for d in docs)
        self.usage["errors"] += len(errors)
        return out, errors

    def _call(self, docs: list[str], language: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        for attempt in range(1, self.max_attempts + 1):
            try:
                self.usage["calls"] += 1
                return self.client.batch_detect_sentiment(TextList=docs, LanguageCode=language)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if (code not in RETRYABLE and status < 500) or attempt == self.max_attempts:
                    raise
                delay = self.base_delay_s * 2 ** (attempt - 1) * (0.5 + random.random() / 2)
                self.usage["retries"] += 1
                log.warning("comprehend %s (attempt %d of %d): retrying in %.1f s", code or status, attempt,
                            self.max_attempts, delay)  # fmt: skip
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def cost_line(self) -> str:
        """What this classifier's calls cost, estimated (logged per scored day)."""
        u = self.usage
        return (f"comprehend: {u['calls']} BatchDetectSentiment calls ({u['retries']} retries), {u['documents']} "
                f"documents, {u['units']} units ≈ ${u['units'] * USD_PER_UNIT:.2f} at ${USD_PER_UNIT}/unit; "
                f"{u['errors']} documents refused")  # fmt: skip
