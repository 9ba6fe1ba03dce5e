"""Unrolled sparse-coding networks (torch modules, no scikit-learn here), one per module.

Each network has the shape of ``n_layers`` iterations of an exact algorithm
and is initialized from the dictionary exactly as that algorithm prescribes,
so an untrained network returns the algorithm's iterate. Training then moves
the matrices ``W``, ``S`` and the thresholds away from those values.

Every layer has its own weights and thresholds (untied: the networks reach a
given accuracy with fewer layers than with weights shared across layers).
"""

from ._common import fista_momentum, records_constructor_arguments
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
    "STRUCTURED_NETWORKS",
    "RescaledLISTA",
    "StepLISTA",
    "StructuredISTA",
    "analytic_weight",
    "correction_basis",
    "fista_momentum",
    "records_constructor_arguments",
]

# Networks for the Lasso, built as ``cls(dictionary, alpha, n_layers)``.
NETWORKS = {
    "alista": ALISTA,
    "hyper_lista": HyperLISTA,
    "lista": LISTA,
    "lcod": LCoD,
    "rescaled_lista": RescaledLISTA,
    "step_lista": StepLISTA,
}


# Networks with the HiLasso prox, built as
# ``cls(dictionary, alpha, group_index, group_penalties, n_layers)``.
STRUCTURED_NETWORKS = {"bcofb": LBCoFB, "ista": StructuredISTA}
