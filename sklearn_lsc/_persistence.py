"""Pickling without torch objects: an estimator's torch state as numpy arrays and plain values.

The pickled state of every estimator holds numpy arrays, Python numbers,
strings, lists, tuples and dicts only (and the classes of this package), so
unpickling never runs ``torch.load`` and allowlisting loaders such as
``skops.io`` need to trust nothing beyond ``sklearn_lsc``. The network is
rebuilt from its class name (one of this package's networks, nothing else)
and its constructor's arguments, then given its saved tensors; the
optimizer and the dictionary statistics likewise. Everything loads on the
CPU; the next fit or transform moves it to the estimator's ``device``.
"""

import numpy as np
import torch

from ._dictionary import OnlineDictionaryUpdate
from ._networks import REGISTRY
from ._penalties import PENALTIES, HiLassoPenalty
from ._training import ArmijoDescent, make_optimizer

# The classes a saved network may name: this package's own, nothing else.
_NETWORK_CLASSES = {cls.__name__: cls for cls in REGISTRY.values()}
# A saved penalty is a dict with this key (its class name) and its arguments.
_PENALTY_KEY = "penalty_class"

_OPTIMIZER_KINDS = {torch.optim.Adam: "adam", torch.optim.SGD: "sgd"}


def to_plain(value):
    """``value`` with every tensor replaced by a numpy copy."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, tuple(PENALTIES.values())):
        return {_PENALTY_KEY: type(value).__name__, "kwargs": to_plain(value.arguments())}
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_plain(item) for item in value)
    return value


def to_tensors(value):
    """The inverse of :func:`to_plain`: numpy arrays become CPU tensors."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))  # a writeable copy
    if isinstance(value, dict) and _PENALTY_KEY in value:
        if value[_PENALTY_KEY] not in PENALTIES:
            raise ValueError(f"Unknown penalty class {value[_PENALTY_KEY]!r} in the saved state.")
        return PENALTIES[value[_PENALTY_KEY]](**to_tensors(value["kwargs"]))
    if isinstance(value, dict):
        return {key: to_tensors(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_tensors(item) for item in value)
    return value


def network_state(network):
    """A network as its class name, constructor arguments and tensors."""
    args, kwargs = network.constructor_arguments
    return {
        "class": type(network).__name__,
        "args": to_plain(args),
        "kwargs": to_plain(kwargs),
        "tensors": to_plain(dict(network.state_dict())),
    }


def network_from_state(state):
    """Rebuild a network saved by :func:`network_state`, on the CPU."""
    name = state["class"]
    if name not in _NETWORK_CLASSES:
        raise ValueError(f"Unknown network class {name!r} in the saved state.")
    args, kwargs = to_tensors(state["args"]), to_tensors(state["kwargs"])
    tensors = to_tensors(state["tensors"])
    if len(args) + len(kwargs) == 5:
        args, kwargs, tensors = _with_penalty(name, args, kwargs, tensors)
    network = _NETWORK_CLASSES[name](*args, **kwargs)
    network.load_state_dict(tensors)
    return network


def _with_penalty(name, args, kwargs, tensors):
    """A network saved before penalties were objects: its HiLasso arguments as a penalty.

    It was built as ``cls(dictionary, alpha, group_index, group_penalties,
    n_layers)`` (``RescaledLISTA(dictionary, alpha, n_layers, group_index,
    group_penalties)``), with the group index among its own tensors.
    """
    values = [*args, *kwargs.values()]
    if name == "RescaledLISTA":
        dictionary, alpha, n_layers, index, penalties = values
    else:
        dictionary, alpha, index, penalties, n_layers = values
    tensors = {
        (f"penalty.{key}" if key in ("group_index", "group_penalties") else key): value
        for key, value in tensors.items()
    }
    tensors.setdefault("penalty.group_index", index)
    tensors.setdefault("penalty.group_penalties", penalties.to(dictionary.dtype))
    return (dictionary, HiLassoPenalty(alpha, index, penalties), n_layers), {}, tensors


def optimizer_state(optimizer):
    if isinstance(optimizer, ArmijoDescent):
        return {"kind": "armijo", "step_size": float(optimizer.step_size)}
    return {"kind": _OPTIMIZER_KINDS[type(optimizer)], "state": to_plain(optimizer.state_dict())}


def optimizer_from_state(state, network):
    if state["kind"] == "armijo":
        return ArmijoDescent(network.parameters(), state["step_size"])
    saved = to_tensors(state["state"])
    # The saved groups' rates (and scales) replace the ones made here.
    optimizer = make_optimizer(state["kind"], network, 1.0)
    if len(saved["param_groups"]) != len(optimizer.param_groups):
        # Saved before the rates followed the atoms' norms: one group, as saved.
        optimizer = make_optimizer(state["kind"], network, 1.0, by_power=False)
    optimizer.load_state_dict(saved)
    # Saved before networks declared a learning-rate scale: the network's now.
    for group in optimizer.param_groups:
        group.setdefault("lr_scale", float(getattr(network, "learning_rate_scale", 1.0)))
    return optimizer


def dictionary_update_state(update):
    return {
        "A": to_plain(update.A),
        "B": to_plain(update.B),
        "n_steps": int(update.n_steps),
        "forgetting_factor": update.forgetting_factor,
        "positive": update.positive,
    }


def dictionary_update_from_state(state):
    A, B = to_tensors(state["A"]), to_tensors(state["B"])
    update = OnlineDictionaryUpdate(
        A.shape[0],
        B.shape[0],
        forgetting_factor=state["forgetting_factor"],
        positive=state.get("positive", False),  # saved before nonnegative atoms: False
        dtype=A.dtype,
        device=torch.device("cpu"),
    )
    update.A, update.B, update.n_steps = A, B, state["n_steps"]
    return update


def plain_torch_state(state):
    """Replace the torch objects of an estimator's ``state`` dict (a copy) by plain values."""
    state = dict(state)
    torch_state = {}
    if state.get("network_") is not None:
        torch_state["network_"] = network_state(state.pop("network_"))
    if state.get("_optimizer") is not None:
        torch_state["_optimizer"] = optimizer_state(state.pop("_optimizer"))
    if state.get("_dictionary_update") is not None:
        torch_state["_dictionary_update"] = dictionary_update_state(
            state.pop("_dictionary_update")
        )
    if torch_state:
        state["_torch_state"] = torch_state
    return state


def restore_torch_state(state):
    """The inverse of :func:`plain_torch_state`, in place on ``state``."""
    if "_torch_blob" in state:
        raise ValueError(
            "This estimator was saved by an older sklearn-lsc whose files ran "
            "torch.load on loading; that format is no longer read. Fit it again "
            "and save it anew."
        )
    torch_state = state.pop("_torch_state", None)
    if torch_state is None:
        return state
    network = network_from_state(torch_state["network_"])
    state["network_"] = network
    if "_optimizer" in torch_state:
        state["_optimizer"] = optimizer_from_state(torch_state["_optimizer"], network)
    if "_dictionary_update" in torch_state:
        state["_dictionary_update"] = dictionary_update_from_state(
            torch_state["_dictionary_update"]
        )
    return state
