"""Array conversion and input validation shared by every public entry point.

Arrays in, arrays out: numpy arrays or MindSpore Tensors are accepted, work happens in numpy, and results
are returned as the type that came in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError


def is_tensor(x: Any) -> bool:
    """A MindSpore Tensor (checked by type name, so MindSpore is never imported for the check)."""
    return type(x).__module__.startswith("mindspore") and hasattr(x, "asnumpy")


def to_numpy(x: Any, name: str = "x") -> np.ndarray:
    if is_tensor(x):
        return x.asnumpy()
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise InvalidInputError(f"{name}: cannot convert {type(x).__name__} to an array ({exc})") from None


def like(arr: np.ndarray, original: Any) -> Any:
    """``arr`` as the same array type as ``original`` (Tensor in, Tensor out)."""
    if is_tensor(original):
        import mindspore as ms

        return ms.Tensor(np.ascontiguousarray(arr))
    return arr


def check_inputs(x: Any, *, name: str = "x", bounds: tuple[float, float] | None = None,
                 input_shape: tuple[int, ...] | None = None, min_ndim: int = 2, bounds_hint: str = "") -> np.ndarray:
    """Validate a batch of model inputs and return it as a float numpy array (clipped into ``bounds`` within a
    rounding tolerance). The one input validator: the API bases and the CLI's ``--data`` loader both use it;
    ``bounds_hint`` ends the out-of-bounds message with how the caller fixes it."""
    arr = to_numpy(x, name)
    if arr.dtype.kind not in "f":
        if arr.dtype.kind in "iub":
            raise InvalidInputError(f"{name}: expected floating-point inputs, got integer dtype {arr.dtype} "
                                    f"(scale them to the model's bounds first, e.g. x / 255)")
        raise InvalidInputError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise InvalidInputError(f"{name}: expected a batch with at least {min_ndim} dimensions "
                                f"(batch first), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{name}: the batch is empty (shape {arr.shape})")
    if input_shape is not None and tuple(arr.shape[1:]) != tuple(input_shape):
        raise InvalidInputError(f"{name}: expected samples of shape {tuple(input_shape)}, got {tuple(arr.shape[1:])}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InvalidInputError(f"{name}: contains {bad} NaN or infinite values")
    if bounds is not None:
        lo, hi = bounds
        tol = 1e-6 * max(1.0, abs(hi - lo))
        amin, amax = float(arr.min()), float(arr.max())
        if amin < lo - tol or amax > hi + tol:
            raise InvalidInputError(f"{name}: values lie in [{amin:.6g}, {amax:.6g}], outside the bounds "
                                    f"[{lo:g}, {hi:g}]" + (f" ({bounds_hint})" if bounds_hint else ""))
        arr = np.clip(arr, lo, hi)
    return arr


def check_labels(y: Any, *, n: int, num_classes: int | None, name: str = "y", batch: str = "the batch") -> np.ndarray:
    """Validate integer class indices of shape ``(n,)`` (``batch`` names the inputs they label)."""
    arr = to_numpy(y, name)
    if arr.ndim == 2 and arr.shape[1] > 1 and arr.shape[0] == n:
        raise InvalidInputError(f"{name}: expected integer class indices of shape ({n},), got a 2-D array of "
                                f"shape {arr.shape} (one-hot labels? pass y.argmax(1))")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidInputError(f"{name}: expected shape ({n},) to match {batch}, got {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InvalidInputError(f"{name}: expected integer class indices, got non-integer values")
    elif arr.dtype.kind not in "iu":
        raise InvalidInputError(f"{name}: expected integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or (num_classes is not None and arr.max() >= num_classes)):
        raise InvalidInputError(f"{name}: labels lie in [{arr.min()}, {arr.max()}], outside [0, {num_classes})")
    return arr
