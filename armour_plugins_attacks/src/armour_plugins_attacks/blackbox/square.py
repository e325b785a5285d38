"""Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020): score-based random search.

Only model scores are used (a black-box attack): every iteration proposes a change inside one random
square window per sample (a random contiguous segment for flat feature vectors) and keeps it when the
loss (margin ``z_y - max_{j≠y} z_j``, or cross-entropy) improves. The window covers a fraction ``p`` of
the features, ``p`` starting at ``p_init`` and halving on the paper's schedule (rescaled to the budget).

* L∞: start from vertical stripes of ``±ε``; a proposal sets the window to ``x ± ε`` with a random sign
  per channel (re-drawn when it would change nothing).
* L2: start from a grid of tiles, each a pseudo-Gaussian bump of random sign, scaled to ``||δ||₂ = ε``;
  a proposal moves the mass of a second random window, plus the budget not yet used, into the first
  window as a fresh signed pseudo-Gaussian bump added to the old window content, then rescales to ``ε``.

Each sample stops when it is misclassified (or classified as the target); ``max_queries`` caps the model
evaluations per sample and per restart (the first evaluation included). Scores come from the same
:class:`~armour_plugins_attacks.blackbox.oracle.QueryOracle` as every black-box attack, which charges each
query to its sample, refuses to exceed the budget and is what ``result.queries`` counts.
Inputs of shape (N, d), (N, H, W) and (N, C, H, W) are supported; results stay inside the bounds.
Random draws are made for every row of the batch so a sample's trajectory does not depend on the other
samples (see :mod:`armour_plugins_attacks.autoattack`).
"""

from __future__ import annotations

import numpy as np

from armour_core.errors import InvalidInputError

from .configs import SquareConfig
from .oracle import BlackBoxAttack, QueryOracle
from .records import RECORDS

_SCHEDULE = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
             (8000, 256))


def p_selection(p_init: float, iteration: int, budget: int) -> float:
    """Fraction of features changed at ``iteration`` (the paper's schedule for 10,000 queries, rescaled)."""
    scaled = int(iteration / max(budget, 1) * 10000)
    for limit, div in _SCHEDULE:
        if scaled <= limit:
            return p_init / div
    return p_init / 512


def _as_image(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2:
        return x.reshape(x.shape[0], 1, 1, x.shape[1])
    if x.ndim == 3:
        return x.reshape(x.shape[0], 1, *x.shape[1:])
    if x.ndim == 4:
        return x
    raise InvalidInputError(f"x: Square supports (N, d), (N, H, W) and (N, C, H, W) inputs, got shape {x.shape}")


def _window_size(p: float, h: int, w: int) -> tuple[int, int]:
    if h == 1:
        return 1, int(min(max(round(p * w), 1), w))
    s = int(min(max(round(np.sqrt(p * h * w)), 1), min(h, w) - 1 if min(h, w) > 1 else 1))
    return s, s


def _bump(h: int, w: int) -> np.ndarray:
    """The paper's pseudo-Gaussian: concentric rectangles whose weight grows towards the centre."""
    n = max(h, w) // 2
    dr = np.abs(np.arange(h) - (h - 1) / 2.0)[:, None]
    dc = np.abs(np.arange(w) - (w - 1) / 2.0)[None, :]
    level = np.clip(n - np.floor(np.maximum(dr, dc)).astype(int), 0, n)
    weights = np.cumsum(1.0 / (n + 1 - np.arange(n + 1)) ** 2)
    return weights[level]


def _meta_bump(h: int, w: int, split_rows: bool) -> np.ndarray:
    """Two opposite-signed bumps side by side (the paper's "meta" pattern), unit L2 norm."""
    out = np.zeros((h, w))
    if split_rows and h > 1:
        half = h // 2
        out[:half] = _bump(half, w)
        out[half:] = -_bump(h - half, w)
    elif w > 1:
        half = w // 2
        out[:, :half] = _bump(h, half)
        out[:, half:] = -_bump(h, w - half)
    else:
        out[:] = _bump(h, w)
    return out / np.sqrt((out ** 2).sum())


def _window_mask(rows_h: np.ndarray, rows_w: np.ndarray, sh: int, sw: int, h: int, w: int):
    """Per-sample window masks (B, 1, H, W) and each pixel's offset inside its window."""
    oh = np.arange(h)[None, :] - rows_h[:, None]
    ow = np.arange(w)[None, :] - rows_w[:, None]
    inside = ((oh >= 0) & (oh < sh))[:, :, None] & ((ow >= 0) & (ow < sw))[:, None, :]
    return inside[:, None], np.clip(oh, 0, sh - 1), np.clip(ow, 0, sw - 1)


class Square(BlackBoxAttack):
    """Square Attack, L∞ and L2, untargeted or targeted (``target=``), score-based (black-box)."""

    Config = SquareConfig
    record = RECORDS["square"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        adv, _ = self.attack_rows(x, y, target, np.ones(len(x), dtype=bool))
        return adv

    # ------------------------------------------------------------------ scoring
    def _scores(self, orc: QueryOracle, x: np.ndarray, rows: np.ndarray, labels: np.ndarray, targeted: bool):
        """(loss, margin) for ``x[rows]``, one query charged to each row's sample."""
        z = orc.logits(x.reshape(rows.size, -1), rows)
        lab = labels[rows]
        r = np.arange(rows.size)
        z_lab = z[r, lab]
        masked = z.copy()
        masked[r, lab] = -np.inf
        z_other = masked.max(axis=1)
        margin = z_other - z_lab if targeted else z_lab - z_other  # < 0: succeeded
        if self.config.loss == "margin":
            return margin, margin
        shifted = z - z.max(axis=1, keepdims=True)
        ce = np.log(np.exp(shifted).sum(axis=1)) - shifted[r, lab]
        return (ce if targeted else -ce), margin

    # ------------------------------------------------------------------ main loop
    def attack_rows(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None, active: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Attack the rows where ``active`` holds; returns the batch (other rows unchanged) and success."""
        cfg = self.config
        img = _as_image(x.astype(np.float64))
        targeted = target is not None
        labels = target if targeted else y
        rng = self.attack_rng()
        # the budget is per restart: the oracle allows every restart its max_queries
        orc = QueryOracle(self.model, x.shape[1:], y, target, cfg.max_queries * cfg.restarts,
                          progress=getattr(self, "_progress", None))
        self._last_oracle = orc
        best = img.copy()
        found = np.zeros(len(x), dtype=bool)
        for _ in range(cfg.restarts):
            start = self._init(img, rng)
            rows = np.flatnonzero(active & ~found)
            if rows.size == 0:
                break
            cur = img.copy()
            cur[rows] = start[rows]
            loss = np.full(len(x), np.inf)
            margin = np.full(len(x), np.inf)
            loss[rows], margin[rows] = self._scores(orc, cur.reshape(x.shape)[rows].astype(np.float32), rows,
                                                    labels, targeted)
            for it in range(1, cfg.max_queries):
                proposal = self._propose(img, cur, rng, p_selection(cfg.p_init, it, cfg.max_queries))
                todo = np.flatnonzero(active & ~found & (margin >= 0))
                if todo.size == 0:
                    break
                new_loss, new_margin = self._scores(orc, proposal.reshape(x.shape)[todo].astype(np.float32),
                                                    todo, labels, targeted)
                better = new_loss < loss[todo]
                upd = todo[better]
                cur[upd], loss[upd], margin[upd] = proposal[upd], new_loss[better], new_margin[better]
            done = rows[margin[rows] < 0]
            best[rows] = cur[rows]
            found[done] = True
        return best.reshape(x.shape).astype(x.dtype), found

    # ------------------------------------------------------------------ proposals
    def _init(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.model.bounds
        eps = self.config.eps
        b, c, h, w = img.shape
        if self.config.norm == "linf":
            signs = rng.choice([-1.0, 1.0], size=(b, c, 1, w))
            return np.clip(img + eps * signs, lo, hi)
        tile_h = max(h // 5, 1) if h > 1 else 1
        tile_w = max(w // 5, 1)
        delta = np.zeros_like(img)
        for r0 in range(0, h, tile_h):
            for c0 in range(0, w, tile_w):
                th, tw = min(tile_h, h - r0), min(tile_w, w - c0)
                signs = rng.choice([-1.0, 1.0], size=(b, c, 1, 1))
                delta[:, :, r0:r0 + th, c0:c0 + tw] += signs * _bump(th, tw)
        norm = np.sqrt((delta.reshape(b, -1) ** 2).sum(axis=1)).reshape(b, 1, 1, 1)
        return np.clip(img + eps * delta / np.maximum(norm, 1e-12), lo, hi)

    def _propose(self, img, cur, rng, p):
        if self.config.norm == "linf":
            return self._propose_linf(img, cur, rng, p)
        return self._propose_l2(img, cur, rng, p)

    def _propose_linf(self, img, cur, rng, p, attempts: int = 4):
        lo, hi = self.model.bounds
        eps = self.config.eps
        b, c, h, w = img.shape
        sh, sw = _window_size(p, h, w)
        ph = rng.integers(0, h - sh + 1, size=b)
        pw = rng.integers(0, w - sw + 1, size=b)
        mask, _, _ = _window_mask(ph, pw, sh, sw, h, w)
        signs = rng.choice([-1.0, 1.0], size=(attempts, b, c, 1, 1))
        out = cur.copy()
        pending = np.ones(b, dtype=bool)
        for k in range(attempts):  # the first sign draw that changes the window wins
            cand = np.where(mask, np.clip(img + eps * signs[k], lo, hi), cur)
            changed = np.abs(cand - cur).reshape(b, -1).max(axis=1) > 1e-7
            take = pending & changed
            out[take] = cand[take]
            pending &= ~changed
        return out

    def _propose_l2(self, img, cur, rng, p):
        lo, hi = self.model.bounds
        eps = self.config.eps
        b, c, h, w = img.shape
        sh, sw = _window_size(p, h, w)
        if h > 1:
            sh = sw = max(sh, min(3, h, w))
        ph1, pw1 = rng.integers(0, h - sh + 1, size=b), rng.integers(0, w - sw + 1, size=b)
        ph2, pw2 = rng.integers(0, h - sh + 1, size=b), rng.integers(0, w - sw + 1, size=b)
        split_rows = bool(rng.integers(0, 2))
        signs = rng.choice([-1.0, 1.0], size=(b, c, 1, 1))
        m1, oh1, ow1 = _window_mask(ph1, pw1, sh, sw, h, w)
        m2, _, _ = _window_mask(ph2, pw2, sh, sw, h, w)
        delta = cur - img
        union = m1 | m2
        spare = np.maximum(eps ** 2 - (delta.reshape(b, -1) ** 2).sum(axis=1), 0.0).reshape(b, 1, 1, 1) / c
        mass = np.sqrt((np.where(union, delta, 0.0) ** 2).sum(axis=(2, 3), keepdims=True) + spare)
        pattern = _meta_bump(sh, sw, split_rows)[oh1[:, :, None], ow1[:, None, :]][:, None]  # (B,1,H,W)
        old = np.where(m1, delta, 0.0)
        old_norm = np.sqrt((old ** 2).sum(axis=(2, 3), keepdims=True))
        fresh = np.where(m1, signs * pattern + old / (old_norm + 1e-10), 0.0)
        fresh_norm = np.sqrt((fresh ** 2).sum(axis=(2, 3), keepdims=True))
        fresh = fresh / np.maximum(fresh_norm, 1e-12) * mass
        delta = np.where(m2, 0.0, delta)
        delta = np.where(m1, fresh, delta)
        total = np.sqrt((delta.reshape(b, -1) ** 2).sum(axis=1)).reshape(b, 1, 1, 1)
        delta = delta * (eps / np.maximum(total, 1e-12))
        return np.clip(img + delta, lo, hi)
