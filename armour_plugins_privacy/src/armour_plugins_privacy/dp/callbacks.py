"""``PrivacyMonitor``: a MindSpore callback that reports ε during DP training and stops at a budget."""

from __future__ import annotations

import sys
from typing import Any

from mindspore.train.callback import Callback

from armour_core.api.accountant import check_delta
from armour_core.api.validators import check_positive
from armour_core.errors import InvalidInputError


class PrivacyMonitor(Callback):
    """Report ε every ``every`` steps (``"epoch"``: at epoch ends) and stop before ``budget`` is exceeded.

    ε is recomputed from the privacy ledger each time, so the value does not depend on how often it is
    reported (MindArmour's monitor accumulates per print interval and drifts with it). The budget check
    runs *before* each step: training stops at the last step whose ε stays within ``budget``; the number of
    affordable steps is found by bisection with the model's accountant and noise schedule, once at the
    start of training and again after each epoch.

    ``history`` holds ``(step, epsilon)`` pairs; ``stopped_at`` the step count at which the budget stopped
    training (``None`` if it did not).
    """

    def __init__(self, budget: float | None = None, *, delta: float | None = None, every: Any = "epoch",
                 verbose: bool = True, stream: Any = None):
        budget = None if budget is None else check_positive(budget, "budget")
        if every != "epoch" and (not isinstance(every, int) or every < 1):
            raise InvalidInputError(f"every: expected 'epoch' or an int >= 1, got {every!r}")
        self.budget = None if budget is None else float(budget)
        self.delta = None if delta is None else check_delta(delta)
        self.every = every
        self.verbose = verbose
        self.stream = stream
        self.history: list[tuple[int, float]] = []
        self.stopped_at: int | None = None
        self._limit: int | None = None

    def _model(self, run_context):
        model = getattr(run_context.original_args(), "dp_model", None)
        if model is None:
            raise InvalidInputError("PrivacyMonitor: works with DPModel.train (cb_params.dp_model is missing)")
        return model

    def _report(self, model) -> None:
        eps = model.epsilon(self.delta)
        self.history.append((model.steps_taken, eps))
        if self.verbose:
            delta = model.delta if self.delta is None else self.delta
            print(f"DP: step {model.steps_taken}: epsilon = {eps:.4f} (delta = {delta:g})",
                  file=self.stream or sys.stdout, flush=True)

    def _affordable(self, model, q: float) -> int:
        """The largest number of further steps whose ε stays within the budget."""
        if model.epsilon(self.delta) > self.budget:
            return 0
        lo, hi = 0, 1
        while model.epsilon_after(hi, sampling_rate=q, delta=self.delta) <= self.budget:
            lo, hi = hi, hi * 2
            if hi > 10_000_000:
                return hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if model.epsilon_after(mid, sampling_rate=q, delta=self.delta) <= self.budget:
                lo = mid
            else:
                hi = mid
        return lo

    def _plan(self, run_context) -> None:
        if self.budget is None:
            return
        model = self._model(run_context)
        q = run_context.original_args().sampling_rate
        self._limit = model.steps_taken + self._affordable(model, q)

    def on_train_begin(self, run_context):
        self._plan(run_context)
        if self._limit is not None and self._limit <= self._model(run_context).steps_taken:
            self.stopped_at = self._model(run_context).steps_taken
            run_context.request_stop()

    def on_train_step_begin(self, run_context):
        if self._limit is not None and self._model(run_context).steps_taken >= self._limit:
            self.stopped_at = self._model(run_context).steps_taken
            run_context.request_stop()

    def on_train_step_end(self, run_context):
        model = self._model(run_context)
        if isinstance(self.every, int) and model.steps_taken % self.every == 0:
            self._report(model)
        if self._limit is not None and model.steps_taken >= self._limit:
            self.stopped_at = model.steps_taken
            run_context.request_stop()

    def on_train_epoch_end(self, run_context):
        if self.every == "epoch":
            self._report(self._model(run_context))
        self._plan(run_context)

    def on_train_end(self, run_context):
        model = self._model(run_context)
        if not self.history or self.history[-1][0] != model.steps_taken:
            self._report(model)
