"""Unrolled sparse-coding networks (torch modules, no scikit-learn here), one per module.

Each network has the shape of ``n_layers`` iterations of an algorithm and is
initialized from the dictionary as that algorithm prescribes, so an untrained
network returns the algorithm's iterate. Training then moves its parameters
away from those values: per-layer matrices and thresholds (LISTA, LCoD,
rescaled LISTA, the structured networks: untied, as they reach a given
accuracy with fewer layers than with weights shared across layers), or only a
few numbers beside analytic matrices computed from the dictionary (step
LISTA, ALISTA, HyperLISTA).

Every network is built as ``cls(dictionary, penalty, n_layers)``:
``dictionary`` a tensor of shape (n_components, n_features), whose dtype and
device the network takes; ``penalty`` one of :mod:`sklearn_lsc._penalties`
(a float is the Lasso's ``alpha``), of which the network keeps a copy;
``n_layers`` its depth. ``forward(X)`` maps signals (n_samples, n_features)
to codes (n_samples, n_components).
"""

from ._common import fista_momentum, records_constructor_arguments, reset_atoms
from .alista import ALISTA, analytic_weight
from .hyper_lista import HyperLISTA
from .lbcofb import LBCoFB
from .lcod import LCoD
from .lista import LISTA
from .rescaled_lista import RescaledLISTA, correction_basis
from .step_lista import StepLISTA
from .structured_ista import StructuredISTA

__all__ = [
    "ALISTA",
    "HyperLISTA",
    "LBCoFB",
    "LCoD",
    "LISTA",
    "NETWORKS",
    "REGISTRY",
    "STRUCTURED_NETWORKS",
    "RescaledLISTA",
    "StepLISTA",
    "StructuredISTA",
    "analytic_weight",
    "correction_basis",
    "fista_momentum",
    "records_constructor_arguments",
    "reset_atoms",
]

# Every network by its ``architecture`` name, built as ``cls(dictionary,
# penalty, n_layers)`` (``penalty`` one of ``sklearn_lsc._penalties``, or the
# Lasso's ``alpha``). A class with ``needs_groups = True`` learns group
# thresholds and takes only a penalty with groups.
REGISTRY = {
    "alista": ALISTA,
    "bcofb": LBCoFB,
    "hyper_lista": HyperLISTA,
    "ista": StructuredISTA,
    "lcod": LCoD,
    "lista": LISTA,
    "rescaled_lista": RescaledLISTA,
    "step_lista": StepLISTA,
}

# The Lasso networks (their layers threshold with the penalty's l1 part) and
# the structured ones.
NETWORKS = {name: cls for name, cls in REGISTRY.items() if not getattr(cls, "needs_groups", False)}
STRUCTURED_NETWORKS = {
    name: cls for name, cls in REGISTRY.items() if getattr(cls, "needs_groups", False)
}
