"""The ``shoplake`` command: ``shoplake serve`` starts the prediction service (``make serve``); ``shoplake lake …``
operates the lake's Delta tables (history, restore, vacuum, compact, migrate; :mod:`shoplake.lakeops`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from typing import Any, NoReturn


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


class _Refused(Exception):
    """A wrong argument: its one line says which and what to give (exit 2)."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line (the command, the argument, what to give), not the usage block."""

    def error(self, message: str) -> NoReturn:
        raise _Refused(f"{self.prog}: {message} (see {self.prog} -h)")


def _whole(low: int, unit: str) -> Any:
    """An argparse type: a whole number of ``unit`` at least ``low`` (the error says what to give)."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number: give {unit}, {low} or more") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small: give {unit}, {low} or more")
        return value

    return parse


def _day(raw: str) -> str:
    from shoplake.paths import validate_ds

    try:
        return validate_ds(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a day: give YYYY-MM-DD, e.g. 2019-03-01") from None


def _lake_parser(lake_root: str) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = _OneLineParser(prog="shoplake lake", description="Operate the lake's Delta tables.", formatter_class=fmt)
    parser.add_argument("--lake-root", default=lake_root, help="lake root (SHOPLAKE_LAKE_ROOT)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    table = "<zone>/<name> (e.g. curated/steam_reviews) or the table's URI; `shoplake lake tables` lists them"
    cmds = {}

    def add(name: str, summary: str) -> argparse.ArgumentParser:
        cmds[name] = sub.add_parser(name, help=summary, description=summary, formatter_class=fmt)
        return cmds[name]

    add("tables", "List every Delta table of the lake, by URI.")
    p = add("history", "A table's newest commits: version, time (UTC), operation, day, rows, files, counts.")
    p.add_argument("table", help=table)
    p.add_argument("--limit", type=_whole(1, "a number of commits"), default=20, help="commits shown, newest first")
    p = add("restore", "Undo a bad run: a day (or the whole table) as it was at a version, as one new commit.")
    p.add_argument("table", help=table)
    p.add_argument("--version", type=_whole(0, "a table version"), required=True,
                   help="the table version to go back to (see history)")  # fmt: skip
    p.add_argument("--ds", type=_day, help="only this day (YYYY-MM-DD); without it the whole table")
    p = add("vacuum", "Delete files no snapshot within the retention needs.")
    p.add_argument("table", nargs="?", help=f"one table (default: every table); {table}")
    p.add_argument("--retention-hours", type=_whole(0, "a number of hours"), default=168,
                   help="keep versions this young readable (168: 7 days)")  # fmt: skip
    p.add_argument("--full", action="store_true", help="also files no commit named (writers that died)")
    p.add_argument("--dry-run", action="store_true", help="list the files it would delete; delete nothing")
    p = add("compact", "Rewrite each day's small files into larger ones (no row changes).")
    p.add_argument("table", nargs="?", help=f"one table (default: every table); {table}")
    p.add_argument("--target-mb", type=_whole(1, "a file size in MiB"), default=128, help="target file size, MiB")
    p = add("migrate", "Convert a lake in the pointer layout (releases before Delta) into Delta tables in place.")
    p.add_argument("--dry-run", action="store_true", help="say what would be migrated; change nothing")
    return parser, cmds


def lake(argv: list[str]) -> int:
    """``shoplake lake …``: every wrong table, day, version or number is one line naming the argument and what to
    give, exit 2; a table that exists but fails to read is exit 1 with its error."""
    from shoplake.config import Settings

    parser, cmds = _lake_parser(Settings.from_env().lake_root)
    try:
        return _lake(parser.parse_args(argv), cmds)
    except _Refused as exc:
        print(exc, file=sys.stderr)  # noqa: T201 - the command's own error
        return 2


def _lake(args: argparse.Namespace, cmds: dict[str, argparse.ArgumentParser]) -> int:
    from shoplake import lakeops
    from shoplake.io import delta

    root = args.lake_root
    this = cmds[args.command]
    uri = lakeops.table_uri(root, args.table) if getattr(args, "table", None) else None
    if uri is not None:
        current = delta.snapshot_version(uri)
        if current is None:
            this.error(f"argument table: no Delta table {args.table!r} at {uri}; `shoplake lake tables` lists them")
        if args.command == "restore" and args.version > current:
            this.error(f"argument --version: {args.table} has versions 0–{current}; give one of them "
                       f"(`shoplake lake history {args.table}`)")  # fmt: skip
    try:
        if args.command == "tables":
            out: Any = lakeops.tables(root)
        elif args.command == "history":
            out = lakeops.history(root, args.table, args.limit)
        elif args.command == "restore":
            out = lakeops.restore(root, args.table, args.version, args.ds)
        elif args.command == "vacuum":
            vacuum = lakeops.vacuum_files if args.dry_run else lakeops.vacuum  # a dry run names the files
            out = vacuum(root, args.table, retention_hours=args.retention_hours, full=args.full, dry_run=args.dry_run)
        elif args.command == "compact":
            out = lakeops.compact(root, args.table, target_mb=args.target_mb)
        else:
            out = lakeops.migrate(root, dry_run=args.dry_run)
    except FileNotFoundError as exc:  # restore: the day is not in that version, or its files were vacuumed
        this.error(f"argument {'--ds' if getattr(args, 'ds', None) else 'table'}: {exc}")
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


def entry() -> None:
    """The ``shoplake`` console script: :func:`main`, ended the way jobs end (a command that used ``deltalake``
    must not die of the teardown abort after it answered; :func:`shoplake.jobconfig.run_script`)."""
    from shoplake.jobconfig import run_script

    run_script(main)


if __name__ == "__main__":
    entry()
