"""Job configs and entry points: a setting is declared once, as a dataclass field, and everything else derives from it.

* :func:`option` declares a field with its help text and its bounds (JSON-schema words: ``minimum``, ``maximum``,
  ``exclusiveMinimum``, ``enum``, ``pattern``). :func:`check_options` enforces the bounds, the job's ``--help`` shows
  the text, and the Airflow glue turns the same fields into DAG Params (``shoplake_airflow.params``).
* :func:`parse_job_args` turns ``argv`` into a config: every field is the kebab-case flag of its name.
* :func:`run_job` is the body of every ``jobs/`` entry point: logging, parse and log the config, an optional UTC
  SparkSession, the step, and the JSON result line on stdout (the job task's XCom: ``JobOperator`` parses it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import operator
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shoplake.paths import validate_ds

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")
log = logging.getLogger(__name__)

_COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
#: exit code of a job that failed on its input or its flags (bad data, too little data, a missing model or
#: partition): rerunning cannot help, so the Airflow glue fails the task without retries. argparse exits 2.
DATA_ERROR_EXIT = 3
DETERMINISTIC_EXITS = (2, DATA_ERROR_EXIT)
#: the JSON-schema keywords an option may carry (also the keywords of Airflow's ``Param``)
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "pattern")


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    env: str | None = None,
    factory: Callable[[], Any] | None = None,
    secret: bool = False,
    **schema: Any,
) -> Any:
    """A config field with its help text and bounds; a list/tuple default is stored as a tuple.

    ``env`` names an environment variable other than the derived one (:class:`shoplake.config.Settings`),
    ``factory`` computes the default, ``secret`` keeps the value out of ``repr``.
    """
    unknown = set(schema) - set(BOUNDS) - {"items"}
    if unknown:
        raise TypeError(f"unknown option keywords {sorted(unknown)}")
    meta = {"help": help, "schema": schema, **({"env": env} if env else {})}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta, repr=not secret)
    if isinstance(default, list | tuple):
        value = tuple(default)
        return dataclasses.field(default_factory=lambda: value, metadata=meta, repr=not secret)
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PartitionJob:
    """What every job takes, declared once: the partition day it writes (``ds``) and the lake. A job's config
    derives from it (beside its other bases) and redeclares ``ds`` to say what the day selects for that job;
    ``__post_init__`` validates the day and every declared bound (a subclass's own checks call it first)."""

    ds: str = option(help="partition date YYYY-MM-DD")
    lake_root: str = option(help="lake root: a path or an s3:// / gs:// URI")

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        check_options(self)


def field_default(f: dataclasses.Field) -> Any:
    """The default of a dataclass field (``MISSING`` for required fields)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def check_options(obj: Any) -> None:
    """Enforce the bounds declared with :func:`option` on every field of ``obj``.

    Raises:
        ValueError: naming the flag, its value and the bound it breaks.
    """
    for f in dataclasses.fields(obj):
        schema = f.metadata.get("schema") or {}
        value = getattr(obj, f.name)
        flag = f"--{f.name.replace('_', '-')} ({f.name})"
        values = value if isinstance(value, tuple) else (value,)
        allowed = schema.get("enum") or (schema.get("items") or {}).get("enum")
        for v in values:
            if allowed is not None and v not in allowed:
                raise ValueError(f"{flag} must be one of {list(allowed)}, got {v!r}")
        if isinstance(value, tuple) and "items" in schema and not value:
            raise ValueError(f"{flag} needs at least one value")
        if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
            raise ValueError(f"{flag} {value!r} does not match {schema['pattern']}: {f.metadata['help']}")
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        for key, word in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
            if key in schema and not _COMPARE[word](value, schema[key]):
                raise ValueError(f"{flag} must be {word} {schema[key]}, got {value}")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The entry point's docstring as written, and every flag's default after its help."""


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def parse_job_args(cls: type[T], argv: list[str] | None, description: str | None) -> T:
    """Parse ``argv`` into ``cls``: fields without a default are required flags, the rest typed by their default.

    Tuple fields take a comma-separated list. The dataclass's own ``__post_init__`` validates the values.
    """
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter, allow_abbrev=False)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help")
        default = field_default(f)
        if default is dataclasses.MISSING:
            p.add_argument(flag, required=True, help=help_text)
        elif isinstance(default, tuple):
            p.add_argument(flag, type=_csv, default=default, help=f"{help_text} (comma-separated)")
        else:
            kind = _bool if isinstance(default, bool) else type(default)
            p.add_argument(flag, type=kind, default=default, help=help_text)
    values: dict[str, Any] = vars(p.parse_args(argv))
    return cls(**values)


def run_job(
    cls: type[T],
    step: Callable[..., dict[str, Any]],
    argv: list[str] | None,
    *,
    doc: str | None,
    spark: SparkSession | None = None,
    with_spark: bool = False,
) -> dict[str, Any]:
    """Run one pipeline step as a job: parse ``argv`` into ``cls``, log it, call the step, print its result.

    Args:
        cls: the job's config dataclass (its fields are the flags).
        step: ``step(cfg)``, or ``step(spark, cfg)`` when ``with_spark``.
        argv: the command line (without the program name); ``None`` reads ``sys.argv``.
        doc: the entry point's docstring, shown by ``--help``.
        spark: a session to reuse (tests); otherwise one is created when ``with_spark`` (UTC session time zone).
        with_spark: the step takes a SparkSession.

    Returns:
        The step's result; also written as the last stdout line (JSON), which JobOperator parses into XCom.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = parse_job_args(cls, argv, doc)
    log.info("%s config %s", step.__name__, json.dumps(dataclasses.asdict(cfg), default=str))  # type: ignore[call-overload]
    if with_spark:
        from shoplake.progress import SparkProgress

        owned = spark is None
        if owned:
            spark = _new_session(step, cfg)
        try:
            with SparkProgress(spark):
                result = step(spark, cfg)
        finally:
            if owned:
                spark.stop()  # before the process ends (run_main may end it without interpreter teardown)
    else:
        result = step(cfg)
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return result


def _new_session(step: Callable[..., Any], cfg: Any) -> SparkSession:
    from pyspark.sql import SparkSession

    name = f"{step.__module__.rsplit('.', 1)[-1]}.{step.__name__}-{getattr(cfg, 'ds', '')}"
    builder = SparkSession.builder.appName(name).config("spark.sql.session.timeZone", "UTC")
    # the progress lines come from SparkProgress; the console bar only garbles task logs
    return builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()


def run_main(main: Callable[[list[str]], Any], argv: list[str] | None = None) -> None:
    """The ``__main__`` block of every job: run ``main``; a data or configuration error exits with
    :data:`DATA_ERROR_EXIT` (one line on stderr saying what to do), anything else prints its traceback and exits 1
    (transient: the task may be retried). The process ends through :func:`exit_process`; it is killed when its
    parent process dies (:mod:`shoplake.process`)."""
    import traceback

    from shoplake.process import die_with_parent_from_env

    die_with_parent_from_env()  # a job never outlives the task (or the Spark JVM) that started it
    code = 0
    try:
        main(sys.argv[1:] if argv is None else argv)
    except (ValueError, FileNotFoundError) as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        sys.stderr.write(f"shoplake job failed on its input or flags (not retried): {exc}\n")
        code = DATA_ERROR_EXIT
    except Exception:
        traceback.print_exc()
        code = 1
    exit_process(code)


def run_script(main: Callable[[], int | None]) -> None:
    """The ``__main__`` block of a script that is not a job (``scripts/demo*.py``): ``main``'s return value (or its
    ``SystemExit``) is the exit code, an exception prints its traceback and exits 1, and the process ends through
    :func:`exit_process` — a demo that used ``deltalake`` and finished must not die of the teardown abort after
    printing its summary."""
    import traceback

    try:
        code = main() or 0
    except SystemExit as exc:  # argparse's errors and a script's own SystemExit("message")
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    except Exception:
        traceback.print_exc()
        code = 1
    exit_process(code)


def exit_process(code: int) -> None:
    """End the process with ``code``. After ``deltalake`` was used, without the interpreter's teardown: delta-rs's
    runtime threads can abort the process while Python finalises (``terminate called without an active exception``,
    SIGABRT — delta-io/delta-rs#2184, seen here under load), which would turn a finished job — or a data error that
    must not be retried — into exit -6. Logging and the standard streams are flushed first."""
    import os

    if "deltalake" not in sys.modules:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
