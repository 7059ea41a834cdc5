"""Member scaling: STFF-DA train steps for K members in one program vs a loop over K members.

For K in {1, 2, 4, 8, 16, 32} (``--quick``: {1, 2, 4}) on the EEGMMIDB shapes (64 channels x
640 samples at 160 Hz, 2 classes, batch 16 per member), times

* *parallel*: one call of the jitted, vmapped ``Trainer.train_step`` updating K members;
* *sequential*: K calls of the same step compiled for one member (the PyTorch-style loop),

each compiled ahead of time (compile time reported apart), warmed up, synchronised with
``jax.block_until_ready`` and timed as the median of ``--repeats`` runs. Reports steps/s and
samples/s, and the speed-up of K parallel members over one member alone.

Usage::

    python benchmarks/members_scaling.py [--quick] [--out benchmarks/results]

Writes ``<out>/<device>/members_scaling.json`` (with the environment) and a plot beside it.

``--temporal-conv conv,shifted [--models stff_da,eegnet]`` instead times the parallel step of each
model with each implementation of row 1 (:class:`jeeg.models.layers.TemporalFilterBank`) for each
K and writes ``<out>/<device>/members_temporal_conv.json``: under ``vmap`` a per-member convolution
becomes a grouped convolution, slow on XLA:CPU and XLA:GPU alike.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

from jeeg.engine import TrainConfig, Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/: run as a script or from run_all.py
import harness  # noqa: E402
from harness import compile_timed, environment, median_time  # noqa: E402

N_CHANS, N_TIMES, SFREQ, N_CLASSES, BATCH = 64, 640, 160.0, 2, 16


def _step_program(K: int, X, Y, model: str = "stff_da", kwargs: dict | None = None):
    """AOT-compiled train step of K members, its inputs, and the compile time in s."""
    tr = Trainer(model, dict(kwargs or {}), N_CHANS, N_CLASSES, N_TIMES, SFREQ, TrainConfig(batch_size=BATCH),
                 batch_size=BATCH, n_train_pad=BATCH, n_eval_pad=BATCH)
    Kp = tr.n_devices * -(-K // tr.n_devices)
    key_data = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(0), Kp)))
    keys = jax.random.wrap_key_data(tr.put_members(key_data))
    lr, wd = (tr.put_members(np.full(Kp, v, np.float32)) for v in (1e-3, 1e-4))
    state = tr.init(keys, lr, wd)
    rng = np.random.default_rng(K)
    batch = tr.put_members(rng.integers(0, X.shape[0], (Kp, BATCH)).astype(np.int32))
    do = tr.put_members(np.ones(Kp, bool))
    Xd, Yd = tr.put_data(X, Y)
    args = (state, Xd, Yd, batch, do, keys, lr, wd)
    compiled, compile_s = compile_timed(tr.train_step, *args)
    return compiled, args, compile_s


def _data() -> tuple[np.ndarray, np.ndarray]:
    """The synthetic dataset the batches are gathered from: X (256, n_chans, n_times), Y (256,)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, N_CHANS, N_TIMES)).astype(np.float32)
    Y = rng.integers(0, N_CLASSES, 256).astype(np.int32)
    return X, Y


def _write(name: str, result: dict, out) -> Path:
    """:func:`harness.write_result`; returns the path."""
    return harness.write_result(name, result, out)


def run(ks: list[int], repeats: int) -> dict:
    X, Y = _data()
    one, one_args, one_compile = _step_program(1, X, Y)
    t_one = median_time(lambda: one(*one_args), repeats)
    rows = []
    for K in ks:
        prog, args, compile_s = _step_program(K, X, Y)
        t_par = median_time(lambda: prog(*args), repeats)
        t_seq = median_time(lambda: [one(*one_args) for _ in range(K)], max(1, repeats // 2))
        rows.append({
            "K": K,
            "compile_s": compile_s,
            "parallel_step_s": t_par,
            "sequential_step_s": t_seq,
            "parallel_steps_per_s": 1.0 / t_par,
            "parallel_samples_per_s": K * BATCH / t_par,
            "sequential_samples_per_s": K * BATCH / t_seq,
            "speedup_vs_sequential": t_seq / t_par,
            "samples_per_s_vs_one_member": (K * BATCH / t_par) / (BATCH / t_one),
        })
        print(f"K={K:3d}  parallel {K * BATCH / t_par:9.1f} samples/s  sequential {K * BATCH / t_seq:9.1f}  "
              f"x{t_seq / t_par:5.2f} vs loop, x{rows[-1]['samples_per_s_vs_one_member']:5.2f} vs one member", flush=True)
    return {"benchmark": "members_scaling", "model": "stff_da", "batch_per_member": BATCH,
            "shape": [N_CHANS, N_TIMES], "one_member_step_s": t_one, "one_member_compile_s": one_compile,
            "repeats": repeats, "environment": environment(), "results": rows}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["K"] for r in result["results"]]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(ks, [r["parallel_samples_per_s"] for r in result["results"]], "o-", label="K members in one program")
    ax.plot(ks, [r["sequential_samples_per_s"] for r in result["results"]], "s--", label="loop over K members")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("members K")
    ax.set_ylabel("samples/s (train step)")
    ax.set_title(f"STFF-DA member scaling, {result['environment']['device_kind']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_and_write(quick: bool = False, out=None, repeats: int | None = None) -> dict:
    """Run (``quick``: K in {1, 2, 4}, 3 repeats; else K up to 32, 7 repeats) and write
    ``<out>/<device>/members_scaling.json`` and its plot."""
    ks = [1, 2, 4] if quick else [1, 2, 4, 8, 16, 32]
    result = run(ks, repeats or (3 if quick else 7))
    result["quick"] = quick
    path = _write("members_scaling", result, out)
    plot(result, path.with_suffix(".png"))
    return result


def temporal_conv(models: list[str], impls: list[str], ks: list[int], repeats: int, out=None) -> dict:
    """Parallel step of K members for each model x row-1 implementation; writes
    ``<out>/<device>/members_temporal_conv.json`` and returns it."""
    X, Y = _data()
    rows = []
    for model in models:
        for impl in impls:
            for K in ks:
                prog, args, compile_s = _step_program(K, X, Y, model, {"temporal_conv": impl})
                t = median_time(lambda: prog(*args), repeats)
                rows.append({"model": model, "row1_impl": impl, "K": K, "step_s": t, "samples_per_s": K * BATCH / t,
                             "compile_s": compile_s})
                print(f"{model:8s} {impl:8s} K={K:3d}  {t * 1e3:8.2f} ms  {K * BATCH / t:9.1f} samples/s", flush=True)
    result = {"benchmark": "members_temporal_conv", "batch_per_member": BATCH, "shape": [N_CHANS, N_TIMES],
              "repeats": repeats, "environment": environment(), "results": rows}
    _write("members_temporal_conv", result, out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="K in {1, 2, 4}, fewer repeats")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--temporal-conv", dest="impls", default=None,
                    help="compare row-1 implementations instead, e.g. conv,shifted")
    ap.add_argument("--models", default="stff_da,eegnet", help="with --temporal-conv: models to time")
    ap.add_argument("--ks", default=None, help="with --temporal-conv: member counts (default 1,8,32; --quick 1,2)")
    args = ap.parse_args()
    if args.impls:
        ks = [int(k) for k in (args.ks or ("1,2" if args.quick else "1,8,32")).split(",")]
        temporal_conv(args.models.split(","), args.impls.split(","), ks, args.repeats or (3 if args.quick else 7),
                      args.out)
    else:
        run_and_write(args.quick, args.out, args.repeats)


if __name__ == "__main__":
    main()
