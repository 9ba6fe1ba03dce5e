"""Online sparse modeling: network and dictionary adapted on a stream (Section 4.3)."""

import numbers

from ._base import LearnedEncoderBase
from ._docstrings import fill_doc
from ._groups import check_group_tree
from ._networks import REGISTRY
from ._sklearn_compat import Interval, StrOptions, _fit_context
from ._stream import StreamTrainerMixin
from ._structure import GroupObjectiveMixin
from ._transaction import transactional

__all__ = ["OnlineSparseModeler"]


@fill_doc
class OnlineSparseModeler(GroupObjectiveMixin, StreamTrainerMixin, LearnedEncoderBase):
    """Learn a dictionary and a fast sparse encoder together on a data stream.

    For data that arrive over time and change character (a new speaker, a new
    texture, a new sensor regime). The model keeps a window of the latest
    ``window_size`` vectors. Each time ``step_size`` new vectors have arrived:

    1. their mean objective under the current model is recorded in
       ``objective_curve_`` (how well the model codes data it has not seen);
    2. with the dictionary fixed, the unrolled network adapts to the window by
       ``updates_per_step`` minibatch gradient steps on the objective (an
       update that leaves the new vectors coded worse than before and far
       worse than by all-zero codes is undone, with a warning);
    3. with the network's codes of the new vectors fixed, the dictionary takes
       one online dictionary-learning step (Mairal et al. 2009): sufficient
       statistics with forgetting, block-coordinate atom updates, atoms
       projected onto the unit ball. Once the window is full, an atom the
       codes do not use (its accumulated code energy under 1e-6 of the
       largest atom's) is redrawn from a new vector, with 1% noise, as
       scikit-learn's dictionary learning does (the vector drawn with
       probability proportional to its residual's squared norm, so that
       the new atom is seldom a near-copy of a used one); the network's
       weights and thresholds of that atom restart from its algorithm's
       values (and their optimizer moments from zero), so the new atom can
       be used.

    No iterative sparse-coding solver runs anywhere: codes always come from
    the network (Sprechmann, Bronstein & Sapiro 2012, Section 4.3).

    The objective is the Lasso ``0.5 ||x - z D||^2 + alpha ||z||_1`` or, with
    ``groups``, the HiLasso, which adds ``group_alpha * sum_g w_g ||z_g||_2``.

    Read more in the :ref:`User Guide <online_modeling>`.

    Parameters
    ----------
    n_components : int, default=None
        Number of atoms. None: the rows of ``dictionary_init`` when it is an
        array, else ``n_features``.

    alpha : float, default=1.0
        Weight of the l1 penalty.

    groups : int or sequence of sequences of int, default=None
        The groups (an int ``k``: ``k`` equal contiguous groups), any two
        disjoint or nested: a partition, or a tree of groups (see
        :class:`~sklearn_lsc.LearnedHiLassoEncoder`). None: no group term
        (the Lasso).

    group_alpha : float, default=1.0
        Weight of the group penalty (used only with ``groups``).

    group_weights : array-like of shape (n_groups,), default=None
        Positive per-group weights; ones when None.

    architecture : {"lista", "lcod", "rescaled_lista", "step_lista", "alista", \
            "hyper_lista", "bcofb", "ista"}, default=None
        The unrolled network (see :class:`~sklearn_lsc.LearnedLassoEncoder` and
        :class:`~sklearn_lsc.LearnedHiLassoEncoder`). None: ``"lista"`` without groups,
        ``"bcofb"`` with groups; ``"bcofb"`` and ``"ista"`` (structured) need
        ``groups``.
        The paper uses CoD layers (``"lcod"``); LISTA's layers read the
        current dictionary, so they follow each dictionary step: on the
        texture stream of ``benchmarks/online.py`` its objective is lower
        than with LCoD layers, in less time.

    n_layers : int, default=4
        Depth of the network.

    window_size : int, default=1000
        Number of most recent vectors the network adapts to.

    step_size : int, default=100
        Number of new vectors that trigger one adaptation step; at most
        ``window_size``.

    dictionary_init : "random_samples" or array-like of shape \
            (n_components, n_features), default="random_samples"
        Initial dictionary: distinct nonzero vectors drawn at random from the
        first chunk given to ``partial_fit`` and normalized, or the given
        atoms.

    forgetting_factor : float, default=None
        Weight of the past sufficient statistics at each dictionary step, in
        (0, 1]: smaller forgets faster (adapts to changes sooner). None: the
        schedule of scikit-learn's ``MiniBatchDictionaryLearning``, which
        forgets less and less as the stream goes on.

    positive : bool, default=False
        Whether to constrain the codes to be nonnegative: every layer uses
        the one-sided shrink ``max(v - t, 0)``.

    positive_dict : bool, default=False
        Whether the dictionary steps keep the atoms nonnegative (atoms drawn
        from the stream start from their positive parts; a given
        ``dictionary_init`` must be nonnegative). With ``positive``: an
        online non-negative matrix factorization with sparse codes.

    solver : {"adam", "sgd"}, default="adam"
        Optimizer of the network (``"sgd"``: Nesterov momentum 0.9).

    learning_rate : float, default=5e-3
        Constant learning rate of the network's optimizer (higher than the
        offline encoders': the network takes few steps per window and must
        catch up with changes in the stream). The networks with analytic
        matrices (``"step_lista"``, ``"alista"``, ``"hyper_lista"``) train
        at ten times this rate.

    batch_size : int, default=100
        Vectors of the window per gradient step.

    updates_per_step : int, default=2
        Gradient steps on the window each time ``step_size`` vectors arrive:
        more steps code a little better and cost proportionally more.

    %(transform_parameters)s

    device : str or torch.device, default="cpu"
        Where the network runs: ``"auto"`` (the accelerator torch
        can use, else the CPU) or any device torch names: ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"xpu"``. Apple's ``"mps"``
        has no float64: give it float32 data.

    random_state : int, RandomState instance or None, default=None
        Seeds the dictionary initialization and the minibatches.

    verbose : int, default=0
        When positive, print one line per adaptation step, and the progress
        of transforms that take more than one batch.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The current dictionary, one atom per row.

    %(signal_scale_)s

    %(norm_floor_)s

    network_ : torch.nn.Module
        The current encoder network.

    groups_ : list of ndarray or None
        The atom indices of each group; None without ``groups``.

    objective_curve_ : list of float
        For each adaptation step, the mean objective of its new vectors coded
        by the model as it was before it saw them.

    n_steps_ : int
        Number of adaptation steps run.

    n_redrawn_atoms_ : int
        Number of unused atoms redrawn from the stream so far.

    n_samples_seen_ : int
        Number of vectors received, including those waiting for the next step.

    n_features_in_ : int
        Number of features of the stream.

    %(feature_names_in_)s

    See Also
    --------
    LearnedLassoEncoder : Offline training on a fixed set of signals.
    sklearn.decomposition.MiniBatchDictionaryLearning : Online dictionary
        learning with exact codes.

    References
    ----------
    %(sprechmann_2012)s

    J. Mairal, F. Bach, J. Ponce and G. Sapiro, "Online dictionary learning
    for sparse coding", ICML 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import OnlineSparseModeler
    >>> rng = np.random.default_rng(0)
    >>> model = OnlineSparseModeler(
    ...     n_components=16, alpha=0.1, window_size=200, step_size=50, random_state=0
    ... )
    >>> for chunk in np.array_split(rng.standard_normal((500, 8)), 7):
    ...     model = model.partial_fit(chunk)
    >>> model.n_steps_, len(model.objective_curve_)
    (10, 10)
    >>> model.transform(rng.standard_normal((3, 8))).shape
    (3, 16)
    """

    _STRUCTURAL_PARAMS = (
        "n_components",
        "dictionary_init",
        "groups",
        "architecture",
        "n_layers",
        "solver",
        "forgetting_factor",
        "positive",
        "positive_dict",
    )

    _parameter_constraints: dict = {
        **LearnedEncoderBase._parameter_constraints,
        "groups": [Interval(numbers.Integral, 1, None, closed="left"), "array-like", None],
        "group_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "group_weights": ["array-like", None],
        "architecture": [StrOptions(set(REGISTRY)), None],
        "window_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "step_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "dictionary_init": [StrOptions({"random_samples"}), "array-like"],
        "forgetting_factor": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "solver": [StrOptions({"adam", "sgd"})],
        "updates_per_step": [Interval(numbers.Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        groups=None,
        group_alpha=1.0,
        group_weights=None,
        architecture=None,
        n_layers=4,
        window_size=1000,
        step_size=100,
        dictionary_init="random_samples",
        forgetting_factor=None,
        positive=False,
        positive_dict=False,
        solver="adam",
        learning_rate=5e-3,
        batch_size=100,
        updates_per_step=2,
        transform_dtype=None,
        transform_compile=False,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.groups = groups
        self.group_alpha = group_alpha
        self.group_weights = group_weights
        self.architecture = architecture
        self.n_layers = n_layers
        self.window_size = window_size
        self.step_size = step_size
        self.dictionary_init = dictionary_init
        self.forgetting_factor = forgetting_factor
        self.positive = positive
        self.positive_dict = positive_dict
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.updates_per_step = updates_per_step
        self.transform_dtype = transform_dtype
        self.transform_compile = transform_compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=False)
    def fit(self, X, y=None):
        """Start afresh and run one pass of :meth:`partial_fit` over ``X``, in order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The stream, oldest vector first.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        for attribute in ("components_", "network_"):
            self.__dict__.pop(attribute, None)
        return self._partial_fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional(copy_state=True)
    def partial_fit(self, X, y=None):
        """Receive the next chunk of the stream (any number of vectors).

        The first call initializes the dictionary and the network. Vectors
        wait until ``step_size`` of them have arrived; each full step is then
        recorded in ``objective_curve_`` and adapted to (see the class
        description). A network update that leaves the step's new vectors
        coded worse than before it and more than 25% worse than by all-zero
        codes is undone, with one ``ConvergenceWarning`` per call (see the
        User Guide's "When training goes wrong"). A rejected chunk, or a
        step whose objective becomes infinite or NaN (a ``ValueError``),
        leaves the model unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The next vectors of the stream, oldest first.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The updated model.
        """
        return self._partial_fit(X)

    def _architecture_name(self):
        if self.architecture is not None:
            return self.architecture
        return "lista" if self.groups is None else "bcofb"

    def _parsed_groups(self, n_components):
        if self.groups is None:
            if self.group_weights is not None:
                raise ValueError(
                    "The 'group_weights' parameter needs 'groups': without groups the "
                    "model is the plain Lasso, with no group term to weight."
                )
            return None
        return check_group_tree(self.groups, n_components)
