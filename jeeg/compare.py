"""Run comparison: are two run directories bitwise identical, and if not, where do they first differ."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jeeg.checkpoints import checkpoint_arrays
from jeeg.folds import record_id


def compare_runs(a: Path, b: Path) -> str | None:
    """The first difference between two run directories, or None if bitwise identical.

    Compares ``metrics.json`` (minus the engine's memory estimate), ``predictions.csv`` and every
    array of every checkpoint, and names the first item that differs.
    """
    a, b = Path(a), Path(b)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for m in (ma, mb):  # facts of the machine, not of the results
        for k in ("memory_need_bytes", "bytes_per_member", "n_processes"):
            m.get("engine", {}).pop(k, None)
    if ma != mb:
        for k in sorted(ma, key=lambda k: k != "folds"):  # per-fold records first: the most specific
            if ma.get(k) != mb.get(k):
                if k == "folds":
                    for ra, rb in zip(ma[k], mb[k]):
                        if ra != rb:
                            diff = next(f for f in ra if ra.get(f) != rb.get(f))
                            return f"metrics.json folds[{record_id(ra)}].{diff}: {ra.get(diff)} vs {rb.get(diff)}"
                return f"metrics.json key {k!r} differs"
        return "metrics.json differs"
    pa, pb = ((d / "predictions.csv").read_text().splitlines() for d in (a, b))
    for i, (la, lb) in enumerate(zip(pa, pb)):
        if la != lb:
            return f"predictions.csv line {i + 1}: {la!r} vs {lb!r}"
    if len(pa) != len(pb):
        return f"predictions.csv has {len(pa)} vs {len(pb)} lines"
    ca, cb = checkpoint_arrays(a), checkpoint_arrays(b)
    if sorted(ca) != sorted(cb):
        return f"checkpoints differ in their arrays: {sorted(set(ca) ^ set(cb))[:3]}"
    for name in ca:
        x, y = ca[name], cb[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            return f"checkpoint array {name} differs in dtype/shape: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
        if x.tobytes() != y.tobytes():
            return f"checkpoint array {name} differs (max |diff| {np.max(np.abs(x.astype(float) - y.astype(float))):.3g})"
    return None
