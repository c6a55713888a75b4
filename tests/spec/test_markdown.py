"""The block scanner agrees with markdown-it-py (the reference) on what it reports."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from specloom.spec.markdown import LineKind, scan
from tests.conftest import example_files

_REFERENCE = MarkdownIt("commonmark")


def _reference(text: str) -> tuple[list[tuple[int, int]], list[int], list[tuple[int, int]]]:
    """(headings (line, level), list item lines, fences (first, last line)) per markdown-it.

    Block quotes are plain text to the spec parsers (nothing in a spec lives in one), so
    items inside them are left out."""
    headings: list[tuple[int, int]] = []
    items: list[int] = []
    fences: list[tuple[int, int]] = []
    quoted = 0
    for token in _REFERENCE.parse(text):
        quoted += {"blockquote_open": 1, "blockquote_close": -1}.get(token.type, 0)
        if token.map is None or (quoted and token.type == "list_item_open"):
            continue
        if token.type == "heading_open" and token.markup.startswith("#"):
            headings.append((token.map[0] + 1, int(token.tag[1])))
        elif token.type == "list_item_open":
            items.append(token.map[0] + 1)
        elif token.type == "fence":
            fences.append((token.map[0] + 1, token.map[1]))
    return headings, items, fences


def _ours(text: str) -> tuple[list[tuple[int, int]], list[int], list[tuple[int, int]]]:
    doc = scan(text)
    headings = [(h.line, h.level) for h in doc.headings]
    items = [item.line for item in doc.items]
    fences: list[tuple[int, int]] = []
    for line in doc.lines:
        if line.kind is LineKind.FENCE_OPEN:
            last = line.number
            for following in doc.lines[line.number :]:
                if following.fence != line.fence:
                    break
                last = following.number
            fences.append((line.number, last))
    return headings, items, fences


def test_scanner_matches_markdown_it_on_every_real_spec() -> None:
    files = example_files("*.md")
    assert len(files) > 40
    for path in files:
        text = path.read_text(encoding="utf-8")
        ours_headings, ours_items, ours_fences = _ours(text)
        ref_headings, ref_items, ref_fences = _reference(text)
        assert ours_headings == ref_headings, path
        assert ours_fences == ref_fences, path
        # Every item markdown-it sees, we see (we may see a few more in exotic indented code).
        assert set(ref_items) <= set(ours_items), path


def test_lines_keep_their_endings_exactly() -> None:
    text = "# T\r\n\r\n- [ ] 1. a\r\n  - _Requirements: 1.1_\n```\n- [ ] not a task\n```"
    doc = scan(text)
    assert doc.text() == text
    assert [line.kind for line in doc.lines][-2] is LineKind.FENCE_BODY
    assert [item.line for item in doc.items] == [3, 4]
    assert doc.items[1].parent == 0


def test_fence_inside_list_item_hides_checkboxes() -> None:
    text = "- [ ] 1. Task\n  ```md\n  - [ ] 2. inside code\n  ```\n- [ ] 3. After\n"
    doc = scan(text)
    assert [item.content for item in doc.items] == ["[ ] 1. Task", "[ ] 3. After"]
    assert doc.items[0].end_line == 4


def test_html_comment_hides_structure() -> None:
    doc = scan("<!--\n## Hidden\n- [ ] 1. hidden\n-->\n## Shown\n")
    assert [h.text for h in doc.headings] == ["Shown"]
    assert doc.items == []


_LINE = st.one_of(
    st.builds(lambda level, text: "#" * level + " " + text, st.integers(1, 6),
              st.text("abc XYZ12", min_size=1, max_size=12).map(str.strip).filter(bool)),
    st.builds(lambda indent, marker, text: " " * indent + marker + " " + text,
              st.sampled_from([0, 2, 4]), st.sampled_from(["-", "*", "1.", "2."]),
              st.text("abc [x] 12.", min_size=1, max_size=12).map(str.strip).filter(bool)),
    st.just(""),
    st.just("```"),
    st.just("~~~json"),
    st.text("abcdef ", min_size=1, max_size=20).map(str.strip).filter(bool),
)  # fmt: skip


@given(st.lists(_LINE, max_size=25))
def test_scanner_matches_markdown_it_on_generated_documents(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    ours_headings, ours_items, ours_fences = _ours(text)
    ref_headings, ref_items, ref_fences = _reference(text)
    assert ours_fences == ref_fences
    assert ours_headings == ref_headings
    assert set(ref_items) <= set(ours_items)


def test_only_markdown_line_endings_split_lines() -> None:
    # str.splitlines would also split at U+2028, form feed and \x1c..\x1e, shifting line numbers.
    text = "# T\u2028still the heading\n\x0cpage\r\n- [ ] 1. a\rnext\n"
    doc = scan(text)
    assert [line.raw for line in doc.lines] == [
        "# T\u2028still the heading\n", "\x0cpage\r\n", "- [ ] 1. a\r", "next\n"
    ]  # fmt: skip
    assert doc.text() == text
    assert doc.items[0].line == 3
