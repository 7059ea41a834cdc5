"""Every command shown to users runs: README.md, docs/*.md and the experiments' docstrings.

The commands are read from the documents as they are now (fenced code blocks in markdown; indented
command lines, such as ``::`` literal blocks, in the module docstrings of ``experiments/*.py``) and
run with tiny settings (one subject, or as few as a cross-subject split needs, and one epoch),
chosen per kind of command by :data:`RULES`. A command no rule can shrink fails the suite (add a
rule, or a :data:`SKIP` entry with its reason); so does a :data:`SKIP` entry that no longer matches
any command. The commands of one document run in its order in one temporary folder (the current
directory, so ``runs/...`` lands there), so that a sequence (a teacher run, then offline KD from
it) runs as written. ``jeeg`` commands run in-process (:func:`jeeg.cli.main`), experiment scripts
with :func:`runpy.run_path`, so JAX is imported once. A command equal to one already run but for
``--out`` is not run again: its ``--out`` becomes a link to the earlier run directory.

Select with ``pytest -k commands``. Real EEGMMIDB data as the rest of the suite (conftest.py).
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import re
import runpy
import shlex
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

#: First words of a shell command (other lines of an unlabelled block are output or tables).
PROGRAMS = ("jeeg", "python", "python3", "pip", "pip3", "bash", "sh", "make", "uv", "conda")
#: Fenced blocks read for commands: shell blocks, and unlabelled ones (lines starting with a program).
SHELL_LANGS = ("bash", "sh", "shell", "console", "zsh")


# ----------------------------------------------------------------------------------- extraction
@dataclass
class Command:
    """One command as shown: ``source`` ("README.md:57"), ``doc`` (the file), ``text`` (as written,
    continuation lines joined)."""

    source: str
    doc: str
    text: str

    @property
    def argv(self) -> list[str]:
        """The command's words, optional ``[--flag ...]`` groups of a synopsis dropped."""
        return shlex.split(_drop_optional(self.text), comments=True)


def _drop_optional(text: str) -> str:
    """``text`` without its optional flag groups ``[--x ...]`` (nested brackets included)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "[" and text[i + 1 : i + 2] == "-" and (i == 0 or text[i - 1].isspace()):
            depth = 0
            for j in range(i, len(text)):
                depth += {"[": 1, "]": -1}.get(text[j], 0)
                if depth == 0:
                    break
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return " ".join("".join(out).split())


def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """(line number, first word, joined text) of each command of a block: a line ending in ``\\``
    and lines indented deeper than a command's first line continue it; blank lines and comment
    lines end it."""
    out: list[list] = []
    cont = False
    for no, raw in lines:
        line = raw.rstrip()
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if out and stripped and (cont or (indent > out[-1][3] and not stripped.startswith("#"))):
            out[-1][2] += " " + stripped.rstrip("\\").strip()
        elif stripped and not stripped.startswith("#"):
            text = stripped.removeprefix("$ ")
            out.append([no, text.split()[0], text.rstrip("\\").strip(), indent])
        elif not stripped and out:
            out[-1][3] = 10**9  # a blank line ends the command
        cont = bool(stripped) and stripped.endswith("\\")
    return [(no, word, text) for no, word, text, _ in out]


class UnknownLine(Exception):
    """A line of a shell block that is no known program's command."""


def markdown_commands(path: Path) -> list[Command]:
    """The commands of ``path``'s fenced code blocks (shell or unlabelled)."""
    doc = str(path.relative_to(REPO))
    found, block, fence = [], [], None
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.match(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if fence is None and m:
            fence, lang, block = m.group(1), m.group(2).lower(), []
            continue
        if fence is not None and line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            if lang in SHELL_LANGS or lang == "":
                for n, word, text in _logical_lines(block):
                    if word in PROGRAMS:
                        found.append(Command(f"{doc}:{n}", doc, text))
                    elif lang:  # a shell block holds commands only
                        raise UnknownLine(f"{doc}:{n}: {text!r} is not a command of {PROGRAMS}; "
                                          "extend PROGRAMS and RULES in tests/test_commands.py")
            fence = None
            continue
        if fence is not None:
            block.append((no, line))
    return found


def markdown_python(path: Path) -> list[tuple[int, str]]:
    """The ``python`` fenced blocks of ``path``: (line of the block's first code line, code)."""
    found, block, fence, lang, start = [], [], None, "", 0
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.match(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if fence is None and m:
            fence, lang, block, start = m.group(1), m.group(2).lower(), [], no + 1
            continue
        if fence is not None and line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            if lang in ("python", "py"):
                found.append((start, "\n".join(block)))
            fence = None
            continue
        if fence is not None:
            block.append(line)
    return found


def docstring_commands(path: Path) -> list[Command]:
    """The indented ``jeeg ...`` / ``python ...`` lines of ``path``'s module docstring (literal blocks)."""
    doc = str(path.relative_to(REPO))
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    node = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    if node is None or not isinstance(node.value, ast.Constant) or not isinstance(node.value.value, str):
        return []
    # The source lines, not the string's value: a backslash at a line's end is kept as written.
    lines = list(enumerate(source.splitlines()[node.lineno - 1 : node.end_lineno], node.lineno))
    indented = [(no, line if line.startswith(" ") else "") for no, line in lines]  # prose is not a command
    return [Command(f"{doc}:{no}", doc, text) for no, word, text in _logical_lines(indented)
            if word in ("jeeg", "python", "python3")]


def documents() -> list[Path]:
    """The experiments first: their docstrings hold the finest-grained sequences, which the README and
    docs/ mostly repeat (a repeat is then not run again)."""
    return [*sorted((REPO / "experiments").glob("*.py")), *sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]


def all_commands() -> list[Command]:
    out = []
    for path in documents():
        out += markdown_commands(path) if path.suffix == ".md" else docstring_commands(path)
    return out


# ------------------------------------------------------------------------------ skip list
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(\.py)?|\.\.\.")


def _is_synopsis(argv: list[str]) -> bool:
    """A usage line: placeholders in capitals (RUN, OUT, DIR, EXPERIMENT.py, KEY=VALUE, V1), ``...``,
    brackets or parentheses left once the optional flag groups are dropped."""
    for tok in argv:
        if any(c in tok for c in "[]()"):
            return True
        key, _, value = tok.partition("=")
        parts = [key, *value.split(",")] if value and not key.endswith("channels") else [tok]
        if any(_PLACEHOLDER.fullmatch(p) for p in parts):
            return True
    return False


#: Commands that cannot run inside the suite: (name, test on the command's words, reason).
SKIP = [
    ("install", lambda a: a[:2] == ["pip", "install"], "installs jeeg itself (CI's first step, .ci/run)"),
    ("test suite", lambda a: a[:3] == ["python", "-m", "pytest"], "the test suite itself"),
    ("bench --quick", lambda a: a == ["jeeg", "bench", "--quick"],
     "tests/test_bench.py runs this very command (with --out in a temporary folder)"),
    ("full bench", lambda a: a[:2] == ["jeeg", "bench"] and "--quick" not in a,
     "the whole benchmark suite: hours on this CPU (and --readme rewrites README.md)"),
    ("several hosts", lambda a: "--coordinator" in a,
     ("one process per host with a shared run directory; tests/test_runs.py runs two processes with "
      "jax.distributed and compares them with a one-process run")),
    ("PSG signals", lambda a: any(re.fullmatch(r"dataset=(slpdb|sleep_edf)", t) for t in a),
     ("the PSG signals are not here (the sleep readers and runs are tested on generated recordings in "
      "the real formats: tests/test_psg.py, tests/test_cli_cross_modal.py)")),
    ("device check", lambda a: a[:1] == ["bash"] and len(a) > 1 and a[1].startswith("benchmarks/device"),
     ("the device check's preparation downloads wheels from a package index; .ci/run runs it and then "
      "the CPU rehearsal, bash benchmarks/device_check.sh --rehearse, before the tests")),
    ("MOABB dataset", lambda a: any(t.startswith("dataset=moabb:") for t in a),
     ("MOABB downloads the recordings of its datasets; tests/test_moabb.py runs jeeg cv on MOABB's "
      "FakeDataset, which it generates offline")),
    ("synopsis", _is_synopsis, "a usage synopsis with placeholders, not a command"),
    ("MSC-T3AM multi-action task sets",
     lambda a: a[:2] == ["python", "experiments/msc_t3am_eegmmidb.py"] and "--task-set" in a
     and a[a.index("--task-set") + 1] in ("multi_action", "multi_action_runs"),
     ("the same script, modes and training code as its left_right commands, which run; only the task "
      "set differs, and its loading and folds are tested in tests/test_data.py and tests/test_splits.py "
      "(100 s of CI time on 2 cores)")),
]


def skip_reason(cmd: Command) -> str | None:
    argv = cmd.argv
    return next((f"{name}: {reason}" for name, test, reason in SKIP if test(argv)), None)


# ------------------------------------------------------------------------------ rule table
class NoRule(Exception):
    """A command of a kind the rule table cannot shrink."""


GENERATED_SEED = "<generated SEED folder>"
CROSS_SUBJECT = ("subject_group_kfold", "loso")


def _drop(argv: list[str], flags=(), switches=(), keys=()) -> list[str]:
    """``argv`` without ``FLAG VALUE`` pairs of ``flags``, the ``switches`` and ``--set KEY=...`` of ``keys``."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        name = a.split("=", 1)[0]
        if name in flags:
            i += 1 if "=" in a else 2
        elif a in switches:
            i += 1
        elif a == "--set" and i + 1 < len(argv) and argv[i + 1].split("=", 1)[0].strip() in keys:
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _option(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _experiment_config(path: str) -> dict:
    """``config()`` of an experiment file (relative to the repository); {} if it does not exist yet."""
    file = REPO / path
    if not file.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"_exp_{file.stem}", file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return dict(mod.config())


def _cv_config(argv: list[str]) -> dict:
    """The keys of a ``jeeg cv|sweep`` command that decide its tiny settings (experiment, --set, flags)."""
    from jeeg.cli import FLAG_KEYS, build_parser
    from jeeg.config import parse_overrides

    args, _ = build_parser().parse_known_args(argv[1:])
    cfg = _experiment_config(args.config) if args.config else {}
    cfg.update(parse_overrides(args.set or []))
    cfg.update({key: getattr(args, flag) for flag, key in FLAG_KEYS.items() if getattr(args, flag, None) is not None})
    return cfg


def _subjects_for(cfg: dict) -> str:
    """One subject within subjects; as many as the folds need (at least 3) across subjects."""
    scheme = cfg.get("scheme", "within_subject_stratified")
    if scheme == "subject_group_kfold":
        return f"1-{max(3, int(cfg.get('n_folds', 5)))}"
    return "1-3" if scheme in CROSS_SUBJECT else "1"


def _tiny_cv(argv: list[str]) -> list[str]:
    """``jeeg cv|sweep``: subjects and max_epochs replaced (EEGMMIDB: see :func:`_subjects_for`;
    SEED / SEED-IV: subject 1 of a generated folder in the official layout), sweep grids cut to
    2 points, ``--download`` dropped (tests never download)."""
    if "--resume" in argv:  # continues a run an earlier command made, with its own config
        return argv
    cfg = _cv_config(argv)
    dataset = cfg.get("dataset", "eegmmidb")
    new = _drop(argv, flags=("--subjects", "--max-epochs", "--grid") + (("--data-dir",) if dataset != "eegmmidb" else ()),
                switches=("--download",), keys=("subjects", "max_epochs", "download", "data_dir"))
    if dataset == "eegmmidb":
        new += ["--set", f"subjects={_subjects_for(cfg)}"]
    elif dataset in ("seed", "seed_iv"):
        new += ["--set", "subjects=1", "--data-dir", GENERATED_SEED + dataset]
    else:
        raise NoRule(f"no tiny settings for dataset={dataset!r}")
    new += ["--set", "max_epochs=1"]
    grids = [argv[i + 1] for i, a in enumerate(argv) if a == "--grid"]
    for n, grid in enumerate(grids):  # lr=a,b,c --grid seed=0,1 -> lr=a,b and seed=0: 2 grid points
        key, _, values = grid.partition("=")
        new += ["--grid", f"{key}={','.join(values.split(',')[: 2 if n == 0 else 1])}"]
    return new


def _tiny_evaluate(argv: list[str]) -> list[str]:
    """``jeeg evaluate RUN``: the run an earlier command made, applied to S017, which no tiny run trains on."""
    return _drop(argv, flags=("--subjects",), switches=("--download",)) + ["--subjects", "17"]


def _first(argv: list[str], flag: str, default: str | None) -> list[str]:
    """``FLAG a,b,c`` -> ``FLAG a`` (``default`` when absent; ``None``: leave absent)."""
    value = _option(argv, flag) or default
    return _drop(argv, flags=(flag,)) + ([flag, value.split(",")[0]] if value else [])


def _msc_mode(argv: list[str]) -> list[str]:
    modes = (_option(argv, "--modes") or "msc_t3am").split(",")
    return _drop(argv, flags=("--modes",)) + ["--modes", "msc_t3am" if "msc_t3am" in modes else modes[0]]


#: Experiment script -> how to shrink it (beyond --max-epochs 1 where it has that option).
SCRIPTS = {
    # every mode of the task sets in turn: one mode (MSC-T3AM without KD where listed, as by default:
    # no baselines; else the first listed; the jeeg cv commands train the KD modes), the task set
    # given (else left_right), one subject
    "msc_t3am_eegmmidb.py": lambda a, cfg: _first(_msc_mode(a), "--task-set", "left_right")
    + ["--subjects", "1", "--max-epochs", "1"],
    # every stage, in order: 5 subject folds need 5 subjects
    "cross_modal_kd_eegmmidb.py": lambda a, cfg: a + ["--subjects", _subjects_for(cfg), "--max-epochs", "1"],
    # classical pipelines only: one subject and LogVar+LR (multi-class CSP+LDA costs about a minute
    # per analysis on 2 cores whatever the subjects; jeeg cv runs it on the same rest trials)
    "eegmmidb_run_confound.py": lambda a, cfg: _drop(a, flags=("--baselines",)) + ["--subjects", "1", "--baselines", "logvar_lr"],
    # every (scheme, model): the first scheme, model and seed listed (by default subject-group
    # k-fold, EEGNet and seed 0; the jeeg cv commands run LOSO)
    "cross_subject_eegmmidb.py": lambda a, cfg: _first(_first(_first(a, "--models", "eegnet"), "--seeds", "0"),
                                                       "--schemes", "subject_group_kfold")
    + ["--subjects", _subjects_for(cfg), "--max-epochs", "1"],
}


def _tiny_script(argv: list[str]) -> list[str]:
    script = Path(argv[1])
    if script.parent != Path("experiments") or script.name not in SCRIPTS:
        raise NoRule(f"no tiny settings for the script {argv[1]}: add it to SCRIPTS")
    base = _drop(argv, flags=("--subjects", "--max-epochs"), switches=("--download",))
    return SCRIPTS[script.name](base, _experiment_config(str(script)))


#: Kind of command (its first words) -> the command with tiny settings.
RULES = {
    ("jeeg", "cv"): _tiny_cv,
    ("jeeg", "sweep"): _tiny_cv,
    ("jeeg", "evaluate"): _tiny_evaluate,
    ("python", "experiments/"): _tiny_script,
}


def tiny(cmd: Command) -> list[str]:
    """``cmd``'s words with tiny settings. Raises NoRule for a kind of command without a rule."""
    argv = cmd.argv
    if argv[0] == "python3":
        argv = ["python", *argv[1:]]
    for (prog, head), rule in RULES.items():
        if argv[0] == prog and len(argv) > 1 and (argv[1] == head or (head.endswith("/") and argv[1].startswith(head))):
            return rule(argv)
    raise NoRule(f"{cmd.source}: no rule shrinks {cmd.text!r}; add one to RULES (or a SKIP entry with its reason) "
                 "in tests/test_commands.py")


def _out(argv: list[str]) -> str | None:
    return _option(argv, "--out")


def dedupe_key(argv: list[str]) -> tuple[str, ...]:
    return tuple(_drop(argv, flags=("--out",)))


# --------------------------------------------------------------------------------- running
@dataclass
class Ledger:
    """What ran (per dedupe key: the absolute run directory), for the summary and dedupe."""

    done: dict = field(default_factory=dict)
    log: list = field(default_factory=list)


LEDGER = Ledger()


def _generated_seed(where: Path, dataset: str) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from test_seed import write_dataset
    finally:
        sys.path.remove(str(REPO / "tests"))
    root = where / f"generated-{dataset}"
    if not root.exists():
        write_dataset(root, dataset, "raw")
    return root


def run_argv(argv: list[str], cwd: Path) -> int:
    """Run ``argv`` in-process in ``cwd``; its exit status (argparse's and the scripts' ``SystemExit`` included)."""
    argv = [str(_generated_seed(cwd, a[len(GENERATED_SEED):])) if a.startswith(GENERATED_SEED) else a for a in argv]
    old_argv, old_path = sys.argv, list(sys.path)
    try:
        if argv[0] == "jeeg":
            from jeeg.cli import main

            return int(main(argv[1:]) or 0)
        script = cwd / argv[1]
        sys.argv, sys.path[:0] = [str(script), *argv[2:]], [str(script.parent)]
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
    return 0


def _group(doc: str) -> list[Command]:
    return [c for c in all_commands() if c.doc == doc]


DOCS_WITH_COMMANDS = sorted({c.doc for c in all_commands()}, key=lambda d: [str(p.relative_to(REPO)) for p in documents()].index(d))


# ----------------------------------------------------------------------------------- tests
DOCS_WITH_PYTHON = [str(p.relative_to(REPO)) for p in documents() if p.suffix == ".md" and markdown_python(p)]


@pytest.mark.parametrize("doc", DOCS_WITH_PYTHON)
def test_python_snippets_of(doc, eegmmidb_root, tmp_path, monkeypatch):
    """``doc``'s python blocks run as written, in its order, in one namespace (a later block may use
    an earlier one's names), in a temporary current directory, reading the real EEGMMIDB files
    through ``MNE_DATA``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNE_DATA", str(eegmmidb_root))
    namespace: dict = {"__name__": "__main__"}
    for line, code in markdown_python(REPO / doc):
        t0 = time.perf_counter()
        exec(compile(code, f"{doc}:{line}", "exec"), namespace)  # noqa: S102 - the documented code itself
        print(f"[python] {doc}:{line}: {time.perf_counter() - t0:.0f} s")


def test_extraction_rules_on_a_sample(tmp_path, monkeypatch):
    """Continuation lines, comments, optional groups, synopses and unknown lines are read as documented."""
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    md = tmp_path / "x.md"
    md.write_text("text\n```bash\n# comment\njeeg cv a.py --set k=1 \\\n    --out runs/a   # trailing\n\n"
                  "python experiments/s.py --out o [--subjects 1-5] [--readme [FILE]]\n```\n"
                  "```\njeeg cv    [EXPERIMENT.py] [--set KEY=VALUE ...]\n           [--n-folds K]\nnot a command\n```\n"
                  "```python\njeeg = 1\n```\n")
    cmds = markdown_commands(md)
    assert [(c.source, c.argv) for c in cmds] == [
        ("x.md:4", ["jeeg", "cv", "a.py", "--set", "k=1", "--out", "runs/a"]),
        ("x.md:7", ["python", "experiments/s.py", "--out", "o"]),
        ("x.md:10", ["jeeg", "cv", "[EXPERIMENT.py]"]),
    ]
    assert [skip_reason(c) is not None for c in cmds] == [False, False, True]
    md.write_text("```bash\njeeg cv a.py\nrm -rf runs\n```\n")
    with pytest.raises(UnknownLine, match="rm -rf runs"):
        markdown_commands(md)
    py = tmp_path / "e.py"
    py.write_text('"""Title.\n\nCommand::\n\n    jeeg cv e.py --sequential \\\n        --out runs/e\n'
                  "    python e.py --out runs/x [--task ...]\n        [--max-epochs N]\n\n"
                  "    stage   F1 %\n    jeeg-like prose at column 0 follows\njeeg cv not/indented.py\n\"\"\"\n")
    assert [(c.source, c.argv) for c in docstring_commands(py)] == [
        ("e.py:5", ["jeeg", "cv", "e.py", "--sequential", "--out", "runs/e"]),
        ("e.py:7", ["python", "e.py", "--out", "runs/x"]),
    ]


def test_tiny_settings_rules():
    """What the rule table appends or substitutes, per kind of command."""
    def c(text):
        return Command("t", "t", text)

    assert tiny(c("jeeg cv experiments/stff_da_eegmmidb.py --set subjects=1,2 --set max_epochs=2 --out runs/q")) == [
        "jeeg", "cv", "experiments/stff_da_eegmmidb.py", "--out", "runs/q", "--set", "subjects=1", "--set", "max_epochs=1"]
    assert tiny(c("jeeg sweep experiments/stff_da_eegmmidb.py --grid lr=3e-4,1e-3,3e-3 --grid seed=0,1 --out s"))[-4:] == [
        "--grid", "lr=3e-4,1e-3", "--grid", "seed=0"]
    assert "subjects=1-3" in tiny(c("jeeg cv experiments/stff_da_eegmmidb.py --scheme loso --download"))
    assert "--download" not in tiny(c("jeeg cv experiments/stff_da_eegmmidb.py --scheme loso --download"))
    assert tiny(c("jeeg cv --set scheme=subject_group_kfold --set n_folds=4"))[-3] == "subjects=1-4"
    assert tiny(c("python experiments/msc_t3am_eegmmidb.py --out o --modes eegnet,offline --subjects 1-17")) == [
        "python", "experiments/msc_t3am_eegmmidb.py", "--out", "o", "--modes", "eegnet", "--task-set", "left_right",
        "--subjects", "1", "--max-epochs", "1"]
    assert tiny(c("python experiments/msc_t3am_eegmmidb.py --out o --task-set multi_action --modes online,msc_t3am"))[4:8] == [
        "--modes", "msc_t3am", "--task-set", "multi_action"]
    assert tiny(c("python experiments/eegmmidb_run_confound.py --baselines csp_lda,logvar_lr"))[2:] == [
        "--subjects", "1", "--baselines", "logvar_lr"]
    assert tiny(c("python experiments/cross_subject_eegmmidb.py --out o --seeds 0,1,2 --models stff_da,eegnet"))[4:10] == [
        "--models", "stff_da", "--seeds", "0", "--schemes", "subject_group_kfold"]
    assert tiny(c("python experiments/cross_modal_kd_eegmmidb.py --out o"))[-4:] == ["--subjects", "1-5", "--max-epochs", "1"]
    assert tiny(c("jeeg evaluate runs/r --subjects 18-20 --out e")) == ["jeeg", "evaluate", "runs/r", "--out", "e", "--subjects", "17"]
    assert tiny(c("jeeg cv --resume runs/r")) == ["jeeg", "cv", "--resume", "runs/r"]
    for text in ("python benchmarks/new.py", "python experiments/new_script.py", "jeeg newverb x",
                 "jeeg cv --set dataset=slpdb"):
        with pytest.raises(NoRule):
            tiny(c(text))


def test_every_command_is_run_or_skipped():
    """Every command of the documents has a rule or a SKIP entry, and every SKIP entry is in use."""
    cmds = all_commands()
    docs = {c.doc for c in cmds}
    assert "README.md" in docs and any(d.startswith("experiments/") for d in docs), sorted(docs)
    used, problems = set(), []
    for cmd in cmds:
        reason = skip_reason(cmd)
        if reason is not None:
            used.add(reason.split(":")[0])
            continue
        try:
            tiny(cmd)
        except NoRule as e:
            problems.append(str(e))
    assert not problems, "\n".join(problems)
    stale = [name for name, _, _ in SKIP if name not in used]
    assert not stale, f"SKIP entries no command needs any more (remove them): {stale}"


@pytest.mark.parametrize("doc", DOCS_WITH_COMMANDS)
def test_commands_of(doc, eegmmidb_root, tmp_path_factory, monkeypatch, capsys):
    """Run ``doc``'s commands in its order with tiny settings, in one temporary current directory."""
    cwd = tmp_path_factory.mktemp("commands")
    for name in ("experiments", "benchmarks"):
        (cwd / name).symlink_to(REPO / name)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("MNE_DATA", str(eegmmidb_root))
    monkeypatch.setenv("JEEG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "commands-epochs-cache"))
    failures: list[str] = []
    for cmd in _group(doc):
        reason = skip_reason(cmd)
        if reason is not None:
            LEDGER.log.append((cmd.source, "skipped", reason, 0.0))
            continue
        argv = tiny(cmd)
        key, out = dedupe_key(argv), _out(argv)
        if key in LEDGER.done:
            first_source, first_out = LEDGER.done[key]
            if out and first_out and not (cwd / out).exists():
                (cwd / out).parent.mkdir(parents=True, exist_ok=True)
                (cwd / out).symlink_to(first_out)
            LEDGER.log.append((cmd.source, "same as", first_source, 0.0))
            continue
        t0 = time.perf_counter()
        with capsys.disabled():
            print(f"\n[commands] {cmd.source}: {shlex.join(argv)}", flush=True)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                status = run_argv(argv, cwd)
        except Exception as e:  # noqa: BLE001 - a crash instead of a clear error is a failure too
            status, _ = f"{type(e).__name__}: {e}", err.write(traceback.format_exc())
        seconds = time.perf_counter() - t0
        LEDGER.log.append((cmd.source, "ran" if status == 0 else f"FAILED ({status})", shlex.join(argv), seconds))
        with capsys.disabled():
            print(f"[commands] {cmd.source}: exit {status}, {seconds:.0f} s", flush=True)
        if status != 0:  # the later commands still run: each failure is reported with its own error
            tail = "\n      ".join(err.getvalue().strip().splitlines()[-3:])
            failures.append(f"{cmd.source}: `{cmd.text}`\n    run as `{shlex.join(argv)}`: exit {status}\n      {tail}")
            continue
        LEDGER.done[key] = (cmd.source, str((cwd / out).resolve()) if out else None)
    if os.environ.get("JEEG_COMMANDS_LOG"):
        with open(os.environ["JEEG_COMMANDS_LOG"], "a") as f:
            for row in LEDGER.log:
                if row[0].startswith(doc + ":"):
                    f.write("\t".join(map(str, row)) + "\n")
    assert not failures, f"{len(failures)} command(s) of {doc} failed:\n" + "\n".join(failures)
