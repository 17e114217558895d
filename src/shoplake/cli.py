"""The ``shoplake`` command: ``shoplake serve`` starts the prediction service (``make serve``); ``shoplake lake …``
operates the lake's Delta tables (history, restore, vacuum, compact, migrate; :mod:`shoplake.lakeops`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from typing import Any


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (time, level, logger, message; a message that is a JSON object is merged)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        try:
            parsed = json.loads(message) if message.startswith("{") else None
        except ValueError:
            parsed = None
        out.update(parsed if isinstance(parsed, dict) else {"message": message})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.Formatter.converter = __import__("time").gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def serve(argv: list[str]) -> int:
    from shoplake.config import Settings

    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="shoplake serve", description="the lake's current models over HTTP")
    parser.add_argument("--host", default=settings.serve.host, help="interface (SHOPLAKE_SERVE_HOST; 127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings.serve.port, help="port (SHOPLAKE_SERVE_PORT; 8000)")
    parser.add_argument("--lake-root", default=settings.lake_root, help="lake root (SHOPLAKE_LAKE_ROOT)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    from shoplake.serve.app import create_app, is_loopback

    if not is_loopback(args.host) and not settings.api_key:
        print(  # noqa: T201 - the command's own error
            f"shoplake serve: refusing to listen on {args.host} without an API key: set SHOPLAKE_API_KEY "
            "(clients send it as X-API-Key), or bind 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    configure_logging(args.log_level)
    serve_settings = replace(settings.serve, host=args.host, port=args.port)
    # the same defaults as `make serve`: the lake's own sentiment models where nothing else names one
    import threading

    import uvicorn

    from shoplake.serve.models import ModelStore, with_lake_sentiment_defaults

    settings = with_lake_sentiment_defaults(replace(settings, lake_root=args.lake_root, serve=serve_settings))

    store = ModelStore(settings)
    # every model with a current version loads in the background: one that cannot load is reported by /models and
    # /readyz (and its requests answer 503 at once) before anyone asks for it
    threading.Thread(target=store.warm, name="warm-models", daemon=True).start()

    logging.getLogger("shoplake.serve").info(
        json.dumps({"event": "start", "host": args.host, "port": args.port, "lake_root": settings.lake_root,
                    "auth": bool(settings.api_key), "sentiment_models": settings.sentiment_model_map})
    )  # fmt: skip
    uvicorn.run(create_app(settings, store), host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def lake(argv: list[str]) -> int:
    from shoplake.config import Settings

    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="shoplake lake", description="operate the lake's Delta tables")
    parser.add_argument("--lake-root", default=settings.lake_root, help="lake root (SHOPLAKE_LAKE_ROOT)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tables", help="every Delta table of the lake")
    p = sub.add_parser("history", help="a table's newest commits (version, operation, day, rows, counts)")
    p.add_argument("table", help="<zone>/<name> (e.g. curated/steam_reviews) or the table's URI")
    p.add_argument("--limit", type=int, default=20)
    p = sub.add_parser("restore", help="undo a bad run: a day (or the whole table) as it was at a version")
    p.add_argument("table")
    p.add_argument("--version", type=int, required=True, help="the table version to go back to (see history)")
    p.add_argument("--ds", help="only this day (YYYY-MM-DD); without it the whole table")
    p = sub.add_parser("vacuum", help="delete files no snapshot within the retention needs")
    p.add_argument("table", nargs="?", help="one table (default: every table)")
    p.add_argument("--retention-hours", type=int, default=168, help="keep versions this young readable (168: 7 days)")
    p.add_argument("--full", action="store_true", help="also files no commit named (writers that died)")
    p.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    p = sub.add_parser("compact", help="rewrite each day's small files into larger ones (no row changes)")
    p.add_argument("table", nargs="?", help="one table (default: every table)")
    p.add_argument("--target-mb", type=int, default=128)
    p = sub.add_parser("migrate", help="convert a lake in the pointer layout into Delta tables in place")
    p.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    from shoplake import lakeops

    root = args.lake_root
    try:
        if args.command == "tables":
            out: Any = lakeops.tables(root)
        elif args.command == "history":
            out = lakeops.history(root, args.table, args.limit)
        elif args.command == "restore":
            out = lakeops.restore(root, args.table, args.version, args.ds)
        elif args.command == "vacuum":
            out = lakeops.vacuum(root, args.table, retention_hours=args.retention_hours, full=args.full,
                                 dry_run=args.dry_run)  # fmt: skip
        elif args.command == "compact":
            out = lakeops.compact(root, args.table, target_mb=args.target_mb)
        else:
            out = lakeops.migrate(root, dry_run=args.dry_run)
    except (FileNotFoundError, ValueError) as exc:
        print(f"shoplake lake {args.command}: {exc}", file=sys.stderr)  # noqa: T201 - the command's own error
        return 1
    print(json.dumps(out, indent=2, default=str))  # noqa: T201 - the command's output
    return 0


USAGE = """usage: shoplake COMMAND ...

  serve  the prediction service          shoplake serve [--host H] [--port P] [--lake-root URI]
  lake   operate the lake's Delta tables shoplake lake {tables,history,restore,vacuum,compact,migrate} ...
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)  # noqa: T201
        return 0 if argv else 2
    if argv[0] == "serve":
        return serve(argv[1:])
    if argv[0] == "lake":
        return lake(argv[1:])
    print(f"shoplake: unknown command {argv[0]!r} (commands: serve, lake)", file=sys.stderr)  # noqa: T201
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
