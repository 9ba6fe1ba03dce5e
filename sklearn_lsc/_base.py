"""The base every learned encoder shares: device, training, transform, pickling.

A concrete encoder says which objective it minimises, how to build its
network from a dictionary and how to compute exact codes; everything else
(minibatches, the dictionary step, early stopping, batching of transform,
moving between devices, pickling without a GPU) lives here once.
"""

import copy
import math
import numbers
import time

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._dictionary import OnlineDictionaryUpdate, init_dictionary_from_samples
from ._hardware import native_bfloat16
from ._persistence import plain_torch_state, restore_torch_state
from ._scale import signal_scale, warn_if_codes_vanish
from ._structure_check import check_structure_unchanged, record_structure
from ._torch_utils import resolve_device, to_numpy, to_tensor, torch_dtype
from ._training import (
    ArmijoDescent,
    NoImprovementStopper,
    cosine_learning_rate,
    make_optimizer,
    minibatch_epoch,
    set_learning_rate,
)
from ._transaction import transactional
from ._validation import check_dictionary
from ._warnings import warn

# Elements per transform batch (inputs plus codes). On the CPU a batch whose
# intermediates stay in cache is fastest; a GPU wants large batches, bounded
# only to cap device memory.
_TRANSFORM_BATCH_ELEMENTS = {"cpu": 2**19, "cuda": 2**23}

# ``fit`` ending with a training loss above its best epoch's by more than this
# many times the best's magnitude has blown up (a too large learning rate): it
# restores the best epoch's network. Magnitudes, as losses can be negative
# (the discriminative objective rewards energy in known-active groups).
_BLOW_UP = 1.0

# ``early_stopping="auto"`` sets rows aside only when at least this many would
# be: fewer make a validation loss too noisy to pick an epoch by.
AUTO_EARLY_STOPPING_MIN_ROWS = 50

# ``input_noise="auto"``: AUTO_NOISE up to AUTO_NOISE_ROWS training rows, then
# falling as one over the square root of the rows (0.1 at 50,000): the noise
# regularises small training sets and only blurs the objective of large ones.
AUTO_NOISE = 0.5
AUTO_NOISE_ROWS = 2000

# ``max_iter="auto"`` and ``n_iter_no_change="auto"``: AUTO_MAX_ITER epochs
# and a patience of AUTO_PATIENCE epochs, raised with early stopping on a given
# dictionary and minibatches (Adam, SGD) to at least AUTO_STEPS optimizer steps
# and a patience of AUTO_PATIENCE_STEPS steps: a small training set takes few
# steps per epoch, and a fixed number of epochs under-trains it. From about 1,300 training rows
# (batches of 100) the epoch counts rule. Without early stopping nothing guards
# longer training against overfitting, and with a learned dictionary longer
# training made both the codes and the atoms worse on small sets: there the
# epoch counts stand.
AUTO_MAX_ITER = 150
AUTO_PATIENCE = 20
AUTO_STEPS = 2000
AUTO_PATIENCE_STEPS = 270

# ``fit`` keeps the untrained network when training ends with a noise-free
# loss above the untrained one's by more than this fraction of its magnitude
# (a margin for rounding: a learning rate of 1e-12 changes nothing).
_UNTRAINED_MARGIN = 1e-6

# transform_dtype="auto": measured on up to this many rows (at least the
# minimum, else full precision), bfloat16 kept when this many times faster and
# its objective within this fraction of full precision's.
_AUTO_PRECISION_ROWS = 1024
_AUTO_PRECISION_MIN_ROWS = 64
_AUTO_PRECISION_SPEEDUP = 1.25
_AUTO_PRECISION_TOLERANCE = 0.01

# Rebuilt when needed, never pickled: transform's bfloat16 copy or compiled
# network, and transform_dtype="auto"'s choices (measured on this machine).
_TRANSIENT_STATE = ("_transform_module", "_auto_precision")


def choose_precision(full_time, full_objective, rounded_time, rounded_objective):
    """``"bfloat16"`` when its run is fast enough and its objective close enough, else None."""
    faster = rounded_time * _AUTO_PRECISION_SPEEDUP <= full_time
    tolerance = _AUTO_PRECISION_TOLERANCE * abs(full_objective)
    close = rounded_objective <= full_objective + tolerance
    return "bfloat16" if faster and close else None


class BaseLearnedEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of the learned sparse encoders (not public)."""

    _TRANSIENT_STATE = _TRANSIENT_STATE
    # Parameters that shape the fitted model: changing one after fitting needs
    # a new fit (partial_fit refuses to continue).
    _STRUCTURAL_PARAMS = (
        "n_components",
        "dictionary",
        "fit_dictionary",
        "architecture",
        "n_layers",
        "solver",
    )

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "dictionary": ["array-like", None],
        "fit_dictionary": ["boolean", StrOptions({"auto"})],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "armijo"})],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "input_noise": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "transform_dtype": [StrOptions({"bfloat16", "auto"}), None],
        "transform_compile": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------------- hooks
    def _objective(self, device, dtype):
        """The per-sample objective ``f(X, code, dictionary)`` (torch), differentiable.

        Built once for ``device`` and ``dtype`` (its constant tensors live
        there), then called on every batch.
        """
        raise NotImplementedError

    def _training_objective(self, device, dtype):
        """The per-sample training loss ``loss(X, code, dictionary, y)`` (torch).

        ``y`` holds the training rows' targets from :meth:`_check_training_y`
        (None when there are none). By default: the objective, ignoring ``y``.
        """
        objective = self._objective(device, dtype)
        return lambda X, code, dictionary, y: objective(X, code, dictionary)

    def _check_training_y(self, y, n_samples, n_components, *, first_call=True):
        """Validated training targets as an array, or None when ``y`` is not used.

        ``first_call``: ``fit``, or the first ``partial_fit`` (later chunks of
        a stream may be partial, e.g. hold a single class).
        """
        return None

    def _check_structure(self, n_components):
        """Validate and store what depends on the number of atoms (groups)."""

    def _build_network(self, dictionary):
        """A fresh network initialized from ``dictionary`` (a tensor)."""
        raise NotImplementedError

    def _exact_codes(self, X, dictionary, init):
        """Exact codes of ``X`` (tensors), the targets of ``objective="regression"``."""
        raise NotImplementedError

    # ------------------------------------------------------------ units
    # Inside, everything works on the equivalent problem of ``X / signal_scale_``
    # with ``alpha / signal_scale_``: its codes are the original's divided by
    # the scale and its objective the original's divided by the scale squared.
    # The objectives, networks and exact codes of the hooks are in those units.
    def _scaled_alpha(self):
        return self.alpha / self.signal_scale_

    def _codes_in_signal_units(self, X, network=None):
        """Codes of ``X`` (a tensor of signals as given) by ``network``, as given too."""
        network = self.network_ if network is None else network
        scale = self.signal_scale_
        return network(X) if scale == 1.0 else network(X / scale) * scale

    def _objective_in_signal_units(self, device, dtype):
        """The per-sample objective ``f(X, code, dictionary)`` of signals and codes as given."""
        objective, scale = self._objective(device, dtype), self.signal_scale_
        if scale == 1.0:
            return objective
        return lambda X, code, dictionary: (
            objective(X / scale, code / scale, dictionary) * (scale * scale)
        )

    # ---------------------------------------------------------- scikit-learn
    # Objectives that train on ``y`` (and require it).
    _supervised_objectives = frozenset()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.target_tags.required = getattr(self, "objective", None) in (
            self._supervised_objectives
        )
        return tags

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=False)
    def fit(self, X, y=None):
        """Train the network (and, when asked, the dictionary) on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals, one per row.

        y : array-like, default=None
            Targets of the supervised objectives, required by them: class
            labels of shape (n_samples,) for ``objective="similarity"``, known
            active groups of shape (n_samples, n_groups) for
            ``objective="discriminative"``. Ignored by the other objectives.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        y = self._check_training_y(y, X.shape[0], self._n_components_for(X))
        self._initialize(X)
        self._train(X, y, n_epochs=None, anneal=True)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=True)
    def partial_fit(self, X, y=None):
        """One pass of minibatch training over ``X``.

        The first call initializes the dictionary and the network from ``X``;
        later calls continue training them at the current ``learning_rate``
        (constant: no annealing schedule).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals, one per row.

        y : array-like, default=None
            Targets of the supervised objectives, required by them: class
            labels of shape (n_samples,) for ``objective="similarity"``, known
            active groups of shape (n_samples, n_groups) for
            ``objective="discriminative"``. Ignored by the other objectives.

        Returns
        -------
        self : object
            The updated encoder.
        """
        first_call = not hasattr(self, "network_")
        if not first_call:
            check_structure_unchanged(self)
        X = validate_data(self, X, reset=first_call, dtype=[np.float64, np.float32])
        n_components = self._n_components_for(X) if first_call else self.components_.shape[0]
        y = self._check_training_y(y, X.shape[0], n_components, first_call=first_call)
        if first_call:
            self._initialize(X)
        self._train(X, y, n_epochs=1, anneal=False)
        return self

    def transform(self, X):
        """Compute the sparse codes of ``X`` with the trained network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Signals, one per row.

        Returns
        -------
        code : ndarray of shape (n_samples, n_components)
            The codes, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._encode(X)

    def inverse_transform(self, X):
        """Reconstruct signals from codes: ``X @ components_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, one per row.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The reconstructed signals, in the dtype of the codes.
        """
        check_is_fitted(self)
        code = check_array(X, dtype=[np.float64, np.float32], input_name="X")
        if code.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"X has {code.shape[1]} columns, but this encoder has "
                f"{self.components_.shape[0]} components."
            )
        return code @ self.components_.astype(code.dtype, copy=False)

    def score_samples(self, X):
        """Return minus the objective of the network's code of each row of ``X``.

        The encoder's sparse-coding objective (the Lasso's, or the HiLasso's
        with the current ``group_alpha`` and ``group_weights``; whatever the
        training ``objective``), of the codes ``transform`` returns, computed
        in float64 in the units of ``X``. :meth:`score` is its mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Signals, one per row.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64
            Minus each row's objective: higher is better.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        scores = np.empty(X.shape[0])
        for rows, _, values in self._encoded_batches(X, with_objective=True):
            scores[rows] = -values
        return scores

    def score(self, X, y=None):
        """Return minus the mean objective of the network's codes of ``X``.

        Higher is better, so model selection (``GridSearchCV``) needs no scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Signals, one per row.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Minus the mean objective.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        # Batch by batch, keeping no codes: memory bounded whatever the rows.
        total = math.fsum(
            float(values.sum()) for _, _, values in self._encoded_batches(X, with_objective=True)
        )
        return -total / X.shape[0]

    # ------------------------------------------------------------- training
    def _n_components_for(self, X):
        """The number of atoms a fit on ``X`` will have (before any validation)."""
        if self.n_components is not None:
            return self.n_components
        if self.dictionary is not None:
            return np.shape(self.dictionary)[0]
        return X.shape[1]

    def _initialize(self, X):
        """Fresh dictionary, network, optimizer and history for the data ``X``."""
        device = resolve_device(self.device)
        dtype = torch_dtype(X.dtype)
        self._rng = check_random_state(self.random_state)
        if self.dictionary is None:
            dictionary = init_dictionary_from_samples(X, self._n_components_for(X), self._rng)
        else:
            dictionary = check_dictionary(
                self.dictionary,
                n_features=X.shape[1],
                n_components=self.n_components,
                dtype=X.dtype,
            )
        if self.fit_dictionary == "auto":
            self._fit_dictionary = self.dictionary is None
        else:
            self._fit_dictionary = bool(self.fit_dictionary)
        self._check_structure(dictionary.shape[0])
        self._warn_if_codes_vanish(X, dictionary)
        self.signal_scale_ = signal_scale(X)
        self.components_ = dictionary
        self.network_ = self._build_network(to_tensor(dictionary, device=device, dtype=dtype))
        if self.solver == "armijo":
            self._optimizer = ArmijoDescent(self.network_.parameters(), self.learning_rate)
        else:
            self._optimizer = make_optimizer(self.solver, self.network_, self.learning_rate)
        self._dictionary_update = None
        if self._fit_dictionary:
            self._dictionary_update = OnlineDictionaryUpdate(
                *dictionary.shape, dtype=dtype, device=device
            )
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.__dict__.pop("_auto_precision", None)  # measured for the previous network
        record_structure(self)

    def _warn_if_codes_vanish(self, X, dictionary):
        """Warn when ``alpha`` zeroes every optimal code of the training rows."""
        warn_if_codes_vanish(self, X, dictionary)

    def _train(self, X, y, *, n_epochs, anneal):
        """Run up to ``n_epochs`` epochs; ``anneal`` adds the schedule and early stop.

        ``n_epochs=None`` (``fit``): ``max_iter`` resolved (``max_iter_``),
        with the patience ``n_iter_no_change_``.

        With ``early_stopping`` (and ``anneal``: ``fit``, not ``partial_fit``),
        ``validation_fraction`` of the rows are set aside: the network trains
        on the others, the stopping rule watches the loss of the set-aside
        rows (noise-free), and the network of the best such epoch is kept.
        ``fit`` never keeps a network whose noise-free loss is worse than the
        untrained one's (a few iterations of its algorithm): it restores that
        one and warns. A non-finite loss, at any step, raises.
        """
        device = resolve_device(self.device)
        self._move_to(device)
        dtype = self._network_dtype()
        early_stopping = anneal and self._uses_early_stopping(X.shape[0])
        input_noise = self._resolved_input_noise(X.shape[0])
        X, y, X_validation, y_validation = self._validation_split(X, y, early_stopping)
        self.early_stopping_, self.input_noise_ = early_stopping, input_noise
        patience = None
        if n_epochs is None:
            n_epochs, patience = self._resolved_budget(X.shape[0], early_stopping)
            self.max_iter_, self.n_iter_no_change_ = n_epochs, patience
        # Trained in the units of X / signal_scale_ (exact: a power of two);
        # losses are reported in those of X (times the scale squared).
        scale = self.signal_scale_
        units = scale * scale
        if scale != 1.0:
            X = X / scale
            X_validation = None if X_validation is None else X_validation / scale
        X_tensor = to_tensor(X, device=device, dtype=dtype)
        dictionary = to_tensor(self.components_, device=device, dtype=dtype)
        y_tensor = None if y is None else to_tensor(y, device=device, dtype=dtype)
        perturb = self._input_perturbation(X, X_tensor)
        targets = None
        if self.objective == "regression" and not self._fit_dictionary and perturb is None:
            targets = self._exact_codes(X_tensor, dictionary, init=None)
        objective = self._training_objective(device, dtype)
        if not anneal and not isinstance(self._optimizer, ArmijoDescent):
            # partial_fit: the learning rate as set now, not as fit's schedule left it.
            set_learning_rate(self._optimizer, self.learning_rate)
        # fit's guard: the noise-free loss of rows the network does not train
        # on (early stopping) or of the training rows, untrained and at the end.
        # (Not against regression targets that move with the dictionary: its
        # loss then compares with different codes at each epoch.)
        check_untrained = anneal and not (self.objective == "regression" and self._fit_dictionary)
        guard = None
        if early_stopping or check_untrained:
            guard_rows = (X_validation, y_validation) if early_stopping else (X, y)
            noise_free_loss = self._noise_free_loss_function(
                *guard_rows,
                dictionary,
                objective,
                device,
                dtype,
                targets=None if early_stopping else targets,
            )

            def guard():
                return noise_free_loss() * units

        self.validation_loss_curve_ = [] if early_stopping else None
        stopper = NoImprovementStopper(self.tol, patience)
        # (watched loss, epoch, snapshot of network and atoms); epoch 0: untrained.
        untrained = best = (math.inf, None, None)
        if check_untrained:
            untrained = (guard(), 0, self._snapshot(dictionary))
        for epoch in range(n_epochs):
            if anneal and not isinstance(self._optimizer, ArmijoDescent):
                rate = cosine_learning_rate(self.learning_rate, epoch, n_epochs)
                set_learning_rate(self._optimizer, rate)
            start = time.perf_counter()
            loss = self._train_epoch(X_tensor, y_tensor, dictionary, objective, targets, perturb)
            # (Checked in the internal units: times the scale squared, a huge
            # but finite loss could overflow.)
            if not (math.isfinite(loss) and self._state_is_finite(dictionary)):
                raise ValueError(
                    f"Training diverged (the loss became {loss}, or the network's "
                    f"weights non-finite) at epoch {self.n_iter_ + 1}; lower the "
                    f"'learning_rate' parameter (now {self.learning_rate}), or scale X."
                )
            loss *= units
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            watched = loss
            if early_stopping:
                watched = guard()
                if not math.isfinite(watched):
                    raise ValueError(
                        f"Training diverged (the validation loss became {watched}) at "
                        f"epoch {self.n_iter_}; lower the 'learning_rate' parameter (now "
                        f"{self.learning_rate}), or scale X."
                    )
                self.validation_loss_curve_.append(watched)
            if anneal and watched < best[0]:
                best = (watched, self.n_iter_, self._snapshot(dictionary))
            if self.verbose:
                shown = f", validation loss {watched:.6g}" if early_stopping else ""
                print(
                    f"[{type(self).__name__}] epoch {self.n_iter_}: loss {loss:.6g}{shown}, "
                    f"{time.perf_counter() - start:.2f} s"
                )
            if anneal and stopper.update(watched):
                if self.verbose:
                    print(
                        f"[{type(self).__name__}] no relative improvement of "
                        f"{self.tol} in {patience} epochs: stopping."
                    )
                break
        self.best_validation_loss_ = best[0] if early_stopping else None
        if anneal:
            self._keep_best(best, watched, untrained, guard, dictionary, early_stopping, units)
        self.components_ = to_numpy(dictionary, self.components_.dtype)

    def _keep_best(self, best, last, untrained, guard, dictionary, early_stopping, units):
        """End of ``fit``: restore the best epoch's network, or the untrained one.

        ``best`` and ``untrained`` are ``(loss, epoch, snapshot)``; ``last`` is
        the last epoch's watched loss; ``guard()`` the current network's
        noise-free loss. Warns (``ConvergenceWarning``) when training blew up
        or ended worse than the untrained network. ``units``: the losses' scale
        (the signal scale squared).
        """
        rise = last - best[0] if best[2] is not None else 0.0
        blew_up = rise > max(_BLOW_UP * abs(best[0]), 1e-12 * units)
        if blew_up or (early_stopping and best[1] != self.n_iter_):
            self._restore(best[2], dictionary)
        if blew_up:
            watched_name = "validation loss" if early_stopping else "training loss"
            warn(
                f"The {watched_name} rose from {best[0]:.4g} (epoch {best[1]}) to "
                f"{last:.4g} (epoch {self.n_iter_}): training blew up, and the "
                f"network of epoch {best[1]} was restored. Lower the 'learning_rate' "
                f"parameter (now {self.learning_rate}).",
                ConvergenceWarning,
            )
        if untrained[2] is None:
            return
        # Early stopping's best epoch is already the network's noise-free loss.
        final = best[0] if early_stopping else guard()
        if final > untrained[0] + _UNTRAINED_MARGIN * abs(untrained[0]):
            self._restore(untrained[2], dictionary)
            if early_stopping:
                self.best_validation_loss_ = untrained[0]
            warn(
                f"Training did not improve on the untrained network (noise-free loss "
                f"{untrained[0]:.4g}, after {self.n_iter_} epoch(s) {final:.4g}): the "
                "untrained network (a few iterations of its algorithm) was kept. Lower "
                f"the 'learning_rate' parameter (now {self.learning_rate}) or raise "
                f"'max_iter' (now {self.max_iter!r}: {self.max_iter_} epochs).",
                ConvergenceWarning,
            )

    def _state_is_finite(self, dictionary):
        """Whether the network's weights and the atoms are all finite."""
        tensors = [*self.network_.parameters(), dictionary]
        return all(bool(torch.isfinite(tensor).all()) for tensor in tensors)

    def _uses_early_stopping(self, n_samples):
        """``early_stopping`` resolved: ``"auto"`` is on when enough rows would be set aside."""
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        return self.validation_fraction * n_samples >= AUTO_EARLY_STOPPING_MIN_ROWS

    def _resolved_budget(self, n_train, early_stopping):
        """``(max_iter, n_iter_no_change)`` resolved for ``n_train`` training rows.

        ``"auto"``: the rule above; an explicit value is used as given.
        """
        steps_per_epoch = math.ceil(n_train / self.batch_size)
        max_iter, patience = AUTO_MAX_ITER, AUTO_PATIENCE
        minibatches = self.solver != "armijo"  # Armijo takes one full-batch step per epoch
        if early_stopping and minibatches and not self._fit_dictionary:
            max_iter = max(max_iter, math.ceil(AUTO_STEPS / steps_per_epoch))
            patience = max(patience, math.ceil(AUTO_PATIENCE_STEPS / steps_per_epoch))
        if self.max_iter != "auto":
            max_iter = self.max_iter
        if self.n_iter_no_change != "auto":
            patience = self.n_iter_no_change
        return max_iter, patience

    def _resolved_input_noise(self, n_samples):
        """``input_noise`` resolved for ``n_samples`` training rows ("auto": the rule above)."""
        if self.input_noise != "auto":
            return float(self.input_noise)
        return AUTO_NOISE * min(1.0, math.sqrt(AUTO_NOISE_ROWS / n_samples))

    def _validation_split(self, X, y, early_stopping):
        """``(X, y, X_validation, y_validation)``: rows set aside for early stopping.

        Without early stopping, all rows train and the validation ones are
        None (the random generator is then not drawn from: results stay as
        they were without the option).
        """
        if not early_stopping:
            return X, y, None, None
        n_samples = X.shape[0]
        n_validation = math.ceil(self.validation_fraction * n_samples)
        if n_validation >= n_samples:
            raise ValueError(
                f"early_stopping sets aside validation_fraction={self.validation_fraction} "
                f"of the n_samples={n_samples} rows, leaving none to train on; lower "
                "'validation_fraction' or pass more rows."
            )
        order = self._rng.permutation(n_samples)
        validation, training = np.sort(order[:n_validation]), np.sort(order[n_validation:])
        if y is None:
            return X[training], None, X[validation], None
        return X[training], y[training], X[validation], y[validation]

    def _noise_free_loss_function(self, X, y, dictionary, objective, device, dtype, *, targets):
        """A callable returning the mean training loss of the rows ``X`` (numpy).

        Noise-free, without gradients, in minibatches of ``batch_size`` (the
        similarity objective compares every pair of rows of a batch); the
        regression objective's exact codes (``targets`` when already solved)
        follow the dictionary when it moves.
        """
        X_tensor = to_tensor(X, device=device, dtype=dtype)
        y_tensor = None if y is None else to_tensor(y, device=device, dtype=dtype)
        if self.objective == "regression" and not self._fit_dictionary and targets is None:
            targets = self._exact_codes(X_tensor, dictionary, init=None)
        elif self._fit_dictionary:
            targets = None

        def noise_free_loss():
            total = 0.0
            with torch.no_grad():
                for start in range(0, X_tensor.shape[0], self.batch_size):
                    rows = slice(start, start + self.batch_size)
                    X_rows = X_tensor[rows]
                    y_rows = None if y_tensor is None else y_tensor[rows]
                    target_rows = None if targets is None else targets[rows]
                    loss, _ = self._batch_loss(X_rows, y_rows, dictionary, objective, target_rows)
                    total += float(loss) * X_rows.shape[0]
            return total / X_tensor.shape[0]

        return noise_free_loss

    def _snapshot(self, dictionary):
        """Copies of the network, the atoms, the optimizer's and the dictionary step's state.

        Cheap: the networks are small. Restoring all four lets a later
        ``partial_fit`` continue from the kept epoch, not from the discarded ones.
        """
        state = {key: value.detach().clone() for key, value in self.network_.state_dict().items()}
        if isinstance(self._optimizer, ArmijoDescent):
            optimizer = self._optimizer.step_size
        else:
            optimizer = copy.deepcopy(self._optimizer.state_dict())
        update = None
        if self._dictionary_update is not None:
            statistics = self._dictionary_update
            update = (statistics.A.clone(), statistics.B.clone(), statistics.n_steps)
        return state, dictionary.detach().clone(), optimizer, update

    def _restore(self, snapshot, dictionary):
        state, atoms, optimizer, update = snapshot
        self.network_.load_state_dict(state)
        dictionary.copy_(atoms)
        if isinstance(self._optimizer, ArmijoDescent):
            self._optimizer.step_size = optimizer
        else:  # a copy: the snapshot may be restored again
            self._optimizer.load_state_dict(copy.deepcopy(optimizer))
        if update is not None:
            statistics = self._dictionary_update
            statistics.A.copy_(update[0])
            statistics.B.copy_(update[1])
            statistics.n_steps = update[2]

    def _input_perturbation(self, X, X_tensor):
        """``input_noise``'s perturbation of training signals (a callable), or None.

        The noise's standard deviation is ``input_noise`` times the root mean
        square of ``X``; its generator is seeded from ``random_state`` (drawn
        only when there is noise, so noise-free training is unchanged).
        """
        if self.input_noise_ == 0:
            return None
        scale = self.input_noise_ * math.sqrt(float(np.mean(np.square(X, dtype=np.float64))))
        generator = torch.Generator(device=X_tensor.device)
        generator.manual_seed(int(self._rng.randint(np.iinfo(np.int32).max)))

        def perturb(rows):
            noise = torch.randn(
                rows.shape, generator=generator, device=rows.device, dtype=rows.dtype
            )
            return rows + scale * noise

        return perturb

    def _batch_loss(self, X, y, dictionary, objective, targets):
        """``(mean loss, codes)`` of the rows ``X`` (targets: regression's exact codes).

        Regression without ``targets`` (the dictionary moves) solves for the
        current dictionary's exact codes, warm-started from the network's.
        """
        code = self.network_(X)
        if self.objective != "regression":
            return objective(X, code, dictionary, y).mean(), code
        if targets is None:
            targets = self._exact_codes(X, dictionary, init=code.detach())
        return (code - targets).pow(2).sum(dim=1).mean(), code

    def _train_epoch(self, X, y, dictionary, objective, targets, perturb=None):
        """One epoch (one step for Armijo); returns the mean training loss.

        ``perturb`` (from :meth:`_input_perturbation`) adds fresh noise to each
        minibatch; Armijo's line search sees one noisy copy for its whole step.
        """
        network = self.network_
        last_code = {}
        if perturb is not None and isinstance(self._optimizer, ArmijoDescent):
            X, perturb = perturb(X), None

        def loss_of(rows):
            X_rows = X if rows is None else X[rows]
            if perturb is not None:
                X_rows = perturb(X_rows)
            y_rows = y if (y is None or rows is None) else y[rows]
            target_rows = targets if (targets is None or rows is None) else targets[rows]
            loss, code = self._batch_loss(X_rows, y_rows, dictionary, objective, target_rows)
            last_code["value"] = code.detach()
            last_code["signals"] = X_rows
            return loss

        def dictionary_step(rows):
            # The signals the codes were computed from (noisy under input_noise).
            self._dictionary_update.step(dictionary, last_code["signals"], last_code["value"])
            network.set_dictionary(dictionary)

        after_step = dictionary_step if self._fit_dictionary else None
        if isinstance(self._optimizer, ArmijoDescent):
            loss = self._optimizer.step(lambda: loss_of(None))
            if after_step is not None:
                with torch.no_grad():
                    last_code["value"], last_code["signals"] = network(X), X
                after_step(None)
            return loss
        return minibatch_epoch(
            loss_of,
            X.shape[0],
            batch_size=self.batch_size,
            optimizer=self._optimizer,
            rng=self._rng,
            device=X.device,
            after_step=after_step,
        )

    # ------------------------------------------------------------ inference
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

    def _encode(self, X):
        """Codes of validated ``X`` in bounded-memory batches, in ``X``'s dtype."""
        code = np.empty((X.shape[0], self.components_.shape[0]), dtype=X.dtype)
        for rows, batch_code, _ in self._encoded_batches(X):
            if batch_code.device.type != "cpu":
                # Converted on the device (bfloat16 networks): a copy to
                # the host of another dtype converts there, in a temporary.
                batch_code = batch_code.to(torch_dtype(X.dtype))
            # Straight into the output: no host tensor in between (a copy
            # through one costs several times more, most on a GPU).
            torch.from_numpy(code[rows]).copy_(batch_code)
        return code

    def _encoded_batches(self, X, *, with_objective=False):
        """Yield ``(rows, codes, objective)`` for bounded-memory batches of validated ``X``.

        ``codes`` is a tensor on the device, in the network's dtype and the
        units of ``X``; ``objective`` (None without ``with_objective``) the
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
        compiled = self.transform_compile and network is not self._transform_module[2]
        elements = _TRANSFORM_BATCH_ELEMENTS[device.type]
        batch_size = max(1, elements // (self.components_.shape[0] + X.shape[1]))
        if with_objective:
            dictionary = to_tensor(self.components_, device=device, dtype=torch.float64)
            batch_is_exact = dtype in (torch.float64, torch_dtype(X.dtype))
            per_sample = self._objective(device, torch.float64)
        scale = self.signal_scale_  # the network codes X / scale (exact: a power of two)
        with torch.inference_mode():
            for start in range(0, X.shape[0], batch_size):
                rows = slice(start, start + batch_size)
                batch = to_tensor(X[rows], device=device, dtype=dtype)
                if scale != 1.0:
                    batch.div_(scale)
                try:
                    batch_code = network(batch)
                except Exception as error:
                    if not compiled:
                        raise
                    network, compiled = self._compile_failed(error), False
                    batch_code = network(batch)
                if not bool(torch.isfinite(batch_code).all()):
                    self._raise_non_finite(X, "codes")
                values = None
                if with_objective:
                    # The objective of the signals as given, not as rounded for
                    # the network (bfloat16, or float64 rows in a float32 one).
                    signals = batch.double()
                    if not batch_is_exact:
                        signals = to_tensor(X[rows], device=device, dtype=torch.float64) / scale
                    values = per_sample(signals, batch_code.double(), dictionary)
                    values = to_numpy(values, np.float64) * (scale * scale)
                    if not np.all(np.isfinite(values)):
                        self._raise_non_finite(X, "objective")
                if scale != 1.0:
                    batch_code = batch_code * scale
                yield rows, batch_code, values
                if self.verbose and X.shape[0] > batch_size:  # progress of long transforms
                    done = min(start + batch_size, X.shape[0])
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
            if cached is None or cached[0] != key:
                if rounded and self.transform_dtype == "bfloat16":
                    self._warn_if_bfloat16_is_emulated(tensors[0].device)
                # A rounded copy: the fitted network keeps its precision.
                module = copy.deepcopy(network).to(torch.bfloat16) if rounded else network
                # Compiled by its first call; a new batch shape (the last,
                # shorter batch) compiles once more, with dynamic shapes.
                runner = torch.compile(module) if self.transform_compile else module
                cached = (key, runner, module, versions)
            elif cached[3] != versions:
                module = cached[2]
                for target, source in zip(
                    [*module.parameters(), *module.buffers()], tensors, strict=True
                ):
                    target.copy_(source)
                cached = (*cached[:3], versions)
        self._transform_module = cached
        return cached[1], torch.bfloat16 if rounded else dtype

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
        dictionary = to_tensor(self.components_, device=device, dtype=torch.float64)
        per_sample = self._objective(device, torch.float64)
        results = []
        with torch.inference_mode():
            for module, inputs in ((network, signals), (rounded, signals.to(torch.bfloat16))):
                module(inputs)  # warm-up: kernels chosen, caches filled
                times = []
                for _ in range(5):
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    start = time.perf_counter()
                    code = module(inputs)
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    times.append(time.perf_counter() - start)
                value = float(per_sample(signals.double(), code.double(), dictionary).mean())
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
        key, _, eager, versions = self._transform_module
        self._transform_module = (key, eager, eager, versions)
        return eager

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        # A copy: object.__getstate__ may return the live __dict__ itself.
        state = dict(super().__getstate__())
        for key in _TRANSIENT_STATE:
            state.pop(key, None)
        # Numpy arrays and plain values only: loading runs no torch.load.
        return plain_torch_state(state)

    def __setstate__(self, state):
        # Rebuilt on the CPU: the next fit or transform moves it to `device`.
        super().__setstate__(restore_torch_state(dict(state)))
