"""Black-box attacks: armour vs MindArmour 2.0 on the same model, data and comparable budgets, one process.

Run: ``python benchmarks/bench_blackbox.py [--rounds 3] [--n 16]`` (needs ``mindarmour==2.0.0``, installed
for benchmarks only). Writes benchmarks/results/blackbox.md.

Execution mode: PyNative with ``mindspore.runtime.launch_blocking()`` (applied by ``import armour_core.ms``),
CPU; both libraries query the same compiled (``mindspore.jit``) forward of the default digits MLP through
their own model interface (MindArmour's ``BlackModel.predict``; every row it sends is counted). Rounds are
interleaved (each round runs every method once); times are medians over rounds. Success and distances are
measured by the model itself on the points it classifies correctly (after clipping MindArmour's outputs to
[0, 1]), as absolute distances in input space; "range" is the min/max of the returned inputs (must stay
within [0, 1]). MindArmour needs the ``np.int``/``np.bool``/``np.float`` aliases, restored here only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("ARMOUR_CACHE_DIR", "/tmp/armour-cache")

import numpy as np  # noqa: E402

import armour_core.ms  # noqa: E402,F401  (CPU runtime settings)
from armour_core import registry  # noqa: E402
from armour_core.ms.pretrained import pretrained  # noqa: E402


def _distance(x, adv, norm):
    d = (adv.astype(np.float64) - x.astype(np.float64)).reshape(len(x), -1)
    if norm == "l2":
        return np.sqrt((d * d).sum(1))
    if norm == "linf":
        return np.abs(d).max(1)
    return (np.abs(d) > 1e-7).sum(1).astype(np.float64)


def cases(n: int):
    # MindArmour 2.0 uses aliases NumPy 1.24 removed; restore them for the comparison (bench only)
    for alias, value in (("int", int), ("bool", bool), ("float", float)):
        if not hasattr(np, alias):
            setattr(np, alias, value)
    import mindarmour.adv_robustness.attacks as ma
    from mindarmour import BlackModel

    p = pretrained("mlp", "digits")
    m = p.model
    ok = m.predict(p.dataset.x_test) == p.dataset.y_test
    x, y = p.dataset.x_test[ok][:n], p.dataset.y_test[ok][:n]

    class Counted(BlackModel):
        def __init__(self):
            super().__init__()
            self.rows = 0

        def predict(self, inputs):
            inputs = np.asarray(inputs, dtype=np.float32)
            if inputs.ndim == 3:  # MindArmour sometimes sends a single sample without the batch axis
                inputs = inputs[None]
            self.rows += len(inputs)
            return m._logits(inputs.reshape(len(inputs), 1, 8, 8))

    def ours(name, target=None, **cfg):
        atk = registry.create("attack", name, model=m, seed=0, **cfg)

        def run():
            res = atk.generate(x, y, target=target)
            return np.asarray(res.adversarial), res.queries
        return run

    def theirs(make, labels=None):
        def run():
            bm = Counted()
            atk = make(bm)
            out = atk.generate(x, y if labels is None else labels)
            adv = np.asarray(out[1], dtype=np.float64).reshape(x.shape)
            return adv, bm.rows
        return run

    yield ("HopSkipJump L2, untargeted (true labels)", "l2", {
        "armour (max_queries=2000)": ours("hsja", max_queries=2000),
        "MindArmour (20 iterations, true labels as given)": theirs(
            lambda bm: ma.HopSkipJumpAttack(bm, init_num_evals=100, max_num_evals=1000, num_iterations=20,
                                            constraint="l2", clip_min=0.0, clip_max=1.0)),
    }, x, y, m, None)
    # MindArmour's NES is targeted only (labels are targets) and needs target images even in Query_Limit
    target = (y + 1) % 10
    pool = p.dataset.x_train
    pool_pred = m.predict(pool)
    target_imgs = np.stack([pool[np.flatnonzero(pool_pred == t)[0]] for t in target])

    def their_nes(bm):
        atk = ma.NES(bm, "Query_Limit", max_queries=2000, num_class=10, epsilon=0.3, samples_per_draw=40,
                     batch_size=40)
        atk.set_target_images(target_imgs)
        return atk

    yield ("NES L∞ ε=0.3, targeted (y+1 mod 10)", "linf", {
        "armour (max_queries=2000)": ours("nes", target=target, eps=0.3, max_queries=2000, samples=20),
        "MindArmour (Query_Limit, max_queries=2000)": theirs(their_nes, labels=target),
    }, x, y, m, target)
    yield ("Genetic L∞ ε=0.3", "linf", {
        "armour genetic (max_queries=3000)": ours("genetic", eps=0.3, max_queries=3000),
        "MindArmour GeneticAttack (per_bounds=0.3, 500 steps)": theirs(
            lambda bm: ma.GeneticAttack(bm, targeted=False, sparse=True, per_bounds=0.3, max_steps=500,
                                        bounds=(0.0, 1.0))),
    }, x, y, m, None)
    yield ("PSO L∞ ε=0.3", "linf", {
        "armour pso (max_queries=3000)": ours("pso", eps=0.3, max_queries=3000),
        "MindArmour PSOAttack (per_bounds=0.3, 500 steps)": theirs(
            lambda bm: ma.PSOAttack(bm, targeted=False, sparse=True, per_bounds=0.3, t_max=500,
                                    bounds=(0.0, 1.0))),
    }, x, y, m, None)
    yield ("Salt-and-pepper (L0)", "l0", {
        "armour (max_queries=1000)": ours("salt_and_pepper", max_queries=1000),
        "MindArmour SaltAndPepperNoiseAttack (max_iter=100)": theirs(
            lambda bm: ma.SaltAndPepperNoiseAttack(bm, bounds=(0.0, 1.0), max_iter=100)),
    }, x, y, m, None)
    yield ("Pointwise (L0)", "l0", {
        "armour (max_queries=2000)": ours("pointwise", max_queries=2000),
        "MindArmour PointWiseAttack (max_iter=1000)": theirs(
            lambda bm: ma.PointWiseAttack(bm, max_iter=1000, search_iter=10)),
    }, x, y, m, None)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=16)
    args = ap.parse_args(argv)
    lines = ["## Black-box attacks: armour vs MindArmour 2.0", "",
             f"Command: `python benchmarks/bench_blackbox.py --rounds {args.rounds} --n {args.n}`. "
             "Execution mode: PyNative + launch_blocking on CPU (armour's own graphs compiled with "
             "`mindspore.jit`); default digits MLP; "
             f"{args.n} correctly classified test points. Time: median over {args.rounds} interleaved rounds. "
             "Success is judged by the model on the returned inputs; distances are absolute, in input space; "
             "queries are model evaluations per sample (mean). MindArmour's success flags are ignored: "
             "its HopSkipJump, given true labels, treats them as targets. MindArmour needs the `np.int`/`np.bool`/"
             "`np.float` aliases NumPy 1.24 removed; the benchmark restores them.", "",
             "| case | method | success | median distance (succ.) | mean queries / sample | time (s) | "
             "output range |", "|---|---|---|---|---|---|---|"]
    for title, norm, methods, x, y, m, target in cases(args.n):
        times = {k: [] for k in methods}
        last = {}
        for _ in range(args.rounds):
            for name, fn in methods.items():
                t0 = time.perf_counter()
                try:
                    adv, queries = fn()
                except Exception as exc:  # noqa: BLE001 - report what breaks
                    last[name] = exc
                    break
                times[name].append(time.perf_counter() - t0)
                last[name] = (adv, queries)
        for name in methods:
            got = last.get(name)
            if isinstance(got, Exception) or got is None:
                lines.append(f"| {title} | {name} | fails: `{type(got).__name__}: {str(got)[:80]}` | | | | |")
                continue
            adv, queries = got
            inside = np.clip(adv, 0.0, 1.0).astype(np.float32)
            pred = np.asarray(m.predict(inside))
            succ = pred != y if target is None else pred == target
            dist = _distance(x, adv, norm)
            med = f"{np.median(dist[succ]):.3f}" if succ.any() else "—"
            rng = f"[{adv.min():.3g}, {adv.max():.3g}]"
            qps = queries / len(x)
            lines.append(f"| {title} | {name} | {succ.mean():.2f} | {norm} {med} | {qps:.0f} | "
                         f"{statistics.median(times[name]):.2f} | {rng} |")
            print(lines[-1], flush=True)
    out = Path(__file__).parent / "results" / "blackbox.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    from armour_core.atomic import atomic_write_text

    atomic_write_text(out, "\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
