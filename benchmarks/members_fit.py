"""Member scaling of the compiled run: K members' whole fit against one member's, per model.

For each model at the shapes users run it (EEGNet and STFF-DA at 64 x 640 @ 160 Hz; MSC-T3AM's
transformer without MSC, ``pool=6``; SST-EmotionNet on 32 x 32 grids of 5 bands + 25 frames;
U-Time on 1 x 3000 @ 100 Hz sleep epochs) and K members (default 1, 8, 32; ``--quick``: 1, 2),
times one ``Trainer.fit`` of ``epochs`` epochs without early stopping on synthetic trials
(compile excluded: each K is fitted once before it is timed). Throughput is training samples per
second over all members; the speed-up of K is its throughput over K = 1's with the same member
axis. Both member-axis formulations (``map``: members one after another inside the program;
``vmap``, the accelerator default) are timed. ``compile_s`` is the first fit's wall time minus
the timed one's: the compile of the run program plus the first call's one-off costs.

This is the benchmark of the GPU target "K = 32 members reach ≥ 20x one member's samples/s" for
EEGNet, STFF-DA and MSC-T3AM (``report.TARGETS``). On a 2-core CPU no member formulation can beat
one member's throughput much: the cores are busy with one member already.

Usage::

    python benchmarks/members_fit.py [--quick] [--models eegnet,stff_da] [--ks 1,8,32] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import log, write_result  # noqa: E402

#: model → (kwargs, n_chans, n_times, sfreq, n_classes, quick kwargs)
MODELS = {
    "eegnet": ({}, 64, 640, 160.0, 2, {}),
    "stff_da": ({}, 64, 640, 160.0, 2, {}),
    "msc_t3am": ({"pool": 6, "msc": False}, 64, 640, 160.0, 2, {}),
    "sst_emotionnet": ({"variant": "torcheeg", "grid_shape": [32, 32], "n_bands": 5, "n_frames": 25}, 64, 640,
                       160.0, 3, {"spectral_depth": 10, "temporal_depth": 10}),
    "utime": ({}, 1, 3000, 100.0, 5, {"filters": [4, 4, 4, 4, 4]}),
}


def fit_time(model: str, K: int, member_axis: str, epochs: int, n_train: int, quick: bool) -> dict:
    import jax
    import numpy as np

    from jeeg.engine import MemberData, TrainConfig, Trainer

    kwargs, n_chans, n_times, sfreq, n_classes, quick_kw = MODELS[model]
    kwargs = {**kwargs, **(quick_kw if quick else {})}
    batch = 16
    cfg = TrainConfig(batch_size=batch, max_epochs=epochs, patience=10 * epochs)
    tr = Trainer(model, kwargs, n_chans, n_classes, n_times, sfreq, cfg, batch_size=batch, n_train_pad=n_train,
                 n_eval_pad=16, member_axis=member_axis)
    rng = np.random.default_rng(0)
    n = n_train + 32
    X = rng.standard_normal((n, *tr.input_shape)).astype(np.float32)
    Y = rng.integers(0, n_classes, n).astype(np.int32)
    Xd, Yd = tr.put_data(X, Y)
    members = [MemberData(np.arange(n_train), np.arange(n_train, n_train + 16), np.arange(n_train + 16, n))] * K
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(np.arange(K))
    t0 = time.perf_counter()
    tr.fit(Xd, Yd, members, keys)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.fit(Xd, Yd, members, keys)
    wall = time.perf_counter() - t0
    samples = K * epochs * tr.steps_per_epoch * batch
    return {"model": model, "K": K, "member_axis": member_axis, "epochs": epochs, "wall_s": wall,
            "first_call_s": first, "compile_s": max(0.0, first - wall), "samples_per_s": samples / wall}


def run(quick: bool = False, out=None, models=None, ks=None, axes=("map", "vmap"), epochs=None, n_train=None) -> dict:
    """Time every (model, member axis, K); ``<out>/<device>/members_fit.json`` is rewritten after
    every point (``complete`` false until the last), so a run stopped by a time limit keeps the
    points it finished. A failed point is recorded with its error and the others still run."""
    models = models or (["eegnet", "stff_da"] if quick else list(MODELS))
    ks = ks or ([1, 2] if quick else [1, 8, 32])
    epochs, n_train = epochs or (2 if quick else 5), n_train or (32 if quick else 128)
    rows = []
    result = {"quick": quick, "batch_per_member": 16, "epochs": epochs, "n_train_per_member": n_train,
              "models": list(models), "ks": list(ks), "axes": list(axes), "results": rows}
    write_result("members_fit", result, out, complete=False)
    for model in models:
        for axis in axes:
            base = None
            for K in ks:
                try:
                    r = fit_time(model, K, axis, epochs, n_train, quick)
                except Exception as e:  # noqa: BLE001 - a failed point is reported, the others still run
                    r = {"model": model, "K": K, "member_axis": axis, "error": f"{type(e).__name__}: {e}"[:300]}
                    log(f"{model:15s} {axis:4s} K={K:3d} failed: {r['error']}")
                else:
                    base = r["samples_per_s"] if K == 1 else base
                    r["speedup_vs_one_member"] = r["samples_per_s"] / base if base else None
                    log(f"{model:15s} {axis:4s} K={K:3d} {r['samples_per_s']:10.1f} samples/s "
                        f"(fit {r['wall_s']:.2f} s, first {r['first_call_s']:.1f} s) "
                        f"x{r['speedup_vs_one_member'] or float('nan'):.2f} one member")
                rows.append(r)
                write_result("members_fit", result, out, complete=False)
    write_result("members_fit", result, out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default=None)
    ap.add_argument("--ks", default=None)
    ap.add_argument("--axes", default="map,vmap")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per fit (default 5; --quick 2)")
    ap.add_argument("--n-train", type=int, default=None, help="training trials per member (default 128; --quick 32)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    run(args.quick, args.out, args.models.split(",") if args.models else None,
        [int(k) for k in args.ks.split(",")] if args.ks else None, tuple(args.axes.split(",")), args.epochs,
        args.n_train)


if __name__ == "__main__":
    main()
