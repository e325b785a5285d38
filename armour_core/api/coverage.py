"""Neuron-coverage criteria: ``update`` adds inputs, ``value`` is in [0, 1] and never decreases.

A criterion folds each batch into a covered set (never recomputed over the whole corpus), so adding inputs
costs time proportional to the batch, not to everything seen so far. ``gain`` tries a batch without
committing it; ``sample_gains`` and ``accept`` give per-input gains in order and keep only the inputs whose
gain exceeds the criterion's ``min_gain`` threshold (the fuzzer's "keep a mutant when it raises coverage").

Criteria that need a training-set profile (per-neuron ranges, activation traces) get it from :meth:`fit`,
computed once per (model parameters, training data) pair and cached in memory, and on disk when asked.
"""

from __future__ import annotations

import abc
import copy
import hashlib
import io
import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import CapabilityError, InvalidInputError
from .arrays import check_inputs, check_labels, to_numpy
from .base import Algorithm, make_config
from .model import as_classifier

log = logging.getLogger(__name__)

#: on-disk profile layout: bump when it changes (older files are then cache misses, never misread)
PROFILE_FORMAT = 2

def _check_min_gain(inst, attribute, value):
    if not (np.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"min_gain must lie in [0, 1), got {value}")


@attrs.frozen(kw_only=True)
class CoverageConfig:
    """``layers``: names of the layers whose neurons count (None: the criterion's default, usually every layer
    the model exposes). ``min_gain``: an input counts as adding coverage only when its gain exceeds this.
    ``batch_size``: inputs per forward pass when capturing activations."""

    layers: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple))
    min_gain: float = attrs.field(default=0.0, converter=float, validator=_check_min_gain)
    batch_size: int = attrs.field(default=256, validator=[attrs.validators.instance_of(int),
                                                           attrs.validators.ge(1)])


class Activations(dict):
    """Layer name -> ``(N, ...)`` array, plus the ``logits`` of the same forward pass (None when unknown)."""

    def __init__(self, *args: Any, logits: np.ndarray | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.logits = logits

    @property
    def size(self) -> int:
        """Number of inputs (rows)."""
        for v in self.values():
            return int(np.shape(v)[0])
        return 0 if self.logits is None else int(np.shape(self.logits)[0])

    def take(self, index: Any) -> Activations:
        """The rows ``index`` of every layer (and of the logits)."""
        return Activations({k: v[index] for k, v in self.items()},
                           logits=None if self.logits is None else self.logits[index])


def neuron_values(act: np.ndarray) -> np.ndarray:
    """(N, units) neuron outputs: a convolutional channel's neuron is its spatial mean (DeepGauge, DeepHunter)."""
    a = np.asarray(act, dtype=np.float32)
    if a.ndim > 2:
        a = a.reshape(a.shape[0], a.shape[1], -1).mean(axis=2)
    return a.reshape(a.shape[0], -1)


# ---------------------------------------------------------------------------------------- training profile
@attrs.frozen(eq=False)
class NeuronProfile:
    """What criteria learn from the training set, per layer: each neuron's min, max, mean and standard
    deviation, and the (N, units) neuron values themselves (the activation traces surprise adequacy needs),
    with each training input's class (given labels, else the model's predictions)."""

    traces: dict[str, np.ndarray]
    classes: np.ndarray
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    key: str = ""

    @classmethod
    def from_traces(cls, traces: dict[str, np.ndarray], classes: np.ndarray, key: str = "") -> NeuronProfile:
        t64 = {k: v.astype(np.float64) for k, v in traces.items()}
        return cls(traces=traces, classes=classes, key=key,
                   low={k: v.min(axis=0) for k, v in traces.items()},
                   high={k: v.max(axis=0) for k, v in traces.items()},
                   mean={k: v.mean(axis=0) for k, v in t64.items()},
                   std={k: v.std(axis=0) for k, v in t64.items()})

    @property
    def count(self) -> int:
        return int(self.classes.shape[0])

    def to_bytes(self) -> bytes:
        """The traces and classes as an ``.npz`` with its metadata (format, key, layer names) as JSON text:
        nothing in it needs pickle to load."""
        buf = io.BytesIO()
        meta = json.dumps({"format": PROFILE_FORMAT, "key": self.key, "layers": list(self.traces)})
        arrays = {f"t{i}": v for i, v in enumerate(self.traces.values())}
        np.savez(buf, meta=np.array(meta), classes=self.classes, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, key: str = "", *, source: str = "profile") -> NeuronProfile:
        """Read :meth:`to_bytes` output without pickle; ``key`` (when given) must be the one stored.

        Raises :class:`InvalidInputError` naming ``source`` for anything else: empty, truncated or edited
        bytes (the zip CRC), object arrays, missing or inconsistent entries, a profile of other data.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"][()]))
                layers = [str(s) for s in meta["layers"]]
                traces = {k: z[f"t{i}"] for i, k in enumerate(layers)}
                classes = z["classes"]
        except Exception as exc:  # noqa: BLE001 - whatever the damage, the answer is "not a valid profile"
            raise InvalidInputError(f"{source}: not a valid coverage profile ({type(exc).__name__}: {exc})") from None
        if meta.get("format") != PROFILE_FORMAT or (key and meta.get("key") != key):
            raise InvalidInputError(f"{source}: profile format {meta.get('format')!r} / key {meta.get('key')!r}, "
                                    f"expected format {PROFILE_FORMAT} / key {key!r}")
        n = classes.shape[0] if classes.ndim == 1 else -1
        bad = [k for k, v in traces.items() if v.ndim != 2 or v.shape[0] != n or v.dtype.kind != "f"]
        if n < 0 or classes.dtype.kind not in "iu" or bad:
            raise InvalidInputError(f"{source}: inconsistent coverage profile (layers {bad}, classes "
                                    f"{classes.dtype}{classes.shape})")
        return cls.from_traces(traces, classes, key=key)


#: In-memory profile cache shared by every criterion: key -> NeuronProfile (most recent last).
_PROFILES: OrderedDict[str, NeuronProfile] = OrderedDict()
_PROFILES_MAX = 8


def clear_profile_cache() -> None:
    """Forget the in-memory training profiles (the disk cache is left alone)."""
    _PROFILES.clear()


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype}|{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"\x00")
    return h.hexdigest()


def _profile_dir(disk: Any) -> Path:
    if disk is True:
        from ..cache import cache_dir

        return cache_dir() / "coverage_profiles"
    return Path(os.fspath(disk))


class Coverage(Algorithm, abc.ABC):
    """Base of every coverage criterion.

    Subclasses implement :meth:`_update` (fold a batch of per-layer ``(N, units)`` neuron outputs into the
    state) and :meth:`_value`; criteria that need a training-set profile set ``needs_profile`` and read
    ``self.profile`` (filled by :meth:`fit`), optionally preparing more in :meth:`_fit`. The state lives in
    the attributes listed in ``state_attrs`` so :meth:`gain` can try a batch without committing it.
    Criteria may override :meth:`_gain` and :meth:`_sample_gains` with vectorised versions.
    """

    Config: ClassVar[type] = CoverageConfig
    needs_profile: ClassVar[bool] = False
    #: whether the criterion needs each input's predicted class (``logits`` with the activations)
    needs_logits: ClassVar[bool] = False
    state_attrs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, model: Any, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(model)
        if "activations" not in self.model.capabilities:
            raise CapabilityError(f"model: {type(self.model).__name__} lacks the 'activations' capability (layer "
                                  f"outputs) that coverage needs; it declares {sorted(self.model.capabilities)}")
        self.fitted = False
        self.profile: NeuronProfile | None = None
        self._layers: list[str] | None = None
        self.reset()

    # ------------------------------------------------------------------ layers and activations
    def available_layers(self, x: np.ndarray | None = None) -> list[str]:
        """The model's layers. A model that learns them from a forward pass (``MSModel``: every call of a
        cell is a layer, so a cell called twice is ``name`` and ``name#1``) and has seen no input yet raises
        :class:`InvalidInputError`; it is then given ``x``."""
        try:
            return list(self.model.layer_names())
        except InvalidInputError:
            if x is None:
                raise
            return list(self.model.layer_names(x))

    def _default_layers(self, available: list[str]) -> list[str]:
        """The layers used when ``config.layers`` is None (every layer; surprise adequacy picks one)."""
        return available

    @property
    def layers(self) -> list[str]:
        """The layer names whose neurons this criterion counts (resolved against the model once)."""
        return self.resolve_layers()

    def resolve_layers(self, x: np.ndarray | None = None) -> list[str]:
        """:attr:`layers`, learning the model's layers from the batch ``x`` if it needs one."""
        if self._layers is None:
            available = self.available_layers(x)
            if self.config.layers is None:
                chosen = self._default_layers(available)
            else:
                unknown = [n for n in self.config.layers if n not in available]
                if unknown:
                    raise InvalidInputError(f"layers: unknown layer(s) {unknown}; available: {available}")
                chosen = list(self.config.layers)
            if not chosen:
                raise InvalidInputError(f"layers: {type(self.model).__name__} exposes no layer activations")
            self._layers = chosen
        return self._layers

    def capture(self, x: Any, *, progress: bool | None = None) -> Activations:
        """Neuron values (``(N, units)`` per layer of :attr:`layers`) and logits of ``x``, in batches.

        ``progress``: show a progress bar (None: only on a terminal, for inputs spanning several batches).
        """
        xa = check_inputs(x, name="x", bounds=self.model.bounds, input_shape=self.model.input_shape)
        names = tuple(self.resolve_layers(xa[:1]))
        parts: list[Activations] = []
        bs = self.config.batch_size
        if progress is None and xa.shape[0] <= 4 * bs:
            progress = False
        from ..progress import Progress

        with Progress(xa.shape[0], f"{type(self).__name__} activations", enabled=progress, unit="inputs") as bar:
            for start in range(0, xa.shape[0], bs):
                parts.append(self._capture_chunk(xa[start:start + bs], names))
                bar.update(parts[-1].size)
        if len(parts) == 1:
            return parts[0]
        logits = None if parts[0].logits is None else np.concatenate([p.logits for p in parts])
        return Activations({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, logits=logits)

    def _capture_chunk(self, chunk: np.ndarray, names: tuple[str, ...]) -> Activations:
        raw = self.model.activations(chunk, layers=names)
        logits = getattr(raw, "logits", None)  # a capture that also returns the same pass's logits (MSModel)
        if logits is None and self.needs_logits:
            logits = to_numpy(self.model.logits(chunk))
        return self._neurons(raw, logits)

    def _neurons(self, acts: dict[str, Any], logits: Any = None) -> Activations:
        """Keep this criterion's layers as ``(N, units)`` neuron values; check they are all there."""
        if logits is None:
            logits = getattr(acts, "logits", None)
        missing = [n for n in self.layers if n not in acts]
        if missing:
            raise InvalidInputError(f"acts: no activations for layer(s) {missing} (got {sorted(acts)}); capture "
                                    f"them with model.capture(x) or coverage.capture(x)")
        out = Activations({n: neuron_values(to_numpy(acts[n], "acts")) for n in self.layers},
                          logits=None if logits is None else np.asarray(to_numpy(logits, "logits"), np.float32))
        sizes = {v.shape[0] for v in out.values()}
        if len(sizes) != 1 or (out.logits is not None and out.logits.shape[0] not in sizes):
            raise InvalidInputError(f"acts: layers disagree on the number of inputs ({sorted(sizes)})")
        if self.needs_logits and out.logits is None:
            raise InvalidInputError(f"{type(self).__name__} needs each input's predicted class: pass the "
                                    "Captured/Activations returned by model.capture(x) or coverage.capture(x), "
                                    "or logits=")
        return out

    # ------------------------------------------------------------------ profile
    def fit(self, x_train: Any, y_train: Any = None, *, cache: bool = True, disk: Any = False,
            progress: bool | None = None) -> Coverage:
        """Compute (or load) the training-set profile the criterion needs; returns ``self``.

        ``y_train``: class labels of the training inputs (surprise adequacy groups traces by class); the
        model's predictions are used when omitted. ``cache``: reuse/keep the profile in memory, keyed by the
        model's parameters, the data and the layers. ``disk``: True (armour's cache directory) or a directory
        to also keep it on disk (written atomically). ``progress``: show a progress bar (None: on a terminal).
        """
        xa = check_inputs(x_train, name="x_train", bounds=self.model.bounds, input_shape=self.model.input_shape)
        ya = None if y_train is None else check_labels(y_train, n=xa.shape[0], num_classes=None, name="y_train")
        self.resolve_layers(xa[:1])
        fingerprint = getattr(self.model, "fingerprint", None)
        key = None
        if fingerprint is not None and (cache or disk):
            key = _digest("armour-profile-v1", fingerprint(), tuple(self.layers), xa.astype(np.float32),
                          "labels" if ya is None else ya)
        profile = _PROFILES.get(key) if (key is not None and cache) else None
        path = _profile_dir(disk) / f"{key}.npz" if (key is not None and disk) else None
        on_disk = profile is not None and path is not None and path.exists()  # kept in memory, already written
        if profile is None and path is not None:
            profile = self._read_profile(path, key, xa.shape[0])
            on_disk = profile is not None
        if profile is None:
            acts = self._profile_capture(xa, progress)
            classes = ya if ya is not None else np.asarray(acts.logits).argmax(axis=1).astype(np.int64)
            profile = NeuronProfile.from_traces(dict(acts), classes, key=key or "")
        if path is not None and not on_disk:
            from ..atomic import atomic_write_bytes

            atomic_write_bytes(path, profile.to_bytes())  # also replaces a damaged entry
        if key is not None and cache:
            _PROFILES[key] = profile
            _PROFILES.move_to_end(key)
            while len(_PROFILES) > _PROFILES_MAX:
                _PROFILES.popitem(last=False)
        self.profile = profile
        self._fit(profile)
        self.fitted = True
        self.reset()
        return self

    def _read_profile(self, path: Path, key: str, rows: int) -> NeuronProfile | None:
        """The cached profile at ``path``, or None (a cache miss) when it is missing or not exactly the
        profile of this model, data and layers: a damaged cache entry is recomputed, never trusted."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            profile = NeuronProfile.from_bytes(data, key=key, source=str(path))
        except InvalidInputError as exc:
            log.debug("coverage profile cache miss: %s", exc)
            return None
        if list(profile.traces) != list(self.layers) or profile.count != rows:
            log.debug("coverage profile cache miss: %s holds layers %s for %d inputs", path,
                      list(profile.traces), profile.count)
            return None
        return profile

    def _profile_capture(self, x: np.ndarray, progress: bool | None = None) -> Activations:
        acts = self.capture(x, progress=progress)
        if acts.logits is None:
            acts.logits = to_numpy(self.model.logits(x))
        return acts

    def _fit(self, profile: NeuronProfile) -> None:
        """Prepare criterion-specific structures from the profile (KDEs, boundaries...)."""

    # ------------------------------------------------------------------ updates
    def _prepare(self, acts: dict[str, Any], logits: Any) -> Activations:
        self._require_fit()
        return self._neurons(acts, logits)

    def update(self, x: Any) -> Coverage:
        """Add a batch of inputs to the covered set; returns ``self``."""
        self._require_fit()
        return self._commit(self.capture(x))

    def update_activations(self, acts: dict[str, Any], *, logits: Any = None) -> Coverage:
        """Like :meth:`update` for activations already captured (one capture serves every criterion)."""
        return self._commit(self._prepare(acts, logits))

    def _commit(self, acts: Activations) -> Coverage:
        if acts.size:
            self._update(acts)
            self.count += acts.size
        return self

    def gain(self, x: Any) -> float:
        """How much ``value`` would rise if ``x`` were added (the state is left unchanged)."""
        self._require_fit()
        return self._gain(self.capture(x))

    def gain_activations(self, acts: dict[str, Any], *, logits: Any = None) -> float:
        """:meth:`gain` for activations already captured."""
        return self._gain(self._prepare(acts, logits))

    def sample_gains(self, acts: dict[str, Any], *, logits: Any = None) -> np.ndarray:
        """Per-input gains in order: entry i is the rise in ``value`` from input i once inputs 0..i-1 have
        been added (the state is left unchanged). Their sum is :meth:`gain_activations`."""
        prepared = self._prepare(acts, logits)
        if prepared.size == 0:
            return np.zeros(0)
        return np.asarray(self._sample_gains(prepared), dtype=np.float64)

    def accept(self, x: Any) -> np.ndarray:
        """Add the inputs of ``x`` whose gain exceeds ``min_gain`` (greedily, in order); returns the mask."""
        self._require_fit()
        return self._accept(self.capture(x))

    def accept_activations(self, acts: dict[str, Any], *, logits: Any = None) -> np.ndarray:
        """:meth:`accept` for activations already captured."""
        return self._accept(self._prepare(acts, logits))

    def is_gain(self, gain: float) -> bool:
        """Whether ``gain`` counts as new coverage under this criterion's ``min_gain`` threshold."""
        return bool(gain > self.config.min_gain)

    def _accept(self, acts: Activations) -> np.ndarray:
        n = acts.size
        keep = np.zeros(n, dtype=bool)
        thr = self.config.min_gain
        rest = np.arange(n)
        while rest.size:
            sub = acts.take(rest)
            g = np.asarray(self._sample_gains(sub))
            # an input with 0 < gain <= thr is dropped; it would have covered items later inputs now cover
            blocking = np.flatnonzero((g > 0) & (g <= thr))
            stop = blocking[0] if blocking.size else rest.size
            chosen = np.flatnonzero(g[:stop] > thr)
            if chosen.size:
                self._commit(sub.take(chosen))
                keep[rest[chosen]] = True
            rest = rest[stop + 1:]
        return keep

    # ------------------------------------------------------------------ value and state
    @property
    def value(self) -> float:
        if self.count == 0:
            return 0.0
        return float(min(1.0, max(0.0, self._value())))

    def reset(self) -> Coverage:
        """Forget the covered set (keeps the profile)."""
        self.count = 0
        self._reset()
        return self

    def get_state(self) -> dict[str, Any]:
        """A copy of the covered-set state (with ``count``), e.g. to persist and resume a fuzzing run."""
        state = {k: copy.deepcopy(getattr(self, k)) for k in self.state_attrs}
        state["count"] = self.count
        return state

    def set_state(self, state: dict[str, Any]) -> Coverage:
        """Restore a state returned by :meth:`get_state` (the profile must be the same)."""
        missing = [k for k in (*self.state_attrs, "count") if k not in state]
        if missing:
            raise InvalidInputError(f"state: missing key(s) {missing}")
        for k in self.state_attrs:
            setattr(self, k, copy.deepcopy(state[k]))
        self.count = int(state["count"])
        return self

    def merge_state(self, state: dict[str, Any]) -> Coverage:
        """Fold another run's :meth:`get_state` (same criterion, same profile) into this one: the union of
        what both covered, e.g. of fuzzing campaigns run in parallel; ``count`` adds up."""
        missing = [k for k in (*self.state_attrs, "count") if k not in state]
        if missing:
            raise InvalidInputError(f"state: missing key(s) {missing}")
        self._merge(state)
        self.count += int(state["count"])
        return self

    def _merge(self, state: dict[str, Any]) -> None:
        """Union ``state`` into this criterion's state (criteria whose state is a covered set define it)."""
        from ..errors import ConfigError

        raise ConfigError(f"{type(self).__name__} cannot merge the states of separate runs (it defines no _merge)")

    def _require_fit(self) -> None:
        if self.needs_profile and not self.fitted:
            raise InvalidInputError(f"{type(self).__name__} needs a training-set profile: call fit(x_train) first")

    # ------------------------------------------------------------------ generic (slow) fallbacks
    def _gain(self, acts: Activations) -> float:
        saved = self.get_state()
        before = self.value
        try:
            self._commit(acts)
            return self.value - before
        finally:
            self.set_state(saved)

    def _sample_gains(self, acts: Activations) -> np.ndarray:
        """Sequential per-input gains (generic version: one input at a time; criteria vectorise it)."""
        saved = self.get_state()
        out = np.zeros(acts.size)
        try:
            for i in range(acts.size):
                before = self.value
                self._commit(acts.take(slice(i, i + 1)))
                out[i] = self.value - before
        finally:
            self.set_state(saved)
        return out

    @abc.abstractmethod
    def _reset(self) -> None:
        """Clear the covered-set state."""

    @abc.abstractmethod
    def _update(self, acts: Activations) -> None:
        """Fold per-layer (N, units) neuron outputs into the state."""

    @abc.abstractmethod
    def _value(self) -> float:
        """The criterion's value for the current state."""
