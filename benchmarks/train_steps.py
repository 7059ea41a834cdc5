"""Train steps: samples/s of one training step of each jeeg model against its PyTorch peer, same run.

Each pair has on both sides with the same batch, input shape, class count, loss
(softmax cross-entropy on logits) and optimiser (AdamW, same lr and weight decay; no lr schedule):

=================================  ==============================  =====================================
pair                               jeeg (registry name, kwargs)    PyTorch peer (peers venv)
=================================  ==============================  =====================================
``eegnet``                         ``eegnet`` {}                   braindecode 0.8.1 ``EEGNetv4(n_chans=64,
                                                                   n_outputs=2, n_times=640)``
``eegnet_62x1500``                 ``eegnet`` {}                   ``EEGNetv4(n_chans=62, n_outputs=6,
                                                                   n_times=1500)``
``sst_emotionnet``                 ``sst_emotionnet``              TorchEEG 1.1.3 ``SSTEmotionNet()``
                                   {variant: torcheeg, 32 x 32,    defaults: grid (32, 32), 5 + 25 maps,
                                   5 bands, 25 frames}             ``num_classes=3``
``utime``                          ``utime`` {}                    ``UTime(n_chans=1, n_outputs=5,
                                                                   n_times=6000)`` of
                                                                   ``peers/utime_peer.py``
``msc_transformer_vs_eegconformer`` ``msc_t3am`` {pool: 6,          braindecode 0.8.1 ``EEGConformer(n_chans=64,
                                   msc: False}                     n_outputs=2, n_times=640,
                                                                   final_fc_length="auto",
                                                                   add_log_softmax=False)``
=================================  ==============================  =====================================

Shapes, batches and optimisers, and where they come from:

* ``eegnet``: EEGMMIDB left vs right fist, 64 channels x 640 samples (4 s at 160 Hz), 2 classes
  (``experiments/stff_da_eegmmidb.py``); batch 64 (the issue's choice; Lawhern et al. 2018 give
  EEGNet no batch of its own here, and the MSC-T3AM reference uses 16 when it is the teacher); AdamW lr 1e-3,
  weight decay 1e-4 (Adam's default lr as in Lawhern et al. 2018; jeeg's TrainConfig defaults).
  Both sides at braindecode's defaults (F1 8, D 2, F2 16, temporal kernel 64), so the two
  networks are the same function class (jeeg's first BatchNorm drops its cancelled affine,
  module docstring of ``jeeg.models.eegnet``).
* ``eegnet_62x1500``: the same two networks at the shapes where EEGNet is MSC-T3AM's distillation
  teacher: 62 channels x 1500 samples (6 s at 250 Hz), 6 classes, batch 16 and AdamW lr 1e-2,
  weight decay 1e-2, the MSC-T3AM reference's training (github.com/BICN001/MSC-T3AM,
  ``net_train.py``).
* ``sst_emotionnet``: TorchEEG's ``SSTEmotionNet`` defaults — input (batch, 5 + 25, 32, 32):
  5 spectral (DE band) maps then 25 temporal maps on a 32 x 32 electrode grid, 3 classes
  (SEED); jeeg's ``variant="torcheeg"`` is TorchEEG's port (github.com/torcheeg/torcheeg,
  ``torcheeg/models/cnn/sst_emotion_net.py``). Batch 64 and Adam lr 1e-4 without weight decay
  (AdamW with decay 0) as the official training (github.com/ziyujia/SST-EmotionNet,
  ``config/SEED.ini``, ``run.py``).
* ``utime``: jeeg's modified U-Time (Perslev et al. 2019, as modified by Joshi et al., arXiv
  2112.07252) against its PyTorch twin written for this comparison (``peers/utime_peer.py``, the
  reference code's structure in plain ``torch.nn``; same weights give the same logits,
  ``tests/test_utime_parity.py``), on 30-s sleep epochs of one channel at 200 Hz (6000 samples),
  5 stages; batch 32, AdamW lr 1e-3, weight decay 1e-4 (jeeg's defaults).
* ``msc_transformer_vs_eegconformer``: jeeg's MSC-T3AM with plain multi-head attention
  (``msc=False``; ``pool=6``: 106 tokens at 160 Hz), exactly the ``no_msc`` mode of
  ``experiments/msc_t3am_eegmmidb.py``, against braindecode's EEG-Conformer, the model MSC-T3AM's
  transformer was adapted from (the reference's ``Acknowledgements.txt``). The two are NOT the
  same network (EEG-Conformer: 40 temporal filters, 37 tokens of width 40, 6 encoder layers;
  MSC-T3AM: 10-wide tokens, 3 layers, FT_A gates; the rows carry each side's parameter count):
  this pair compares the nearest transformer models of the two ecosystems, not one model in two
  frameworks. EEGMMIDB shapes as ``eegnet``; batch 16 and AdamW lr 1e-2, weight decay 1e-2, the
  MSC-T3AM reference's training (github.com/BICN001/MSC-T3AM, ``main.py``, ``net_train.py``) and
  jeeg's EEGMMIDB experiment.

What is timed (the method of ``docs/benchmarks.md``):

* jeeg: ``Trainer.train_step`` — the jitted, member-vmapped step that ``Trainer.fit`` runs —
  for ONE member (K = 1) on one device: gather the batch from the device-resident dataset
  (``X[batch_idx]``), forward in train mode (dropout, BatchNorm batch statistics), cross-entropy,
  backward, AdamW update, weight constraints (EEGNet's max-norm), the finite check and masked
  select. Compiled ahead of time (``jeeg_compile_s``, reported apart), warmed up, inputs on the
  device, ``block_until_ready``, median of ``repeats`` calls. The member axis of one is what a
  single jeeg run trains; the gather is jeeg's real input path (the peer gets its batch as a
  ready tensor, which favours the peer).
* peer: ``benchmarks/peers/train_step_peer.py --serve`` in the peers venv, a long-lived
  subprocess of this run (``harness.PeerProcess``) that builds its model once,
  ``torch.set_num_threads`` = JAX's core count: in train mode ``zero_grad`` → forward →
  ``CrossEntropyLoss`` → ``backward`` → ``AdamW.step``, on one fixed synthetic batch, warmed up,
  each step timed inside the peer (so the pipe is not counted).
* the pair: once jeeg's step is compiled and warmed up alone (as above; its median stands when no
  peer runs), one jeeg step and one peer step alternate ``pairs`` times (``harness.interleaved_pairs``,
  alternating which goes first), so both halves of each pair's ratio see the same machine load.

``jeeg_xla_flops`` is XLA's operation count of jeeg's compiled step (``cost_analysis()``);
``jeeg_gflop_per_s`` and ``peer_gflop_per_s_same_ops`` divide it by each side's median step time
(the peer's own count may differ slightly: same network, other kernels), which says how far from
the machine's peak each framework runs the same arithmetic. ``matmul_reference`` gives that peak
as measured: the best of ``repeats`` float32 ``MATMUL_N`` x ``MATMUL_N`` matmuls in JAX here and
in torch in the peers venv (its ``{"matmul": N}`` config), the most arithmetic either framework
gets out of this machine, on the shape most favourable to it (512 with ``--quick``).

Per pair, ratio = peer step time ÷ jeeg step time = jeeg samples/s ÷ peer samples/s (> 1: jeeg
faster). ``ratio`` (= ``ratio_median``) is the median of the per-pair ratios, ``ratio_iqr`` their
interquartile range, ``pairs`` every pair's times, and ``loadavg`` the 1/5/15-min load average
before and after (``os.getloadavg``); ``jeeg_step_s`` / ``peer_step_s`` and the samples/s are
each side's median over the pairs. ``target`` is ``report.train_step_target``: 2x, except parity
for SST-EmotionNet and U-Time on a CPU (their 2x is a GPU target; ``report.TARGETS``). ``reached`` is only set when
both sides ran on the same kind of device: the peers venv holds a CPU-only torch, so with it on
a GPU ``reached`` stays None and a note says why; the device check runs the peers on the GPU
image's own CUDA torch (``JEEG_PEERS_PYTHON=python3``).
Inputs are synthetic (N(0, 1), fixed seeds); speed does not depend on the values.

Usage::

    JEEG_PEERS_PYTHON=/path/to/peers-venv/bin/python \\
        python benchmarks/train_steps.py [--quick] [--out benchmarks/results] [--no-peers]
        [--pairs eegnet,sst_emotionnet,msc_transformer_vs_eegconformer] [--repeats N]

``--quick``: every pair but ``eegnet_62x1500`` (the same networks as ``eegnet``), small batches
(``quick_batch``), 2 repeats, 3 pairs, 1 warm-up: a smoke test whose numbers are not results. Otherwise max(11, 2 x repeats + 1) pairs. Writes ``<out>/<device>/train_steps.json`` (``harness.write_result``),
rewritten after every pair (``complete`` false until the last), and prints the ratio table to
stderr. ``--merge`` keeps the rows of other pairs already in that file (the device check times
its pairs in two steps); ``--no-matmul`` skips the matmul reference (keeping a merged one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/: run as a script or from run_all.py
import harness  # noqa: E402
import report  # noqa: E402

EEGMMIDB = dict(n_chans=64, n_times=640, sfreq=160.0)

#: pair → jeeg model, peer, shapes, batch (full, quick), optimiser. See the module docstring.
PAIRS: dict[str, dict] = {
    "eegnet": dict(
        model="eegnet", kwargs={}, peer="braindecode.EEGNetv4", **EEGMMIDB, n_classes=2,
        batch=64, quick_batch=16, lr=1e-3, weight_decay=1e-4),
    "eegnet_62x1500": dict(
        model="eegnet", kwargs={}, peer="braindecode.EEGNetv4", peer_build="eegnet", n_chans=62, n_times=1500,
        sfreq=250.0, n_classes=6, batch=16, quick_batch=4, lr=1e-2, weight_decay=1e-2, quick=False),
    "sst_emotionnet": dict(
        model="sst_emotionnet",
        kwargs={"variant": "torcheeg", "grid_shape": [32, 32], "n_bands": 5, "n_frames": 25},
        peer="torcheeg.SSTEmotionNet", **EEGMMIDB, n_classes=3,
        batch=64, quick_batch=4, lr=1e-4, weight_decay=0.0,
        # --quick: one layer per dense block on both sides (DenseNet depth 10), to compile faster in CI
        quick_kwargs={"spectral_depth": 10, "temporal_depth": 10}),
    "utime": dict(
        model="utime", kwargs={}, peer="peers/utime_peer.UTime", n_chans=1, n_times=6000, sfreq=200.0, n_classes=5,
        batch=32, quick_batch=2, lr=1e-3, weight_decay=1e-4,
        # --quick: narrow filters on both sides, to compile faster in CI
        quick_kwargs={"filters": [4, 4, 4, 4, 4]}),
    "msc_transformer_vs_eegconformer": dict(
        model="msc_t3am", kwargs={"pool": 6, "msc": False}, peer="braindecode.EEGConformer", **EEGMMIDB,
        n_classes=2, batch=16, quick_batch=8, lr=1e-2, weight_decay=1e-2),
}


#: Side of the square float32 matmuls of :func:`matmul_reference` (full run; 512 with --quick).
MATMUL_N = 2048


def matmul_reference(n: int, repeats: int, peers: bool) -> dict:
    """GFLOP/s of the best of ``repeats`` float32 ``n x n`` matmuls: JAX (jitted) here, torch in the
    peers venv (``train_step_peer.py``'s ``{"matmul": n}`` config, JAX's core count). A failing or
    absent peer leaves ``peer_gflop_per_s`` None and records ``peer_error``."""
    import jax.numpy as jnp

    ka, kb = jax.random.split(jax.random.key(0))
    a, b = jax.random.normal(ka, (n, n), jnp.float32), jax.random.normal(kb, (n, n), jnp.float32)
    mm, _ = harness.compile_timed(jax.jit(jnp.matmul), a, b)
    timer = harness.wall_timer(lambda: mm(a, b))
    timer()
    best = min(timer() for _ in range(max(1, repeats)))
    out = {"n": n, "repeats": repeats, "jeeg_gflop_per_s": 2 * n**3 / best / 1e9,
           "jeeg_device": jax.devices()[0].platform, "peer_gflop_per_s": None}
    if not peers:
        return {**out, "peer_error": "not run (--no-peers)"}
    try:
        p = harness.run_peer("train_step_peer.py", ["--config", json.dumps({"matmul": n, "repeats": repeats})],
                             timeout=600)
    except (RuntimeError, OSError, ValueError) as e:
        return {**out, "peer_error": f"{type(e).__name__}: {e}"[:500]}
    return {**out, "peer_gflop_per_s": p["gflop_per_s"], "peer_device": p.get("device")}


def _optimizer_name(spec: dict) -> str:
    return f"adamw lr {spec['lr']:g} weight_decay {spec['weight_decay']:g} (constant lr)"


def jeeg_step(spec: dict, batch: int, repeats: int, warmup: int, seed: int = 0) -> dict:
    """Compile and time jeeg's ``Trainer.train_step`` for one member at ``batch``."""
    from jeeg.engine import TrainConfig, Trainer, member_mesh

    cfg = TrainConfig(batch_size=batch, lr=spec["lr"], weight_decay=spec["weight_decay"], schedule="constant")
    tr = Trainer(spec["model"], dict(spec["kwargs"]), spec["n_chans"], spec["n_classes"], spec["n_times"],
                 spec["sfreq"], cfg, batch_size=batch, n_train_pad=batch, n_eval_pad=batch,
                 mesh=member_mesh(jax.devices()[:1]))  # one member on one device
    rng = np.random.default_rng(seed)
    n_data = 2 * batch  # the dataset the batch is gathered from (device-resident, as in fit)
    X = rng.standard_normal((n_data, *tr.input_shape)).astype(np.float32)
    Y = rng.integers(0, spec["n_classes"], n_data).astype(np.int32)
    Xd, Yd = tr.put_data(X, Y)
    keys = jax.random.wrap_key_data(tr.put_members(np.asarray(jax.random.key_data(jax.random.key(seed)))[None]))
    lr, wd = (tr.put_members(np.full(1, v, np.float32)) for v in (spec["lr"], spec["weight_decay"]))
    state = tr.init(keys, lr, wd)
    idx = tr.put_members(rng.permutation(n_data)[:batch].astype(np.int32)[None])
    do = tr.put_members(np.ones(1, bool))
    args = (state, Xd, Yd, idx, do, keys, lr, wd)
    compiled, compile_s = harness.compile_timed(tr.train_step, *args)
    _, loss, _, failed = jax.block_until_ready(compiled(*args))
    if not np.isfinite(np.asarray(loss)).all() or np.asarray(failed).any():
        raise RuntimeError(f"jeeg {spec['model']}: the train step gave a non-finite loss {np.asarray(loss)}")
    step_s = harness.median_time(lambda: compiled(*args), repeats=repeats, warmup=warmup)
    n_params = sum(int(np.prod(a.shape[1:])) for a in jax.tree.leaves(state.params))
    try:  # XLA's own operation count of the compiled step (the profile's first number)
        cost = compiled.cost_analysis()
        flops = float((cost[0] if isinstance(cost, list) else cost)["flops"])
    except (KeyError, TypeError, IndexError, AttributeError):
        flops = None
    return {"step_s": step_s, "compile_s": compile_s, "samples_per_s": batch / step_s, "n_params": n_params,
            "xla_flops": flops,
            "input_shape": list(tr.input_shape), "step": lambda: compiled(*args)}


def peer_config(pair: str, spec: dict, batch: int, input_shape: list[int], repeats: int, warmup: int) -> dict:
    """The ``--config`` of ``peers/train_step_peer.py`` for ``pair``."""
    return {"pair": spec.get("peer_build", pair), "batch": batch, "input_shape": input_shape, "n_classes": spec["n_classes"],
            "lr": spec["lr"], "weight_decay": spec["weight_decay"], "repeats": repeats, "warmup": warmup, "seed": 0,
            "model_kwargs": {k: v for k, v in spec["kwargs"].items() if k in ("spectral_depth", "temporal_depth",
                                                                             "filters")}}


def peer_step(pair: str, spec: dict, batch: int, input_shape: list[int], repeats: int, warmup: int,
              timeout: float) -> dict:
    """Run ``peers/train_step_peer.py`` once for ``pair`` in the peers venv (all its repeats); its JSON result."""
    cfg = peer_config(pair, spec, batch, input_shape, repeats, warmup)
    return harness.run_peer("train_step_peer.py", ["--config", json.dumps(cfg)], timeout=timeout)


def paired_steps(pair: str, spec: dict, batch: int, jeeg: dict, pairs: int, warmup: int, timeout: float) -> dict:
    """Time jeeg's compiled step (``jeeg["step"]``) against the peer's, step for step.

    The peer runs as a long-lived ``train_step_peer.py --serve`` (``harness.PeerProcess``, warmed
    up there, at least 3 steps); ``harness.interleaved_pairs`` alternates one jeeg step and one peer step ``pairs``
    times. Each pair's ratio is peer time ÷ jeeg time = jeeg samples/s ÷ peer samples/s (same batch).
    Returns the ``interleaved_pairs`` result plus the peer's ready line under ``peer``.
    """
    # torch's first steps are slow (allocator, oneDNN primitive caches): at least 3 warm-up steps
    cfg = peer_config(pair, spec, batch, jeeg["input_shape"], pairs, max(3, warmup))
    with harness.PeerProcess("train_step_peer.py", ["--config", json.dumps(cfg)], timeout=timeout) as peer:
        r = harness.interleaved_pairs(harness.wall_timer(jeeg["step"]), peer.step, pairs)
        r["peer"] = peer.info
    return r


def _ratio_table(rows: list[dict]) -> str:
    head = f"{'pair':34s} {'batch':>5s} {'jeeg samples/s':>14s} {'peer samples/s':>14s} {'ratio':>7s} {'target':>6s}  reached"
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.get("error"):
            lines.append(f"{r['pair']:34s} {r['batch']:5d} failed: {r['error'][:90]}")
            continue
        peer = r.get("peer_samples_per_s")
        ratio = r.get("ratio")
        lines.append(f"{r['pair']:34s} {r['batch']:5d} {r['jeeg_samples_per_s']:14.1f} "
                     f"{'—' if peer is None else f'{peer:.1f}':>14s} {'—' if ratio is None else f'{ratio:.2f}':>7s} "
                     f"{r['target']:6.1f}  {'—' if r['reached'] is None else ('yes' if r['reached'] else 'NO')}"
                     + (f"  ({r['peer_error'][:80]})" if r.get("peer_error") else ""))
    return "\n".join(lines)


def run(quick: bool = False, out=None, peers: bool = True, *, pairs: list[str] | None = None,
        repeats: int | None = None, merge: bool = False, matmul: bool = True) -> dict:
    """Time every pair (jeeg against its peer in interleaved pairs), write ``<out>/<device>/train_steps.json``, return the result.

    ``peers=False`` (or no peers venv, or a failing peer) leaves the peer fields None and records
    ``peer_error`` in the row (and at the top level if no peer ran at all).
    """
    t_start = time.perf_counter()
    names = [n for n in PAIRS if not quick or PAIRS[n].get("quick", True)] if pairs is None else list(pairs)
    unknown = [n for n in names if n not in PAIRS]
    if unknown:
        raise ValueError(f"unknown pair(s) {unknown}; known: {', '.join(PAIRS)}")
    repeats = repeats or (2 if quick else 5)
    warmup = 1 if quick else 2
    pairs_n = max(3, repeats) if quick else max(11, 2 * repeats + 1)  # interleaved jeeg/peer step pairs
    platform = jax.devices()[0].platform
    peer_timeout = 600 if quick else 1800
    previous = _previous(out) if merge else {}
    rows = [r for r in previous.get("results", []) if r.get("pair") not in names]
    peer_env = previous.get("peer_environment")
    result = {"results": rows, "quick": bool(quick), "repeats": repeats, "warmup": warmup, "pairs": pairs_n,
              "matmul_reference": previous.get("matmul_reference"), "peer_threads": harness.n_cores(),
              "peer_environment": peer_env}
    for name in names:
        spec = PAIRS[name]
        target = report.train_step_target(name, platform)
        batch = spec["quick_batch"] if quick else spec["batch"]
        if quick and spec.get("quick_kwargs"):
            spec = {**spec, "kwargs": {**spec["kwargs"], **spec["quick_kwargs"]}}
        harness.log(f"train_steps: {name}, jeeg {spec['model']} {spec['kwargs']}, batch {batch}")
        try:
            j = jeeg_step(spec, batch, repeats, warmup)
        except Exception as e:  # noqa: BLE001 - a failed pair is recorded, the others still run
            rows.append({"pair": name, "jeeg_model": {"name": spec["model"], "kwargs": dict(spec["kwargs"])},
                         "peer": spec["peer"], "batch": batch, "target": target, "reached": None,
                         "error": f"jeeg step: {type(e).__name__}: {e}"[:500]})
            harness.log(f"  jeeg step failed: {rows[-1]['error'][:300]}")
            harness.write_result("train_steps", result, out, complete=False)
            continue
        row = {
            "pair": name,
            "jeeg_model": {"name": spec["model"], "kwargs": dict(spec["kwargs"])},
            "peer": spec["peer"],
            "batch": batch,
            "input_shape": j["input_shape"],
            "n_classes": spec["n_classes"],
            "optimizer": _optimizer_name(spec),
            "loss": "softmax cross-entropy (mean over the batch)",
            "jeeg_step_s": j["step_s"],
            "jeeg_compile_s": j["compile_s"],
            "jeeg_samples_per_s": j["samples_per_s"],
            "jeeg_n_params": j["n_params"],
            "jeeg_xla_flops": j["xla_flops"],
            "jeeg_platform": platform,
            "peer_step_s": None,
            "peer_samples_per_s": None,
            "peer_n_params": None,
            "peer_device": None,
            "ratio": None,
            "target": target,
            "reached": None,
        }
        harness.log(f"  jeeg: {j['samples_per_s']:.1f} samples/s ({j['step_s'] * 1e3:.1f} ms/step, "
                    f"compile {j['compile_s']:.1f} s)")
        if not peers:
            row["peer_error"] = "not run (--no-peers)"
        else:
            try:
                r = paired_steps(name, spec, batch, j, pairs_n, warmup, peer_timeout)
            except (RuntimeError, OSError, ValueError) as e:
                row["peer_error"] = f"{type(e).__name__}: {e}"
                harness.log(f"  peer failed: {row['peer_error'][:300]}")
            else:
                p = r["peer"]
                peer_env = peer_env or {"threads": p.get("threads"), "interop_threads": p.get("interop_threads"),
                                        "versions": p.get("versions"), "device": p.get("device_name")}
                jeeg_s, peer_s = r["median_s"]["a"], r["median_s"]["b"]
                row.update(jeeg_step_s=jeeg_s, jeeg_samples_per_s=batch / jeeg_s,
                           peer_step_s=peer_s, peer_samples_per_s=batch / peer_s,
                           peer_n_params=p.get("n_params"), peer_device=p.get("device"),
                           ratio=r["ratio_median"], ratio_median=r["ratio_median"], ratio_iqr=r["ratio_iqr"],
                           pairs=[{"jeeg_s": q["a_s"], "peer_s": q["b_s"], "ratio": q["ratio"],
                                   "first": "jeeg" if q["first"] == "a" else "peer"} for q in r["pairs"]],
                           loadavg=r["loadavg"])
                if j["xla_flops"]:  # the arithmetic rate each side reaches on jeeg's operation count
                    row.update(jeeg_gflop_per_s=j["xla_flops"] / jeeg_s / 1e9,
                               peer_gflop_per_s_same_ops=j["xla_flops"] / peer_s / 1e9)
                row["reached"] = report.step_reached(row)
                if row["reached"] is None:
                    row["note"] = (f"peer ran on {p.get('device')} and jeeg on {platform}: not the same kind of "
                                   "device, so the target is not judged")
                harness.log(f"  paired ({pairs_n} pairs): jeeg {row['jeeg_samples_per_s']:.1f}, peer "
                            f"{row['peer_samples_per_s']:.1f} samples/s; ratio {row['ratio']:.2f} "
                            f"(IQR {row['ratio_iqr'][0]:.2f}-{row['ratio_iqr'][1]:.2f}, "
                            f"load {r['loadavg']['before'][0]:.1f}->{r['loadavg']['after'][0]:.1f})")
        rows.append(row)
        result["peer_environment"] = peer_env
        harness.write_result("train_steps", result, out, complete=False)
    if matmul:
        mm = matmul_reference(512 if quick else MATMUL_N, 3 if quick else 7, peers)
        harness.log(f"float32 matmul {mm['n']}: jeeg {mm['jeeg_gflop_per_s']:.0f}, peer "
                    f"{mm['peer_gflop_per_s'] or float('nan'):.0f} GFLOP/s (best of {mm['repeats']})")
        result["matmul_reference"] = mm
    result["wall_s"] = time.perf_counter() - t_start
    errors = {r.get("peer_error") for r in rows}
    if rows and all(r.get("peer_error") for r in rows):
        result["peer_error"] = "; ".join(sorted(e for e in errors if e))[:500]
    path = harness.write_result("train_steps", result, out)
    harness.log("\n" + _ratio_table(rows))
    harness.log(f"wrote {path} ({result['wall_s']:.0f} s)")
    return result


def _previous(out) -> dict:
    """The train_steps.json already in ``<out>/<device>/`` (``--merge``), or {}."""
    path = harness.result_path("train_steps", out)
    return json.loads(path.read_text()) if path.is_file() else {}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small batches, 2 repeats (a smoke test)")
    ap.add_argument("--out", default=None, help=f"results folder (default {harness.RESULTS})")
    ap.add_argument("--no-peers", dest="peers", action="store_false", help="skip the PyTorch peers")
    ap.add_argument("--pairs", default=",".join(PAIRS), help=f"comma-separated subset of {', '.join(PAIRS)}")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per side (default 5; --quick 2)")
    ap.add_argument("--merge", action="store_true", help="keep the rows of other pairs already in train_steps.json")
    ap.add_argument("--no-matmul", dest="matmul", action="store_false", help="skip the float32 matmul reference")
    args = ap.parse_args(argv)
    run(args.quick, Path(args.out) if args.out else None, peers=args.peers,
        pairs=[p for p in args.pairs.split(",") if p], repeats=args.repeats, merge=args.merge, matmul=args.matmul)


if __name__ == "__main__":
    main()
