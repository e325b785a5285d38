"""What an audit section receives and returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

VERDICTS = ("pass", "warn", "fail", "skipped", "not_installed", "error")


@attrs.define(kw_only=True)
class AuditContext:
    """Everything a section needs: the wrapped model, the data, the profile's settings and a seed.

    ``x_train``/``y_train`` are the model's training members (membership inference needs them);
    ``x_test``/``y_test`` held-out data. ``settings`` is the profile's dictionary for this section.
    """

    model: Any
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    num_classes: int
    bounds: tuple[float, float]
    profile: str
    seed: int
    out_dir: Path
    settings: dict[str, Any] = attrs.field(factory=dict)
    model_name: str = ""
    dataset_name: str = ""
    ledger: str | None = None  #: privacy ledger of a DPModel-trained model, if any
    ledger_checkpoint: str | None = None  #: the checkpoint whose stamped head the ledger must reach, if any
    progress: bool | None = None
    train_fn: Any = None  #: ``train_fn(x, y, seed) -> network`` retrains the architecture (shadow models)
    #: where sections that split into independent tasks run (an :class:`~armour_core.executors.Executor`;
    #: None: in this process), and the :class:`~armour_core.loading.ModelRef` its workers load ``model`` from
    executor: Any = None
    model_ref: Any = None


@attrs.frozen(kw_only=True)
class SectionResult:
    """A section's outcome: a verdict with the figure behind it, numbers for JSON, HTML for the page.

    ``criteria`` says how the verdict was reached, so a reader can check it from the report alone: ``rule``
    (one sentence, shown in the HTML), ``judged_at`` (the setting the verdict is judged at, e.g. the ε),
    ``thresholds`` (numbers the measured figure is compared with) and ``measured`` (that figure).
    """

    verdict: str = attrs.field(validator=attrs.validators.in_(VERDICTS))
    headline: str
    metrics: dict[str, Any] = attrs.field(factory=dict)
    html: str = ""
    warnings: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    criteria: dict[str, Any] = attrs.field(factory=dict)
