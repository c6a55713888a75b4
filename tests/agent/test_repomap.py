"""The repository map: files git shows, symbols, the cap and its ranking, determinism."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from specloom.agent.repomap import RepoMap, list_files, repo_map, symbols_of

PYTHON = '''"""A module."""
import os

LIMIT = 3


def parse(text: str, *, strict: bool = False) -> list[str]:
    return text.split()


async def fetch(url):
    return url


def _private():
    pass


class Parser(Base, metaclass=Meta):
    def __init__(self):
        pass

    def run(self) -> None:
        def inner():
            pass

    def _hidden(self):
        pass


class _Internal:
    pass
'''

TYPESCRIPT = """import { x } from "./x";

export function render(props: Props): string {
  return "";
}
export default async function main() {}
export const handler = async (event: Event) => {
  const local = 1;
};
export interface Props {
  title: string;
}
export type Id = string;
export class Store<T> extends Base {
  method() {}
}
function helper(a: number) {
  function nested() {}
}
enum Colour { Red }
"""


def _write(root: Path, path: str, text: str = "x\n") -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    _write(root, ".gitignore", "secrets.env\ngenerated/\n*.log\n")
    _write(root, "README.md", "# Demo\n")
    _write(root, "src/app/core.py", PYTHON)
    _write(root, "web/src/view.ts", TYPESCRIPT)
    _write(root, "secrets.env", "KEY=1\n")
    _write(root, "generated/out.py", "def generated(): pass\n")
    _write(root, "debug.log", "noise\n")
    _write(root, "tracked-then-ignored.log", "kept\n")
    _git(root, "add", "-f", "tracked-then-ignored.log", "README.md")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    _write(root, "untracked.py", "def fresh(): pass\n")
    _write(root, ".kiro/.specloom/audit.sqlite3", "state")
    _write(root, ".kiro/specs/demo/tasks.md", "- [ ] 1. Do\n")
    return root


def test_python_symbols_are_the_public_top_level_ones() -> None:
    assert symbols_of("core.py", PYTHON) == [
        "def parse(text: str, *, strict: bool=False) -> list[str]",
        "async def fetch(url)",
        "class Parser(Base, metaclass=Meta): run",
    ]
    assert symbols_of("broken.py", "def (:\n") == []


def test_typescript_symbols_are_the_top_level_ones() -> None:
    assert symbols_of("view.ts", TYPESCRIPT) == [
        "export function render(props: Props): string",
        "export default async function main()",
        "export const handler",
        "export interface Props",
        "export type Id",
        "export class Store<T> extends Base",
        "function helper(a: number)",
        "enum Colour",
    ]


def test_go_rust_and_java_symbols() -> None:
    go = (
        "package main\n\ntype Server struct {\n}\n\n"
        "func (s *Server) Start(port int) error {\n}\n\nfunc main() {\n}\n"
    )
    assert symbols_of("main.go", go) == [
        "type Server struct",
        "func (s *Server) Start(port int) error",
        "func main()",
    ]
    rust = (
        "pub struct Config {\n}\n\nimpl Config {\n    pub fn new() -> Self {}\n}\n\n"
        "pub(crate) async fn run(cfg: &Config) -> Result<()> {\n}\n"
    )
    assert symbols_of("lib.rs", rust) == [
        "pub struct Config",
        "impl Config",
        "pub(crate) async fn run(cfg: &Config) -> Result<()>",
    ]
    java = (
        "package x;\n\npublic class Greeter {\n    public String greet(String name) {\n"
        "        return name;\n    }\n    private void hidden() {}\n}\n"
    )
    assert symbols_of("Greeter.java", java) == [
        "public class Greeter",
        "public String greet(String name)",
    ]
    assert symbols_of("notes.txt", "def looks_like_python(): pass\n") == []


def test_git_repository_files_respect_gitignore(repository: Path) -> None:
    files = list_files(repository)
    assert files == [
        ".gitignore",
        ".kiro/specs/demo/tasks.md",
        "README.md",
        "src/app/core.py",
        "tracked-then-ignored.log",
        "untracked.py",
        "web/src/view.ts",
    ]


def test_deleted_tracked_files_are_not_listed(repository: Path) -> None:
    (repository / "README.md").unlink()
    assert "README.md" not in list_files(repository)


def test_a_folder_without_git_skips_dependencies_and_honours_gitignore(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    _write(root, ".gitignore", "*.tmp\n/cache/\n")
    _write(root, "main.py", "def main(): pass\n")
    _write(root, "notes.tmp")
    _write(root, "cache/a.py")
    _write(root, "node_modules/lib/index.js")
    _write(root, ".venv/lib/site.py")
    _write(root, "pkg/__pycache__/m.cpython-311.pyc")
    _write(root, "build/out.js")
    _write(root, "pkg/mod.py")
    assert list_files(root) == [".gitignore", "main.py", "pkg/mod.py"]


def test_the_map_lists_files_with_their_symbols(repository: Path) -> None:
    mapped = repo_map(repository)
    assert isinstance(mapped, RepoMap)
    assert not mapped.truncated
    assert mapped.total_files == 7 == len(mapped.files_listed)
    assert mapped.text.startswith("7 files (paths relative to the project root")
    assert (
        "src/app/core.py\n  def parse(text: str, *, strict: bool=False) -> list[str]\n"
        in mapped.text
    )
    assert "web/src/view.ts\n  export function render(props: Props): string\n" in mapped.text
    assert "untracked.py\n  def fresh()\n" in mapped.text
    assert "secrets.env" not in mapped.text and "generated" not in mapped.text
    assert ".specloom" not in mapped.text
    lines = [line for line in mapped.text.splitlines()[1:] if not line.startswith("  ")]
    assert lines == sorted(lines)


def test_the_map_is_deterministic(repository: Path) -> None:
    assert repo_map(repository, max_chars=400) == repo_map(repository, max_chars=400)
    assert repo_map(repository) == repo_map(repository)


def test_the_cap_keeps_shallow_source_files_and_says_what_is_left_out(tmp_path: Path) -> None:
    root = tmp_path / "big"
    _write(root, "main.py", "def main(argv: list[str]) -> int:\n    return 0\n")
    for index in range(60):
        _write(root, f"pkg/deep/er/module_{index:02}.py", f"def function_{index}(): pass\n")
        _write(root, f"docs/page_{index:02}.md", "# Page\n")
    mapped = repo_map(root, max_chars=900)
    assert len(mapped.text) <= 900
    assert mapped.truncated
    assert "main.py\n  def main(argv: list[str]) -> int\n" in mapped.text
    shown = set(mapped.files_listed)
    assert "main.py" in shown
    assert any(path.startswith("pkg/") for path in shown)
    assert not any(path.startswith("docs/") for path in shown)
    left = 121 - len(shown)
    assert mapped.text.endswith(
        f"[... {left} more files not shown: the map is capped at 900 chars]\n"
    )


def test_the_cap_shortens_symbol_lists_before_dropping_files(tmp_path: Path) -> None:
    root = tmp_path / "symbols"
    many = "".join(
        f"def function_number_{n}(argument_one, argument_two): pass\n" for n in range(12)
    )
    _write(root, "a.py", many)
    _write(root, "b.py", many)
    mapped = repo_map(root, max_chars=600)
    assert mapped.files_listed == ("a.py", "b.py")
    assert mapped.truncated
    assert "a.py\n  def function_number_0(" in mapped.text
    assert "b.py\n  def function_number_0(" in mapped.text
    assert "function_number_11" not in mapped.text
    assert mapped.text.endswith("[... symbols of some files not shown: the map is capped]\n")
    assert len(mapped.text) <= 600


def test_tiny_caps_and_empty_projects(tmp_path: Path) -> None:
    _write(tmp_path / "p", "a.py", "def a(): pass\n")
    tiny = repo_map(tmp_path / "p", max_chars=30)
    assert len(tiny.text) <= 30 and tiny.truncated
    assert repo_map(tmp_path / "p", max_chars=0) == RepoMap("", (), 1, True)
    (tmp_path / "empty").mkdir()
    assert repo_map(tmp_path / "empty") == RepoMap("", (), 0, False)
