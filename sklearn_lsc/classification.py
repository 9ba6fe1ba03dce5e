"""Classifiers built on sparse coding: one model per class, or one group per class."""

import numbers

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseLearnedEncoder
from ._docstrings import fill_doc
from ._documentation import DocumentationLinkMixin
from ._metric import MetricLearner, projected_objectives
from ._networks import STRUCTURED_NETWORKS
from ._scale import typical_row_norm
from ._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ._temperature import append_to_window, class_probabilities, fit_temperature
from ._transaction import transactional
from .encoders import LearnedHiLassoEncoder, LearnedLassoEncoder

__all__ = ["SparseCodingClassifier", "StructuredSparseClassifier"]

# The classifiers' default penalties, relative to the training rows' typical
# norm (on rows of unit norm, the structured classifier's former absolute
# defaults; the sparse-coding one's encoder had alpha=1.0). Of the factors
# measured (benchmark_history.rst, "Classifiers on data of any scale"), the
# sparse-coding classifier's best on the digits and group-sparse signals; for
# the structured one a compromise: the digits prefer a larger factor, the
# group-sparse signals and their two-source mixtures a smaller one.
_RELATIVE_PENALTY = 0.1


def class_objectives(encoders, X):
    """``(n_samples, n_classes)``: each class's encoder's objective of its codes of ``X``."""
    return -np.stack([encoder.score_samples(X) for encoder in encoders], 1)


def _check_labels(estimator, X, y, *, reset):
    X, y = validate_data(estimator, X, y, reset=reset, dtype=[np.float64, np.float32])
    check_classification_targets(y)
    return X, y


def _check_class_sizes(template, X, y_index, classes):
    """Each class needs as many rows as the atoms its dictionary is drawn from."""
    if getattr(template, "dictionary", None) is not None:
        return
    # (Atoms drawn from the rows: n_components of them, one per feature by default.)
    n_atoms = template.n_components if template.n_components is not None else X.shape[1]
    counts = np.bincount(y_index, minlength=classes.size)
    small = np.flatnonzero(counts < n_atoms)
    if small.size:
        raise ValueError(
            f"Class {classes.tolist()[small[0]]!r} has {counts[small[0]]} rows, fewer than the "
            f"{n_atoms} atoms its dictionary is initialized from (n_components): give "
            "each class more rows or use fewer atoms."
        )


def relative_penalty(X):
    """A penalty weight ``"auto"`` gives on training rows ``X``: a fraction of their norm."""
    return _RELATIVE_PENALTY * typical_row_norm(X)


def _fit_encoder(encoder, X):
    return encoder.fit(X)


def _two_class_convention(scores):
    """Per-class scores as ``decision_function`` returns them.

    With two classes, scikit-learn's convention: one column, the second
    class's score minus the first's.
    """
    return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores


@fill_doc
class _SparseClassifier(DocumentationLinkMixin, ClassifierMixin, BaseEstimator):
    """What the sparse-coding classifiers share: their tags and ``score``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Both model classes as unions of subspaces: on low-dimensional blobs
        # (the common checks' data) every class's atoms span the whole space.
        tags.classifier_tags.poor_score = True
        return tags

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy of ``predict(X)`` against ``y``.

        %(classify_parameters)s

        y : array-like of shape (n_samples,)
            True labels.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
            The (weighted) fraction of correctly classified samples.
        """
        return super().score(X, y, sample_weight=sample_weight)


@fill_doc
class SparseCodingClassifier(_SparseClassifier):
    """Classify by which class's sparse model codes a sample best.

    One encoder (and its dictionary) is trained per class, on that class's
    rows; a sample goes to the class whose encoder codes it with the smallest
    objective (Sprechmann, Bronstein & Sapiro 2012, Section 5.1). With learned
    encoders, prediction costs a few matrix products per class.

    Read more in the :ref:`User Guide <supervised_models>`.

    Parameters
    ----------
    encoder : LearnedLassoEncoder or LearnedHiLassoEncoder, default=None
        The unfitted encoder cloned once per class; its dictionary is learned
        on that class's rows (leave its ``dictionary`` None, or give an
        initial one with ``fit_dictionary=True``; a fixed dictionary, shared
        by every class, is refused). None: ``LearnedLassoEncoder`` with
        ``alpha`` 0.1 times the typical norm of the training rows (the median
        norm of the nonzero rows of ``fit``'s ``X``, or of ``partial_fit``'s
        first), so that data of any scale are coded alike; each of
        ``encoders_`` holds the value. A given encoder's parameters tune as
        ``encoder__alpha``.

    metric : {"euclidean", "mahalanobis"}, default="euclidean"
        The fitting term of every class's objective. ``"mahalanobis"``:
        ``0.5 ||Q (x - z D)||^2`` with a projection ``Q`` shared by all
        classes, learned after the encoders, jointly with their networks, so
        that the fitting term separates the classes: per training row, the
        true class's objective plus a hinge on its lead over the best wrong
        class (``margin``). ``Q`` keeps the Frobenius norm of the identity.

    margin : float, default=1.0
        Lead of the true class's objective that ``metric="mahalanobis"``
        asks for.

    metric_max_iter : int, default=30
        Epochs of the joint training of ``Q`` and the networks (``fit``;
        ``partial_fit`` runs one per call once every class has rows). It
        uses the encoder's ``learning_rate``, ``batch_size``, ``device`` and
        ``random_state``.

    n_jobs : int, default=None
        Classes train in parallel with joblib (so joblib's dask or ray
        backends spread them over a cluster). Results are the same for any
        ``n_jobs`` when the encoder's ``random_state`` is fixed.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (any label type).

    encoders_ : list of encoders
        The fitted encoder of each class, in the order of ``classes_``.

    projection_ : ndarray of shape (n_features, n_features)
        The learned ``Q`` (only with ``metric="mahalanobis"``).

    metric_loss_curve_ : list of float
        Mean loss of each epoch of the joint training (only with
        ``metric="mahalanobis"``).

    temperature_ : float
        The temperature of :meth:`predict_proba`, in the objectives' units
        (the signals' squared): the ``T`` whose ``softmax(-objectives / T)``
        has the smallest log loss on the training rows, toward targets after
        Platt's (of ``n`` rows, each aims at ``1 - 1 / (n + 2)`` for its
        class), so that separable training rows still give a finite
        temperature. ``partial_fit`` (once every class has had rows) fits it
        on the objectives of the latest 2,000 rows it was given, each as the
        models gave it then. The models trained on these rows: on unseen
        rows their objectives are somewhat higher, and probabilities
        fitted on separable training rows may be overconfident.

    %(feature_attributes)s

    See Also
    --------
    StructuredSparseClassifier : One structured dictionary, a group per class.

    References
    ----------
    %(sprechmann_2012)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_lsc import LearnedLassoEncoder, SparseCodingClassifier
    >>> X, y = load_digits(n_class=3, return_X_y=True)
    >>> X = X / 16.0
    >>> classifier = SparseCodingClassifier(
    ...     LearnedLassoEncoder(n_components=16, alpha=0.1, max_iter=10, random_state=0)
    ... ).fit(X[::2], y[::2])
    >>> float(classifier.score(X[1::2], y[1::2])) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "encoder": [HasMethods(["fit", "partial_fit", "transform"]), None],
        "metric": [StrOptions({"euclidean", "mahalanobis"})],
        "margin": [Interval(numbers.Real, 0, None, closed="left")],
        "metric_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self, encoder=None, *, metric="euclidean", margin=1.0, metric_max_iter=30, n_jobs=None
    ):
        self.encoder = encoder
        self.metric = metric
        self.margin = margin
        self.metric_max_iter = metric_max_iter
        self.n_jobs = n_jobs

    def _template(self, X=None):
        """The encoder each class clones; with ``encoder=None``, its ``alpha`` from
        the training rows ``X`` (where given: the first rows the classifier sees)."""
        if self.encoder is None:
            template = LearnedLassoEncoder(**({} if X is None else {"alpha": relative_penalty(X)}))
        else:
            template = self.encoder
        if not isinstance(template, BaseLearnedEncoder):
            raise TypeError(
                "The 'encoder' parameter must be a LearnedLassoEncoder or a "
                f"LearnedHiLassoEncoder; got {type(template).__name__}."
            )
        fit_dictionary = template.fit_dictionary
        fixed = isinstance(fit_dictionary, str) or not fit_dictionary  # "auto" keeps it fixed
        if template.dictionary is not None and fixed:
            raise ValueError(
                "The 'encoder' parameter has a fixed dictionary (its 'dictionary' given, "
                f"fit_dictionary={template.fit_dictionary!r}): every class would share it, and "
                "the classes would differ only by their networks' errors. Leave its dictionary "
                "None to learn one per class, or set fit_dictionary=True to adapt the given one "
                "on each class's rows."
            )
        return template

    @_fit_context(prefer_skip_nested_validation=False)
    @transactional(copy_state=False)
    def fit(self, X, y):
        """Train one encoder per class on that class's rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals.

        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self._template()  # a wrong encoder is refused before X is read
        X, y = _check_labels(self, X, y, reset=True)
        template = self._template(X)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"SparseCodingClassifier needs at least two classes; y has {classes.size} class."
            )
        _check_class_sizes(template, X, y_index, classes)
        encoders = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_encoder)(clone(template), X[y_index == k]) for k in range(classes.size)
        )
        self.classes_ = classes
        self.encoders_ = encoders
        for stale in ("projection_", "metric_loss_curve_"):
            self.__dict__.pop(stale, None)
        if self.metric == "mahalanobis":
            self.projection_, self.metric_loss_curve_ = None, []
            self._learn_metric(X, y_index, n_epochs=self.metric_max_iter)
        objectives = self._class_objectives(X)
        self.temperature_ = fit_temperature(objectives, y_index)
        self._temperature_window = append_to_window(None, objectives, y_index)
        return self

    def _learn_metric(self, X, y_index, *, n_epochs):
        template = self._template()
        learner = MetricLearner(
            self.encoders_,
            getattr(self, "projection_", None),
            margin=self.margin,
            learning_rate=template.learning_rate,
            batch_size=template.batch_size,
            device=template.device,
            random_state=check_random_state(template.random_state),
        )
        for _ in range(n_epochs):
            self.metric_loss_curve_.append(learner.epoch(X, y_index))
        self.projection_ = learner.result()

    @_fit_context(prefer_skip_nested_validation=False)
    @transactional(copy_state=True)
    def partial_fit(self, X, y, classes=None):
        """One pass of training of each class's encoder on its rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals.

        y : array-like of shape (n_samples,)
            Class labels, all in ``classes``.

        classes : array-like of shape (n_classes,), default=None
            Every class of the stream: required on the first call, ignored
            (but checked, when given) later.

        Returns
        -------
        self : object
            The updated classifier.
        """
        first_call = not hasattr(self, "classes_")
        self._template()  # a wrong encoder is refused before X is read
        if first_call and classes is None:
            raise ValueError("The first call to partial_fit needs 'classes'.")
        X, y = _check_labels(self, X, y, reset=first_call)
        template = self._template(X if first_call else None)
        if first_call:
            classes = np.unique(np.asarray(classes))
            if classes.size < 2:
                raise ValueError(
                    "SparseCodingClassifier needs at least two classes; 'classes' has "
                    f"{classes.size} class."
                )
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"'classes' changed: {np.unique(classes).tolist()} is not the first "
                f"call's {self.classes_.tolist()}."
            )
        known = self.classes_ if not first_call else classes
        unknown = np.setdiff1d(np.unique(y), known)
        if unknown.size:
            raise ValueError(f"y has labels not in 'classes': {unknown[:10].tolist()}.")
        if first_call:
            self.classes_ = classes
            self.encoders_ = [clone(template) for _ in classes]
        for k, label in enumerate(self.classes_):
            rows = y == label
            if rows.any():
                self.encoders_[k].partial_fit(X[rows])
        if self.metric == "mahalanobis" and first_call:
            self.projection_, self.metric_loss_curve_ = None, []
        if all(hasattr(encoder, "components_") for encoder in self.encoders_):
            y_index = np.searchsorted(self.classes_, y)
            if self.metric == "mahalanobis":
                self._learn_metric(X, y_index, n_epochs=1)
            window = append_to_window(
                getattr(self, "_temperature_window", None), self._class_objectives(X), y_index
            )
            self.temperature_ = fit_temperature(*window)
            self._temperature_window = window
        return self

    def _objectives(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        unseen = [
            label
            for label, encoder in zip(self.classes_, self.encoders_, strict=True)
            if not hasattr(encoder, "components_")
        ]
        if unseen:
            raise NotFittedError(
                f"Classes {unseen[:10]} have had no training rows yet: call partial_fit "
                "with rows of every class before predicting."
            )
        return self._class_objectives(X)

    def _class_objectives(self, X):
        """Each class's objective of validated ``X``, (n_samples, n_classes)."""
        if getattr(self, "projection_", None) is not None:
            return projected_objectives(self.encoders_, X, self.projection_)
        return class_objectives(self.encoders_, X)

    def decision_function(self, X):
        """Return minus each class's objective of ``X``: higher is more likely.

        %(classify_parameters)s

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Minus the objective of each class's model. With two classes,
            scikit-learn's convention: one column, positive for
            ``classes_[1]`` (the difference of the two).
        """
        return _two_class_convention(-self._objectives(X))

    def predict(self, X):
        """Predict the class whose model codes each sample with the smallest objective.

        %(classify_parameters)s

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        objectives = self._objectives(X)
        return self.classes_[np.argmin(objectives, axis=1)]

    def predict_proba(self, X):
        """Softmax of minus the class objectives over ``temperature_``: rows sum to one.

        The temperature is fitted on the training rows (see ``temperature_``),
        so the probabilities of a problem do not depend on the scale its data
        come in, and follow the models' errors.

        %(classify_parameters)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, in the order of ``classes_``.
        """
        return class_probabilities(self._objectives(X), self.temperature_)


@fill_doc
class StructuredSparseClassifier(_SparseClassifier):
    """Identify the sources of a signal from the group energies of a structured code.

    Each class's sub-dictionary is learned with the Lasso on that class's
    rows; the sub-dictionaries are concatenated into one structured dictionary
    with a group per class, and a structured encoder
    (:class:`LearnedHiLassoEncoder`) is trained on all rows. A signal's code
    then puts its energy in the groups of the sources present: the
    source-identification scheme of Sprechmann et al. (2012), Section 5.3.

    Read more in the :ref:`User Guide <supervised_models>`.

    Parameters
    ----------
    n_components_per_class : int, default=16
        Atoms of each class's sub-dictionary.

    alpha : float or "auto", default="auto"
        Weight of the l1 penalty (sub-dictionaries and structured codes).
        ``"auto"``: ``0.1`` times the typical norm of the training rows (the
        median norm of the nonzero rows), so that data of any scale are
        coded alike (``0.1`` on rows of unit norm); the value used is
        ``alpha_``.

    group_alpha : float or "auto", default="auto"
        Weight of the group penalty of the structured codes. ``"auto"``: as
        ``alpha``'s; the value used is ``group_alpha_``.

    architecture : {"bcofb", "ista", "lista", "lcod", "rescaled_lista", "step_lista", \
            "alista", "hyper_lista"}, default="bcofb"
        The structured encoder's network: any architecture of
        :class:`~sklearn_lsc.LearnedHiLassoEncoder`.

    n_layers : int, default=2
        Depth of the structured encoder's network.

    objective : {"hilasso", "discriminative"}, default="hilasso"
        Training objective of the structured encoder; ``"discriminative"``
        uses the labels: the true class's group is rewarded, the others
        penalized.

    n_active : int, default=1
        Number of sources to identify per signal. 1: ``predict`` returns
        labels; ``k > 1``: a 0/1 indicator of the ``k`` largest energies,
        and the structured encoder also trains on ``n_mixtures`` random
        mixtures of ``k`` training rows of distinct classes.

    n_mixtures : int, default=None
        Number of random training mixtures when ``n_active > 1`` (ignored
        otherwise). None: as many as training rows. More mixtures are more
        training signals of the kind to separate (``benchmarks/structured.py``
        measures the identification rate).

    pooling_window : int, default=1
        Energies are summed over consecutive windows of this many rows (the
        frames of one recording); each row gets its window's pooled energies.

    collaborative : bool, default=False
        Whether each pooling window is coded as one set (collaborative
        HiLasso, Sprechmann et al. 2011): its rows share group activity, so
        the window's sources are chosen jointly rather than frame by frame.
        The structured encoder then trains in sets too: windows of
        consecutive training rows of one class and, with ``n_active > 1``,
        windows of mixtures of the same classes. Needs ``architecture``
        ``"bcofb"`` or ``"ista"``.

    learning_rate : float, default=1e-3
        Learning rate of every encoder.

    max_iter : int, default=100
        Maximum epochs of every encoder.

    %(batch_size)s

    input_noise : float, default=0.0
        Training noise of every encoder, relative to each training row's root
        mean square (see :class:`LearnedLassoEncoder`).

    tol : float, default=1e-4
        Relative improvement of the stopping rule of every encoder.

    n_iter_no_change : int, default=10
        Patience of the stopping rule of every encoder, in epochs.

    early_stopping : bool, default=False
        Whether every encoder sets aside ``validation_fraction`` of its rows
        and stops on their loss (see :class:`LearnedLassoEncoder`).

    %(validation_fraction)s

    device : str or torch.device, default="cpu"
        Where the networks train and run: ``"auto"`` (the accelerator torch
        can use, else the CPU) or any device torch names: ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"xpu"``. Apple's ``"mps"``
        has no float64: give it float32 data.

    random_state : int, RandomState instance or None, default=None
        Seeds every encoder.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.

    class_encoders_ : list of LearnedLassoEncoder
        The encoder whose dictionary is each class's sub-dictionary.

    encoder_ : LearnedHiLassoEncoder
        The structured encoder on the concatenated dictionary.

    alpha_ : float
        The l1 penalty's weight used: ``alpha``, or the value ``"auto"`` chose.

    group_alpha_ : float
        The group penalty's weight used: ``group_alpha``, or the value
        ``"auto"`` chose.

    n_iter_ : int
        Epochs run by the structured encoder.

    %(feature_attributes)s

    See Also
    --------
    SparseCodingClassifier : One model per class, the best-coding class wins.

    References
    ----------
    %(sprechmann_2012)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_lsc import StructuredSparseClassifier
    >>> X, y = load_digits(n_class=3, return_X_y=True)
    >>> X = X / 16.0
    >>> classifier = StructuredSparseClassifier(
    ...     n_components_per_class=8, max_iter=10, random_state=0
    ... ).fit(X[::2], y[::2])
    >>> classifier.decision_function(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "n_components_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "group_alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        # The structured encoder's own constraint: a new network is accepted here too.
        "architecture": LearnedHiLassoEncoder._parameter_constraints["architecture"],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "objective": [StrOptions({"hilasso", "discriminative"})],
        "n_active": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_mixtures": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "pooling_window": [Interval(numbers.Integral, 1, None, closed="left")],
        "collaborative": ["boolean"],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "input_noise": [Interval(numbers.Real, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components_per_class=16,
        *,
        alpha="auto",
        group_alpha="auto",
        architecture="bcofb",
        n_layers=2,
        objective="hilasso",
        n_active=1,
        n_mixtures=None,
        pooling_window=1,
        collaborative=False,
        learning_rate=1e-3,
        max_iter=100,
        batch_size=100,
        input_noise=0.0,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        device="cpu",
        random_state=None,
    ):
        self.n_components_per_class = n_components_per_class
        self.alpha = alpha
        self.group_alpha = group_alpha
        self.architecture = architecture
        self.n_layers = n_layers
        self.objective = objective
        self.n_active = n_active
        self.n_mixtures = n_mixtures
        self.pooling_window = pooling_window
        self.collaborative = collaborative
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.input_noise = input_noise
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def _training(self):
        return dict(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            input_noise=self.input_noise,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            device=self.device,
            random_state=self.random_state,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=False)
    def fit(self, X, y):
        """Learn the sub-dictionaries, then the structured encoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals, each from a single class (source).

        y : array-like of shape (n_samples,)
            The class of each row.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = _check_labels(self, X, y, reset=True)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "StructuredSparseClassifier needs at least two classes; y has "
                f"{classes.size} class."
            )
        if self.n_active > classes.size:
            raise ValueError(
                f"The 'n_active' parameter ({self.n_active}) exceeds the number of "
                f"classes ({classes.size})."
            )
        if self.collaborative and self.architecture not in STRUCTURED_NETWORKS:
            raise ValueError(
                "The 'collaborative' parameter needs architecture='bcofb' or 'ista' "
                f"(networks that code a window's rows jointly); got {self.architecture!r}."
            )
        penalties = (self.alpha, self.group_alpha)
        auto = relative_penalty(X) if any(isinstance(v, str) for v in penalties) else None
        alpha, group_alpha = (auto if isinstance(value, str) else value for value in penalties)
        class_encoders = [
            LearnedLassoEncoder(
                n_components=self.n_components_per_class,
                alpha=alpha,
                architecture="lista",
                n_layers=self.n_layers,
                **self._training(),
            ).fit(X[y_index == k])
            for k in range(classes.size)
        ]
        dictionary = np.concatenate([encoder.components_ for encoder in class_encoders])
        encoder = LearnedHiLassoEncoder(
            groups=classes.size,
            alpha=alpha,
            group_alpha=group_alpha,
            dictionary=dictionary,
            architecture=self.architecture,
            n_layers=self.n_layers,
            objective=self.objective,
            **self._training(),
        )
        X_mixed, indicator, sets = self._with_mixtures(X, y_index, classes.size)
        y_groups = indicator if self.objective == "discriminative" else None
        encoder.fit(X_mixed, y_groups, sets=sets)
        self.classes_ = classes
        self.class_encoders_ = class_encoders
        self.encoder_ = encoder
        self.alpha_, self.group_alpha_ = alpha, group_alpha
        self.n_iter_ = encoder.n_iter_
        return self

    def _with_mixtures(self, X, y_index, n_classes):
        """The training rows and, for ``n_active > 1``, ``n_mixtures`` random mixtures of them.

        A mixture sums one random row of each of ``n_active`` distinct random
        classes: the structured encoder then trains on signals like the ones
        it must separate, and the discriminative objective learns to reward
        every source present, not a single one. Returns ``(X, indicator,
        sets)``: ``sets`` None, or with ``collaborative`` the training sets
        (windows of ``pooling_window`` consecutive rows of one class, then of
        mixtures drawn from the same classes).
        """
        indicator = np.eye(n_classes)[y_index]
        window = self.pooling_window
        sets = None
        if self.collaborative:
            # A new set at each window's start and wherever the class changes.
            starts = np.arange(X.shape[0]) % window == 0
            starts[1:] |= y_index[1:] != y_index[:-1]
            sets = np.cumsum(starts) - 1
        if self.n_active == 1:
            return X, indicator, sets
        rng = check_random_state(self.random_state)
        n_mixtures = X.shape[0] if self.n_mixtures is None else self.n_mixtures
        n_draws = -(-n_mixtures // window) if self.collaborative else n_mixtures
        mixed_classes = np.argsort(rng.random_sample((n_draws, n_classes)), axis=1)
        mixed_classes = mixed_classes[:, : self.n_active]
        if self.collaborative:  # a window of mixtures shares its classes
            mixed_classes = np.repeat(mixed_classes, window, axis=0)[:n_mixtures]
        # A uniform random row of each chosen class, all at once: rows sorted by
        # class, then an offset into each class's block.
        by_class = np.argsort(y_index, kind="stable")
        counts = np.bincount(y_index, minlength=n_classes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        within = (rng.random_sample(mixed_classes.shape) * counts[mixed_classes]).astype(np.intp)
        rows = by_class[starts[mixed_classes] + within]
        mixtures = X[rows].sum(axis=1)
        mixture_indicator = np.zeros((n_mixtures, n_classes))
        np.put_along_axis(mixture_indicator, mixed_classes, 1.0, axis=1)
        if sets is not None:
            sets = np.concatenate([sets, sets[-1] + 1 + np.arange(n_mixtures) // window])
        X_mixed = np.concatenate([X, mixtures])
        return X_mixed, np.concatenate([indicator, mixture_indicator]), sets

    def _pooled_energies(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        window = self.pooling_window
        sets = np.arange(X.shape[0]) // window if self.collaborative else None
        energies = self.encoder_.group_energies(X, sets=sets)
        if window == 1:
            return energies
        pooled = np.add.reduceat(energies, np.arange(0, X.shape[0], window), axis=0)
        return np.repeat(pooled, window, axis=0)[: X.shape[0]]

    def decision_function(self, X):
        """Return the group energies of ``X``, sum-pooled over windows of rows.

        %(window_parameters)s

        Returns
        -------
        energies : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Each row's window's pooled l2 energy of each class's group. With
            two classes, scikit-learn's convention: one column, positive for
            ``classes_[1]`` (the difference of the two).
        """
        return _two_class_convention(self._pooled_energies(X))

    def predict(self, X):
        """Identify the sources of each row.

        %(window_parameters)s

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            With ``n_active=1``, the label of the largest pooled energy; else
            a 0/1 indicator of the ``n_active`` largest.
        """
        energies = self._pooled_energies(X)
        if self.n_active == 1:
            return self.classes_[np.argmax(energies, axis=1)]
        indicator = np.zeros(energies.shape, dtype=np.int64)
        top = np.argsort(-energies, axis=1, kind="stable")[:, : self.n_active]
        np.put_along_axis(indicator, top, 1, axis=1)
        return indicator
