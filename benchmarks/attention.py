"""Attention cores: forward and forward+backward, at each model's real shape and scaled up.

What is timed (each a jitted program compiled ahead of time, its compile time reported apart,
inputs on the device, one warm-up call, then the median of ``repeats`` calls, every result
synchronised with ``jax.block_until_ready``; ``benchmarks/harness.py``):

* ``msc_self_attention`` — MSC-T3AM's multi-head self-attention as the model runs it
  (:class:`jeeg.models.msc_t3am.MSCAttention`, ``msc=True``): Q, K, V and output projections E → E,
  one MSC module shared by Q, K and V (25- and 75-tap depthwise 'same' convolutions over tokens
  — written by the model as banded matmuls — BatchNorm, ReLU, pointwise h → h, AvgPool (2, 1),
  the two branches concatenated along tokens), scores scaled by 1/sqrt(E). Inference-mode
  BatchNorm and no dropout in both passes.
* ``mha`` — plain multi-head attention, ``jax.nn.dot_product_attention`` (scale 1/sqrt(head_dim))
  with ``implementation="xla"``; on a GPU also in bfloat16, and ``implementation="cudnn"`` in
  bfloat16 and float16 (an error, e.g. an unsupported head size, is recorded in the row).
* ``stff_additive`` — STFF-DA's additive attention pooling over its LSTM-64 outputs
  (:func:`jeeg.attention.additive_attention`, attention size 64).
* ``sst_spatial`` / ``sst_spectral_temporal`` — the two halves of SST-EmotionNet's attention module
  (:class:`jeeg.models.sst_emotionnet.Attention3D`): spatial weights σ(Dense_{HW→HW}(mean over
  channels and depth)) and spectral/temporal weights σ(Dense_{D→D}(mean over channels, H and W)),
  each multiplied into x (B, H, W, D, C). The product of the two equals Attention3D's output
  (checked at the model shape before timing).
* ``torch_sdpa`` — the peer: ``torch.nn.functional.scaled_dot_product_attention`` at the ``mha``
  shapes, float32 (on a GPU also bfloat16), timed by ``benchmarks/peers/attention_peer.py`` in the
  PyTorch peers venv in the same run (``torch.set_num_threads`` = JAX's cores); jeeg ``mha`` rows
  of the same dtype get ``ratio_vs_torch`` = torch time / jeeg time (only when both ran on the
  same kind of device).

``fwd+bwd`` is ``jax.vjp`` of the core followed by its pullback of a fixed random cotangent:
gradients with respect to the inputs (q, k, v or x) and the core's parameters.

Sizes. ``model``: MSC-T3AM on EEGMMIDB (4-s cues at 160 Hz, ``pool=6``: 106 tokens, E = 10,
10 heads, batch 16); ``mha`` at the same shape (MSC-T3AM without MSC: head_dim 1); STFF-DA's 40
LSTM steps (640 samples / 16), hidden 64, batch 16; SST-EmotionNet (official variant, 32 x 32
grid, batch 16 as ``experiments/sst_emotionnet_eegmmidb.py``) at its largest spatial attention
(spectral stream, 16 x 16 x 2 bands x 24 channels) and its largest spectral/temporal one (temporal
stream, 4 x 4 x 6 frames x 120 channels). ``x10`` / ``x40``: the token axis (tokens, LSTM steps,
H·W, D) multiplied by 10 and 40, everything else kept (on the CPU the x40 MSC and MHA rows use
batch 1: XLA materialises the (batch, heads, N, N) scores). ``x10-wide`` / ``x40-wide``: ``mha``
with 8 heads of 64 (the shapes cuDNN and tensor cores are made for; ``x40-wide`` on a GPU only).
``--quick``: ``model`` and ``x10`` (and ``x10-wide``) at batch 2 (1 for ``x10-wide``), 1 repeat.

FLOPs (analytic, ``flops`` in each row; a multiply-add counts 2; B batch, N tokens):

* mha: 4·B·H·N²·Dh (QKᵀ and PV; softmax not counted).
* msc_self_attention: 8·B·N·E² (four projections) + 3·Σ_{k∈{25,75}}(2·k·B·N·E + 2·B·N·E·h)
  (MSC on Q, K and V: K-tap depthwise convolution counted by its taps, not by the banded matmul
  XLA runs, and the pointwise h → h) + 4·B·N²·E (scores and weighted sum).
* stff_additive: B·T·(2·d·a + 2·a + 2·d) (W h_t, vᵀ u_t, Σ α_t h_t), d = a = 64.
* sst_spatial: 2·B·(HW)² + 2·B·HW·D·C + B·HW·D (Dense, channel mean and reweighting, depth mean).
* sst_spectral_temporal: 2·B·D² + 2·B·HW·D·C + B·HW·D.
* fwd+bwd = 3 × fwd (each matmul's backward is two matmuls of its size; exact for the matmul
  terms, an approximation for the few element-wise ones).

``xla_flops`` is XLA's own count (``compiled.cost_analysis()["flops"]``) of the compiled program,
for comparison (it includes element-wise work and counts the banded convolutions in full).
``flops_per_s`` = flops / time_s; ``peak_fraction`` = flops_per_s / ``harness.peak_flops(dtype)``
(None on a CPU); float32 rows on a GPU also get ``peak_fraction_tf32`` (XLA may use TF32 tensor
cores for float32 matmuls). ``memory_bytes`` = argument + output + temp bytes of the compiled
program (``compiled.memory_analysis()``).

Usage::

    python benchmarks/attention.py [--quick] [--out benchmarks/results] [--no-peers] [--repeats N]

Writes ``<out>/<device>/attention.json`` (rows in ``results``, with the environment); a table
goes to stderr as it runs. CPU numbers of a 2-core machine are for ratios only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/: run as a script or from run_all.py
from harness import compile_timed, log, median_time, n_cores, peak_flops, run_peer, write_result  # noqa: E402

BATCH = 16  # jeeg's experiments on EEGMMIDB train all three models with batch 16
MSC_TOKENS, MSC_EMB, MSC_HEADS = 106, 10, 10  # MSC-T3AM, EEGMMIDB, pool=6 (experiments/msc_t3am_eegmmidb.py)
STFF_STEPS, STFF_HIDDEN, STFF_ATT = 40, 64, 64  # 640 samples // 16
SST_SPATIAL = dict(H=16, W=16, depth=2, channels=24)  # spectral stream, attention 1 (official, 32 x 32)
SST_DEPTH = dict(H=4, W=4, depth=6, channels=120)  # temporal stream, attention 1
WIDE_HEADS, WIDE_HEAD_DIM = 8, 64
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


@dataclass
class Case:
    """One core at one size: ``fn(params, inputs)`` → output, with its parameters and inputs built."""

    core: str
    scale: str
    shape: dict
    tokens: int
    flops_fwd: float
    build: Callable[..., tuple[Callable, Any, tuple]]  # (dtype, implementation) → (fn, params, inputs)
    variants: list[tuple[str, str, str | None]] = field(default_factory=lambda: [("jeeg/xla", "float32", None)])


def _normal(i: int, shape, dtype) -> jax.Array:
    return jax.random.normal(jax.random.fold_in(jax.random.key(0), i), shape, jnp.float32).astype(dtype)


# ---------------------------------------------------------------------------------------------
# The cores


def mha_case(scale: str, B: int, N: int, H: int, Dh: int, gpu: bool) -> Case:
    def build(dtype, implementation="xla"):
        def fn(params, inputs):
            q, k, v = inputs
            return jax.nn.dot_product_attention(q, k, v, implementation=implementation)

        return fn, (), tuple(_normal(i, (B, N, H, Dh), dtype) for i in range(3))

    variants = [("jeeg/xla", "float32", "xla")]
    if gpu:
        variants += [("jeeg/xla", "bfloat16", "xla"), ("jeeg/cudnn", "bfloat16", "cudnn"),
                     ("jeeg/cudnn", "float16", "cudnn")]
    return Case("mha", scale, dict(batch=B, tokens=N, heads=H, head_dim=Dh), N, 4.0 * B * H * N * N * Dh, build,
                variants)


def msc_case(scale: str, B: int, N: int, E: int = MSC_EMB, h: int = MSC_HEADS) -> Case:
    def build(dtype, implementation=None):
        from flax import nnx

        from jeeg.models.msc_t3am import MSCAttention

        module = MSCAttention(E, h, msc=True, drop_att=0.5, rngs=nnx.Rngs(0))
        graphdef, params, rest = nnx.split(module, nnx.Param, ...)

        def fn(params, inputs):
            return nnx.merge(graphdef, params, rest)(inputs[0], True, None)[0]  # inference BN, no dropout

        return fn, params, (_normal(0, (B, N, E), dtype),)

    projections, attention = 8.0 * B * N * E * E, 4.0 * B * N * N * E
    msc = 3 * sum(2.0 * k * B * N * E + 2.0 * B * N * E * h for k in (25, 75))  # on Q, K and V
    flops = projections + msc + attention
    return Case("msc_self_attention", scale, dict(batch=B, tokens=N, emb=E, heads=h, head_dim=E // h), N, flops, build)


def stff_case(scale: str, B: int, T: int, d: int = STFF_HIDDEN, a: int = STFF_ATT) -> Case:
    def build(dtype, implementation=None):
        from jeeg.attention import additive_attention

        def fn(params, inputs):
            return additive_attention(inputs[0], params["w"], params["b"], params["v"])[0]

        params = {"w": _normal(1, (d, a), dtype) / math.sqrt(d), "b": jnp.zeros((a,), dtype),
                  "v": _normal(2, (a,), dtype) / math.sqrt(a)}
        return fn, params, (_normal(0, (B, T, d), dtype),)

    return Case("stff_additive", scale, dict(batch=B, steps=T, hidden=d, att_dim=a), T,
                B * T * (2.0 * d * a + 2.0 * a + 2.0 * d), build)


def _sst_spatial_weights(x, kernel, bias):
    """σ(Dense(mean of x over channels and depth)): (B, H, W)."""
    B, H, W = x.shape[:3]
    return jax.nn.sigmoid(x.mean(-1).mean(-1).reshape(B, H * W) @ kernel + bias).reshape(B, H, W)


def _sst_depth_weights(x, kernel, bias):
    """σ(Dense(mean of x over channels, H and W)): (B, D)."""
    return jax.nn.sigmoid(x.mean(-1).mean((1, 2)) @ kernel + bias)


def sst_case(core: str, scale: str, B: int, H: int, W: int, depth: int, channels: int) -> Case:
    spatial = core == "sst_spatial"
    n = H * W if spatial else depth

    def build(dtype, implementation=None):
        def fn(params, inputs):
            (x,) = inputs
            if spatial:
                return x * _sst_spatial_weights(x, params["kernel"], params["bias"])[:, :, :, None, None]
            return x * _sst_depth_weights(x, params["kernel"], params["bias"])[:, None, None, :, None]

        bound = math.sqrt(6.0 / (2 * n))  # Glorot-uniform, as the official (Keras) model
        kernel = jax.random.uniform(jax.random.key(1), (n, n), jnp.float32, -bound, bound).astype(dtype)
        return fn, {"kernel": kernel, "bias": jnp.zeros((n,), dtype)}, (_normal(0, (B, H, W, depth, channels), dtype),)

    hwdc, hwd = H * W * depth * channels, H * W * depth
    flops = 2.0 * B * n * n + 2.0 * B * hwdc + B * hwd
    return Case(core, scale, dict(batch=B, H=H, W=W, depth=depth, channels=channels), n, flops, build)


def check_sst_split() -> None:
    """The two SST cores' weights multiplied into x give Attention3D's output (a small shape, float32)."""
    from jeeg.models.sst_emotionnet import Attention3D, _Init

    H, W, D, C = 8, 8, 3, 5
    init = _Init()
    att = Attention3D(H, W, D, init=init, torch_init=False)
    init.fill(jax.random.key(3))
    x = _normal(7, (2, H, W, D, C), jnp.float32)
    ref = att(x)[0]
    s = _sst_spatial_weights(x, att.spatial.kernel[...], att.spatial.bias[...])
    t = _sst_depth_weights(x, att.temporal.kernel[...], att.temporal.bias[...])
    got = x * s[:, :, :, None, None] * t[:, None, None, :, None]
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-6)


#: Every size a run can ask for (``--scales``); see the module docstring.
SCALES = ("model", "x10", "x40", "x10-wide", "x40-wide")


def default_scales(quick: bool, gpu: bool) -> list[str]:
    """The sizes of a run without ``--scales``: ``model``, ``x10``, ``x40`` (not with ``--quick``) and
    ``x10-wide`` (``x40-wide`` too on a GPU, without ``--quick``)."""
    return ["model", "x10", *([] if quick else ["x40"]), "x10-wide", *(["x40-wide"] if gpu and not quick else [])]


def cases(quick: bool, gpu: bool, scales: list[str] | None = None) -> list[Case]:
    """Every (core, size) of a run at ``scales`` (default :func:`default_scales`).

    Raises
    ------
    ValueError
        A scale not in :data:`SCALES`.
    """
    scales = list(scales or default_scales(quick, gpu))
    unknown = [s for s in scales if s not in SCALES]
    if unknown:
        raise ValueError(f"unknown attention scale(s) {unknown}; choose from {', '.join(SCALES)}")
    B = 2 if quick else BATCH
    out = []
    for scale in (s for s in scales if not s.endswith("-wide")):
        f = 1 if scale == "model" else int(scale[1:])
        Bq = 1 if (scale == "x40" and not gpu) else B  # XLA:CPU holds (B, h, N, N) scores
        out.append(msc_case(scale, Bq, MSC_TOKENS * f))
        out.append(mha_case(scale, Bq, MSC_TOKENS * f, MSC_HEADS, MSC_EMB // MSC_HEADS, gpu))
        out.append(stff_case(scale, B, STFF_STEPS * f))
        sp, dp = dict(SST_SPATIAL), dict(SST_DEPTH)
        if f > 1:  # H·W x f: 16 x 16 → 32 x 80 (x10), 64 x 160 (x40)
            sp["H"], sp["W"] = {10: (32, 80), 40: (64, 160)}[f]
            dp["depth"] *= f
        out.append(sst_case("sst_spatial", scale, B, **sp))
        out.append(sst_case("sst_spectral_temporal", scale, B, **dp))
    for scale in (s for s in scales if s.endswith("-wide")):
        Bw = 1 if quick else (B if gpu else 2)
        out.append(mha_case(scale, Bw, MSC_TOKENS * int(scale[1:3]), WIDE_HEADS, WIDE_HEAD_DIM, gpu))
    return out


# ---------------------------------------------------------------------------------------------
# Measuring


def _xla_flops(compiled) -> float | None:
    try:
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost["flops"]) if cost and "flops" in cost else None
    except Exception:  # noqa: BLE001 - not every backend reports it
        return None


def _memory_bytes(compiled) -> int | None:
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes)
    except Exception:  # noqa: BLE001
        return None


def _failed(flops: float, exc: Exception) -> dict:
    return dict(time_s=None, compile_s=None, flops=flops, flops_source="analytic", flops_per_s=None,
                peak_fraction=None, memory_bytes=None, error=f"{type(exc).__name__}: {exc}"[:500])


def measure(case: Case, impl: str, dtype: str, implementation: str | None, repeats: int) -> list[dict]:
    """Rows (fwd, fwd+bwd) of one case in one implementation and dtype."""
    base = dict(core=case.core, impl=impl, dtype=dtype, shape=case.shape, tokens=case.tokens, scale=case.scale)
    try:
        fn, params, inputs = case.build(DTYPES[dtype], implementation)
        out_shape = jax.eval_shape(fn, params, inputs)
        g = _normal(11, out_shape.shape, out_shape.dtype)
    except Exception as exc:  # noqa: BLE001 - e.g. cuDNN refusing a head size or dtype: record and go on
        rows = [{**base, "pass": p, **_failed(mult * case.flops_fwd, exc)} for p, mult in (("fwd", 1.0), ("fwd+bwd", 3.0))]
        for row in rows:
            _print_row(row)
        return rows

    def fwd_bwd(params, inputs, g):
        out, pullback = jax.vjp(fn, params, inputs)
        return out, pullback(g)

    programs = (("fwd", jax.jit(fn), (params, inputs), 1.0), ("fwd+bwd", jax.jit(fwd_bwd), (params, inputs, g), 3.0))
    peak = peak_flops(dtype)
    peak_tf32 = peak_flops("tf32") if dtype == "float32" else None
    rows = []
    for name, jitted, args, mult in programs:
        row = {**base, "pass": name}
        try:
            compiled, compile_s = compile_timed(jitted, *args)
            t = median_time(lambda c=compiled, a=args: c(*a), repeats=repeats, warmup=1)
            flops = mult * case.flops_fwd
            row.update(time_s=t, compile_s=compile_s, flops=flops, flops_source="analytic",
                       xla_flops=_xla_flops(compiled), flops_per_s=flops / t,
                       peak_fraction=flops / t / peak if peak else None, memory_bytes=_memory_bytes(compiled),
                       samples_per_s=case.shape["batch"] / t)
            if peak_tf32:
                row["peak_fraction_tf32"] = flops / t / peak_tf32
        except Exception as exc:  # noqa: BLE001 - e.g. cuDNN refusing a head size, out of memory
            row.update(_failed(mult * case.flops_fwd, exc))
        rows.append(row)
        _print_row(row)
    return rows


HEADER = (f"{'core':22s} {'impl':10s} {'dtype':8s} {'pass':7s} {'scale':9s} {'tokens':>6s} {'ms':>10s} "
          f"{'GFLOP/s':>9s} {'%peak':>6s} {'MB':>9s}")


def _print_row(r: dict) -> None:
    if r.get("time_s") is None:
        log(f"{r['core']:22s} {r['impl']:10s} {r['dtype']:8s} {r['pass']:7s} {r['scale']:9s} {r['tokens']:6d} "
            f"error: {r.get('error', '')[:100]}")
        return
    pf = "" if r.get("peak_fraction") is None else f"{100 * r['peak_fraction']:.1f}"
    mb = "" if r.get("memory_bytes") is None else f"{r['memory_bytes'] / 1e6:.1f}"
    ratio = f"  torch/jeeg x{r['ratio_vs_torch']:.2f}" if r.get("ratio_vs_torch") else ""
    log(f"{r['core']:22s} {r['impl']:10s} {r['dtype']:8s} {r['pass']:7s} {r['scale']:9s} {r['tokens']:6d} "
        f"{r['time_s'] * 1e3:10.3f} {r['flops_per_s'] / 1e9:9.2f} {pf:>6s} {mb:>9s}{ratio}")


def torch_rows(mha_cases: list[Case], repeats: int, platform: str) -> tuple[list[dict], dict]:
    """Run the peer at the mha shapes; its rows and its metadata."""
    sizes = [{"scale": c.scale, **c.shape} for c in mha_cases]
    dtypes = "float32,bfloat16" if platform == "gpu" else "float32"  # torch's CPU bf16 SDPA is not a peer
    peer = run_peer("attention_peer.py", ["--sizes", json.dumps(sizes), "--repeats", str(repeats), "--dtypes", dtypes])
    same_kind = (peer["device"] == "cuda") == (platform == "gpu")
    flops = {(c.scale, json.dumps(c.shape, sort_keys=True)): c.flops_fwd for c in mha_cases}
    rows = []
    for r in peer["results"]:
        shape = {k: r[k] for k in ("batch", "tokens", "heads", "head_dim")}
        f = flops[(r["scale"], json.dumps(shape, sort_keys=True))] * (3.0 if r["pass"] == "fwd+bwd" else 1.0)
        t = r.get("time_s")
        pk = peak_flops(r["dtype"]) if (peer["device"] == "cuda" and same_kind) else None
        row = {"core": "torch_sdpa", "impl": "torch", "dtype": r["dtype"], "pass": r["pass"], "shape": shape,
               "tokens": shape["tokens"], "scale": r["scale"], "device": peer["device"], "time_s": t,
               "compile_s": None, "flops": f, "flops_source": "analytic", "flops_per_s": f / t if t else None,
               "peak_fraction": f / t / pk if (t and pk) else None, "memory_bytes": r.get("memory_bytes"),
               "samples_per_s": shape["batch"] / t if t else None}
        if r.get("error"):
            row["error"] = r["error"]
        rows.append(row)
        _print_row(row)
    meta = {k: peer.get(k) for k in ("torch", "threads", "device", "device_name", "repeats", "warmup")}
    meta["same_device_kind"] = same_kind
    return rows, meta


def run(quick: bool = False, out=None, peers: bool = True, repeats: int | None = None,
        scales: list[str] | None = None) -> dict:
    """Time every core at ``scales`` (and the torch peer); write ``<out>/<device>/attention.json``,
    rewritten after every core (``complete`` false until the end); return the result."""
    t_start = time.perf_counter()
    platform = jax.devices()[0].platform
    gpu = platform == "gpu"
    repeats = repeats or (1 if quick else 5)
    check_sst_split()
    todo = cases(quick, gpu, scales)
    log(f"attention cores on {jax.devices()[0].device_kind} ({platform}), repeats {repeats}"
        f"{', quick' if quick else ''}; {n_cores()} cores")
    log(HEADER)
    rows = []
    result: dict = {"quick": quick, "repeats": repeats, "scales": sorted({c.scale for c in todo}, key=SCALES.index),
                    "results": rows}
    for case in todo:
        for impl, dtype, implementation in case.variants:
            rows += measure(case, impl, dtype, implementation, repeats)
        write_result("attention", result, out, complete=False)
    if peers:
        try:
            peer_rows, meta = torch_rows([c for c in todo if c.core == "mha"], repeats, platform)
            result["peer"] = meta
            rows += peer_rows
            if meta["same_device_kind"]:
                by_key = {(r["pass"], r["dtype"], json.dumps(r["shape"], sort_keys=True)): r
                          for r in peer_rows if r.get("time_s")}
                for r in rows:
                    if r["core"] == "mha" and r.get("time_s"):
                        tr = by_key.get((r["pass"], r["dtype"], json.dumps(r["shape"], sort_keys=True)))
                        if tr:
                            r["ratio_vs_torch"] = tr["time_s"] / r["time_s"]
                            _print_row(r)
        except Exception as exc:  # noqa: BLE001 - no venv, or the peer failed: keep jeeg's numbers
            result["peer_error"] = f"{type(exc).__name__}: {exc}"[:2000]
            log(f"torch peer not run: {result['peer_error']}")
    else:
        result["peer_error"] = "skipped (--no-peers)"
    result["wall_s"] = time.perf_counter() - t_start
    write_result("attention", result, out)
    log(f"attention benchmark took {result['wall_s']:.0f} s")
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="model and x10 sizes at batch 2, 1 repeat (smoke test)")
    ap.add_argument("--out", default=None, help="results folder (default benchmarks/results); one sub-folder per device")
    ap.add_argument("--no-peers", dest="peers", action="store_false", help="skip the PyTorch peer")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls per program (default 5; --quick 1)")
    ap.add_argument("--scales", default=None,
                    help=f"comma-separated subset of {', '.join(SCALES)} (default: all but x40-wide off a GPU; "
                         "--quick: model, x10, x10-wide)")
    args = ap.parse_args(argv)
    run(args.quick, Path(args.out) if args.out else None, peers=args.peers, repeats=args.repeats,
        scales=[s for s in args.scales.split(",") if s] if args.scales else None)


if __name__ == "__main__":
    main()
