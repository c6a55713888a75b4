"""The scale benchmark's inputs stay valid: the specs bench/scale.py generates parse whole.

No timing here (CONVENTIONS.md item 10): figures come from ``python bench/run.py``. This only
checks that the generated 500-requirement spec parses to the counts the benchmark reports,
that its citations and dependencies point at real things, and that its task graph has no
cycle, so a change to the parsers or to the generator cannot quietly shrink what is measured.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from specloom.spec.analysis import analyze_spec
from specloom.spec.lint import lint_criteria
from specloom.spec.model import Spec, load_spec

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def scale() -> Iterator[ModuleType]:
    """``bench/scale.py``, imported the way ``bench/run.py`` imports it."""
    sys.path.insert(0, str(BENCH))
    try:
        import scale as module  # pyright: ignore[reportMissingImports]

        assert Path(module.__file__ or "").parent == BENCH
        yield module
    finally:
        sys.path.remove(str(BENCH))
        for name in ("scale", "spec_generator", "reporting"):  # keep bench/ out of other tests
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def spec(scale: ModuleType) -> Spec:
    """The 500-requirement benchmark spec, parsed (read only: the tests share it)."""
    return load_spec("scale-benchmark", scale.generate_spec(500).files)


def test_the_500_requirement_spec_parses_to_the_counts_the_benchmark_reports(
    scale: ModuleType, spec: Spec
) -> None:
    generated = scale.generate_spec(500)

    assert (generated.requirements, generated.criteria, generated.tasks) == (500, 2_500, 2_500)
    assert len(spec.requirement_list()) == 500
    assert len(spec.criteria()) == 2_500
    assert all(len(requirement.criteria) == 5 for requirement in spec.requirement_list())
    assert spec.tasks is not None and len(spec.tasks.tasks) == 2_500
    assert sum(1 for task in spec.tasks.tasks if task.is_leaf) == 2_000
    assert any(task.optional for task in spec.tasks.tasks)
    assert spec.design is not None and len(spec.design.properties) == generated.properties == 100


def test_the_task_graph_is_explicit_acyclic_and_matches_its_waves_block(spec: Spec) -> None:
    graph = spec.graph()

    assert graph is not None
    assert graph.find_cycle() is None
    assert graph.source == "explicit"
    assert spec.tasks is not None and spec.tasks.waves is not None
    assert graph.waves() == spec.tasks.waves.waves


def test_citations_and_dependencies_point_at_real_criteria_and_tasks(spec: Spec) -> None:
    rules = {finding.rule for finding in analyze_spec(spec, include_lint=False)}

    # ANA002/3/4/10 are dangling references, ANA009 a waves block out of step: none may occur.
    assert rules.isdisjoint({"ANA002", "ANA003", "ANA004", "ANA009", "ANA010", "ANA011"})


def test_every_lint_rule_family_the_benchmark_relies_on_has_work(spec: Spec) -> None:
    rules = {finding.rule for finding in lint_criteria(spec.criteria(), "requirements.md")}

    assert {"DUP001", "DUP002", "AMB001", "AMB002", "AMB005"} <= rules
    assert "EARS001" not in rules  # every generated criterion is well-formed EARS


def test_generation_is_deterministic(scale: ModuleType) -> None:
    assert scale.generate_spec(50).files == scale.generate_spec(50).files
