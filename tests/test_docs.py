"""The documentation a user gets: no pointers to notes outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Names of design notes that live outside the repository; docstrings and docs cite the papers and
#: reference code instead.
OUTSIDE_NOTES = re.compile(r"architectures\.md|conventions\.md|shared/design")


def _text_files():
    """Every text file under jeeg/, benchmarks/ and tests/ (but this one), docs/*.md and README.md."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for top in ("jeeg", "benchmarks", "tests"):
        for p in sorted((ROOT / top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p != Path(__file__).resolve():
                files.append(p)
    for p in files:
        if not p.is_file():
            continue
        try:
            yield p, p.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary fixtures
            continue


def test_no_reference_to_design_notes_outside_the_repository():
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()[:100]}"
            for p, text in _text_files()
            for i, line in enumerate(text.splitlines(), 1) if OUTSIDE_NOTES.search(line)]
    assert not hits, ("these lines point at design notes users do not have; cite the paper "
                      "(authors, year, DOI, section) or the reference code (URL + file) instead:\n"
                      + "\n".join(hits))



_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose_lines(text: str):
    """The lines of a markdown text outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            yield line


def _anchors(path: Path) -> list[str]:
    """GitHub's anchors of a markdown file's headings (lower case, punctuation dropped, spaces → -)."""
    seen: dict[str, int] = {}
    out = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.append(slug if n == 0 else f"{slug}-{n}")
    return out


def _broken_links(pages: list[Path], root: Path) -> list[str]:
    """Every relative link of ``pages`` whose file or heading does not exist."""
    broken = []
    for page in pages:
        for line in _prose_lines(page.read_text(encoding="utf-8")):
            for target in _LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                file, _, anchor = target.partition("#")
                dest = (page.parent / file).resolve() if file else page
                if not dest.exists():
                    broken.append(f"{page.relative_to(root)}: {target} (no file {file})")
                elif anchor and (dest.suffix != ".md" or anchor not in _anchors(dest)):
                    broken.append(f"{page.relative_to(root)}: {target} (no heading #{anchor} in {dest.name})")
    return broken


def test_link_check_finds_missing_files_and_headings(tmp_path):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# The main job: cross-subject decoding\n```\n# not a heading [x](nowhere.md)\n```\n"
                    "### Member scaling (`python benchmarks/members_scaling.py`)\n## Data\n## Data\n"
                    "[ok](#data-1) [ok](page.md#member-scaling-python-benchmarksmembers_scalingpy) "
                    "[ok](https://example.org/x.md) [bad](#not-a-heading) [bad](../missing.md)\n")
    assert _anchors(page) == ["the-main-job-cross-subject-decoding",
                              "member-scaling-python-benchmarksmembers_scalingpy", "data", "data-1"]
    assert _broken_links([page], tmp_path) == [
        "docs/page.md: #not-a-heading (no heading #not-a-heading in page.md)",
        "docs/page.md: ../missing.md (no file ../missing.md)"]


def test_every_relative_link_in_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 1, "docs/ holds no pages"
    broken = _broken_links(pages, ROOT)
    assert not broken, "broken links:\n" + "\n".join(broken)
