"""The stream training of :class:`~sklearn_lsc.OnlineSparseModeler` (Section 4.3).

A window of the latest vectors, rows waiting for a full step, and per step:
the objective of the new vectors under the current model, a few optimizer
steps of the network on the window, then one online dictionary step on the
new vectors' codes. The estimator holds the parameters and the scikit-learn
surface; this mixin holds how a stream is consumed.
"""

import copy
import math
import time

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ._dictionary import (
    OnlineDictionaryUpdate,
    check_nonnegative_atoms,
    init_dictionary_from_samples,
)
from ._networks import STRUCTURED_NETWORKS, reset_atoms
from ._scale import signal_scale
from ._structure_check import check_structure_unchanged, record_structure
from ._torch_utils import (
    optimizer_state_on_cpu,
    resolve_device,
    threads_for_products,
    to_numpy,
    to_tensor,
    torch_dtype,
)
from ._training import make_optimizer, set_learning_rate
from ._validation import check_dictionary
from ._warnings import warn

# A network update that leaves the new vectors' objective higher than before
# it and more than this fraction above all-zero codes' (codes far worse than
# none) blew up, and is undone (as partial_fit's pass of the offline encoders).
_ZERO_CODES_MARGIN = 0.25


def _copy_of_state(state):
    """A copy of an optimizer's ``state_dict()``: its tensors cloned, the rest
    copied (``copy.deepcopy`` takes longer than the tensors' copies)."""
    return {
        "state": {
            key: {name: _copied(value) for name, value in values.items()}
            for key, values in state["state"].items()
        },
        "param_groups": copy.deepcopy(state["param_groups"]),
    }


def _copied(value):
    return value.detach().clone() if isinstance(value, torch.Tensor) else copy.deepcopy(value)


class StreamTrainerMixin:
    """``partial_fit``'s work for a model trained on a stream (see the module docstring)."""

    def _partial_fit(self, X):
        if self.step_size > self.window_size:
            raise ValueError(
                f"The 'step_size' parameter ({self.step_size}) must not exceed "
                f"'window_size' ({self.window_size})."
            )
        first_call = not hasattr(self, "components_")
        if not first_call:
            check_structure_unchanged(self)
        if first_call:
            X = validate_data(self, X, dtype=[np.float64, np.float32])
            self._initialize_stream(X)
        else:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
            X = X.astype(self.components_.dtype, copy=False)
        self.n_samples_seen_ += X.shape[0]
        pending = np.concatenate([self._pending, X])
        n_full = pending.shape[0] // self.step_size * self.step_size
        self._pending = pending[n_full:].copy()
        if n_full:
            n_atoms, n_features = self.components_.shape
            product = min(self.batch_size, self.window_size) * n_atoms * n_features
            undone = []
            with threads_for_products(product, resolve_device(self.device)):
                for start in range(0, n_full, self.step_size):
                    undone.append(self._adapt(pending[start : start + self.step_size]))
            self._warn_of_undone_updates(
                [step for step in undone if step is not None], len(undone)
            )
        return self

    def _warn_of_undone_updates(self, undone, n_steps):
        """One ``ConvergenceWarning`` for the call's undone network updates, if any
        (``undone``: their ``(step, cost after, cost before, all-zero codes' cost)``)."""
        if not undone:
            return
        step, after, unseen, zero_codes = undone[0]
        warn(
            f"{len(undone)} of this call's {n_steps} network updates blew up and were "
            f"undone (first at step {step}: the new vectors' codes would have cost "
            f"{after:.4g}, from {unseen:.4g} before it, against {zero_codes:.4g} for "
            f"all-zero codes). Lower the 'learning_rate' parameter (now "
            f"{self.learning_rate}).",
            ConvergenceWarning,
        )

    def _initialize_stream(self, X):
        """Dictionary, network, optimizer and buffers from the first chunk ``X``."""
        if self.groups is None and self._architecture_name() in STRUCTURED_NETWORKS:
            raise ValueError(
                f"The 'architecture' parameter {self.architecture!r} is structured and "
                "needs 'groups'; use 'lista' or 'lcod' without groups."
            )
        device = resolve_device(self.device)
        dtype = torch_dtype(X.dtype)
        rng = check_random_state(self.random_state)
        if isinstance(self.dictionary_init, str):
            n_components = self.n_components or X.shape[1]
            dictionary = init_dictionary_from_samples(
                X[: self.window_size], n_components, rng, positive=self.positive_dict
            )
        else:
            dictionary = check_dictionary(
                self.dictionary_init,
                n_features=X.shape[1],
                n_components=self.n_components,
                dtype=X.dtype,
                name="dictionary_init",
            )
        if self.positive_dict:
            check_nonnegative_atoms(dictionary, "dictionary_init")
        self._check_structure(dictionary.shape[0])
        self._warn_if_codes_vanish(X[: self.window_size], dictionary)
        self.signal_scale_ = signal_scale(X[: self.window_size])
        atoms = to_tensor(dictionary, device=device, dtype=dtype)
        self.norm_floor_ = self._choose_norm_floor(X[: self.window_size], atoms)
        network = self._build_network(atoms)
        # Nothing failed: the model's state changes from here on.
        self._rng = rng
        self.components_ = dictionary
        self.network_ = network
        self._optimizer = make_optimizer(self.solver, network, self.learning_rate)
        self._dictionary_update = OnlineDictionaryUpdate(
            *dictionary.shape,
            forgetting_factor=self.forgetting_factor,
            dtype=dtype,
            device=device,
            positive=self.positive_dict,
        )
        self._window = X[:0].copy()
        self._pending = X[:0].copy()
        self.objective_curve_ = []
        self.n_steps_ = 0
        self.n_redrawn_atoms_ = 0
        self.n_samples_seen_ = 0
        self.__dict__.pop("_auto_precision", None)  # measured for the previous network
        record_structure(self)

    def _diverged(self, what):
        """Raise: a step diverged (partial_fit then restores the model as it was)."""
        raise ValueError(
            f"Adaptation diverged at step {self.n_steps_ + 1}: {what}. Lower the "
            f"'learning_rate' parameter (now {self.learning_rate}), or scale the stream."
        )

    def _update_blew_up(self, unseen, after, zero_codes):
        """Whether the network's update is to be undone: it left the new
        vectors' objective (``unseen`` before it, ``after`` it) higher than
        before and more than ``_ZERO_CODES_MARGIN`` above that of all-zero
        codes. A non-finite one raises (the call is then rolled back)."""
        if not math.isfinite(after):
            self._diverged(f"the network's update made the new vectors' objective {after}")
        return after > unseen and after - zero_codes > _ZERO_CODES_MARGIN * zero_codes

    def _restart_atoms(self, atoms, dictionary):
        """The network's parameters of the redrawn ``atoms`` restart from their
        algorithm's values, and their optimizer moments from zero.

        (Adam's step count is shared by the whole tensor, so a restarted
        entry's first steps are not bias-corrected: a few steps of a few times
        the learning rate, which the next updates average out.)
        """
        index = torch.as_tensor(atoms, device=dictionary.device)
        network = self.network_
        for name in reset_atoms(network, index, dictionary):
            parameter = getattr(network, name)
            for value in self._optimizer.state.get(parameter, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == parameter.shape:
                    for axis in network.atom_axes[name]:
                        value.index_fill_(axis, index.to(value.device), 0.0)
        self.n_redrawn_atoms_ = getattr(self, "n_redrawn_atoms_", 0) + len(atoms)

    def _adapt(self, new):
        """One step: record the objective of ``new``, adapt the network, then the atoms.

        Returns None, or what :meth:`_warn_of_undone_updates` reports of an
        undone network update.
        """
        start = time.perf_counter()
        device = resolve_device(self.device)
        self._move_to(device)
        dtype = self._network_dtype()
        network = self.network_
        objective = self._training_objective(device, dtype)
        dictionary = to_tensor(self.components_, device=device, dtype=dtype)
        # In the units of X / signal_scale_ (see the base class); the objective
        # curve in those of X.
        scale = self.signal_scale_
        new_tensor = to_tensor(new, device=device, dtype=dtype).div_(scale)  # a fresh copy

        with torch.no_grad():
            code = network(new_tensor)
            unseen = float(objective(new_tensor, code, dictionary, None).mean())
        unseen *= scale * scale
        if not math.isfinite(unseen):
            self._diverged(f"the objective of the new vectors became {unseen}")
        # All-zero codes cost half the squared norm: codes worse than that are garbage.
        zero_codes = 0.5 * float(new_tensor.pow(2).sum(dim=1).mean()) * scale * scale
        if unseen > zero_codes:
            warn(
                f"At step {self.n_steps_ + 1}, the network's codes of the new vectors "
                f"cost {unseen:.4g}, more than all-zero codes ({zero_codes:.4g}): the "
                f"network has blown up. Lower the 'learning_rate' parameter (now "
                f"{self.learning_rate}).",
                ConvergenceWarning,
            )
        self.objective_curve_.append(unseen)

        self._window = np.concatenate([self._window, new])[-self.window_size :]
        window = to_tensor(self._window, device=device, dtype=dtype).div_(scale)
        batch_size = min(self.batch_size, window.shape[0])
        set_learning_rate(self._optimizer, self.learning_rate)  # as set now
        # The network and the optimizer before the update, to go back to (cheap).
        before = (
            {key: value.detach().clone() for key, value in network.state_dict().items()},
            _copy_of_state(self._optimizer.state_dict()),
        )
        for _ in range(self.updates_per_step):
            rows = torch.from_numpy(
                self._rng.choice(window.shape[0], size=batch_size, replace=False)
            ).to(device)
            loss = objective(window[rows], network(window[rows]), dictionary, None).mean()
            if not bool(torch.isfinite(loss)):
                self._diverged(f"the training loss became {float(loss.detach())}")
            self._optimizer.zero_grad(set_to_none=True)
            loss.backward()
            with optimizer_state_on_cpu():
                self._optimizer.step()

        with torch.no_grad():
            updated = network(new_tensor)
            after = float(objective(new_tensor, updated, dictionary, None).mean()) * scale * scale
        undone = None
        if self._update_blew_up(unseen, after, zero_codes):
            # Back to the network before the update, and its codes of the new vectors.
            network.load_state_dict(before[0])
            self._optimizer.load_state_dict(before[1])
            undone = (self.n_steps_ + 1, after, unseen, zero_codes)
        else:
            code = updated
        # Unused atoms are redrawn once the window is full: until then the
        # network is still learning which atoms to use.
        window_full = self._window.shape[0] >= self.window_size
        redrawn = self._dictionary_update.step(
            dictionary, new_tensor, code, rng=self._rng if window_full else None
        )
        if not self._state_is_finite(dictionary):
            self._diverged("the network's weights or the atoms became non-finite")
        network.set_dictionary(dictionary)
        if redrawn.any():
            self._restart_atoms(np.flatnonzero(redrawn), dictionary)
        self.components_ = to_numpy(dictionary, self.components_.dtype)
        self.n_steps_ += 1
        if self.verbose:
            print(
                f"[{type(self).__name__}] step {self.n_steps_}: objective of the new "
                f"vectors {unseen:.6g}, {time.perf_counter() - start:.3f} s"
            )
        return undone
