"""Helpers for testing ``armour`` commands: run one in-process and capture its lines, and write the user
files a command loads (a network factory, checkpoints good and bad, ``.npz`` data good and bad).

Used by the ``test_trust_cli*`` tests of every distribution, so that each checks its commands against the
same bad inputs.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import attrs
import numpy as np

#: A module with network factories; the checkpoints below are saved from them.
FACTORIES = '''
from mindspore import nn


def small():
    """The network the checkpoints belong to: 8x8 inputs, 10 classes."""
    return nn.SequentialCell(nn.Flatten(), nn.Dense(64, 16), nn.ReLU(), nn.Dense(16, 10))


def wider():
    """Same layer names as ``small``, other shapes: its checkpoint must not load into ``small``."""
    return nn.SequentialCell(nn.Flatten(), nn.Dense(64, 32), nn.ReLU(), nn.Dense(32, 10))


def other():
    """Other parameter names (a different architecture)."""
    return nn.SequentialCell(nn.Flatten(), nn.Dense(64, 10))


def three_classes():
    return nn.SequentialCell(nn.Flatten(), nn.Dense(64, 3))


def raises():
    raise RuntimeError("factory fails on purpose")


def not_a_cell():
    return [1, 2, 3]


NOT_CALLABLE = 3
'''


@attrs.frozen
class Run:
    """An in-process ``armour`` run: exit status and the lines it printed."""

    code: int
    out: list[str]
    err: list[str]

    @property
    def lines(self) -> list[str]:
        return self.out + self.err

    def one_line_error(self, *needles: str) -> str:
        """Assert the run failed with exactly one line, ``armour: error: ...``, containing every needle."""
        assert self.code != 0, f"expected a failure, got exit 0: {self.lines}"
        assert len(self.err) == 1, f"expected one line on stderr, got {self.err}"
        line = self.err[0]
        assert line.startswith("armour: error: "), line
        for needle in needles:
            assert needle in line, f"{needle!r} not in {line!r}"
        return line


def run(argv: list[str]) -> Run:
    """``armour_core.cli.main(argv)`` with stdout and stderr captured (progress bars off)."""
    from armour_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return Run(code, [ln for ln in out.getvalue().splitlines() if ln.strip()],
               [ln for ln in err.getvalue().splitlines() if ln.strip()])


@attrs.frozen
class UserFiles:
    """Paths of the files :func:`user_files` wrote; ``net(name)`` is a ``--network`` value."""

    root: Path
    ckpt: Path           #: weights of ``small``
    ckpt_wider: Path     #: same names, other shapes
    ckpt_other: Path     #: other names
    ckpt_extra: Path     #: ``small``'s weights plus an entry ``small`` does not have
    ckpt_truncated: Path
    ckpt_garbage: Path
    data: Path           #: x_train, y_train, x_test, y_test, x, y, x_member, ..., for every command
    data_garbage: Path
    data_pickle: Path    #: an object array: must be refused, never unpickled
    data_nan: Path
    data_float_labels: Path
    data_label_range: Path  #: labels up to 12 for a 10-class network
    data_missing: Path   #: no recognised keys
    data_shape: Path     #: 1x5x5 samples for an 8x8 network

    def net(self, factory: str = "small") -> str:
        return f"{self.root / 'nets.py'}:{factory}"


def user_files(root: Path, n: int = 24) -> UserFiles:
    """Write the factories, checkpoints and data files (small: built in well under a second)."""
    import importlib.util

    import mindspore as ms

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "nets.py").write_text(FACTORIES)
    spec = importlib.util.spec_from_file_location("_armour_testing_nets", root / "nets.py")
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    from armour_core.ms.seeding import seeded

    ckpt = root / "small.ckpt"
    with seeded(0):
        small = nets.small()
    ms.save_checkpoint(small, str(ckpt))
    ms.save_checkpoint(nets.wider(), str(root / "wider.ckpt"))
    ms.save_checkpoint(nets.other(), str(root / "other.ckpt"))
    net = nets.small()
    ms.save_checkpoint([{"name": p.name, "data": p.data} for p in net.get_parameters()]
                       + [{"name": "head.bias", "data": ms.Tensor(np.zeros(3, np.float32))}], str(root / "extra.ckpt"))
    raw = ckpt.read_bytes()
    (root / "truncated.ckpt").write_bytes(raw[: len(raw) // 2])
    (root / "garbage.ckpt").write_bytes(b"not a checkpoint " * 8)

    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 8, 8), dtype=np.float32)
    # labels: the checkpointed network's own predictions, so commands that need correctly classified inputs
    # (fuzzing seeds) have them whatever the initialisation drew
    y = small(ms.Tensor(x)).asnumpy().argmax(axis=1).astype(np.int64)
    h = n // 2
    splits = dict(x=x, y=y, x_train=x[:h], y_train=y[:h], x_test=x[h:], y_test=y[h:], x_member=x[:h],
                  y_member=y[:h], x_nonmember=x[h:], y_nonmember=y[h:])
    np.savez(root / "data.npz", **splits)
    (root / "garbage.npz").write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    np.savez(root / "pickle.npz", **{**splits, "x": np.array([{"a": 1}] * n, dtype=object),
                                     **{k: np.array([None] * h, dtype=object) for k in ("x_train", "x_member")}})
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    np.savez(root / "nan.npz", **{**splits, "x": bad, "x_train": bad[:h], "x_member": bad[:h]})
    fl = (y + 0.5).astype(np.float32)
    np.savez(root / "float_labels.npz", **{**splits, "y": fl, "y_train": fl[:h], "y_member": fl[:h]})
    big = np.where(np.arange(n) % h == 0, 12, y).astype(np.int64)  # label 12 in every split
    np.savez(root / "label_range.npz", **{**splits, "y": big, "y_train": big[:h], "y_test": big[h:],
                                          "y_member": big[:h], "y_nonmember": big[h:]})
    np.savez(root / "missing.npz", images=x, labels=y)
    xs = rng.random((n, 1, 5, 5), dtype=np.float32)
    np.savez(root / "shape.npz", **{**splits, "x": xs, "x_train": xs[:h], "x_test": xs[h:], "x_member": xs[:h],
                                    "x_nonmember": xs[h:]})
    return UserFiles(root=root, ckpt=ckpt, ckpt_wider=root / "wider.ckpt", ckpt_other=root / "other.ckpt",
                     ckpt_extra=root / "extra.ckpt", ckpt_truncated=root / "truncated.ckpt",
                     ckpt_garbage=root / "garbage.ckpt", data=root / "data.npz", data_garbage=root / "garbage.npz",
                     data_pickle=root / "pickle.npz", data_nan=root / "nan.npz",
                     data_float_labels=root / "float_labels.npz", data_label_range=root / "label_range.npz",
                     data_missing=root / "missing.npz", data_shape=root / "shape.npz")


def bad_model_inputs(files: UserFiles) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """(case id, the ``--network/--checkpoint/--data`` flags, text the one-line error must contain) for every
    way a user's model or data can be wrong. Commands that need a checkpoint get ``files.ckpt`` elsewhere."""
    good = ["--network", files.net(), "--checkpoint", str(files.ckpt)]
    return [
        ("ckpt-other-shapes", ["--network", files.net(), "--checkpoint", str(files.ckpt_wider), "--data",
                               str(files.data)], ("--checkpoint", "shape", "wider.ckpt")),
        ("ckpt-other-names", ["--network", files.net(), "--checkpoint", str(files.ckpt_other), "--data",
                              str(files.data)], ("--checkpoint", "lacks", "other.ckpt")),
        ("ckpt-unused-entries", ["--network", files.net(), "--checkpoint", str(files.ckpt_extra), "--data",
                                 str(files.data)], ("--checkpoint", "head.bias", "extra.ckpt")),
        ("ckpt-truncated", ["--network", files.net(), "--checkpoint", str(files.ckpt_truncated), "--data",
                            str(files.data)], ("--checkpoint", "truncated.ckpt")),
        ("ckpt-garbage", ["--network", files.net(), "--checkpoint", str(files.ckpt_garbage), "--data",
                          str(files.data)], ("--checkpoint", "garbage.ckpt")),
        ("ckpt-missing", ["--network", files.net(), "--checkpoint", str(files.root / "nope.ckpt"), "--data",
                          str(files.data)], ("--checkpoint", "nope.ckpt")),
        ("npz-garbage", [*good, "--data", str(files.data_garbage)], ("--data", "garbage.npz")),
        ("npz-pickle", [*good, "--data", str(files.data_pickle)], ("--data", "object")),
        ("npz-nan", [*good, "--data", str(files.data_nan)], ("--data", "NaN")),
        ("npz-float-labels", [*good, "--data", str(files.data_float_labels)], ("--data", "integer")),
        ("npz-label-range", [*good, "--data", str(files.data_label_range)], ("--data", "12")),
        ("npz-missing-keys", [*good, "--data", str(files.data_missing)], ("--data", "images")),
        ("npz-wrong-shape", [*good, "--data", str(files.data_shape)], ("--data", "(1, 5, 5)")),
        ("factory-no-module", ["--network", "armour_no_such_module:f", "--checkpoint", str(files.ckpt), "--data",
                               str(files.data)], ("--network", "armour_no_such_module")),
        ("factory-no-attribute", ["--network", files.net("smal"), "--checkpoint", str(files.ckpt), "--data",
                                  str(files.data)], ("--network", "smal", "small")),
        ("factory-raises", ["--network", files.net("raises"), "--checkpoint", str(files.ckpt), "--data",
                            str(files.data)], ("--network", "on purpose")),
        ("factory-not-a-cell", ["--network", files.net("not_a_cell"), "--checkpoint", str(files.ckpt), "--data",
                                str(files.data)], ("--network", "list", "Cell")),
        ("factory-not-callable", ["--network", files.net("NOT_CALLABLE"), "--checkpoint", str(files.ckpt),
                                  "--data", str(files.data)], ("--network", "callable")),
    ]
