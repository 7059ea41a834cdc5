"""The compiled run against the host loop it replaced: wall time of one member's whole fit.

``Trainer.fit`` runs epochs x steps, validation, early stopping and the best-epoch bookkeeping
inside XLA (one ``lax.while_loop`` per chunk of epochs). Before issue 17 it was a Python loop
that dispatched one jitted step per mini-batch and one evaluation per epoch, and did the
bookkeeping in numpy. That loop lives on here, and only here, as the reference: :func:`host_fit`
is it, built from the same Trainer's pure one-member functions.

For each model (STFF-DA, EEGNet at 64 channels x 640 samples, 160 Hz; one member of 45 trials:
29 training, 8 validation, 8 test; batch 16; ``max_epochs`` epochs without early stopping), both
are compiled and warmed up, then timed in interleaved pairs (compiled, host, compiled, host, ...).
The ratio host / compiled of each pair is one sample; the JSON reports their median and
interquartile range, with the load average before and after.

Usage::

    python benchmarks/engine_loop.py [--quick] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import interleaved_pairs, log, wall_timer, write_result  # noqa: E402

MODELS = ("stff_da", "eegnet")


def host_fit(tr, X, Y, member, key, max_epochs: int):
    """The pre-issue-17 engine for one member: a host loop of jitted steps (no early stopping)."""
    import jax
    import numpy as np

    keys = key[None]
    carry, data, _ = tr.start(X, Y, [member], keys)
    state = carry["state"]
    batches_fn = getattr(tr, "_bench_batches", None)
    if batches_fn is None:
        batches_fn = tr._bench_batches = jax.jit(jax.vmap(tr._batches_one))
    B, S = tr.batch_size, tr.steps_per_epoch
    n_steps = -(-len(member.train) // B)
    active = tr.put_members(np.ones(1, bool))
    best, best_loss = state, np.inf
    for epoch in range(max_epochs):
        ek = jax.vmap(lambda k: jax.random.fold_in(jax.random.fold_in(k, 1), epoch))(data["key"])
        batches = batches_fn(data["train_idx"], data["n_train"], jax.vmap(lambda k: jax.random.fold_in(k, 0))(ek))
        for s in range(S):
            do = tr.put_members(np.array([s < n_steps]))
            sk = jax.vmap(lambda k: jax.random.fold_in(k, s + 1))(ek)
            state, loss, acc, failed = tr.train_step(state, data["X"], data["Y"], batches[:, s], do & active, sk,
                                                     data["lr"], data["weight_decay"])
        _, _, va_loss, _ = tr.evaluate(state.params, state.batch_stats, data["X"], data["Y"], data["val_idx"],
                                       data["n_val"])
        v = float(np.asarray(va_loss)[0])
        if v < best_loss:
            best, best_loss = state, v
    return jax.block_until_ready(best)


def run(quick: bool = False, out=None) -> dict:
    import jax
    import numpy as np

    from jeeg.engine import MemberData, TrainConfig, Trainer

    max_epochs, pairs = (3, 3) if quick else (20, 9)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((45, 64, 640)).astype(np.float32)
    Y = rng.integers(0, 2, 45).astype(np.int32)
    member = MemberData(np.arange(29), np.arange(29, 37), np.arange(37, 45))
    key = jax.random.key(0)
    rows = {}
    for model in MODELS:
        cfg = TrainConfig(batch_size=16, max_epochs=max_epochs, patience=10 * max_epochs)
        tr = Trainer(model, {}, 64, 2, 640, 160.0, cfg, batch_size=16, n_train_pad=29, n_eval_pad=8)
        Xd, Yd = tr.put_data(X, Y)
        compiled = lambda: tr.fit(Xd, Yd, [member], key[None])  # noqa: E731
        host = lambda: host_fit(tr, Xd, Yd, member, key, max_epochs)  # noqa: E731
        first = {}
        for name, fn in (("compiled", compiled), ("host_loop", host)):  # compiles, warms up
            t0 = time.perf_counter()
            fn()
            first[name] = time.perf_counter() - t0
        r = interleaved_pairs(wall_timer(compiled), wall_timer(host), pairs)  # ratio = host loop / compiled run, pair by pair
        rows[model] = {"pairs": [{"compiled_s": p["a_s"], "host_loop_s": p["b_s"], "ratio": p["ratio"]}
                                 for p in r["pairs"]],
                       "median_ratio": r["ratio_median"], "iqr": r["ratio_iqr"], "first_call_s": first,
                       "median_s": {"compiled": r["median_s"]["a"], "host_loop": r["median_s"]["b"]},
                       "load_average": r["loadavg"], "member_axis": tr.member_axis,
                       "steps_per_epoch": tr.steps_per_epoch}
        med, (q1, q3) = r["ratio_median"], r["ratio_iqr"]
        log(f"{model:8s} compiled run {rows[model]['median_s']['compiled']:.2f} s, host loop "
            f"{rows[model]['median_s']['host_loop']:.2f} s per fit of {max_epochs} epochs: "
            f"host / compiled = {med:.2f}x (IQR {q1:.2f}-{q3:.2f})")
    result = {"quick": quick, "max_epochs": max_epochs, "n_trials": 45, "shape": [64, 640], "batch_size": 16,
              "models": rows}
    write_result("engine_loop", result, out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 epochs, 3 pairs (a smoke test)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    run(args.quick, args.out)


if __name__ == "__main__":
    main()
