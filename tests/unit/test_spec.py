"""One spec per state: the specs and the chart cover each other, and a mismatch fails at once."""

from __future__ import annotations

import ast
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from fsm import errors
from fsm.compat.steps import LegacyCall
from fsm.definition import trading_definition
from fsm.errors import GuardRejected, MachineDefinitionError, TradeFsmError
from fsm.machines.specs import TRADING_SPECS
from fsm.spec import COMMAND_EVENTS, SpecSet, StateSpec

DEFINITION = trading_definition()
FSM = Path(__file__).parents[2] / "fsm"


@pytest.mark.parametrize("specs", [TRADING_SPECS, LegacyCall(None, None, None).specs()],
                         ids=["trading", "legacy"])  # fmt: skip
def test_specs_and_chart_cover_each_other(specs: SpecSet) -> None:
    live = {s for s in DEFINITION.states if s not in DEFINITION.final_states}
    assert set(specs) == live
    for state, spec in specs.items():
        chart = {event for (source, event) in DEFINITION.transitions if source == state}
        assert set(spec.events) | COMMAND_EVENTS == chart, state
        assert spec.parks == (spec.step is None)
    assert specs.parked_states == {"awaiting_approval"}


def test_a_spec_that_does_not_match_the_chart_is_refused() -> None:
    specs = dict(TRADING_SPECS.items())
    with pytest.raises(MachineDefinitionError, match="awaiting_approval has no spec"):
        SpecSet("broken", DEFINITION, {k: v for k, v in specs.items() if k != "awaiting_approval"})
    wrong = StateSpec(specs["planning"].step, ("plan_approved", "execution_completed"))
    with pytest.raises(MachineDefinitionError, match="planning sends execution_completed"):
        SpecSet("broken", DEFINITION, specs | {"planning": wrong})
    with pytest.raises(MachineDefinitionError, match="never sends approval_required"):
        SpecSet("broken", DEFINITION, specs | {"planning": StateSpec(
            specs["planning"].step, ("plan_approved", "plan_empty", "plan_reported"))})  # fmt: skip


def test_the_spec_says_which_state_sends_a_plan_and_which_checkpoint_holds_it() -> None:
    for specs in (TRADING_SPECS, LegacyCall(None, None, None).specs()):
        sent = specs.sent_plans
        assert sent is not None
        assert (sent.state, sent.events, sent.plan_state) == (
            "executing",
            ("approved", "plan_approved"),
            "planning",
        )
    specs = dict(TRADING_SPECS.items())
    unused = replace(specs["executing"], sends_plan="analyzing")
    with pytest.raises(MachineDefinitionError, match="plan of analyzing, which it does not use"):
        SpecSet("broken", DEFINITION, specs | {"executing": unused})
    twice = replace(specs["analyzing"], sends_plan="generating_signals")
    with pytest.raises(MachineDefinitionError, match="only one state may send a plan"):
        SpecSet("broken", DEFINITION, specs | {"analyzing": twice})


OURS = ("fsm", "persistence")


def _imports(package: Path = FSM) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules of ``fsm`` and ``persistence`` it imports
    (TYPE_CHECKING and function-level imports included)."""
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(FSM.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        )
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(OURS):
                deps.update(f"{node.module}.{a.name}" for a in node.names)
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith(OURS))
        graph[name] = deps
    return graph


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    """What ``start`` imports, directly or through other modules of the graph."""
    seen, todo = set(), [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen and dep != "fsm":  # the package's lazy re-exports
                seen.add(dep)
                todo.append(dep)
    return seen


def test_no_import_cycle_in_fsm() -> None:
    graph = {m: {d for d in deps if d.startswith("fsm")} for m, deps in _imports().items()}
    seen: dict[str, str] = {}  # module → "visiting" | "done"

    def visit(module: str, path: list[str]) -> None:
        if seen.get(module) == "done" or module not in graph:
            return
        assert seen.get(module) != "visiting", " -> ".join([*path, module])
        seen[module] = "visiting"
        for dep in sorted(graph[module]):
            if dep != "fsm":  # the package's re-exports
                visit(dep, [*path, module])
        seen[module] = "done"

    for module in sorted(graph):
        visit(module, [])


def test_the_driver_never_sees_the_engine() -> None:
    assert "fsm.engine" not in _reached(_imports(), "fsm.driver")  # nor its commit half


ROOT = "fsm.compose"  # the composition root: the one place in fsm that knows persistence
ENGINE = ("fsm.engine", "fsm.decisions", "fsm.genesis", "fsm.driver", "fsm.committing",
          "fsm.runtime", "fsm.requests", "fsm.spec", "fsm.steps", "fsm.machines")  # fmt: skip
ADAPTERS = ("fsm.adapters", "fsm.plugins", "fsm.pluginports", ROOT, "persistence")


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_only_the_composition_root_imports_persistence() -> None:
    importers = {m for m, deps in _imports().items() if any(_within(d, ("persistence",))
                                                            for d in deps)}  # fmt: skip
    assert importers  # the root does
    assert all(_within(m, (ROOT,)) for m in importers), sorted(importers)


def test_the_engine_imports_no_adapter_plugin_or_store() -> None:
    graph = _imports()
    for module in (m for m in graph if _within(m, ENGINE)):
        found = sorted(d for d in _reached(graph, module) if _within(d, ADAPTERS))
        assert not found, f"{module} reaches {found}"


def test_read_models_do_not_load_the_engine_nor_the_sql_audit_compose_them() -> None:
    graph = _imports()
    assert not {"fsm.engine", "fsm.driver"} & _reached(graph, "fsm.views")
    sql = _imports(FSM.parent / "persistence")
    assert not [m for m, deps in sql.items() if any(_within(d, ("fsm.views",)) for d in deps)]


ERRORS = [c for c in vars(errors).values()
          if isinstance(c, type) and issubclass(c, TradeFsmError)]  # fmt: skip


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_survives_a_process_boundary(cls: type[TradeFsmError]) -> None:
    if cls is GuardRejected:
        error: TradeFsmError = cls("no", guard="max_orders", reason="3 > 2", run_id="r1")
    elif cls is errors.DuplicateClientOrderId:
        error = cls("tf-1")
    else:
        error = cls("it broke", run_id="r1", state="planning", event="plan_approved")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert (again.message, again.run_id, str(again)) == (error.message, error.run_id, str(error))
    assert again.__dict__ == error.__dict__


def test_errors_live_in_one_module() -> None:
    for path in [*FSM.rglob("*.py"), *(FSM.parent / "persistence").rglob("*.py")]:
        if path.name == "errors.py" and path.parent.name == "fsm":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bases = {b.id for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                 for b in node.bases if isinstance(b, ast.Name)}  # fmt: skip
        assert not bases & {c.__name__ for c in ERRORS}, path


def test_a_timeout_is_tried_again_except_in_executing() -> None:
    """A hanging strategy or market data is asked again; a broker call that timed out is not
    (it may have placed the order): the run reconciles instead (docs/plugins.md)."""
    timeout = errors.StepTimeout("did not return", state="x")
    specs = TRADING_SPECS
    assert specs["generating_signals"].retries(timeout)
    assert specs["analyzing"].retries(timeout)
    assert not specs["executing"].retries(timeout)
    assert specs["executing"].timeout_setting == "execution_timeout_seconds"
