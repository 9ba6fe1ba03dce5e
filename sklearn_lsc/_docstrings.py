"""Docstring entries that several public objects share, written once.

A docstring line holding only ``%(name)s`` stands for the entry ``name``
of :data:`ENTRIES`, indented as that line. :func:`fill_doc` replaces such
lines when the module defining the object is imported, so ``help``, the
API pages and numpydoc's checks read the whole text. An entry edited here
changes every docstring that uses it.
"""

import re
import textwrap

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.MULTILINE)

ENTRIES = {}


def fill_doc(obj):
    """Replace each placeholder line of ``obj.__doc__`` by its entry; return ``obj``.

    On a class, the docstrings of the methods it defines too. An unknown
    name raises a KeyError when the module is imported, so a misspelt
    placeholder never reaches a user.
    """
    if isinstance(obj, type):
        for member in vars(obj).values():
            if callable(member):
                _fill(member)
    return _fill(obj)


def _fill(obj):
    def entry(match):
        return textwrap.indent(ENTRIES[match["name"]], match["indent"], str.strip)

    if obj.__doc__:
        obj.__doc__ = _PLACEHOLDER.sub(entry, obj.__doc__)
    return obj


def _add(**entries):
    ENTRIES.update({name: textwrap.dedent(text).strip("\n") for name, text in entries.items()})


def _group(name, *members):
    """An entry made of other entries, in this order, a blank line apart."""
    ENTRIES[name] = "\n\n".join(ENTRIES[member] for member in members)


# The learned encoders' parameters (LearnedLassoEncoder, LearnedHiLassoEncoder,
# OnlineSparseModeler and the classifiers).
_add(
    n_components="""
    n_components : int, default=None
        Number of atoms. None: the number of rows of ``dictionary`` when it is
        given, else ``n_features``.
    """,
    n_layers="""
    n_layers : int, default=5
        Depth of the network: the number of unrolled iterations.
    """,
    solver="""
    solver : {"adam", "sgd", "armijo"}, default="adam"
        ``"adam"``, ``"sgd"`` (with Nesterov momentum 0.9): minibatch
        optimizers. ``"armijo"``: full-batch gradient descent with an Armijo
        backtracking line search, one step per epoch.
    """,
    positive="""
    positive : bool, default=False
        Whether to constrain the codes to be nonnegative (as scikit-learn's
        ``positive_code``): every layer uses the one-sided shrink
        ``max(v - t, 0)`` and the objective is minimised over ``z >= 0``.
        With ``positive_dict`` and a learned dictionary, a learned
        non-negative matrix factorization with sparse codes; with a given
        nonnegative dictionary (e.g. ``NMF.components_``), a fast encoder
        for it (:ref:`the mapping of NMF's alpha_W <nonnegative_codes>`).
    """,
    positive_dict="""
    positive_dict : bool, default=False
        Whether the dictionary steps keep the atoms nonnegative (as
        scikit-learn's ``positive_dict``); atoms drawn from training rows
        start from their positive parts. Used only when the dictionary is
        adapted; a given dictionary adapted this way must be nonnegative.
    """,
    learning_rate="""
    learning_rate : float, default=1e-3
        Initial learning rate of Adam and SGD, annealed by a cosine schedule
        over the ``max_iter`` epochs of ``fit`` (``partial_fit`` keeps it
        constant). For ``"armijo"``, the initial step size. The networks
        with analytic matrices (``"step_lista"``, ``"alista"``,
        ``"hyper_lista"``) train at ten times this rate.
    """,
    max_iter="""
    max_iter : int or "auto", default="auto"
        Maximum number of epochs of ``fit``. ``"auto"``: 150, and with early
        stopping on a given dictionary (solvers ``"adam"``, ``"sgd"``) at
        least enough epochs for 2,000 optimizer steps (a small training set
        takes few steps per epoch: 400 epochs for 450 training rows in
        batches of 100); ``max_iter_`` holds the value used.
    """,
    n_iter_no_change="""
    n_iter_no_change : int or "auto", default="auto"
        Patience of the stopping rule, in epochs. ``"auto"``: 20, and with
        early stopping on a given dictionary (``"adam"``, ``"sgd"``) at least
        270 optimizer steps' worth of epochs; ``n_iter_no_change_`` holds
        the value used.
    """,
    batch_size="""
    batch_size : int, default=100
        Rows per minibatch.
    """,
    validation_fraction="""
    validation_fraction : float, default=0.1
        Share of the rows set aside by ``early_stopping``, in (0, 1).
    """,
    transform_dtype="""
    transform_dtype : {None, "bfloat16", "auto"}, default=None
        Precision of the network's arithmetic in ``transform`` and
        ``score``. None: the dtype of ``X``. ``"bfloat16"``: a bfloat16 copy
        of the network (fast where bfloat16 products are native, warns where
        they are emulated). ``"auto"``: bfloat16 only where a timing on the
        first rows shows it faster with codes as good (the rule: see
        :ref:`the User Guide <transform_precision>`). Codes come back in the
        dtype of ``X``; training runs in the dtype of the training data.
    """,
    transform_compile="""
    transform_compile : bool, default=False
        Run ``transform`` and ``score`` through ``torch.compile`` of the
        network, compiled by the first call and kept (never pickled). Same
        codes up to rounding; worth it mostly on GPUs (see :ref:`the User
        Guide <transform_compile>`). Settable on a fitted model; if the
        compiler fails, a ``RuntimeWarning`` says so and the network runs
        uncompiled.
    """,
    device="""
    device : str or torch.device, default="cpu"
        Where the network trains and runs: ``"auto"`` (the accelerator torch
        can use, else the CPU) or any device torch names: ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"xpu"``. Apple's ``"mps"``
        has no float64: give it float32 data.
    """,
    random_state="""
    random_state : int, RandomState instance or None, default=None
        Seeds the dictionary initialization, the rows early stopping sets
        aside, the input noise and the minibatch order.
    """,
    verbose="""
    verbose : int, default=0
        When positive, print one line per epoch (loss and time), and the
        progress of transforms that take more than one batch.
    """,
    components_="""
    components_ : ndarray of shape (n_components, n_features)
        The dictionary, one atom per row.
    """,
    signal_scale_="""
    signal_scale_ : float
        A power of two near the root mean square norm of the first training
        rows. The network codes ``X / signal_scale_`` with ``alpha /
        signal_scale_`` (the same problem, its codes divided by the scale), so
        that training behaves alike at any scale of the data.
    """,
    norm_floor_="""
    norm_floor_ : float or None
        How the untrained network's ISTA steps treat atoms of different
        norms. None: one step ``1 / L`` for every atom (atoms of equal
        norms, a group penalty, or a network that does not start from ISTA,
        such as LCoD or the structured ones). A float: one step per atom,
        each atom stepping as an atom of norm ``max(||d_k||, norm_floor_)``
        would (see the User Guide's "Atoms of different norms"). ``fit``
        chooses between ``1 / L`` and floors halving from the largest atom
        norm to below the smallest, keeping the one whose FISTA iterations
        (as many as the network's layers) reach the lowest objective on up
        to 1,000 training rows.
    """,
    n_iter_="""
    n_iter_ : int
        Number of epochs run.
    """,
    early_stopping_="""
    early_stopping_ : bool
        Whether the last ``fit`` set rows aside (``early_stopping`` resolved;
        False after ``partial_fit``).
    """,
    input_noise_="""
    input_noise_ : float
        The input noise of the last ``fit`` or ``partial_fit``
        (``input_noise`` resolved).
    """,
    max_iter_="""
    max_iter_ : int
        The epoch limit of the last ``fit`` (``max_iter`` resolved).
    """,
    n_iter_no_change_="""
    n_iter_no_change_ : int
        The patience of the last ``fit`` (``n_iter_no_change`` resolved).
    """,
    validation_loss_curve_="""
    validation_loss_curve_ : list of float or None
        Mean loss of the set-aside rows after each epoch of the last ``fit``
        with ``early_stopping`` (None without it, and after ``partial_fit``).
    """,
    best_validation_loss_="""
    best_validation_loss_ : float or None
        The lowest of them: the kept network's (None without ``early_stopping``).
    """,
    n_features_in_="""
    n_features_in_ : int
        Number of features seen during fit.
    """,
    feature_names_in_="""
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    """,
)

# Runs of entries that several docstrings list together.
_group("sign_parameters", "positive", "positive_dict")
_group("optimizer_parameters", "solver", "learning_rate", "batch_size")
_group("transform_parameters", "transform_dtype", "transform_compile")
_group(
    "runtime_parameters",
    "validation_fraction",
    "transform_parameters",
    "device",
    "random_state",
    "verbose",
)
_group(
    "epoch_attributes",
    "n_iter_",
    "early_stopping_",
    "input_noise_",
    "max_iter_",
    "n_iter_no_change_",
)
_group("feature_attributes", "n_features_in_", "feature_names_in_")
_group(
    "validation_attributes",
    "validation_loss_curve_",
    "best_validation_loss_",
    "feature_attributes",
)


# Methods' and functions' parameters (with their section header) and returns.
_add(
    classify_parameters="""
    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals to classify.
    """,
    objective_parameters="""
    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, one per row.

    code : array-like of shape (n_samples, n_components)
        Codes, one per row.

    dictionary : array-like of shape (n_components, n_features)
        Atoms, one per row.

    alpha : float
        Weight of the l1 penalty.
    """,
    objective_returns="""
    Returns
    -------
    objective : float
        The mean objective.
    """,
    metric_parameters="""
    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The signals.
    code : array-like of shape (n_samples, n_components)
        Their codes, from any encoder.
    dictionary : array-like of shape (n_components, n_features)
        The atoms, one per row.
    """,
    window_parameters="""
    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, consecutive rows forming the pooling windows.
    """,
    signal_parameters="""
    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, one per row.
    """,
    sets="""
    sets : array-like of int of shape (n_samples,), default=None
        A set label per row, for collaborative HiLasso (Sprechmann et al.
        2011): the rows of a set share group activity, each set's group term
        being ``group_alpha * sum_g w_g * ||Z_g||_F`` (the Frobenius norm of
        the block of its rows' codes in group ``g``), counted once per set.
        The objective is the mean over rows of ``0.5 * ||x - z D||^2 + alpha
        * ||z||_1`` plus the sets' group terms divided by the number of rows.
        Labels need not be contiguous or sorted. None: every row is its own
        set (HiLasso). Without groups, sets change nothing.
    """,
)

# References.
_add(
    sprechmann_2012="""
    P. Sprechmann, A. M. Bronstein and G. Sapiro, "Learning efficient
    structured sparse models", ICML 2012.
    """,
)
