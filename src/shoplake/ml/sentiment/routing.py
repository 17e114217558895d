"""Language routing and partition scoring: which model scores each language (``SHOPLAKE_SENTIMENT_MODELS``),
one batched call per model, and the streaming of a curated partition into an enriched one."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from shoplake.io.lake import PartitionWriter, iter_partition_batches
from shoplake.ml.sentiment.classifier import EngineConfig, TextClassifier, load_classifier
from shoplake.ml.sentiment.comprehend import COMPREHEND, ComprehendClassifier
from shoplake.ml.sentiment.labels import ANY_LANGUAGE, MODEL_ERROR, SCORED, SENTIMENT_SCHEMA, UNSUPPORTED
from shoplake.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRoute:
    """Which model scores the texts of one language (``*``: every language without a route of its own)."""

    language: str
    uri: str
    revision: str = ""


_LANG_RE = re.compile(r"^([a-z]{2,3}|\*)$")


def parse_model_map(text: str) -> tuple[ModelRoute, ...]:
    """Parse ``SHOPLAKE_SENTIMENT_MODELS``: ``en=<model>[@revision],*=<model>[@revision]``.

    Languages are the curated ``language_code`` values (ISO 639-1, ``und`` when Steam's name is unknown) or ``*``.
    A model is a hub id (with its pinned revision after ``@``), a local directory or a lake URI.

    Raises:
        ValueError: an entry without ``=``, a bad language code, a language named twice, or an empty map.
    """
    routes: dict[str, ModelRoute] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        lang, sep, model = entry.partition("=")
        lang, model = lang.strip().lower(), model.strip()
        if not sep or not model or not _LANG_RE.match(lang):
            raise ValueError(f"sentiment model map entry {entry!r} is not <language>=<model>[@revision]")
        if lang in routes:
            raise ValueError(f"sentiment model map names language {lang!r} twice")
        uri, at, revision = model.rpartition("@")
        if not at or not uri or "/" in revision:  # no pinned revision (an @ inside a path is part of it)
            uri, revision = model, ""
        routes[lang] = ModelRoute(lang, uri, revision)
    if not routes:
        raise ValueError("the sentiment model map is empty")
    return tuple(routes.values())


def format_model_map(routes: Iterable[ModelRoute]) -> str:
    """The map as ``SHOPLAKE_SENTIMENT_MODELS`` spells it (inverse of :func:`parse_model_map`)."""
    return ",".join(f"{r.language}={r.uri}" + (f"@{r.revision}" if r.revision else "") for r in routes)


class Router:
    """Routes each text to the model of its language; models load lazily, once, when a language first needs one."""

    def __init__(
        self, routes: Sequence[ModelRoute], cfg: EngineConfig, cache_dir: str | Path = "/tmp", *,
        comprehend_client: Any = None,
    ) -> None:  # fmt: skip
        self.routes = {r.language: r for r in routes}
        self.cfg = cfg
        self.cache_dir = cache_dir
        self.comprehend_client = comprehend_client  # None: boto3's standard chain, when the route is first used
        self._loaded: dict[tuple[str, str], Any] = {}

    @classmethod
    def single(cls, clf: TextClassifier, language: str = ANY_LANGUAGE) -> Router:
        """A router over one loaded classifier (for ``language``; ``*``: every language)."""
        router = cls([ModelRoute(language, clf.model_id, clf.revision)], clf.cfg)
        router._loaded[(clf.model_id, clf.revision)] = clf
        return router

    def route(self, language: str | None) -> ModelRoute | None:
        """The route of ``language``: its own, else ``*``, else ``None`` (no configured model supports it). A
        ``comprehend`` route takes only Comprehend's languages: another one falls to the ``*`` route when that is a
        model of its own, else stays unsupported."""
        route = self.routes.get(language or "und") or self.routes.get(ANY_LANGUAGE)
        if route is None or route.uri != COMPREHEND or ComprehendClassifier.supports(language):
            return route
        fallback = self.routes.get(ANY_LANGUAGE)
        return fallback if fallback is not None and fallback.uri != COMPREHEND else None

    def classifier(self, route: ModelRoute) -> Any:
        key = (route.uri, route.revision)
        if key not in self._loaded and route.uri == COMPREHEND:
            self._loaded[key] = ComprehendClassifier(self.comprehend_client)
        if key not in self._loaded:
            self._loaded[key] = load_classifier(
                route.uri, revision=route.revision or None, cfg=self.cfg, cache_dir=self.cache_dir
            )
        return self._loaded[key]

    def models(self) -> dict[str, str]:
        """``{language route: "model_id@revision"}`` of the models loaded so far (small: for XCom)."""
        loaded = {(r.uri, r.revision): lang for lang, r in self.routes.items()}
        return {loaded[k]: f"{c.model_id}@{c.revision}" for k, c in self._loaded.items() if k in loaded}

    def usage_lines(self) -> list[str]:
        """What the managed models this router used cost (calls, documents, units, an estimate): a line each."""
        return [c.cost_line() for c in self._loaded.values() if isinstance(c, ComprehendClassifier)]


def score_texts(
    clf: TextClassifier | Router,
    ids: Sequence[str | None],
    texts: Sequence[str | None],
    languages: Sequence[str | None] | None = None,
    errors: list[tuple[int, str]] | None = None,
) -> pa.Table:
    """Score one chunk; rows keep the input order. Missing texts score as empty strings.

    Each language goes to the model of its route, one batched call per model. Rows of a language no configured
    model supports get ``sentiment_status = 'unsupported_language'`` and null scores and model columns — never an
    English model's confident guess at another language. Rows a model refused (a managed API's per-document error)
    get ``model_error`` and null scores; ``(row position, reason)`` of each is appended to ``errors``.
    """
    router = clf if isinstance(clf, Router) else Router.single(clf)
    n = len(ids)
    langs = list(languages) if languages is not None else [None] * n
    groups: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        route = router.route(lang)
        if route is not None:
            groups.setdefault(route.language, []).append(i)
    pos = np.full(n, np.nan, dtype=np.float32)
    model_id: list[str | None] = [None] * n
    revision: list[str | None] = [None] * n
    model_language: list[str | None] = [None] * n
    refused: dict[int, str] = {}
    for key, idx in groups.items():
        model = router.classifier(router.routes[key])
        chunk = [t if isinstance(t := texts[i], str) else "" for i in idx]
        if getattr(model, "by_language", False):  # a managed API needs each text's language
            scores, failed = model.score(chunk, [langs[i] for i in idx])
            refused.update({idx[j]: reason for j, reason in failed.items()})
        else:
            scores = model.positive_proba(chunk)
        pos[idx] = scores
        for i in idx:
            if i not in refused:
                model_id[i], revision[i], model_language[i] = model.model_id, model.revision, key
    if errors is not None:
        errors.extend(sorted(refused.items()))
    scored = ~np.isnan(pos)
    status = np.where(scored, SCORED, UNSUPPORTED).astype(object)
    for i in refused:
        status[i] = MODEL_ERROR
    positive = pos >= 0.5
    return pa.table(
        {
            "recommendationid": pa.array(list(ids), pa.string()),
            "language_code": pa.array(langs, pa.string()),
            "sentiment_status": pa.array(list(status), pa.string()),
            "sentiment_label": pa.array(
                [("positive" if p else "negative") if s else None for p, s in zip(positive, scored, strict=True)],
                pa.string(),
            ),
            "sentiment_score": pa.array(np.where(positive, pos, 1.0 - pos).astype(np.float32), from_pandas=True),
            "positive_prob": pa.array(pos, from_pandas=True),
            "model_id": pa.array(model_id, pa.string()),
            "model_revision": pa.array(revision, pa.string()),
            "model_language": pa.array(model_language, pa.string()),
        },
        schema=SENTIMENT_SCHEMA,
    )


def score_partition(
    clf: TextClassifier | Router,
    in_path: str,
    out_path: str,
    *,
    id_col: str = "recommendationid",
    text_col: str = "review_text",
    lang_col: str = "language_code",
    out_id: str = "recommendationid",
    quarantine: str | None = None,
) -> dict[str, Any]:
    """Stream a curated partition through the model(s) into an enriched partition (replaced whole).

    ``quarantine``: the partition the rows a model refused go to (``record_id``, ``reason``, the text and language
    as ``document``), replaced whole every run; without it such rows are only counted and logged.

    The output has :data:`SENTIMENT_SCHEMA` with its id column named ``out_id``.

    Logs progress (rows done / total, rate, ETA) about every 30 seconds. A partition without ``lang_col`` is
    scored as language ``und`` (only a ``*`` route, or a single classifier, scores it).

    Returns:
        ``{"path", "rows", "scored", "unsupported_language", "model_error", "models"}`` (``models``: route →
        model@revision).
    """
    import json

    from shoplake.io.lake import partition_rows, partition_schema
    from shoplake.quarantine import QUARANTINE_SCHEMA, quarantine_table

    router = clf if isinstance(clf, Router) else Router.single(clf)
    total, has_lang = partition_rows(in_path), lang_col in partition_schema(in_path).names
    columns = [id_col, text_col, *([lang_col] if has_lang else [])]
    counts = {SCORED: 0, UNSUPPORTED: 0, MODEL_ERROR: 0}
    progress = Progress(total, f"rows of {in_path} scored", log)
    schema = SENTIMENT_SCHEMA.set(0, pa.field(out_id, pa.string()))
    rejects = PartitionWriter(quarantine, QUARANTINE_SCHEMA) if quarantine else contextlib.nullcontext()
    with PartitionWriter(out_path, schema) as writer, rejects as rejected:
        for batch in iter_partition_batches(in_path, columns, router.cfg.chunk_rows):
            ids, texts = batch.column(id_col).to_pylist(), batch.column(text_col).to_pylist()
            langs = batch.column(lang_col).to_pylist() if has_lang else None
            errors: list[tuple[int, str]] = []
            table = score_texts(router, ids, texts, langs, errors=errors)
            table = table.rename_columns([out_id, *table.column_names[1:]])
            writer.write(table)
            if errors and rejected is not None:  # streamed per chunk: memory stays flat however many are refused
                docs = [json.dumps({"language": langs[i] if langs else None, "text": (texts[i] or "")[:2000]})
                        for i, _ in errors]  # fmt: skip
                rejected.write(quarantine_table([ids[i] for i, _ in errors], [r for _, r in errors], docs))
            status = table["sentiment_status"].to_pylist()
            for key in counts:
                counts[key] += status.count(key)
            progress.update(table.num_rows)
    for line in router.usage_lines():
        log.info("%s", line)
    if counts[MODEL_ERROR]:
        log.warning("%s rows refused by a model (status %s, null scores)%s", counts[MODEL_ERROR], MODEL_ERROR,
                    f", quarantined in {quarantine}" if quarantine else "")  # fmt: skip
    models = router.models()
    if counts[UNSUPPORTED]:
        log.warning(
            "%s of %s rows in languages no configured model supports (null scores, status %s); "
            "route them with SHOPLAKE_SENTIMENT_MODELS, e.g. '*=<multilingual model>@<revision>'",
            counts[UNSUPPORTED], writer.rows, UNSUPPORTED,
        )  # fmt: skip
    log.info("wrote %s rows of %s to %s with %s", writer.rows, in_path, out_path, models)
    return {"path": out_path, "rows": writer.rows, **counts, "models": models}
