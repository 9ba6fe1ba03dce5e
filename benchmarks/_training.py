"""The training the suites' committed figures were measured with.

The encoders' defaults are chosen by ``benchmarks/defaults.py`` and may
change; the other suites measure speed, convergence, classification and
streams, not defaults, so they train as their committed runs did (explicit
settings of a suite override these).
"""

COMMITTED_TRAINING = dict(input_noise=0.0, tol=1e-4, n_iter_no_change=10, early_stopping=False)


def committed_training(**overrides):
    """:data:`COMMITTED_TRAINING` updated with a suite's own settings."""
    return {**COMMITTED_TRAINING, **overrides}
