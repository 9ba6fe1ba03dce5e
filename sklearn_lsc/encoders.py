"""Learned sparse encoders: scikit-learn transformers wrapping unrolled networks."""

import torch
from sklearn.utils._param_validation import StrOptions

from . import solvers
from ._base import BaseLearnedEncoder
from ._networks import NETWORKS
from ._objectives import lasso_loss, lasso_objective_numpy

__all__ = ["LearnedLassoEncoder"]

# Exact codes used as regression targets are solved to this accuracy.
_TARGET_TOL = 1e-6
_TARGET_MAX_ITER = 1000


class LearnedLassoEncoder(BaseLearnedEncoder):
    """Fast approximate Lasso codes from a trained unrolled network (LISTA, LCoD).

    A network with the shape of ``n_layers`` iterations of ISTA (``"lista"``)
    or of coordinate descent (``"lcod"``) is trained so that its output
    approximately solves, for each signal ``x``, the Lasso problem::

        min_z 0.5 * ||x - z D||_2^2 + alpha * ||z||_1

    After training, ``transform`` costs a few matrix products per signal,
    whatever the accuracy an exact solver would need many iterations for.

    Parameters
    ----------
    n_components : int, default=None
        Number of atoms. None: the number of rows of ``dictionary`` when it is
        given, else ``n_features``.

    alpha : float, default=1.0
        Weight of the l1 penalty (the scaling of
        :func:`sklearn.decomposition.sparse_encode`).

    dictionary : array-like of shape (n_components, n_features), default=None
        Atoms, one per row. Used as given: atoms are not normalized (the
        networks handle atoms of any nonzero norm). None: ``n_components``
        distinct nonzero training rows, drawn at random and normalized.

    fit_dictionary : bool or "auto", default="auto"
        Whether to adapt the dictionary during training, alternating network
        steps with online dictionary steps (Mairal et al. 2009) that use the
        network's codes, atoms kept in the unit ball. ``"auto"``: adapt when
        ``dictionary`` is None, keep a given dictionary fixed.

    architecture : {"lcod", "lista"}, default="lcod"
        ``"lcod"``: learned coordinate descent, one coordinate update per
        layer. ``"lista"``: learned ISTA, one proximal-gradient step per layer
        (more arithmetic per layer, more accurate for the same depth).

    n_layers : int, default=5
        Depth of the network: the number of unrolled iterations.

    objective : {"lasso", "regression"}, default="lasso"
        ``"lasso"``: minimise the mean Lasso objective of the network's codes
        (unsupervised, no exact codes computed). ``"regression"``: minimise
        ``||z* - h(x)||^2`` where ``z*`` are exact codes from
        :func:`~sklearn_lsc.sparse_encode` (Gregor & LeCun's objective).

    solver : {"adam", "sgd", "armijo"}, default="adam"
        ``"adam"``, ``"sgd"`` (with Nesterov momentum 0.9): minibatch
        optimizers. ``"armijo"``: full-batch gradient descent with an Armijo
        backtracking line search, one step per epoch.

    learning_rate : float, default=1e-3
        Initial learning rate of Adam and SGD, annealed by a cosine schedule
        over the ``max_iter`` epochs of ``fit`` (``partial_fit`` keeps it
        constant). For ``"armijo"``, the initial step size.

    batch_size : int, default=100
        Rows per minibatch.

    max_iter : int, default=150
        Maximum number of epochs of ``fit``.

    tol : float, default=1e-4
        ``fit`` stops when the training loss has not improved by this relative
        amount for ``n_iter_no_change`` consecutive epochs.

    n_iter_no_change : int, default=10
        Patience of the stopping rule, in epochs.

    device : str or torch.device, default="cpu"
        Where the network trains and runs: ``"cpu"``, ``"cuda"``, ``"cuda:N"``.

    random_state : int, RandomState instance or None, default=None
        Seeds the dictionary initialization and the minibatch order.

    verbose : int, default=0
        Print one line per epoch (loss and time) when positive.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The dictionary, one atom per row.

    network_ : torch.nn.Module
        The trained network (LISTA or LCoD).

    n_iter_ : int
        Number of epochs run.

    loss_curve_ : list of float
        Mean training loss of each epoch (the Lasso objective for
        ``objective="lasso"``).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sparse_encode : Exact codes by ISTA, FISTA or coordinate descent.
    sklearn.decomposition.SparseCoder : Exact sparse coding with a fixed dictionary.

    References
    ----------
    K. Gregor and Y. LeCun, "Learning fast approximations of sparse coding",
    ICML 2010.

    P. Sprechmann, A. M. Bronstein and G. Sapiro, "Learning efficient
    structured sparse models", ICML 2012.

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
        "architecture": [StrOptions(set(NETWORKS))],
        "objective": [StrOptions({"lasso", "regression"})],
    }

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        dictionary=None,
        fit_dictionary="auto",
        architecture="lcod",
        n_layers=5,
        objective="lasso",
        solver="adam",
        learning_rate=1e-3,
        batch_size=100,
        max_iter=150,
        tol=1e-4,
        n_iter_no_change=10,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.dictionary = dictionary
        self.fit_dictionary = fit_dictionary
        self.architecture = architecture
        self.n_layers = n_layers
        self.objective = objective
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _objective_per_sample(self, X, code, dictionary):
        return lasso_loss(X, code, dictionary, self.alpha)

    def _objective_numpy(self, X, code, dictionary):
        return lasso_objective_numpy(X, code, dictionary, self.alpha)

    def _build_network(self, dictionary):
        return NETWORKS[self.architecture](dictionary, self.alpha, self.n_layers)

    def _exact_codes(self, X, dictionary, init):
        with torch.no_grad():
            code, _ = solvers._solve(
                X, dictionary, self.alpha, "fista", _TARGET_MAX_ITER, _TARGET_TOL, init
            )
        return code
