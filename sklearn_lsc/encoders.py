"""Learned sparse encoders: scikit-learn transformers wrapping unrolled networks."""

import numbers

import numpy as np
from sklearn.utils import assert_all_finite, check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
)

from . import _architecture_choice
from ._base import BaseLearnedEncoder
from ._docstrings import fill_doc
from ._groups import check_group_tree
from ._networks import NETWORKS, REGISTRY
from ._objectives import contrastive_loss, sparse_coding_loss
from ._penalties import L1Penalty
from ._sklearn_compat import Interval, StrOptions, _fit_context
from ._structure import GroupObjectiveMixin
from ._transaction import transactional

__all__ = ["LASSO_ARCHITECTURES", "LearnedHiLassoEncoder", "LearnedLassoEncoder"]

#: The values :class:`LearnedLassoEncoder` accepts for ``architecture`` (read
#: from the network registry, so a new network appears here by itself).
LASSO_ARCHITECTURES = tuple(sorted(NETWORKS))


@fill_doc
class LearnedLassoEncoder(BaseLearnedEncoder):
    """Fast approximate Lasso codes from a trained unrolled network (LISTA, LCoD).

    A network with the shape of ``n_layers`` iterations of ISTA (``"lista"``)
    or of coordinate descent (``"lcod"``) is trained so that its output
    approximately solves, for each signal ``x``, the Lasso problem::

        min_z 0.5 * ||x - z D||_2^2 + alpha * ||z||_1

    After training, ``transform`` costs a few matrix products per signal,
    whatever the accuracy an exact solver would need many iterations for.

    Read more in the :ref:`User Guide <unrolled_networks>`.

    Parameters
    ----------
    %(n_components)s

    alpha : float, default=1.0
        Weight of the l1 penalty (the scaling of
        :func:`sklearn.decomposition.sparse_encode`).

    dictionary : array-like of shape (n_components, n_features), default=None
        Atoms, one per row. Used as given: atoms are not normalized (the
        networks handle atoms of any nonzero norm); only entries under
        2**-100 of their atom's largest are zeroed (subnormal ones slow every
        product down). None: ``n_components`` distinct nonzero training rows,
        drawn at random and normalized.

    fit_dictionary : bool or "auto", default="auto"
        Whether to adapt the dictionary during training, alternating network
        steps with online dictionary steps (Mairal et al. 2009) that use the
        network's codes, atoms kept in the unit ball. ``"auto"``: adapt when
        ``dictionary`` is None, keep a given dictionary fixed.

    %(sign_parameters)s

    architecture : {"auto", "rescaled_lista", "lista", "lcod", "step_lista", "alista", \
            "hyper_lista"}, default="auto"
        The unrolled network. ``"auto"`` (the default): where ``fit`` has
        rows set aside by early stopping, a given dictionary kept fixed and
        ``objective="lasso"``, it trains both ``"step_lista"`` and
        ``"rescaled_lista"`` from the same random draws and keeps step
        LISTA, a faster transform, unless rescaled LISTA's set-aside rows'
        objective is lower by more than 0.1%: step LISTA where the
        dictionary is incoherent enough for it (the set-aside rows' gaps to
        the optimum then differ by less than 0.1 percentage point); the
        trial costs the cheaper network's fit on top
        (``architecture_`` says which was kept; with an int
        ``random_state``, it is the network that architecture given
        explicitly fits; see :ref:`the User Guide <defaults>`). Elsewhere,
        and in a first ``partial_fit``, ``"auto"`` is ``"rescaled_lista"``
        (a ``partial_fit`` after ``fit`` goes on with the network kept).
        ``"rescaled_lista"``: learned ISTA with momentum whose layers move
        each signal's code to the better of two points of a plane (a
        per-signal step, in closed form; see :ref:`the User Guide
        <rescaled_lista>`): the most accurate per layer, with more
        elementwise work than LISTA. ``"lista"``: learned ISTA.
        ``"lcod"``: learned coordinate descent (the cheapest layer).
        ``"step_lista"``, ``"alista"``, ``"hyper_lista"``: analytic matrices
        with a few learned steps and thresholds (Ablin et al. 2019; Liu et
        al. 2019; Chen et al. 2021): few training signals needed, suited to
        incoherent dictionaries only (:ref:`the User Guide
        <unrolled_networks>`); with numba, ``"step_lista"`` and ``"alista"``
        transform through a kernel that, where the codes are sparse, makes
        one dense product for all layers.

    %(n_layers)s

    objective : {"lasso", "regression", "similarity"}, default="lasso"
        ``"lasso"``: minimise the mean Lasso objective of the network's codes
        (unsupervised, no exact codes computed). ``"regression"``: minimise
        ``||z* - h(x)||^2`` where ``z*`` are exact codes from
        :func:`~sklearn_lsc.sparse_encode` (Gregor & LeCun's objective).
        ``"similarity"``: ``fit(X, y)`` with class labels; the Lasso
        objective plus ``similarity_weight`` times a contrastive term over
        the pairs of each minibatch: ``0.5 ||z_i - z_j||^2`` for pairs of
        the same label, ``0.5 max(0, margin - ||z_i - z_j||)^2`` for pairs
        of different labels (codes of a class pulled together, of different
        classes pushed at least ``margin`` apart).

    similarity_weight : float, default=1.0
        Weight of the contrastive term of ``objective="similarity"``.

    margin : float, default=1.0
        Distance beyond which ``objective="similarity"`` stops pushing codes
        of different labels apart.

    %(optimizer_parameters)s

    input_noise : float or "auto", default="auto"
        Standard deviation of Gaussian noise added afresh to each training
        minibatch, relative to each signal's root mean square (its norm over
        the square root of ``n_features``): a regularizer against
        overfitting small training sets (:ref:`the User Guide
        <input_noise>`). ``"auto"``: 0.5 up to 2,000 training rows, then
        ``0.5 * sqrt(2000 / n_samples)``; a fit whose set-aside rows stopped
        improving within its first ``n_iter_no_change_`` epochs with that
        noise trains again without it and keeps the better
        (``input_noise_`` holds the value used). 0 trains on the signals as
        given.

    %(max_iter)s

    tol : float, default=1e-5
        ``fit`` stops when the training loss (the validation loss, with
        early stopping) has not improved by this relative amount for
        ``n_iter_no_change`` consecutive epochs. Networks within a fraction
        of a percent of the optimum still improve, by less than 1e-4 of the
        loss per epoch: a larger ``tol`` stops training on large sets early.

    %(n_iter_no_change)s

    early_stopping : bool or "auto", default="auto"
        Whether ``fit`` sets aside ``validation_fraction`` of the rows (at
        random, from ``random_state``), trains on the others, stops when their
        noise-free training loss stops improving, and keeps the network and
        dictionary of the epoch where it was lowest. ``"auto"``: when that
        sets aside at least 50 rows (500 training rows with the default
        ``validation_fraction``); fewer give too noisy a loss to choose an
        epoch by. ``partial_fit`` ignores it and trains on every row.

    %(runtime_parameters)s

    Attributes
    ----------
    %(components_)s

    %(signal_scale_)s

    %(norm_floor_)s

    network_ : torch.nn.Module
        The trained network, of ``architecture_``.

    architecture_ : str
        The network's architecture: ``architecture``, ``"auto"`` resolved.

    architecture_validation_losses_ : dict or None
        From ``architecture="auto"``'s trial: each candidate's noise-free
        loss on the set-aside rows, by name (step LISTA is kept unless
        rescaled LISTA's is lower by more than 0.1%); None where no trial
        ran.

    %(epoch_attributes)s

    loss_curve_ : list of float
        Mean training loss of each epoch (the Lasso objective for
        ``objective="lasso"``).

    %(validation_attributes)s

    See Also
    --------
    sparse_encode : Exact codes by ISTA, FISTA or coordinate descent.
    sklearn.decomposition.SparseCoder : Exact sparse coding with a fixed dictionary.

    References
    ----------
    K. Gregor and Y. LeCun, "Learning fast approximations of sparse coding",
    ICML 2010.

    %(sprechmann_2012)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import LearnedLassoEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 16))
    >>> encoder = LearnedLassoEncoder(
    ...     n_components=32, alpha=0.2, max_iter=5, random_state=0
    ... ).fit(X)
    >>> encoder.transform(X[:3]).shape
    (3, 32)
    """

    _parameter_constraints: dict = {
        **BaseLearnedEncoder._parameter_constraints,
        "architecture": [StrOptions({"auto", *NETWORKS})],
        "objective": [StrOptions({"lasso", "regression", "similarity"})],
        "similarity_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "margin": [Interval(numbers.Real, 0, None, closed="neither")],
    }
    _supervised_objectives = frozenset({"similarity"})

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        dictionary=None,
        fit_dictionary="auto",
        positive=False,
        positive_dict=False,
        architecture="auto",
        n_layers=5,
        objective="lasso",
        similarity_weight=1.0,
        margin=1.0,
        solver="adam",
        learning_rate=1e-3,
        batch_size=100,
        input_noise="auto",
        max_iter="auto",
        tol=1e-5,
        n_iter_no_change="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        transform_dtype=None,
        transform_compile=False,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.dictionary = dictionary
        self.fit_dictionary = fit_dictionary
        self.positive = positive
        self.positive_dict = positive_dict
        self.architecture = architecture
        self.n_layers = n_layers
        self.objective = objective
        self.similarity_weight = similarity_weight
        self.margin = margin
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.input_noise = input_noise
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.transform_dtype = transform_dtype
        self.transform_compile = transform_compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _penalty(self, device, dtype):
        return L1Penalty(self._scaled_alpha(), positive=self.positive)

    def _architecture_name(self):
        # An explicit architecture is the network; "auto" is the one being
        # fitted or fitted (the candidate of a trial), else its fallback.
        if self.architecture != "auto":
            return self.architecture
        return getattr(self, "architecture_", None) or _architecture_choice.FALLBACK

    def _initialize(self, X, labels=None, *, seed=None, architecture=None):
        self.architecture_ = architecture or _architecture_choice.resolved_architecture(self)
        self.architecture_validation_losses_ = None  # set by fit's trial, when it runs
        super()._initialize(X, labels, seed=seed)

    def __setstate__(self, state):
        # Fitted before architecture="auto" existed: its network is its architecture's.
        if "components_" in state and "architecture_" not in state:
            state = {**state, "architecture_": state["architecture"]}
            state["architecture_validation_losses_"] = None
        super().__setstate__(state)

    def _fit_network(self, X, y, labels):
        if not _architecture_choice.trial_applies(self, X.shape[0]):
            super()._fit_network(X, y, labels)
            return

        def train(architecture, seed):
            super(LearnedLassoEncoder, self)._fit_network(
                X, y, labels, seed=seed, architecture=architecture
            )

        _architecture_choice.fit_candidates(self, train)

    def _check_training_y(self, y, n_samples, n_components, *, first_call=True):
        if self.objective != "similarity":
            return None
        if y is None:
            raise ValueError("objective='similarity' needs y: a class label per row.")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_samples), y)
        # Class labels (NaN and continuous targets refused), of at least two classes.
        if y.dtype.kind in "fc":
            assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        classes, labels = np.unique(y, return_inverse=True)
        if classes.size < 2 and first_call:  # (a later chunk of a stream may hold one)
            raise ValueError(
                "objective='similarity' needs y with at least two classes (it pulls "
                f"codes of a class together, apart from other classes); y has {classes.size}."
            )
        # Label codes are compared for equality only: any label type works.
        return labels.astype(np.float64)

    def _training_objective(self, device, dtype):
        if self.objective != "similarity":
            return super()._training_objective(device, dtype)
        # The margin is a distance between codes: in the units of X / signal_scale_.
        penalty, weight = self._penalty(device, dtype), self.similarity_weight
        margin = self.margin / self.signal_scale_

        def loss(X, code, dictionary, y):
            return sparse_coding_loss(X, code, dictionary, penalty) + weight * contrastive_loss(
                code, y, margin
            )

        return loss


@fill_doc
class LearnedHiLassoEncoder(GroupObjectiveMixin, BaseLearnedEncoder):
    """Fast approximate structured (HiLasso) codes from a trained unrolled network.

    A network with the shape of ``n_layers`` iterations of block-coordinate
    forward-backward (``"bcofb"``, the LBCoFB network) or of ISTA with the
    HiLasso prox (``"ista"``) is trained so that its output approximately
    solves, for each signal ``x``, the hierarchical Lasso (sparse-group Lasso)
    problem::

        min_z 0.5 * ||x - z D||_2^2 + alpha * ||z||_1
              + group_alpha * sum_g w_g * ||z_g||_2

    whose solutions select few groups of atoms and few atoms in each.

    Read more in the :ref:`User Guide <sparse_coding>`.

    Parameters
    ----------
    %(n_components)s

    groups : int or sequence of sequences of int, default=None
        The groups: an int ``k`` for ``k`` equal contiguous groups
        (``n_components`` must be a multiple of ``k``), or the atom indices
        of each group, any two disjoint or nested: a partition, or a tree of
        groups (Jenatton et al. 2011; atoms may belong to no group, the
        group term sums over every listed group, and ``"bcofb"`` updates a
        root group per layer). None: every atom is its own group.

    alpha : float, default=1.0
        Weight of the coefficient-level l1 penalty.

    group_alpha : float, default=1.0
        Weight of the group-level penalty ``sum_g w_g ||z_g||_2``.

    group_weights : array-like of shape (n_groups,), default=None
        Positive per-group weights ``w_g``; ones when None.

    dictionary : array-like of shape (n_components, n_features), default=None
        Atoms, one per row, used as given (entries under 2**-100 of their
        atom's largest zeroed). None: ``n_components`` distinct nonzero
        training rows, drawn at random and normalized.

    fit_dictionary : bool or "auto", default="auto"
        Whether to adapt the dictionary during training with online dictionary
        steps on the network's codes. ``"auto"``: adapt when ``dictionary`` is
        None, keep a given dictionary fixed.

    %(sign_parameters)s

    architecture : {"bcofb", "ista", "lista", "lcod", "rescaled_lista", "step_lista", \
            "alista", "hyper_lista"}, default="bcofb"
        ``"bcofb"``: learned block-coordinate forward-backward, one group
        update per layer. ``"ista"``: learned ISTA with the HiLasso prox.
        The others are :class:`~sklearn_lsc.LearnedLassoEncoder`'s networks
        (l1 thresholds only) trained on the structured objective;
        ``"rescaled_lista"`` chooses its per-signal points on it.

    %(n_layers)s

    objective : {"hilasso", "regression", "discriminative"}, default="hilasso"
        ``"hilasso"``: minimise the mean HiLasso objective of the network's
        codes (unsupervised). ``"regression"``: minimise ``||z* - h(x)||^2``
        with ``z*`` exact HiLasso codes. ``"discriminative"``: ``fit(X, y)``
        with ``y`` of shape ``(n_samples, n_groups)``, 1 where a group is
        known active; the known-active groups' penalties change sign.

    %(optimizer_parameters)s

    input_noise : float or "auto", default=0.1
        Standard deviation of Gaussian noise added afresh to each training
        minibatch, relative to each signal's root mean square: a regularizer
        against overfitting small training sets (:ref:`the User Guide
        <input_noise>`). ``"auto"``: the rule of
        :class:`~sklearn_lsc.LearnedLassoEncoder`. 0: the signals as given.

    %(max_iter)s

    tol : float, default=1e-4
        ``fit`` stops when the training loss (the validation loss, with
        ``early_stopping``) has not improved by this relative amount for
        ``n_iter_no_change`` consecutive epochs.

    %(n_iter_no_change)s

    early_stopping : bool or "auto", default="auto"
        Whether ``fit`` sets aside ``validation_fraction`` of the rows (at
        random, from ``random_state``), trains on the others, stops when their
        noise-free training loss stops improving, and keeps the network and
        dictionary of the epoch where it was lowest. ``"auto"``: when that
        sets aside at least 50 rows. ``partial_fit`` ignores it and trains on
        every row.

    %(runtime_parameters)s

    Attributes
    ----------
    %(components_)s

    %(signal_scale_)s

    %(norm_floor_)s

    groups_ : list of ndarray
        The atom indices of each group, sorted.

    network_ : torch.nn.Module
        The trained network.

    %(epoch_attributes)s

    loss_curve_ : list of float
        Mean training loss of each epoch.

    %(validation_attributes)s

    See Also
    --------
    LearnedLassoEncoder : The same without groups.
    sparse_encode : Exact HiLasso codes (``groups=``, ``group_alpha=``).
    hilasso_objective : The objective these codes approximately minimise.

    References
    ----------
    %(sprechmann_2012)s

    P. Sprechmann, I. Ramirez, G. Sapiro and Y. C. Eldar, "C-HiLasso: a
    collaborative hierarchical sparse modeling framework", IEEE Trans. Signal
    Processing, 2011.

    Examples
    --------
    >>> from sklearn_lsc import LearnedHiLassoEncoder
    >>> from sklearn_lsc.datasets import make_group_sparse_signals
    >>> X, dictionary, code, active = make_group_sparse_signals(
    ...     n_samples=200, n_features=16, n_groups=4, group_size=8, random_state=0
    ... )
    >>> encoder = LearnedHiLassoEncoder(
    ...     groups=4, alpha=0.05, group_alpha=0.1, dictionary=dictionary,
    ...     n_layers=3, max_iter=5, random_state=0,
    ... ).fit(X)
    >>> encoder.transform(X[:3]).shape
    (3, 32)
    >>> encoder.group_energies(X[:3]).shape
    (3, 4)
    """

    _STRUCTURAL_PARAMS = (*BaseLearnedEncoder._STRUCTURAL_PARAMS, "groups")

    _parameter_constraints: dict = {
        **BaseLearnedEncoder._parameter_constraints,
        "groups": [Interval(numbers.Integral, 1, None, closed="left"), "array-like", None],
        "group_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "group_weights": ["array-like", None],
        "architecture": [StrOptions(set(REGISTRY))],
        "objective": [StrOptions({"hilasso", "regression", "discriminative"})],
    }
    _supervised_objectives = frozenset({"discriminative"})

    def __init__(
        self,
        n_components=None,
        *,
        groups=None,
        alpha=1.0,
        group_alpha=1.0,
        group_weights=None,
        dictionary=None,
        fit_dictionary="auto",
        positive=False,
        positive_dict=False,
        architecture="bcofb",
        n_layers=5,
        objective="hilasso",
        solver="adam",
        learning_rate=1e-3,
        batch_size=100,
        input_noise=0.1,
        max_iter="auto",
        tol=1e-4,
        n_iter_no_change="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        transform_dtype=None,
        transform_compile=False,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.groups = groups
        self.alpha = alpha
        self.group_alpha = group_alpha
        self.group_weights = group_weights
        self.dictionary = dictionary
        self.fit_dictionary = fit_dictionary
        self.positive = positive
        self.positive_dict = positive_dict
        self.architecture = architecture
        self.n_layers = n_layers
        self.objective = objective
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.input_noise = input_noise
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.transform_dtype = transform_dtype
        self.transform_compile = transform_compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- hooks
    def _parsed_groups(self, n_components):
        groups = self.groups
        if groups is None:
            groups = [[atom] for atom in range(n_components)]
        return check_group_tree(groups, n_components)

    def _architecture_name(self):
        return self.architecture

    def _check_training_y(self, y, n_samples, n_components, *, first_call=True):
        if self.objective != "discriminative":
            return None
        if y is None:
            raise ValueError(
                "objective='discriminative' needs y, of shape (n_samples, n_groups): "
                "1 where a group is known active in a sample, else 0."
            )
        n_groups = len(self._parsed_groups(n_components))
        y = check_array(y, dtype=np.float64, ensure_2d=False, input_name="y")
        if y.shape != (n_samples, n_groups):
            raise ValueError(
                f"y must have shape (n_samples, n_groups) = ({n_samples}, {n_groups}) "
                f"for objective='discriminative'; got shape {y.shape}."
            )
        if not np.all((y == 0) | (y == 1)):
            raise ValueError(
                "y must hold only 0 and 1 for objective='discriminative' (1 where "
                "a group is known active)."
            )
        return y

    # --------------------------------------------------- collaborative sets
    # The methods below take ``sets`` (collaborative HiLasso): scikit-learn's
    # metadata routing (``set_fit_request(sets=True)``, ...) carries it
    # through a Pipeline.
    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=False)
    def fit(self, X, y=None, sets=None):
        """Train the network (and, when asked, the dictionary) on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals, one per row.

        y : array-like of shape (n_samples, n_groups), default=None
            Known active groups (1 where active, else 0), required by
            ``objective="discriminative"``; ignored by the other objectives.

        %(sets)s
            Minibatches and the rows set aside by ``early_stopping`` hold
            whole sets; needs ``architecture="bcofb"`` or ``"ista"``.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        return self._fit(X, y, sets)

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=True)
    def partial_fit(self, X, y=None, sets=None):
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

        y : array-like of shape (n_samples, n_groups), default=None
            The chunk's known active groups, for
            ``objective="discriminative"`` (as in :meth:`fit`).

        %(sets)s
            A set whose rows come in several chunks is a separate set in each.

        Returns
        -------
        self : object
            The updated encoder.
        """
        return self._partial_fit(X, y, sets)

    def fit_transform(self, X, y=None, sets=None):
        """Fit to ``X``, then return its codes (in the same ``sets``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training signals, one per row.

        y : array-like of shape (n_samples, n_groups), default=None
            As in :meth:`fit`.

        %(sets)s

        Returns
        -------
        code : ndarray of shape (n_samples, n_components)
            The codes, in the dtype of ``X``.
        """
        return self.fit(X, y, sets=sets).transform(X, sets=sets)

    def transform(self, X, sets=None):
        """Compute the sparse codes of ``X`` with the trained network.

        %(signal_parameters)s

        %(sets)s
            Sets are coded within one call: a set split across calls is
            coded as separate sets.

        Returns
        -------
        code : ndarray of shape (n_samples, n_components)
            The codes, in the dtype of ``X`` (float32 or float64).
        """
        return self._transform(X, sets)

    def score_samples(self, X, sets=None):
        """Return minus the objective of the network's code of each row of ``X``.

        As :meth:`score`, per row; with ``sets``, each set's group term is
        shared equally among its rows.

        %(signal_parameters)s

        %(sets)s

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64
            Minus each row's objective: higher is better.
        """
        return self._score_samples(X, sets)

    def score(self, X, y=None, sets=None):
        """Return minus the mean objective of the network's codes of ``X``.

        The HiLasso objective (collaborative with ``sets``) of the codes
        ``transform`` returns, with the current ``alpha``, ``group_alpha``
        and ``group_weights``, in float64. Higher is better; it compares
        encoders of one problem, not values of ``alpha`` (see
        :meth:`LearnedLassoEncoder.score`).

        %(signal_parameters)s

        y : Ignored
            Not used, present for API consistency by convention.

        %(sets)s

        Returns
        -------
        score : float
            Minus the mean objective.
        """
        return self._score(X, sets)

    def group_energies(self, X, sets=None):
        """Compute the l2 norm of each group of the codes of ``X``.

        Large energies mark the groups (sources, classes) present in a signal.
        With a tree of groups, one column per listed group (nested ones too).

        %(signal_parameters)s

        %(sets)s
            Each row's energies are those of its own code, coded jointly.

        Returns
        -------
        energies : ndarray of shape (n_samples, n_groups)
            ``||z_g||_2`` for each sample and group, in the dtype of ``X``.
        """
        return self._group_energies(X, sets)
