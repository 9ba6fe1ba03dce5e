"""Unrolled sparse-coding networks (torch modules, no scikit-learn here), one per module.

Each network has the shape of ``n_layers`` iterations of an algorithm and is
initialized from the dictionary as that algorithm prescribes, so an untrained
network returns the algorithm's iterate. Training then moves its parameters
away from those values: per-layer matrices and thresholds (LISTA, LCoD,
rescaled LISTA, the structured networks: untied, as they reach a given
accuracy with fewer layers than with weights shared across layers), or only a
few numbers beside analytic matrices computed from the dictionary (step
LISTA, ALISTA, HyperLISTA).
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
