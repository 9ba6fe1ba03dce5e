"""Inference, the part of every learned encoder that ``transform`` and ``score`` run.

The device the network lives on, batching of large inputs, the reduced
precision copy (``transform_dtype``) and its automatic choice, the compiled
copy (``transform_compile``). A mixin of
:class:`~sklearn_lsc._base.LearnedEncoderBase`.
"""

import copy
import time
from typing import NamedTuple

import numpy as np
import torch

from ._hardware import native_bfloat16
from ._sets import compact_labels, set_batches
from ._sklearn_compat import validate_parameter_constraints
from ._torch_utils import (
    all_finite,
    exact_device,
    resolve_device,
    synchronize,
    to_numpy,
    to_tensor,
    torch_dtype,
)
from ._warnings import warn

# Elements per transform batch (inputs plus codes). On the CPU a batch whose
# intermediates stay in cache is fastest; a GPU wants large batches, bounded
# only to cap device memory.
_TRANSFORM_BATCH_ELEMENTS = {"cpu": 2**19, "cuda": 2**23}

# transform_dtype="auto": measured on up to this many rows (at least the
# minimum, else full precision), bfloat16 kept when this many times faster and
# its objective within this fraction of full precision's.
_AUTO_PRECISION_ROWS = 1024
_AUTO_PRECISION_MIN_ROWS = 64
_AUTO_PRECISION_SPEEDUP = 1.25
_AUTO_PRECISION_TOLERANCE = 0.01


def choose_precision(full_time, full_objective, rounded_time, rounded_objective):
    """``"bfloat16"`` when its run is fast enough and its objective close enough, else None."""
    faster = rounded_time * _AUTO_PRECISION_SPEEDUP <= full_time
    tolerance = _AUTO_PRECISION_TOLERANCE * abs(full_objective)
    close = rounded_objective <= full_objective + tolerance
    return "bfloat16" if faster and close else None


class TransformModule(NamedTuple):
    """What ``transform`` runs, kept between calls (never pickled).

    ``key`` says what it was made for (precision, compilation, network,
    devices); ``runner`` is what is called (``eager`` or its compiled form);
    ``eager`` the fitted network or its bfloat16 copy; ``versions`` the
    fitted tensors' version counters when the copy was last refreshed.
    """

    key: tuple
    runner: object
    eager: object
    versions: tuple | None


class InferenceMixin:
    """Coding rows with the fitted network: devices, batches, precision, compilation."""

    def _network_dtype(self):
        return next(self.network_.parameters()).dtype

    def _move_to(self, device):
        """Put the network and the training state on ``device`` (no-op if there)."""
        if next(self.network_.parameters()).device == device:
            return
        self.network_.to(device)
        if isinstance(self._optimizer, torch.optim.Optimizer):
            # load_state_dict moves the optimizer's state next to its parameters.
            self._optimizer.load_state_dict(self._optimizer.state_dict())
        if self._dictionary_update is not None:
            self._dictionary_update.to(device)

    def _encode(self, X, labels=None):
        """Codes of validated ``X`` in bounded-memory batches, in ``X``'s dtype.

        ``labels``: the rows' validated set labels (collaborative HiLasso), or None.
        """
        code = np.empty((X.shape[0], self.components_.shape[0]), dtype=X.dtype)
        scale = self.signal_scale_
        for rows, batch_code, _ in self._encoded_batches(X, labels=labels, in_signal_units=False):
            if batch_code.device.type != "cpu" or labels is not None:
                # Converted and scaled where the codes are (on an accelerator:
                # a copy to the host of another dtype converts there, in a
                # temporary), then copied out.
                batch_code = batch_code.to(torch_dtype(X.dtype))
                if scale != 1.0:
                    batch_code = batch_code * scale
                if labels is not None:  # rows of whole sets, scattered in X
                    code[rows] = batch_code.cpu().numpy()
                else:
                    # Straight into the output: no host tensor in between (a
                    # copy through one costs several times more, most on a GPU).
                    torch.from_numpy(code[rows]).copy_(batch_code)
                continue
            # Scaled straight into the output: a fresh tensor in between would
            # be one more pass over memory, page-faulting.
            out = torch.from_numpy(code[rows])
            if scale != 1.0:
                torch.mul(batch_code, scale, out=out)
            else:
                out.copy_(batch_code)
        return code

    def _encoded_batches(self, X, *, with_objective=False, labels=None, in_signal_units=True):
        """Yield ``(rows, codes, objective)`` for bounded-memory batches of validated ``X``.

        ``rows`` is a slice of ``X``, or with set ``labels`` (validated, one
        per row) an index array of whole sets, coded jointly.

        ``codes`` is a tensor on the device, in the network's dtype and the
        units of ``X`` (the network's, ``X / signal_scale_``, without
        ``in_signal_units``); ``objective`` (None without ``with_objective``) the
        per-sample objective of the codes, a float64 array computed with
        torch next to the codes (not with numpy: on a few cores, numpy's BLAS
        threads and torch's threads alternating on small products slow each
        other down tenfold). Codes or objectives that are not finite for
        finite ``X`` (values far beyond the training data's) raise a
        ValueError naming ``X``.
        """
        device = resolve_device(self.device)
        self._move_to(device)
        # Settable on a fitted encoder, so checked here too, not only in fit.
        names = ("transform_dtype", "transform_compile")
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in names},
            {name: getattr(self, name) for name in names},
            caller_name=type(self).__name__,
        )
        network, dtype = self._transform_network(X)
        compiled = self.transform_compile and network is not self._transform_module.eager
        kind = device.type if device.type in _TRANSFORM_BATCH_ELEMENTS else "cuda"  # accelerators
        elements = _TRANSFORM_BATCH_ELEMENTS[kind]
        batch_size = max(1, elements // (self.components_.shape[0] + X.shape[1]))
        # As few batches as the bound allows, their sizes within a row of each
        # other: no short last batch (a pass's fixed costs for few rows).
        n_batches = max(1, -(-X.shape[0] // batch_size))
        bounds = [X.shape[0] * index // n_batches for index in range(n_batches + 1)]
        batch_size = max(1, bounds[1])
        if with_objective:
            # The objective in float64, on the device unless it has none (MPS).
            exact = exact_device(device)
            dictionary = to_tensor(self.components_, device=exact, dtype=torch.float64)
            batch_is_exact = dtype in (torch.float64, torch_dtype(X.dtype))
            per_sample = self._objective(exact, torch.float64)
        scale = self.signal_scale_  # the network codes X / scale (exact: a power of two)
        if labels is None:
            batches = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        else:
            batches = set_batches(labels, batch_size)
        done = 0
        with torch.inference_mode():
            for rows in batches:
                batch = to_tensor(X[rows], device=device, dtype=dtype)
                sets = None
                if labels is not None:
                    sets = compact_labels(torch.as_tensor(labels[rows], device=device))
                if scale != 1.0:
                    batch.div_(scale)
                try:
                    batch_code = self._network_codes(batch, sets, network)
                except Exception as error:
                    if not compiled:
                        raise
                    network, compiled = self._compile_failed(error), False
                    batch_code = self._network_codes(batch, sets, network)
                if not all_finite(batch_code):
                    self._raise_non_finite(X, "codes")
                values = None
                if with_objective:
                    # The objective of the signals as given, not as rounded for
                    # the network (bfloat16, or float64 rows in a float32 one).
                    signals = batch.to(exact, torch.float64)
                    if not batch_is_exact:
                        signals = to_tensor(X[rows], device=exact, dtype=torch.float64) / scale
                    values = per_sample(
                        signals,
                        batch_code.to(exact, torch.float64),
                        dictionary,
                        None if sets is None else sets.to(exact),
                    )
                    values = to_numpy(values, np.float64) * (scale * scale)
                    if not np.all(np.isfinite(values)):
                        self._raise_non_finite(X, "objective")
                if scale != 1.0 and in_signal_units:
                    batch_code = batch_code * scale
                yield rows, batch_code, values
                done += batch.shape[0]
                if self.verbose and X.shape[0] > batch_size:  # progress of long transforms
                    print(f"[{type(self).__name__}] coded {done}/{X.shape[0]} rows")

    def _raise_non_finite(self, X, what):
        peak = float(np.max(np.abs(X))) if X.size else 0.0
        raise ValueError(
            f"X's {what} overflowed: X holds values up to {peak:.3g}, far beyond the "
            f"scale of the training data (its rows' norms were near "
            f"signal_scale_={self.signal_scale_:.3g}). Scale X as the training data was."
        )

    def _transform_network(self, X):
        """The module ``transform`` runs on ``X``, and its dtype.

        The fitted network, or its bfloat16 copy (``transform_dtype``), or
        ``torch.compile`` of either (``transform_compile``), kept between
        calls. A compiled network reads the fitted parameters as they are
        now; the bfloat16 copy is refreshed in place when one of the
        network's tensors has changed since (training, a dictionary step, a
        restored snapshot: their version counters move), so that its compiled
        code, guarded on the copy, stays valid.
        """
        network, dtype = self.network_, self._network_dtype()
        precision = self._transform_precision(X, network)
        if precision is None and not self.transform_compile:
            return network, dtype
        rounded = precision == "bfloat16"
        tensors = [*network.parameters(), *network.buffers()]
        key = (
            precision,
            self.transform_compile,
            id(network),
            tuple(tensor.device for tensor in tensors),
        )
        versions = tuple(tensor._version for tensor in tensors) if rounded else None
        cached = self.__dict__.get("_transform_module")
        # Not under a caller's inference mode: a copy made there could not be
        # refreshed in place outside it.
        with torch.inference_mode(False), torch.no_grad():
            if cached is None or cached.key != key:
                if rounded and self.transform_dtype == "bfloat16":
                    self._warn_if_bfloat16_is_emulated(tensors[0].device)
                # A rounded copy: the fitted network keeps its precision.
                module = copy.deepcopy(network).to(torch.bfloat16) if rounded else network
                # Compiled by its first call; a new batch shape (the last,
                # shorter batch) compiles once more, with dynamic shapes.
                runner = torch.compile(module) if self.transform_compile else module
                cached = TransformModule(key, runner, module, versions)
            elif cached.versions != versions:
                module = cached.eager
                for target, source in zip(
                    [*module.parameters(), *module.buffers()], tensors, strict=True
                ):
                    target.copy_(source)
                cached = cached._replace(versions=versions)
        self._transform_module = cached
        return cached.runner, torch.bfloat16 if rounded else dtype

    def _warn_if_bfloat16_is_emulated(self, device):
        native, reason = native_bfloat16(device)
        if native is False:
            warn(
                f"transform_dtype='bfloat16', but {reason}: bfloat16 products are "
                "emulated there, typically several times slower than float32. Use "
                "transform_dtype=None, or 'auto' to measure.",
                UserWarning,
            )

    def _transform_precision(self, X, network):
        """``"bfloat16"`` or None (the network's own dtype): ``transform_dtype`` resolved.

        ``"auto"`` is measured once per device (see the parameter's entry)
        and kept, not saved: another machine measures anew.
        """
        if self.transform_dtype != "auto":
            return self.transform_dtype
        device = next(network.parameters()).device
        choices = self.__dict__.setdefault("_auto_precision", {})
        if str(device) not in choices:
            if native_bfloat16(device)[0] is False:
                choices[str(device)] = None
            elif X.shape[0] < _AUTO_PRECISION_MIN_ROWS:
                return None  # too few rows to measure: full precision, decided later
            else:
                choices[str(device)] = self._measure_precision(X, network, device)
        return choices[str(device)]

    def _measure_precision(self, X, network, device):
        """Time the network and its bfloat16 copy on the first rows of ``X``; the choice."""
        dtype = self._network_dtype()
        with torch.inference_mode(False), torch.no_grad():
            rounded = copy.deepcopy(network).to(torch.bfloat16)
        signals = to_tensor(X[:_AUTO_PRECISION_ROWS], device=device, dtype=dtype)
        signals /= self.signal_scale_
        # The objectives are compared in float64 on the CPU: not every
        # accelerator has float64 (MPS has none).
        cpu = torch.device("cpu")
        dictionary = to_tensor(self.components_, device=cpu, dtype=torch.float64)
        per_sample = self._objective(cpu, torch.float64)
        results = []
        with torch.inference_mode():
            for module, inputs in ((network, signals), (rounded, signals.to(torch.bfloat16))):
                module(inputs)  # warm-up: kernels chosen, caches filled
                times = []
                for _ in range(5):
                    synchronize(device)
                    start = time.perf_counter()
                    code = module(inputs)
                    synchronize(device)
                    times.append(time.perf_counter() - start)
                as_cpu = [tensor.to(cpu, torch.float64) for tensor in (signals, code)]
                value = float(per_sample(*as_cpu, dictionary).mean())
                results.append((min(times), value))
        return choose_precision(*results[0], *results[1])

    def _compile_failed(self, error):
        """Warn that ``torch.compile`` failed; the eager module from now on."""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        warn(
            f"transform_compile=True, but torch.compile failed ({type(error).__name__}: "
            f"{first_line}); {type(self).__name__} runs the network uncompiled "
            "(the same codes).",
            RuntimeWarning,
        )
        cached = self._transform_module
        self._transform_module = cached._replace(runner=cached.eager)
        return cached.eager
