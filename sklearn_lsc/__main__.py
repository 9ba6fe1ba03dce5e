"""Command line: ``python -m sklearn_lsc demo``."""

import argparse
import sys


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_lsc",
        description="Learned sparse coding with scikit-learn estimators.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="train learned encoders on digits and compare them with exact solvers",
        description=(
            "On scikit-learn's digits (rows centred, unit norm; 1500 training and "
            "297 held-out rows; a dictionary of normalized training rows), train "
            "the learned encoders (--architectures) on the Lasso objective and print, for each "
            "method on the held-out rows: the mean objective, the relative gap to "
            "the optimum (F - F*) / F*, the time, and the speed-up over "
            "scikit-learn's sparse_encode (lasso_lars, lasso_cd) and over FISTA "
            "with the same number of iterations."
        ),
    )
    demo.add_argument("--n-layers", type=int, default=5, help="network depth (default 5)")
    demo.add_argument("--alpha", type=float, default=0.1, help="l1 weight (default 0.1)")
    demo.add_argument(
        "--n-components", type=int, default=128, help="dictionary atoms (default 128)"
    )
    demo.add_argument(
        "--architectures",
        default="rescaled_lista,lista",
        help="comma-separated networks to train (default rescaled_lista,lista)",
    )
    demo.add_argument(
        "--max-iter",
        type=int,
        default=None,
        help="training epochs (default: the encoder's default)",
    )
    demo.add_argument(
        "--device", default="cpu", help="cpu, cuda, cuda:N, mps, ... or auto (default cpu)"
    )
    demo.add_argument("--repeats", type=int, default=5, help="timing repetitions (default 5)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from .demo import format_table, run_demo

    encoder_params = {} if args.max_iter is None else {"max_iter": args.max_iter}
    try:
        rows, _ = run_demo(
            n_layers=args.n_layers,
            alpha=args.alpha,
            n_components=args.n_components,
            architectures=tuple(a.strip() for a in args.architectures.split(",") if a.strip()),
            encoder_params=encoder_params,
            device=args.device,
            repeats=args.repeats,
            random_state=args.seed,
        )
    except ValueError as error:  # bad options: say which, without a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
