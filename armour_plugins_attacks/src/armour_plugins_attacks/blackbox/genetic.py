"""GenAttack (Alzantot, Sharma, Chakraborty, Zhang, Hsieh & Srivastava, GECCO 2019): a gradient-free
genetic search for adversarial examples inside the L∞ ball, using the model's scores.

Each sample keeps a population of ``P`` candidates ``x + delta`` with ``||delta||_inf <= eps``.
Fitness is the attacker's log-odds (``log P(target) - log sum_{j != target} P(j)``; untargeted:
``log sum_{j != y} P(j) - log P(y)``). Every generation

* starts from the input and ``P - 1`` uniform draws in the ball;
* keeps the fittest member unchanged (elitism) and stops the sample once it is adversarial;
* draws ``P - 1`` parent pairs with probabilities ``softmax(fitness / temperature)``;
* crosses them over coordinate-wise, taking each coordinate from the first parent with probability
  ``p1 / (p1 + p2)`` (the parents' selection probabilities);
* mutates each coordinate with probability ``rho`` by ``Uniform(-alpha eps, alpha eps)`` and clips to
  the ball and the bounds.

``rho`` and ``alpha`` follow the paper's adaptive schedule: ``max(rho_min, 0.5 * 0.9^k)`` and
``max(alpha_min, 0.4 * 0.9^k)`` where ``k`` counts plateaus (``patience`` generations without a better
elite). Every population of every sample is evaluated in one forward call per generation.
"""

from __future__ import annotations

import numpy as np

from .oracle import BlackBoxAttack
from .configs import GeneticConfig
from .records import RECORDS


class GenAttack(BlackBoxAttack):
    """GenAttack, L∞, untargeted and targeted, score-based."""

    Config = GeneticConfig
    record = RECORDS["genetic"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        rng = self.attack_rng()
        xf = self._flat(x)
        n, d = xf.shape
        size = cfg.population
        orc = self._oracle(x, y, target)
        eps = float(cfg.eps)
        result = xf.copy()
        won = np.zeros(n, dtype=bool)

        # initial population: the input itself and uniform draws in the ball (clipped to the bounds)
        active = orc.remaining() >= size
        i = np.flatnonzero(active)
        pop = np.repeat(xf[:, None, :], size, axis=1)
        fit = np.full((n, size), -np.inf)
        adv = np.zeros((n, size), dtype=bool)
        if i.size:
            pop[i] = self._ball(xf[i], rng.uniform(-eps, eps, size=(i.size, size, d)))
            pop[i, 0] = xf[i]  # the clean input competes too: already-adversarial inputs stay unchanged
            fit[i], adv[i] = self._evaluate(orc, pop[i], i)
            fit[i, 0] = np.where(adv[i, 0], np.inf, fit[i, 0])  # an adversarial input needs no change
        best_fit = np.full(n, -np.inf)
        plateau = np.zeros(n, dtype=np.int64)
        stale = np.zeros(n, dtype=np.int64)

        while True:
            elite = fit.argmax(axis=1)
            rows = np.arange(n)
            elite_adv = adv[rows, elite]
            win = active & elite_adv
            result[win] = pop[win, elite[win]]
            won |= win
            active &= ~elite_adv
            active &= orc.remaining() >= size - 1
            i = np.flatnonzero(active)
            if i.size == 0:
                break
            # adaptive mutation schedule
            elite_fit = fit[i, elite[i]]
            improved = elite_fit > best_fit[i]
            best_fit[i] = np.maximum(best_fit[i], elite_fit)
            stale[i] = np.where(improved, 0, stale[i] + 1)
            bump = stale[i] >= cfg.patience
            plateau[i[bump]] += 1
            stale[i[bump]] = 0
            rho = np.maximum(cfg.mutation_rate, 0.5 * 0.9 ** plateau[i])
            alpha = np.maximum(cfg.mutation_range, 0.4 * 0.9 ** plateau[i])

            # selection
            f = fit[i] / cfg.temperature
            f = f - f.max(axis=1, keepdims=True)
            probs = np.exp(f)
            probs /= probs.sum(axis=1, keepdims=True)
            cum = np.cumsum(probs, axis=1)
            draws = rng.random((i.size, 2, size - 1))
            parents = np.minimum((draws[..., None] > cum[:, None, None, :]).sum(axis=-1), size - 1)
            p1, p2 = parents[:, 0], parents[:, 1]
            take = np.arange(i.size)[:, None]
            w1, w2 = probs[take, p1], probs[take, p2]
            share = w1 / np.maximum(w1 + w2, 1e-300)
            first = rng.random((i.size, size - 1, d)) < share[..., None]
            children = np.where(first, pop[i][take, p1], pop[i][take, p2]).astype(np.float64)
            # mutation
            mutate = rng.random((i.size, size - 1, d)) < rho[:, None, None]
            noise = rng.uniform(-1.0, 1.0, size=(i.size, size - 1, d)) * (alpha * eps)[:, None, None]
            children = children + mutate * noise
            children = self._ball(xf[i], children - xf[i][:, None, :])
            child_fit, child_adv = self._evaluate(orc, children, i)

            keep = elite[i]
            new_pop = np.empty((i.size, size, d), dtype=np.float32)
            new_pop[:, 0] = pop[i, keep]
            new_pop[:, 1:] = children
            new_fit = np.concatenate([fit[i, keep][:, None], child_fit], axis=1)
            new_adv = np.concatenate([adv[i, keep][:, None], child_adv], axis=1)
            pop[i], fit[i], adv[i] = new_pop, new_fit, new_adv
        # samples that ran out of budget return their fittest member (the base checks success)
        spent = np.flatnonzero(~won & np.isfinite(fit).any(axis=1))
        result[spent] = pop[spent, fit[spent].argmax(axis=1)]
        return result.reshape(x.shape)

    def _ball(self, origin: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """``origin + delta`` for a ``(A, P, D)`` population, clipped to the L∞ ball and the bounds."""
        eps = float(self.config.eps)
        lo, hi = self.bounds
        out = origin[:, None, :].astype(np.float64) + np.clip(delta, -eps, eps)
        out = np.clip(out, np.maximum(origin[:, None, :] - eps, lo), np.minimum(origin[:, None, :] + eps, hi))
        return out.astype(np.float32)

    @staticmethod
    def _evaluate(orc, pop: np.ndarray, owners: np.ndarray):
        a, p, d = pop.shape
        owner = np.repeat(owners, p)
        logits = orc.logits(pop.reshape(-1, d), owner)
        return orc.log_odds(logits, owner).reshape(a, p), orc.is_adversarial(logits, owner).reshape(a, p)
