"""The bases of the learned encoders: the scikit-learn surface, set-up, pickling.

A concrete encoder says which penalty it minimises with: the objective,
the network of its ``architecture`` and the exact codes follow. The rest
lives once: ``LearnedEncoderBase`` codes, scores and pickles (inference itself,
devices, batches, precision and compilation, in ``_inference.py``), and
``BaseLearnedEncoder`` adds the offline encoders' parameters, ``fit`` and
``partial_fit`` (the training loop in ``_trainer.py``).
:class:`~sklearn_lsc.OnlineSparseModeler` trains on its own and builds on
``LearnedEncoderBase`` only.
"""

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _noise_choice, solvers
from ._dictionary import (
    OnlineDictionaryUpdate,
    check_nonnegative_atoms,
    init_dictionary_from_samples,
)
from ._docstrings import fill_doc
from ._documentation import DocumentationLinkMixin
from ._inference import InferenceMixin
from ._networks import REGISTRY
from ._objectives import sparse_coding_loss
from ._persistence import plain_torch_state, restore_torch_state
from ._scale import signal_scale, typical_atom_scale, warn_if_codes_vanish
from ._sets import check_constant_within_sets, check_sets
from ._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
)
from ._step_scaling import choose_norm_floor, rows_tried
from ._structure_check import check_structure_unchanged, record_structure
from ._torch_utils import (
    all_finite,
    resolve_device,
    to_tensor,
    torch_dtype,
)
from ._trainer import TrainerMixin
from ._training import (
    ArmijoDescent,
    make_optimizer,
)
from ._transaction import transactional
from ._validation import check_dictionary


class TorchEncoding(NamedTuple):
    """A fitted encoder seen from torch, in the units of the signals as given.

    ``dtype``: the network's; ``parameters``: the network's (to train them
    further); ``code(X)``: codes of a tensor of signals (differentiable);
    ``objective(X, code, dictionary)``: the per-sample objective, whose
    mean over rows is minus :meth:`score`.
    """

    dtype: torch.dtype
    parameters: list
    code: Callable
    objective: Callable


# Parameters added after models were first saved, with the default that
# reproduces the older models (set when such a model is loaded).
_PARAMETERS_SINCE = {"positive": False, "positive_dict": False}

# Exact codes used as regression targets are solved to this accuracy.
TARGET_TOL = 1e-6
TARGET_MAX_ITER = 1000

# Rebuilt when needed, never pickled: transform's bfloat16 copy or compiled
# network, and transform_dtype="auto"'s choices (measured on this machine).
_TRANSIENT_STATE = ("_transform_module", "_auto_precision")


@fill_doc
class LearnedEncoderBase(
    DocumentationLinkMixin,
    InferenceMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """What every learned encoder has once it has a network: coding, scoring, pickling.

    The offline encoders add training (:class:`BaseLearnedEncoder`);
    :class:`~sklearn_lsc.OnlineSparseModeler` adds its own stream training.
    """

    _TRANSIENT_STATE = _TRANSIENT_STATE

    # The parameters every learned encoder has, offline or online.
    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "positive": ["boolean"],
        "positive_dict": ["boolean"],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "transform_dtype": [StrOptions({"bfloat16", "auto"}), None],
        "transform_compile": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------------- hooks
    def _penalty(self, device, dtype):
        """The penalty (one of :mod:`._penalties`) in the units of ``X / signal_scale_``.

        The one hook a model defines: the objective, the network and the
        exact codes follow from it.
        """
        raise NotImplementedError

    def _architecture_name(self):
        """The registry name of the network to build."""
        return self.architecture

    def _objective(self, device, dtype):
        """The per-sample objective ``f(X, code, dictionary, sets=None)`` (torch), differentiable.

        Built once for ``device`` and ``dtype`` (its constant tensors live
        there), then called on every batch; ``sets``: the rows' compact set
        labels (collaborative HiLasso), each set's group term shared among
        its rows.
        """
        penalty = self._penalty(device, dtype)

        def objective(X, code, dictionary, sets=None):
            return sparse_coding_loss(X, code, dictionary, penalty.with_sets(sets))

        return objective

    def _training_objective(self, device, dtype):
        """The per-sample training loss ``loss(X, code, dictionary, y, sets=None)`` (torch).

        ``y`` holds the training rows' targets from :meth:`_check_training_y`
        (None when there are none). By default: the objective, ignoring ``y``.
        """
        objective = self._objective(device, dtype)
        return lambda X, code, dictionary, y, sets=None: objective(X, code, dictionary, sets)

    def _check_structure(self, n_components):
        """Validate and store what depends on the number of atoms (groups)."""

    def _check_sets(self, sets, n_samples):
        """Validated set labels (an int64 array) or None; refused where they cannot apply.

        Sets couple the rows of a set through the group shrink: only networks
        that shrink groups (``"bcofb"``, ``"ista"``) code them jointly.
        """
        labels = check_sets(sets, n_samples)
        if labels is None:
            return None
        if not getattr(REGISTRY[self._architecture_name()], "needs_groups", False):
            raise ValueError(
                f"The 'sets' parameter needs architecture='bcofb' or 'ista' (networks whose "
                f"group shrink couples the rows of a set); got {self.architecture!r}."
            )
        return labels

    def _build_network(self, dictionary):
        """A fresh network initialized from ``dictionary`` (a tensor), given the whole penalty.

        With the ISTA steps per atom of ``norm_floor_`` where the fit chose them.
        """
        penalty = self._penalty(dictionary.device, dictionary.dtype)
        network_class = REGISTRY[self._architecture_name()]
        options = {}
        if getattr(self, "norm_floor_", None) is not None:
            options["norm_floor"] = self.norm_floor_
        return network_class(dictionary, penalty, self.n_layers, **options)

    def _choose_norm_floor(self, X, dictionary):
        """``norm_floor_`` for a fresh network on ``dictionary`` (see :mod:`._step_scaling`).

        None where the network starts from one step for every atom: atoms of
        equal norms, a network without per-atom steps, a penalty with groups.
        """
        network_class = REGISTRY[self._architecture_name()]
        if not getattr(network_class, "per_atom_steps", False):
            return None
        penalty = self._penalty(dictionary.device, dictionary.dtype)
        if penalty.grouped:
            return None
        rows = to_tensor(rows_tried(X), device=dictionary.device, dtype=dictionary.dtype)
        return choose_norm_floor(rows / self.signal_scale_, dictionary, penalty, self.n_layers)

    # ------------------------------------------------------------ units
    # Inside, everything works on the equivalent problem of ``X / signal_scale_``
    # with ``alpha / signal_scale_``: its codes are the original's divided by
    # the scale and its objective the original's divided by the scale squared.
    # The objectives, networks and exact codes of the hooks are in those units.
    def _scaled_alpha(self):
        return self.alpha / self.signal_scale_

    def _network_codes(self, X, sets=None, network=None):
        """``network`` (the fitted one when None) applied to ``X``, with ``sets`` when given."""
        network = self.network_ if network is None else network
        return network(X) if sets is None else network(X, sets=sets)

    def _codes_in_signal_units(self, X, network=None):
        """Codes of ``X`` (a tensor of signals as given) by ``network``, as given too."""
        network = self.network_ if network is None else network
        scale = self.signal_scale_
        return network(X) if scale == 1.0 else network(X / scale) * scale

    def _torch_encoding(self, device, objective_device=None, objective_dtype=None):
        """The seam to this fitted encoder for the package's torch-level code.

        The metric learner and the classifiers' batched objectives use it (and
        nothing else of an encoder's internals): the encoder's network moved
        to ``device``, and a :class:`TorchEncoding` in the units of the
        signals as given, its objective's constants on ``objective_device``
        in ``objective_dtype`` (the network's device and dtype when None).
        """
        self._move_to(device)
        dtype = self._network_dtype()
        objective = self._objective_in_signal_units(
            device if objective_device is None else objective_device, objective_dtype or dtype
        )
        return TorchEncoding(
            dtype=dtype,
            parameters=list(self.network_.parameters()),
            code=self._codes_in_signal_units,
            objective=objective,
        )

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

    def transform(self, X):
        """Compute the sparse codes of ``X`` with the trained network.

        %(signal_parameters)s

        Returns
        -------
        code : ndarray of shape (n_samples, n_components)
            The codes, in the dtype of ``X`` (float32 or float64).
        """
        return self._transform(X)

    def _transform(self, X, sets=None):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._encode(X, self._check_sets(sets, X.shape[0]))

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

        %(signal_parameters)s

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64
            Minus each row's objective: higher is better.
        """
        return self._score_samples(X)

    def _score_samples(self, X, sets=None):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        labels = self._check_sets(sets, X.shape[0])
        scores = np.empty(X.shape[0])
        for rows, _, values in self._encoded_batches(X, with_objective=True, labels=labels):
            scores[rows] = -values
        return scores

    def score(self, X, y=None):
        """Return minus the mean objective of the network's codes of ``X``.

        Higher is better. It compares encoders of one problem (the same
        ``alpha``, dictionary and groups): depths, architectures, training
        settings. It does not compare values of ``alpha``, whose optimal
        objective grows with ``alpha``; the scorers of
        ``sklearn_lsc.metrics`` do (see the user guide's "Model
        selection").

        %(signal_parameters)s

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Minus the mean objective.
        """
        return self._score(X)

    def _score(self, X, sets=None):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        labels = self._check_sets(sets, X.shape[0])
        # Batch by batch, keeping no codes: memory bounded whatever the rows.
        batches = self._encoded_batches(X, with_objective=True, labels=labels)
        total = math.fsum(float(values.sum()) for _, _, values in batches)
        return -total / X.shape[0]

    def _warn_if_codes_vanish(self, X, dictionary, labels=None):
        """Warn when ``alpha`` zeroes every optimal code of the training rows.

        ``labels``: the rows' sets (collaborative HiLasso), or None.
        """
        warn_if_codes_vanish(self, X, dictionary)

    def _state_is_finite(self, dictionary):
        """Whether the network's weights and the atoms are all finite."""
        tensors = [*self.network_.parameters(), dictionary]
        return all(all_finite(tensor) for tensor in tensors)

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
        state = restore_torch_state(dict(state))
        # Saved before the parameters existed: their defaults, what they did then.
        for name, default in _PARAMETERS_SINCE.items():
            state.setdefault(name, default)
        if "network_" in state:  # fitted before the steps per atom: ISTA's 1 / L
            state.setdefault("norm_floor_", None)
        super().__setstate__(state)


class BaseLearnedEncoder(TrainerMixin, LearnedEncoderBase):
    """The offline encoders: their parameters, ``fit``, ``partial_fit`` and set-up."""

    # Parameters that shape the fitted model: changing one after fitting needs
    # a new fit (partial_fit refuses to continue).
    _STRUCTURAL_PARAMS = (
        "n_components",
        "dictionary",
        "fit_dictionary",
        "positive",
        "positive_dict",
        "architecture",
        "n_layers",
        "solver",
    )

    _parameter_constraints: dict = {
        **LearnedEncoderBase._parameter_constraints,
        "dictionary": ["array-like", None],
        "fit_dictionary": ["boolean", StrOptions({"auto"})],
        "solver": [StrOptions({"adam", "sgd", "armijo"})],
        "input_noise": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    }

    # ------------------------------------------------------ training hooks
    def _check_training_y(self, y, n_samples, n_components, *, first_call=True):
        """Validated training targets as an array, or None when ``y`` is not used.

        ``first_call``: ``fit``, or the first ``partial_fit`` (later chunks of
        a stream may be partial, e.g. hold a single class).
        """
        return None

    def _exact_codes(self, X, dictionary, init, sets=None):
        """Exact codes of ``X`` (tensors), the targets of ``objective="regression"``."""
        penalty = self._penalty(X.device, X.dtype).with_sets(sets)
        with torch.no_grad():
            code, _ = solvers._solve(
                X, dictionary, penalty, "fista", TARGET_MAX_ITER, TARGET_TOL, init
            )
        return code

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
        return self._fit(X, y)

    def _fit(self, X, y, sets=None):
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        labels = self._check_sets(sets, X.shape[0])
        y = self._check_training_y(y, X.shape[0], self._n_components_for(X))
        check_constant_within_sets(y, labels)
        self._fit_network(X, y, labels)
        return self

    def _fit_network(self, X, y, labels, **initialize):
        """A fresh network (and dictionary) trained on validated ``X``.

        ``initialize``: keyword arguments of :meth:`_initialize`. With
        ``input_noise="auto"``, a fit the noise stalled trains again without
        it (:mod:`sklearn_lsc._noise_choice`).
        """

        def train(seed, input_noise):
            self._initialize(X, labels, **{**initialize, "seed": seed})
            return self._train(
                X, y, n_epochs=None, anneal=True, labels=labels, input_noise=input_noise
            )

        _noise_choice.fit(self, X.shape[0], train, initialize.get("seed"))

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=True)
    def partial_fit(self, X, y=None):
        """One pass of minibatch training over ``X``.

        The first call initializes the dictionary and the network from ``X``;
        later calls continue training them at the current ``learning_rate``
        (constant: no annealing schedule). A pass that leaves the chunk's
        loss far above both its loss before the pass and the untrained
        network's, or (the sparse-coding objective on a given dictionary)
        their excess over the chunk's optimum, is undone with a
        ``ConvergenceWarning`` (see the User
        Guide's "When training goes wrong").

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training signals, one per row.

        y : array-like, default=None
            The chunk's targets, for the supervised objectives (as in
            :meth:`fit`).

        Returns
        -------
        self : object
            The updated encoder.
        """
        return self._partial_fit(X, y)

    def _partial_fit(self, X, y, sets=None):
        first_call = not hasattr(self, "network_")
        if not first_call:
            check_structure_unchanged(self)
        X = validate_data(self, X, reset=first_call, dtype=[np.float64, np.float32])
        labels = self._check_sets(sets, X.shape[0])
        n_components = self._n_components_for(X) if first_call else self.components_.shape[0]
        y = self._check_training_y(y, X.shape[0], n_components, first_call=first_call)
        check_constant_within_sets(y, labels)
        if first_call:
            self._initialize(X, labels)
        self._train(X, y, n_epochs=1, anneal=False, labels=labels)
        return self

    # ------------------------------------------------------------- training
    def _n_components_for(self, X):
        """The number of atoms a fit on ``X`` will have (before any validation)."""
        if self.n_components is not None:
            return self.n_components
        if self.dictionary is not None:
            return np.shape(self.dictionary)[0]
        return X.shape[1]

    def _learns_dictionary(self):
        """``fit_dictionary`` resolved: ``"auto"`` learns when no dictionary is given."""
        if self.fit_dictionary == "auto":
            return self.dictionary is None
        return bool(self.fit_dictionary)

    def _initialize(self, X, labels=None, *, seed=None):
        """Fresh dictionary, network, optimizer and history for the data ``X``.

        ``labels``: the rows' sets (collaborative HiLasso), or None. ``seed``:
        an int drawn from instead of ``random_state`` (None: ``random_state``).
        """
        device = resolve_device(self.device)
        dtype = torch_dtype(X.dtype)
        self._rng = check_random_state(self.random_state if seed is None else seed)
        if self.dictionary is None:
            dictionary = init_dictionary_from_samples(
                X, self._n_components_for(X), self._rng, positive=self.positive_dict
            )
        else:
            dictionary = check_dictionary(
                self.dictionary,
                n_features=X.shape[1],
                n_components=self.n_components,
                dtype=X.dtype,
            )
        self._fit_dictionary = self._learns_dictionary()
        if self._fit_dictionary and self.positive_dict:
            check_nonnegative_atoms(dictionary, "dictionary")
        self._check_structure(dictionary.shape[0])
        self._warn_if_codes_vanish(X, dictionary, labels)
        self.signal_scale_ = signal_scale(X)
        self.components_ = dictionary
        atoms = to_tensor(dictionary, device=device, dtype=dtype)
        self.norm_floor_ = self._choose_norm_floor(X, atoms)
        self.network_ = self._build_network(atoms)
        if self.solver == "armijo":
            self._optimizer = ArmijoDescent(self.network_.parameters(), self.learning_rate)
        else:
            # The rates follow a fixed dictionary's scale; a learned one's atoms
            # are projected onto the unit ball from the first step on.
            scale = 1.0 if self._fit_dictionary else typical_atom_scale(dictionary)
            self._optimizer = make_optimizer(
                self.solver, self.network_, self.learning_rate, atom_scale=scale
            )
        self._dictionary_update = None
        if self._fit_dictionary:
            self._dictionary_update = OnlineDictionaryUpdate(
                *dictionary.shape, dtype=dtype, device=device, positive=self.positive_dict
            )
        self.loss_curve_ = []
        self.n_iter_ = 0
        # Made or measured for the previous network.
        self.__dict__.pop("_auto_precision", None)
        self.__dict__.pop("_transform_module", None)
        record_structure(self)
