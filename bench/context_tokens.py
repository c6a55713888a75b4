"""Context benchmark: the focused prompt of each task against sending the whole spec.

For every spec of the real Kiro projects in ``tests/data/kiro-examples/`` and of the example
project shipped in ``examples/``, each leaf task (the unit the agent runs) is measured two
ways, side by side:

* focused: what ``specloom run`` sends for the task: the prompt of
  ``specloom.workflows.task_prompt.build_task_prompt`` (the task, the criteria it cites, the
  design sections and properties it needs, how it is verified) plus the context of
  ``task_context`` (the steering that applies to it, memory);
* whole: the whole spec (requirements or bugfix, design, tasks) plus every steering file,
  plus the task's own line.

Both leave out what they would share: the agent's standing instructions, the tool
definitions and the repository map. Context caps are lifted on both sides, so the figures
measure the selection, not a truncation. Specs laid out outside ``.kiro/`` (a folder holding
the three files, steering in a ``steering/`` folder beside it) are copied into a temporary
``.kiro/`` first.

Tokens are estimated as characters / 4 (rounded up), the usual rule of thumb for English and
code with BPE tokenizers; the ratio, which is what the target is about, does not depend on
the divisor. Target: a median ratio (focused / whole) of at most 0.5 for every spec.

May import: the standard library, ``specloom`` and ``reporting`` (a sibling in bench/).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reporting import Table, median, verdict
from specloom.spec.model import SPEC_FILES
from specloom.workflows.task_prompt import (
    build_task_prompt,
    task_context,
    task_request,
    touched_paths,
)
from specloom.workspace import Workspace

__all__ = ["CHARS_PER_TOKEN", "TARGET_RATIO", "SpecSample", "estimate_tokens", "run_context_tokens",
           "spec_samples"]  # fmt: skip

CHARS_PER_TOKEN = 4
"""The token estimate: characters divided by this, rounded up."""
TARGET_RATIO = 0.5
"""Each spec's median focused/whole ratio must be at most this."""

_REPOSITORY = Path(__file__).resolve().parent.parent
_SOURCES = (_REPOSITORY / "tests" / "data" / "kiro-examples", _REPOSITORY / "examples")
_UNCAPPED = 10**9
_TEST_COMMAND = "python -m pytest -q"


@dataclass(frozen=True, slots=True)
class SpecSample:
    """One spec to measure.

    Attributes:
        label: How it is shown (``project/spec``).
        folder: The folder holding its documents.
        steering: Its project's steering folder, if any.
    """

    label: str
    folder: Path
    steering: Path | None


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``, estimated as characters / ``CHARS_PER_TOKEN``, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _steering_of(folder: Path) -> Path | None:
    """The steering folder of the project holding spec ``folder``: ``.kiro/steering`` above
    a ``.kiro/specs/<name>`` folder, else a ``steering/`` folder beside the spec's."""
    if folder.parent.name == "specs" and folder.parent.parent.name == ".kiro":
        candidate = folder.parent.parent / "steering"
    else:
        candidate = folder.parent / "steering"
    return candidate if candidate.is_dir() else None


def spec_samples(sources: tuple[Path, ...] = _SOURCES) -> list[SpecSample]:
    """Every spec folder (a ``tasks.md`` beside a ``design.md``) under ``sources``, labelled
    by its path below the source folder (``.kiro/specs/`` left out)."""
    samples: list[SpecSample] = []
    for source in sources:
        if not source.is_dir():
            continue
        for tasks in sorted(source.rglob("tasks.md")):
            folder = tasks.parent
            if not (folder / "design.md").is_file():
                continue
            parts = [p for p in folder.relative_to(source).parts if p not in (".kiro", "specs")]
            samples.append(SpecSample("/".join(parts), folder, _steering_of(folder)))
    return samples


def _project(sample: SpecSample, scratch: Path) -> Path:
    """A project holding the sample's spec under ``.kiro/specs/`` and its steering."""
    root = scratch / sample.label.replace("/", "__")
    specs = root / ".kiro" / "specs" / sample.folder.name
    specs.mkdir(parents=True)
    for name in SPEC_FILES:
        if (sample.folder / name).is_file():
            shutil.copyfile(sample.folder / name, specs / name)
    if sample.steering is not None:
        shutil.copytree(sample.steering, root / ".kiro" / "steering")
    return root


def _whole(root: Path, spec_name: str) -> tuple[str, str]:
    """The whole spec's documents, and every steering file, each joined."""
    folder = root / ".kiro" / "specs" / spec_name
    spec = [
        (folder / name).read_text(encoding="utf-8")
        for name in ("requirements.md", "bugfix.md", "design.md", "tasks.md")
        if (folder / name).is_file()
    ]
    steering = root / ".kiro" / "steering"
    files = sorted(steering.glob("*.md")) if steering.is_dir() else []
    return "\n\n".join(spec), "\n\n".join(p.read_text(encoding="utf-8") for p in files)


@dataclass(frozen=True, slots=True)
class _Measured:
    label: str
    tasks: int
    focused: list[int]
    whole: int
    ratios: list[float]
    spec_ratios: list[float]


def _measure(sample: SpecSample, scratch: Path) -> _Measured | None:
    root = _project(sample, scratch)
    spec = Workspace(root).load(sample.folder.name)
    if spec.tasks is None:
        return None
    spec_text, steering_text = _whole(root, spec.name)
    whole_text = f"{spec_text}\n\n{steering_text}"
    focused: list[int] = []
    ratios: list[float] = []
    spec_ratios: list[float] = []
    for task in spec.tasks.tasks:
        if not task.is_leaf:
            continue
        prompt = build_task_prompt(spec, task.id, test_command=_TEST_COMMAND)
        context = task_context(
            root,
            root,
            request=task_request(task),
            touched=touched_paths(task),
            max_chars=_UNCAPPED,
            include_repo_map=False,
            include_memory=False,
        )
        tokens = estimate_tokens(prompt.text + context.render())
        whole = estimate_tokens(f"{whole_text}\n\nDo task {task.id}: {task.title}\n")
        focused.append(tokens)
        ratios.append(tokens / whole)
        spec_ratios.append(estimate_tokens(prompt.text) / estimate_tokens(spec_text))
    if not ratios:
        return None
    whole = estimate_tokens(whole_text)
    return _Measured(sample.label, len(ratios), focused, whole, ratios, spec_ratios)


def run_context_tokens(sources: tuple[Path, ...] = _SOURCES) -> list[Table]:
    """Measure every spec found under ``sources`` and return the result table."""
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="specloom-bench-context-"))
    try:
        measured = [m for s in spec_samples(sources) if (m := _measure(s, scratch)) is not None]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table = Table(
        "Task prompt size: focused prompt vs whole spec + all steering (tokens = chars / 4)",
        ["spec", "tasks", "whole (tokens)", "focused median", "focused max", "median ratio",
         "max ratio", "spec part: median ratio", f"median <= {TARGET_RATIO:g}"],
        align="lrrrrrrrl",
    )  # fmt: skip
    passed_all = True
    for item in measured:
        ratio = median(item.ratios)
        passed = ratio <= TARGET_RATIO
        passed_all = passed_all and passed
        table.rows.append([
            item.label, str(item.tasks), f"{item.whole:,}", f"{median(item.focused):,.0f}",
            f"{max(item.focused):,}", f"{ratio:.2f}", f"{max(item.ratios):.2f}",
            f"{median(item.spec_ratios):.2f}", verdict(passed),
        ])  # fmt: skip
    every = [ratio for item in measured for ratio in item.ratios]
    table.notes += [
        f"All {len(every)} leaf tasks of {len(measured)} specs: median ratio "
        f"{median(every):.2f}, max {max(every, default=math.nan):.2f}; target (each spec's "
        f"median <= {TARGET_RATIO:g}): {verdict(passed_all if measured else None)}.",
        "spec part: the task's prompt alone against the spec's documents alone (steering "
        "that applies goes in whole, so always-included steering sets a floor on the ratio).",
        "Both sides leave out the agent's standing instructions, tool definitions and the "
        "repository map; context caps lifted. Measured in "
        f"{time.perf_counter() - started:.1f} s.",
    ]
    return [table]


if __name__ == "__main__":
    for result in run_context_tokens():
        print(result.text())
