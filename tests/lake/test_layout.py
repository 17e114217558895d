"""The library's layout rules, checked on the source: imports point down, jobs are shims, configs document flags."""

import ast
import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "src" / "shoplake"
#: layers, top to bottom: a module may import its own layer and the ones below it
LAYERS = ["serve|cli", "pipelines|overview|lakeops", "ml", "ingest|transforms|io", "base"]


def layer(module: str) -> int:
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 and parts[0] == "shoplake" else ""
    for i, names in enumerate(LAYERS):
        if sub in names.split("|"):
            return i
    return len(LAYERS) - 1  # config, paths, window, jobconfig, quarantine


def shoplake_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("shoplake", "airflow"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in ("shoplake", "airflow")}
    return found


MODULES = sorted(LIB.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIB)))
def test_imports_point_down_and_never_at_airflow(path):
    module = "shoplake." + ".".join(path.relative_to(LIB).with_suffix("").parts).removesuffix(".__init__")
    for imported in shoplake_imports(path):
        assert not imported.startswith("airflow"), f"{module} imports {imported}: the library never imports Airflow"
        assert layer(imported) >= layer(module), f"{module} imports {imported}, which sits above it"


def test_ml_holds_models_registry_and_tracking_only():
    assert not (LIB / "devserver.py").exists(), "the dev Mongo server is a script, not part of the shipped library"
    steps = [p.name for p in (LIB / "ml").glob("*pipeline*.py")] + [p.name for p in (LIB / "ml").glob("*_config.py")]
    assert steps == [], "pipeline steps and job configs live in shoplake/pipelines/"


JOBS = sorted((ROOT / "jobs").rglob("*.py"))


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.name)
def test_every_job_is_a_shim_over_a_pipeline_step(path):
    tree = ast.parse(path.read_text())
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert [f.name for f in functions] == ["main"], f"{path.name}: only main(); steps live in shoplake.pipelines"
    assert "run_job(" in ast.unparse(functions[0]), f"{path.name}: main() calls shoplake.jobconfig.run_job"
    assert any("shoplake.pipelines" in m for m in shoplake_imports(path))


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.name)
def test_every_job_runs_the_step_named_after_its_task(path):
    """A job file is named after the DAG task that runs it; the step it runs has the same name (no ``train`` /
    ``check`` in seven modules, no ``import … as check`` in the DAGs)."""
    calls = [
        n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call) and ast.unparse(n.func) == "run_job"
    ]
    step = calls[0].args[1]
    name = step.attr if isinstance(step, ast.Attribute) else getattr(step, "id", None)
    assert name == path.stem, f"{path.name} runs {ast.unparse(step)}: name the step {path.stem}"


@pytest.mark.parametrize("path", sorted([*(ROOT / "dags").glob("*.py"), *(ROOT / "plugins").rglob("*.py")]),
                         ids=lambda p: p.name)  # fmt: skip
def test_dags_call_steps_by_their_own_names(path):
    aliased = [f"{a.name} as {a.asname}" for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)
               and (n.module or "").startswith("shoplake.pipelines.") for a in n.names if a.asname]  # fmt: skip
    assert not aliased, f"{path.name} renames steps ({aliased}): import the module and call module.step"


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.name)
def test_every_job_flag_has_help(path):
    out = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, check=True).stdout
    assert "--ds DS" in out
    assert "--lake-root LAKE_ROOT" in out
    assert "YYYY-MM-DD" in out
    assert "(default:" in out


def _configs():
    from shoplake.ml.churn import ZooConfig
    from shoplake.ml.sentiment import EngineConfig
    from shoplake.ml.xgb import XgbParams

    found = {ZooConfig, EngineConfig, XgbParams}
    for name in ("steam_reviews", "sentiment_model", "purchase_model", "churn", "steam_games"):
        mod = importlib.import_module(f"shoplake.pipelines.{name}")
        found |= {v for v in vars(mod).values() if dataclasses.is_dataclass(v) and v.__module__ == mod.__name__}
    return sorted(found, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _configs(), ids=lambda c: c.__name__)
def test_every_config_field_says_what_it_does(cls):
    for f in dataclasses.fields(cls):
        text = f.metadata.get("help", "")
        assert len(text) > 12, f"{cls.__name__}.{f.name} needs help text (shown by --help and as the Param description)"


def _functions(*folders: str):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1


def test_no_function_in_the_library_or_the_glue_runs_over_80_lines_nor_a_training_step_over_60():
    """A newcomer reads a step in one screen: long functions are split into named steps (see docs/architecture.md)."""
    lengths = dict(_functions("src", "plugins"))
    assert not {f: n for f, n in lengths.items() if n > 80}
    trainings = {
        f: n
        for f, n in lengths.items()
        if f.split()[-1].startswith(("train", "finish_training")) and "/pipelines/" in f
    }
    assert trainings, "the pipelines' train_* steps"
    assert not {f: n for f, n in trainings.items() if n > 60}


def _module_name(path: Path) -> str:
    rel = path.relative_to(LIB.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (module → the modules it imports), or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_library_imports_without_a_circle():
    """Imports point down *strictly* between modules: two modules of one layer may not import each other (the Delta
    layer and the partition layer did, through function-level imports)."""
    modules = {_module_name(p): p for p in MODULES}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in shoplake_imports(path):
            while imported and imported not in modules:  # ``from shoplake.io import delta`` names a module too
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    graph |= {name: targets | _from_package_imports(modules[name], modules) for name, targets in graph.items()}
    assert _cycle(graph) == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check finds one


def _from_package_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """``from shoplake.io import delta``: the submodules a from-import of a package names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shoplake"):
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
    return found - {_module_name(path)}


SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_find_stop_and_check_processes_through_the_one_helper(path):
    """``shoplake.process`` (alive, find_processes, stop_processes) is the scripts' one way to end a process."""
    text = path.read_text()
    for own in ("os.kill(", "os.killpg(", "import psutil", '"/proc', "'/proc", "os.waitpid("):
        assert own not in text, f"{path.name} uses {own!r}: use shoplake.process"


def test_scripts_import_each_other_without_a_circle():
    names = {p.stem for p in SCRIPTS}
    graph = {}
    for path in SCRIPTS:
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        graph[path.stem] = imported & names
    assert _cycle(graph) == []
    assert graph["standalone"] == {"devserver", "deployment"}  # the check reads sibling imports
