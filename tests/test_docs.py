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
