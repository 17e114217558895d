"""DAG Params derived from the library's config dataclasses: a knob is declared once, as a field with ``option``.

The Param's default, type, bounds and description come from the field, so the trigger form, the job's ``--help``
and the job's validation say the same thing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow.sdk import Param

from shoplake.jobconfig import field_default

_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (tuple, "array"))


def ds_param(what: str = "the day to process") -> Param:
    """The ``ds`` Param every DAG has (empty: the run's data interval decides)."""
    return Param(
        None,
        type=["null", "string"],
        format="date",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description=f"{what}, YYYY-MM-DD; leave empty to use the run's data interval (scheduled and backfill runs)",
    )


def param_flags(names: tuple[str, ...] | list[str]) -> list[str]:
    """Job flags templated from the run's Params of the same names, one argument each:
    ``--window-days={{ params.window_days }}`` — a value that starts with ``-`` stays the flag's value, never a
    flag of its own."""
    return [f"--{name.replace('_', '-')}={{{{ params.{name} }}}}" for name in names]


def config_params(cls: type, names: tuple[str, ...] | list[str], **defaults: Any) -> dict[str, Param]:
    """Params for fields ``names`` of config dataclass ``cls`` (``defaults`` overrides a DAG's defaults)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    params = {}
    for name in names:
        f = fields[name]
        default = defaults.get(name, field_default(f))
        kind = next(t for py, t in _TYPES if isinstance(default, py))
        schema = dict(f.metadata.get("schema") or {})
        if kind == "array":
            default = list(default)
            schema.setdefault("minItems", 1)
            schema["uniqueItems"] = True
        if kind == "number" and isinstance(default, int):
            default = float(default)
        params[name] = Param(default, type=kind, description=f.metadata["help"], **schema)
    return params
