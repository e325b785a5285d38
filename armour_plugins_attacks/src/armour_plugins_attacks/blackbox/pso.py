"""Particle swarm optimisation (Kennedy & Eberhart, 1995) of the attacker's log-odds inside the ε-ball.

Score-based. Each sample has a swarm of ``S`` particles (candidate inputs). Every iteration, particle
``k`` moves with velocity

    v <- w v + c1 r1 (pbest_k - p_k) + c2 r2 (gbest - p_k),       r1, r2 ~ U(0, 1) per coordinate,

the velocity is capped (``max_velocity * eps`` per coordinate for L∞, in L2 norm for L2), and the new
position is projected onto the ε-ball and the bounds — so every query, and every returned input, is a
valid input (MindArmour's PSOAttack returned values far outside the data range). The inertia ``w``
decreases linearly over the query budget. The fitness is the log-odds of the attacker's goal
(``log P(wrong) - log P(y)`` untargeted, ``log P(target) - log P(other)`` targeted). A sample stops at
its first adversarial particle. All swarms are evaluated in one forward call per iteration.
"""

from __future__ import annotations

import numpy as np

from .oracle import BlackBoxAttack
from .configs import PSOConfig
from .records import RECORDS


class PSO(BlackBoxAttack):
    """Particle swarm attack, L∞ and L2, untargeted and targeted, score-based."""

    Config = PSOConfig
    record = RECORDS["pso"]

    def _random_in_ball(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        eps = float(self.config.eps)
        if self.config.norm == "linf":
            return rng.uniform(-eps, eps, size=shape)
        u = rng.standard_normal(shape)
        u /= np.maximum(np.sqrt((u * u).sum(axis=-1, keepdims=True)), 1e-12)
        radius = eps * rng.random(shape[:-1] + (1,)) ** (1.0 / shape[-1])
        return u * radius

    def _cap(self, v: np.ndarray) -> np.ndarray:
        vmax = self.config.max_velocity * float(self.config.eps)
        if self.config.norm == "linf":
            return np.clip(v, -vmax, vmax)
        n = np.sqrt((v * v).sum(axis=-1, keepdims=True))
        return v * np.minimum(1.0, vmax / np.maximum(n, 1e-12))

    def _evaluate(self, orc, pos: np.ndarray, owners: np.ndarray):
        a, s, d = pos.shape
        owner = np.repeat(owners, s)
        logits = orc.logits(pos.reshape(-1, d), owner)
        return orc.log_odds(logits, owner).reshape(a, s), orc.is_adversarial(logits, owner).reshape(a, s)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        rng = self.attack_rng()
        xf = self._flat(x)
        n, d = xf.shape
        s = cfg.particles
        orc = self._oracle(x, y, target)
        origin = np.repeat(xf[:, None, :], s, axis=1)
        result = xf.copy()
        done = np.zeros(n, dtype=bool)

        active = orc.remaining() >= s
        pos = origin.copy()
        vel = np.zeros((n, s, d))
        best_pos = origin.copy()
        best_fit = np.full((n, s), -np.inf)
        i = np.flatnonzero(active)
        if i.size:
            pos[i] = self._project((origin[i] + self._random_in_ball(rng, (i.size, s, d))).reshape(-1, d),
                                   origin[i].reshape(-1, d)).reshape(i.size, s, d)
            pos[i, 0] = xf[i]  # the clean input is a particle too: already-adversarial inputs stay unchanged
            vel[i] = self._cap(self._random_in_ball(rng, (i.size, s, d)) * cfg.max_velocity)
            fit, adv = self._evaluate(orc, pos[i], i)
            best_fit[i], best_pos[i] = fit, pos[i]
            self._finish(i, np.where(adv[:, :1], np.inf, fit), adv, pos[i], result, done)  # prefer x itself
        steps = max(1, cfg.max_queries // s - 1)
        t = 0
        while True:
            active &= ~done & (orc.remaining() >= s)
            i = np.flatnonzero(active)
            if i.size == 0:
                break
            w = cfg.inertia[0] + (cfg.inertia[1] - cfg.inertia[0]) * min(t / steps, 1.0)
            leader = best_pos[i, best_fit[i].argmax(axis=1)][:, None, :]
            r1 = rng.random((i.size, s, d))
            r2 = rng.random((i.size, s, d))
            cur = pos[i].astype(np.float64)
            v = w * vel[i] + cfg.cognitive * r1 * (best_pos[i] - cur) + cfg.social * r2 * (leader - cur)
            v = self._cap(v)
            new = self._project((cur + v).reshape(-1, d), origin[i].reshape(-1, d)).reshape(i.size, s, d)
            vel[i] = new.astype(np.float64) - cur  # the move actually made, after projection
            pos[i] = new
            fit, adv = self._evaluate(orc, new, i)
            better = fit > best_fit[i]
            best_fit[i] = np.where(better, fit, best_fit[i])
            best_pos[i] = np.where(better[..., None], new, best_pos[i])
            self._finish(i, fit, adv, new, result, done)
            t += 1
        spent = np.flatnonzero(~done & np.isfinite(best_fit).any(axis=1))
        result[spent] = best_pos[spent, best_fit[spent].argmax(axis=1)]
        return result.reshape(x.shape)

    @staticmethod
    def _finish(i, fit, adv, pos, result, done) -> None:
        """Record the fittest adversarial particle of every sample that has one."""
        hit = adv.any(axis=1)
        if hit.any():
            k = np.where(adv, fit, -np.inf).argmax(axis=1)
            result[i[hit]] = pos[hit, k[hit]]
            done[i[hit]] = True
