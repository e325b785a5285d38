"""Load a user's model and data for the workflow commands, with errors that say what to fix.

* ``--network module:factory`` (or ``path/to/file.py:factory``): a zero-argument callable returning an
  ``nn.Cell``; ``--checkpoint file.ckpt`` its trained weights (strict: every parameter must load).
* ``--data file.npz``: arrays ``x`` (float, batch first, inside the bounds) and ``y`` (integer labels).
* Otherwise the embedded default (``--model lenet5 --dataset digits``), trained and cached on first use.

:func:`add_model_arguments` adds these flags to an ``argparse`` parser and :func:`target_from_args` turns
parsed flags into a :class:`Target`, so every command (attack, evaluate, audit, ...) accepts the same
input. Commands with other data layouts (train/test splits, members/non-members) use :func:`load_splits`
and :func:`user_model`: every command that takes ``--network``/``--checkpoint``/``--data`` goes through
this module, so a wrong checkpoint or a bad file is refused the same way everywhere (one
:class:`~armour_core.errors.InvalidInputError` naming the flag), never assessed silently.
Nothing here imports MindSpore at module import time.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from .api.arrays import check_inputs, check_labels
from .errors import InvalidInputError

_SPEC = re.compile(r"^(?P<module>[^:]+):(?P<attr>[A-Za-z_][\w.]*)$")


@attrs.frozen(kw_only=True)
class Target:
    """A model with the data to run on: the wrapped classifier, evaluation inputs and labels, and (for the
    embedded default) the training split."""

    model: Any
    x: np.ndarray
    y: np.ndarray
    description: str
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    name: str = "model"
    dataset: str = "data"


# ------------------------------------------------------------------------------------- the network
def import_factory(spec: str, *, what: str = "--network") -> Any:
    """The callable named by ``'package.module:factory'`` or ``'path/to/file.py:factory'``."""
    if not isinstance(spec, str) or not _SPEC.match(spec.strip()):
        raise InvalidInputError(f"{what}: expected 'package.module:factory' or 'path/to/file.py:factory', got {spec!r}")
    m = _SPEC.match(spec.strip())
    module_name, attr = m.group("module"), m.group("attr")
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise InvalidInputError(f"{what}: file {str(path)!r} does not exist")
        mod_id = f"_armour_user_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(mod_id, path)
        if loader_spec is None or loader_spec.loader is None:
            raise InvalidInputError(f"{what}: cannot import {str(path)!r} as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_id] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001
            sys.modules.pop(mod_id, None)
            raise InvalidInputError(f"{what}: importing {str(path)!r} failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise InvalidInputError(f"{what}: no module named {module_name!r} (is it on PYTHONPATH, or give a "
                                        "file path: path/to/file.py:factory)") from None
            raise InvalidInputError(f"{what}: importing {module_name!r} failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001
            raise InvalidInputError(f"{what}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise InvalidInputError(f"{what}: {module_name!r} has no attribute {attr!r}{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidInputError(f"{what}: {spec!r} is not callable (expected a factory returning an nn.Cell)")
    return obj


def build_network(spec: str, *, what: str = "--network") -> Any:
    """Call the factory named by ``spec`` and check that it returns a MindSpore ``nn.Cell``."""
    factory = import_factory(spec, what=what)
    try:
        net = factory()
    except TypeError as exc:
        raise InvalidInputError(f"{what}: {spec!r} must be callable without arguments ({exc})") from None
    except Exception as exc:  # noqa: BLE001
        raise InvalidInputError(f"{what}: calling {spec!r} failed: {type(exc).__name__}: {exc}") from None
    from mindspore import nn

    if not isinstance(net, nn.Cell):
        raise InvalidInputError(f"{what}: {spec!r} returned {type(net).__name__}, expected a mindspore.nn.Cell")
    return net


def load_checkpoint(network: Any, path: str | Path, *, what: str = "--checkpoint") -> None:
    """Load ``path`` into ``network`` strictly: every network parameter must be in the checkpoint with the
    same shape, and every checkpoint entry must belong to the network."""
    import mindspore as ms

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{what}: file {str(p)!r} does not exist")
    try:
        params = ms.load_checkpoint(str(p))
    except Exception as exc:  # noqa: BLE001
        raise InvalidInputError(f"{what}: {str(p)!r} is not a readable MindSpore checkpoint ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    own = {q.name: q for q in network.get_parameters()}
    missing = sorted(set(own) - set(params))
    unexpected = sorted(k for k in set(params) - set(own) if not k.startswith(("global_step", "learning_rate",
                                                                              "beta1_power", "beta2_power",
                                                                              "moment1.", "moment2.",
                                                                              "momentum", "accum.", "moments.",
                                                                              "armour_ledger_")))
    if missing:
        raise InvalidInputError(f"{what}: {str(p)!r} lacks {len(missing)} parameter(s) of the network, e.g. "
                                f"{missing[:5]}; it holds {sorted(params)[:5]}... (wrong checkpoint for this network?)")
    shapes = [(k, tuple(own[k].shape), tuple(params[k].shape)) for k in own
              if tuple(own[k].shape) != tuple(params[k].shape)]
    if shapes:
        k, a, b = shapes[0]
        raise InvalidInputError(f"{what}: parameter {k!r} has shape {a} in the network but {b} in {str(p)!r} "
                                f"({len(shapes)} mismatch(es))")
    if unexpected:
        raise InvalidInputError(f"{what}: {str(p)!r} holds {len(unexpected)} parameter(s) the network does not have, "
                                f"e.g. {unexpected[:5]} (wrong checkpoint for this network?)")
    ms.load_param_into_net(network, {k: params[k] for k in own}, strict_load=True)


# ------------------------------------------------------------------------------------------- data
def load_npz(path: str | Path, keys: tuple[str, ...] = ("x", "y"), *, what: str = "--data") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, checking that ``keys`` are present (no pickles are loaded)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{what}: file {str(p)!r} does not exist")
    if not zipfile.is_zipfile(p):
        raise InvalidInputError(f"{what}: {str(p)!r} is not an .npz archive (save it with numpy.savez(path, x=..., "
                                "y=...))")
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        raise InvalidInputError(f"{what}: {str(p)!r} holds object arrays, which are not loaded for safety "
                                f"({exc})") from None
    except Exception as exc:  # noqa: BLE001
        raise InvalidInputError(f"{what}: cannot read {str(p)!r} ({type(exc).__name__}: {exc})") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise InvalidInputError(f"{what}: {str(p)!r} lacks array(s) {missing}; it has {sorted(arrays)}")
    return arrays


def validate_xy(x: Any, y: Any, *, bounds: tuple[float, float] | None = None, num_classes: int | None = None,
                what: str = "--data", x_key: str = "x", y_key: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """``x`` as float32 (batch first, finite, inside ``bounds``) and ``y`` as int64 labels of the same length,
    checked by the API's validator (:func:`armour_core.api.arrays.check_inputs`) under the file's array names."""
    xa = check_inputs(np.asarray(x), name=f"{what} {x_key}", bounds=bounds,
                      bounds_hint="rescale the data or pass --bounds")
    ya = check_labels(np.asarray(y), n=xa.shape[0], num_classes=num_classes, name=f"{what} {y_key}",
                      batch=x_key)
    return np.ascontiguousarray(xa, dtype=np.float32), ya


# ------------------------------------------------------------------------------------ model + data
#: The layouts ``--data`` may have, first match wins: both splits, or one set serving as both.
TRAIN_TEST = ((("x_train", "y_train"), ("x_test", "y_test")), (("x", "y"),))
#: What ``armour membership --data`` needs: the model's training members and held-out non-members.
MEMBERSHIP = ((("x_member", "y_member"), ("x_nonmember", "y_nonmember")),)


def load_splits(path: str | Path, layouts: tuple = TRAIN_TEST, *, bounds: tuple[float, float] | None = None,
                num_classes: int | None = None, optional: tuple[tuple[str, str], ...] = (),
                what: str = "--data") -> dict[str, np.ndarray]:
    """The validated arrays of the first layout (a tuple of ``(x_key, y_key)`` pairs) that ``path`` holds in
    full, plus the ``optional`` pairs it holds; every ``x`` must have the same sample shape."""
    arrays = load_npz(path, (), what=what)
    layout = next((lay for lay in layouts if all(k in arrays for pair in lay for k in pair)), None)
    if layout is None:
        wanted = " or ".join(", ".join(k for pair in lay for k in pair) for lay in layouts)
        near = max(layouts, key=lambda lay: sum(k in arrays for pair in lay for k in pair))
        missing = [k for pair in near for k in pair if k not in arrays]
        lacks = f"lacks array(s) {missing}" if len(missing) < 2 * len(near) else f"needs arrays {wanted}"
        raise InvalidInputError(f"{what}: {str(path)!r} {lacks}; it has {sorted(arrays)}"
                                + (f" (expected {wanted})" if lacks.startswith("lacks") else ""))
    pairs = [*layout, *(pair for pair in optional if pair[0] in arrays or pair[1] in arrays)]
    out: dict[str, np.ndarray] = {}
    for xk, yk in pairs:
        if xk not in arrays or yk not in arrays:
            raise InvalidInputError(f"{what}: {str(path)!r} has {xk if xk in arrays else yk} but not "
                                    f"{yk if xk in arrays else xk}")
        out[xk], out[yk] = validate_xy(arrays[xk], arrays[yk], bounds=bounds, num_classes=num_classes, what=what,
                                       x_key=xk, y_key=yk)
    first = pairs[0][0]
    for xk, _ in pairs[1:]:
        if out[xk].shape[1:] != out[first].shape[1:]:
            raise InvalidInputError(f"{what}: {first} samples have shape {out[first].shape[1:]} but {xk} "
                                    f"{out[xk].shape[1:]}")
    return out


def user_model(network: str, checkpoint: str | None, arrays: dict[str, np.ndarray], *,
               bounds: tuple[float, float] = (0.0, 1.0), num_classes: int | None = None) -> Any:
    """The user's network wrapped as an ``MSModel``: built by the factory ``network``, ``checkpoint`` loaded
    strictly, run once on a sample of ``arrays`` (the ``x*`` arrays from :func:`load_splits`) so that a shape
    mismatch or an output that is not ``(batch, classes)`` is named here, and every label array checked
    against the network's number of outputs."""
    import armour_core.ms  # noqa: F401  (CPU runtime settings before the first graph)
    import mindspore as ms

    from .ms.model import MSModel

    bounds = _bounds(bounds)
    x_key = next(k for k in arrays if k.startswith("x"))
    x = arrays[x_key]
    net = build_network(network)
    if checkpoint:
        load_checkpoint(net, checkpoint)
    net.set_train(False)
    try:
        z = net(ms.Tensor(x[:1]))
        z = z.asnumpy() if hasattr(z, "asnumpy") else np.asarray(z)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InvalidInputError(f"--data: {x_key} samples of shape {x.shape[1:]} do not fit {network!r} "
                                f"({type(exc).__name__}: {first})") from None
    if z.ndim != 2 or z.shape[1] < 2:
        raise InvalidInputError(f"--network: {network!r} must return (batch, num_classes) scores, got shape {z.shape}")
    k = num_classes or int(z.shape[1])
    for key, y in arrays.items():
        if key.startswith("y") and y.size and y.max() >= k:
            raise InvalidInputError(f"--data: {key} labels go up to {y.max()} but {network!r} has {k} outputs")
    return MSModel(net, bounds=bounds, num_classes=k, input_shape=x.shape[1:])


def user_target(network: str, data: str, *, checkpoint: str | None = None, bounds: tuple[float, float] = (0.0, 1.0),
                num_classes: int | None = None, limit: int | None = None) -> Target:
    """The user's network (built by ``network``, weights from ``checkpoint``) and data (``.npz`` x, y)."""
    bounds = _bounds(bounds)
    arrays = load_splits(data, ((("x", "y"),), (("x_test", "y_test"),)), bounds=bounds)
    x, y = (arrays["x"], arrays["y"]) if "x" in arrays else (arrays["x_test"], arrays["y_test"])
    model = user_model(network, checkpoint, arrays, bounds=bounds, num_classes=num_classes)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    name = network.split(":")[-1]
    desc = f"{network}" + (f" ({checkpoint})" if checkpoint else " (untrained: no --checkpoint)") + f" on {data}"
    return Target(model=model, x=x, y=y, description=desc, name=name, dataset=Path(data).stem)


def default_target(model: str = "lenet5", dataset: str = "digits", *, seed: int = 0, limit: int | None = None,
                   progress: bool | None = None) -> Target:
    """The embedded default: ``model`` trained on ``dataset`` (cached), evaluated on its test split."""
    from . import registry
    from .ms.pretrained import pretrained

    spec = registry.spec("model", model)
    pre = pretrained(spec.name, dataset, seed=seed, progress=progress)
    d = pre.dataset
    x, y = d.x_test, d.y_test
    if limit is not None:
        x, y = x[:limit], y[:limit]
    how = "trained now" if pre.trained_now else "cached"
    return Target(model=pre.model, x=x, y=y, x_train=d.x_train, y_train=d.y_train, name=spec.name, dataset=d.name,
                  description=f"{spec.name} on {d.name} (test accuracy {pre.test_accuracy:.3f}, {how})")


def _bounds(bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InvalidInputError(f"--bounds: expected two numbers LOW HIGH, got {bounds!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InvalidInputError(f"--bounds: expected finite LOW < HIGH, got {lo} {hi}")
    return lo, hi


# ------------------------------------------------------------------------------- a loadable reference
@attrs.frozen(kw_only=True)
class ModelRef:
    """A model named the way the command line names it, so another process (a spawned worker, a Ray task)
    can load it: the embedded ``model`` trained on ``dataset`` with ``seed`` (from armour's cache), or the
    factory ``network`` with the weights of ``checkpoint``. File paths are made absolute here, because a
    worker may start in another directory. Plain data: picklable and hashable."""

    model: str | None = None
    dataset: str = "digits"
    seed: int = 0
    network: str | None = None
    checkpoint: str | None = None
    bounds: tuple[float, float] = attrs.field(default=(0.0, 1.0), converter=lambda b: _bounds(b))
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = attrs.field(
        default=None, converter=lambda s: None if s is None else tuple(int(d) for d in s))

    def __attrs_post_init__(self) -> None:
        if (self.model is None) == (self.network is None):
            raise InvalidInputError("ModelRef: give either model= (an embedded architecture) or network= "
                                    "(a 'module:factory'), not both or neither")
        if self.network is not None:
            module, sep, attr = self.network.rpartition(":")
            if sep and (module.endswith(".py") or "/" in module):
                object.__setattr__(self, "network", f"{Path(module).resolve()}:{attr}")
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", str(Path(self.checkpoint).resolve()))

    def load(self) -> Any:
        """The classifier (an ``MSModel``), loaded once per process and reused (loading is deterministic)."""
        return _load_ref(self)


_LOADED: dict[ModelRef, Any] = {}


def _load_ref(ref: ModelRef) -> Any:
    if ref not in _LOADED:
        if ref.model is not None:
            from .ms.pretrained import pretrained

            _LOADED[ref] = pretrained(ref.model, ref.dataset, seed=ref.seed, progress=False).model
        else:
            import armour_core.ms  # noqa: F401  (CPU runtime settings before the first graph)

            from .ms.model import MSModel

            net = build_network(ref.network)
            if ref.checkpoint:
                load_checkpoint(net, ref.checkpoint)
            net.set_train(False)
            _LOADED[ref] = MSModel(net, bounds=ref.bounds, num_classes=ref.num_classes,
                                   input_shape=ref.input_shape)
        while len(_LOADED) > 4:  # a worker serving several models keeps the last few
            _LOADED.pop(next(iter(_LOADED)))
    return _LOADED[ref]


def model_ref_from_args(args: argparse.Namespace, model: Any) -> ModelRef:
    """The :class:`ModelRef` of the model chosen by :func:`add_model_arguments`' flags (``model``: the
    classifier already loaded from them, whose classes and input shape the reference records)."""
    if getattr(args, "network", None):
        ref = ModelRef(network=args.network, checkpoint=args.checkpoint, bounds=tuple(model.bounds),
                       num_classes=model.num_classes, input_shape=model.input_shape)
    else:
        from . import registry

        ref = ModelRef(model=registry.spec("model", args.model).name, dataset=getattr(args, "dataset", None)
                       or getattr(args, "data", "digits"), seed=getattr(args, "seed", 0) or 0)
    _LOADED.setdefault(ref, model)  # this process has it already; workers load their own
    return ref


def loaded(model: Any) -> Any:
    """A task's model ready to run: a :class:`ModelRef` loaded (once per process), anything else as given."""
    return model.load() if isinstance(model, ModelRef) else model


def check_loadable(model: Any, executor: str) -> None:
    """Refuse a live model for an executor whose workers load the model themselves (every one but ``local``)."""
    if executor != "local" and not isinstance(model, ModelRef):
        raise InvalidInputError(f"model: the {executor} executor loads the model in its workers, so pass a loadable "
                                "armour_core.loading.ModelRef (an embedded model, or a network factory and "
                                "checkpoint), not a live network")


# ------------------------------------------------------------------------------------------ argparse
def add_model_arguments(parser: argparse.ArgumentParser, *, limit_default: int | None = None, limit: bool = True,
                        checkpoint_help: str = "trained weights of --network (a MindSpore .ckpt)",
                        data_help: str = "your data: an .npz with arrays x (floats within --bounds) and y (int labels)"
                        ) -> None:
    """The flags every workflow command shares to choose a model and data (``limit=False``: no ``--n``)."""
    from .cli_args import finite_float, positive_int

    g = parser.add_argument_group("model and data (default: the embedded lenet5 on digits)")
    g.add_argument("--model", default="lenet5", help="embedded architecture (registry kind 'model'); default lenet5")
    g.add_argument("--dataset", default="digits", help="embedded dataset (registry kind 'dataset'); default digits")
    g.add_argument("--network", help="your network: 'package.module:factory' or 'file.py:factory' returning an "
                                     "nn.Cell")
    g.add_argument("--checkpoint", help=checkpoint_help)
    g.add_argument("--data", help=data_help)
    g.add_argument("--bounds", type=finite_float, nargs=2, default=(0.0, 1.0), metavar=("LOW", "HIGH"),
                   help="valid input range of --network (default 0 1)")
    if limit:
        g.add_argument("--n", type=positive_int, default=limit_default, metavar="N",
                       help="use only the first N points" + (f" (default {limit_default})" if limit_default else ""))


def target_from_args(args: argparse.Namespace) -> Target:
    """A :class:`Target` from the flags added by :func:`add_model_arguments`."""
    limit = getattr(args, "n", None)
    if limit is not None and limit <= 0:
        raise InvalidInputError(f"--n: expected a positive number of points, got {limit}")
    if args.network or args.data or args.checkpoint:
        if not (args.network and args.data):
            raise InvalidInputError("--network and --data: give both to run on your own model "
                                    "(plus --checkpoint with its trained weights)")
        return user_target(args.network, args.data, checkpoint=args.checkpoint, bounds=args.bounds, limit=limit)
    return default_target(args.model, args.dataset, seed=getattr(args, "seed", 0) or 0, limit=limit,
                          progress=getattr(args, "progress", None))


# ------------------------------------------------------------------------------ whole-dataset loading
def split_arrays(data: Any) -> dict[str, np.ndarray]:
    """A :class:`~armour_core.data.Dataset`'s splits keyed as :func:`load_splits` returns them (what
    :func:`user_model` checks a network against)."""
    return {"x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test, "y_test": data.y_test}


def load_data(path: str | Path, *, bounds: tuple[float, float] = (0.0, 1.0), num_classes: int | None = None) -> Any:
    """A :class:`~armour_core.data.Dataset` from an ``.npz``.

    Preferred keys: ``x_train``, ``y_train`` (the model's training members) and ``x_test``, ``y_test``
    (held out). An archive with only ``x`` and ``y`` serves both splits: fine for robustness and testing,
    but membership inference then has no non-members to tell apart, so give both splits for privacy audits.
    """
    from .data import Dataset

    bounds = _bounds(bounds)
    a = load_splits(path, TRAIN_TEST, bounds=bounds, num_classes=num_classes)
    xt, yt = (a["x_train"], a["y_train"]) if "x_train" in a else (a["x"], a["y"])
    xe, ye = (a["x_test"], a["y_test"]) if "x_test" in a else (xt, yt)
    k = num_classes or int(max(yt.max(), ye.max())) + 1
    return Dataset(name=Path(path).stem, x_train=xt, y_train=yt, x_test=xe, y_test=ye, num_classes=max(k, 2),
                   bounds=bounds)
