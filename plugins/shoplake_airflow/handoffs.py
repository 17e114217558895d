"""Values one task hands another, as templates built from the producing operator — and checked when the DAG parses.

Where an operator's argument needs another task's result and cannot take a task output (``XComArg``) as it is — an
item of a returned list (EMR's step id), a nested key (SageMaker's artifact), a field of a job's result —
:func:`pulled` builds the Jinja expression from the *producer object*, never from a spelled task id, so renaming
or regrouping the producer cannot leave a stale id behind. :func:`validate_hand_offs` runs on every DAG as it is
parsed (each DAG file ends with ``validate_hand_offs(<dag>())``): any template that pulls a task's XCom must name a
task of the DAG upstream of the consumer, or the file fails to import — an import error in the UI and in
``airflow dags list-import-errors``, not a failed run days later.
"""

from __future__ import annotations

import re
from typing import Any

#: ``ti.xcom_pull(task_ids='<id>')`` in a template
PULL = re.compile(r"xcom_pull\(\s*task_ids\s*=\s*['\"]([^'\"]+)['\"]")


class HandOffError(ValueError):
    """A template pulls the XCom of a task that is not in the DAG, or not upstream of the task that reads it."""


def pulled(producer: Any, *path: str | int, expression: bool = False) -> str:
    """The template of ``producer``'s return value, or of ``value[path[0]][path[1]]…``.

    Args:
        producer: the operator (or ``@task`` output) whose XCom is read.
        expression: return the bare Jinja expression (to embed in a larger template), not ``{{ … }}``.
    """
    operator = getattr(producer, "operator", producer)  # an XComArg names its operator
    expr = f"ti.xcom_pull(task_ids={operator.task_id!r})"
    expr += "".join(f"[{step!r}]" for step in path)
    return expr if expression else f"{{{{ {expr} }}}}"


def _templates(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _templates(v)]
    if isinstance(value, list | tuple | set):
        return [t for v in value for t in _templates(v)]
    return []


def hand_off_problems(dag: Any) -> list[str]:
    """Every templated pull of ``dag`` that names no task of it, or a task not upstream of its reader."""
    problems = []
    for task in dag.tasks:
        upstream = None
        for field in getattr(task, "template_fields", ()):
            for text in _templates(getattr(task, field, None)):
                for producer in PULL.findall(text):
                    if producer not in dag.task_dict:
                        problems.append(f"{task.task_id}.{field} pulls the XCom of {producer!r}: no such task")
                        continue
                    upstream = upstream if upstream is not None else task.get_flat_relative_ids(upstream=True)
                    if producer not in upstream:
                        problems.append(f"{task.task_id}.{field} pulls {producer!r}, which is not upstream of it")
    return problems


def validate_hand_offs(dag: Any) -> Any:
    """``dag`` itself, after checking its templated hand-offs (see the module docstring).

    Raises:
        HandOffError: listing each bad hand-off — the DAG file then fails to parse.
    """
    problems = hand_off_problems(dag)
    if problems:
        raise HandOffError(f"DAG {dag.dag_id}: " + "; ".join(problems))
    return dag
