"""A Mahalanobis fitting term learned jointly with per-class encoders (Section 4.4).

Each class ``c`` scores a signal by its objective with the fitting term
``0.5 ||Q (x - z_c D_c)||^2`` in place of ``0.5 ||x - z_c D_c||^2``, ``Q``
shared by all classes. ``Q`` and the class networks are trained together to
minimise, per training row of class ``t``,

    f_t(x) + max(0, margin + f_t(x) - min_{c != t} f_c(x)),

the true class's objective plus a hinge on its lead over the best wrong
class. The dictionaries stay fixed. ``Q`` is kept at the Frobenius norm of
the identity after every step: otherwise shrinking it would shrink every
objective and the margin could only be met by growing it without bound.
"""

import numpy as np
import torch

from ._torch_utils import (
    exact_device,
    optimizer_state_on_cpu,
    resolve_device,
    to_numpy,
    to_tensor,
)


def projected_objective(objective, X, code, dictionary, projection):
    """Per-sample ``objective`` (an encoder's), fitting term seen through ``projection``."""
    residual = X - code @ dictionary
    euclidean = 0.5 * residual.pow(2).sum(dim=1)
    projected = 0.5 * (residual @ projection.T).pow(2).sum(dim=1)
    return objective(X, code, dictionary) - euclidean + projected


class MetricLearner:
    """Trains ``Q`` (from ``projection``, the identity when None) and the class networks."""

    def __init__(
        self, encoders, projection, *, margin, learning_rate, batch_size, device, random_state
    ):
        self.encoders = encoders
        self.margin = margin
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.rng = random_state
        self.encodings = [encoder._torch_encoding(self.device) for encoder in encoders]
        dtype = self.encodings[0].dtype
        n_features = encoders[0].components_.shape[1]
        if projection is None:
            projection = np.eye(n_features)
        self.projection = to_tensor(projection, device=self.device, dtype=dtype)
        self.projection.requires_grad_(True)
        self.dictionaries = [
            to_tensor(encoder.components_, device=self.device, dtype=dtype) for encoder in encoders
        ]
        parameters = [self.projection]
        for encoding in self.encodings:
            parameters += encoding.parameters
        self.optimizer = torch.optim.Adam(parameters, lr=learning_rate)

    def objectives(self, X):
        """``(n_samples, n_classes)`` objectives of ``X`` (a tensor) under the current ``Q``."""
        columns = [
            projected_objective(
                encoding.objective, X, encoding.code(X), dictionary, self.projection
            )
            for encoding, dictionary in zip(self.encodings, self.dictionaries, strict=True)
        ]
        return torch.stack(columns, dim=1)

    def loss(self, X, y_index):
        objectives = self.objectives(X)
        true = objectives.gather(1, y_index[:, None]).squeeze(1)
        wrong = objectives.scatter(1, y_index[:, None], float("inf")).amin(dim=1)
        return (true + torch.relu(self.margin + true - wrong)).mean()

    def epoch(self, X, y_index):
        """One pass of minibatches over ``X`` (numpy) with class indices ``y_index``."""
        dtype = self.projection.dtype
        X = to_tensor(X, device=self.device, dtype=dtype)
        y_index = torch.as_tensor(y_index, device=self.device)
        norm = float(np.sqrt(X.shape[1]))
        order = torch.from_numpy(self.rng.permutation(X.shape[0])).to(self.device)
        total = 0.0
        for start in range(0, X.shape[0], self.batch_size):
            rows = order[start : start + self.batch_size]
            loss = self.loss(X[rows], y_index[rows])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            with optimizer_state_on_cpu():
                self.optimizer.step()
            with torch.no_grad():
                self.projection.mul_(norm / torch.linalg.matrix_norm(self.projection))
            total += float(loss.detach()) * rows.shape[0]
        return total / X.shape[0]

    def result(self):
        return to_numpy(self.projection, np.float64)


def projected_objectives(encoders, X, projection, *, rows_per_batch=65536):
    """``(n_samples, n_classes)`` objectives of validated ``X``, fitting term through ``Q``.

    Codes and objectives are computed batch by batch on the encoders' device,
    the objective in float64, without the codes leaving the device.
    """
    device = resolve_device(encoders[0].device)
    exact = exact_device(device)  # float64 work: on the device unless it has none
    columns = []
    with torch.inference_mode():
        Q = to_tensor(projection, device=exact, dtype=torch.float64)
        for encoder in encoders:
            encoding = encoder._torch_encoding(device, exact, torch.float64)
            dtype = encoding.dtype
            dictionary = to_tensor(encoder.components_, device=exact, dtype=torch.float64)
            values = np.empty(X.shape[0])
            for start in range(0, X.shape[0], rows_per_batch):
                rows = slice(start, start + rows_per_batch)
                batch = to_tensor(X[rows], device=device, dtype=dtype)
                code = encoding.code(batch).to(exact, torch.float64)
                signals = batch.to(exact, torch.float64)
                values[rows] = to_numpy(
                    projected_objective(encoding.objective, signals, code, dictionary, Q),
                    np.float64,
                )
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    "X's objective overflowed: X holds values far beyond the scale of "
                    "the training data. Scale X as the training data was."
                )
            columns.append(values)
    return np.stack(columns, axis=1)
