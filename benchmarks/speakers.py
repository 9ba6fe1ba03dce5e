"""Table 2 of Sprechmann et al. with real signals: which two voices are speaking?

Voices of the ``espeak-ng`` speech synthesizer (install it: ``apt-get
install espeak-ng``) read different sentences for training and testing.
Features, as in the paper: 80-band short-time power-spectrum envelopes
(mel-spaced triangular bands) of 512-sample frames with 75% overlap, silent
frames dropped, one global scale. Each voice's sub-dictionary is learned on
its own training frames (the Lasso); test signals are sums of two voices'
waveforms, and ``StructuredSparseClassifier(n_active=2)`` names both voices
from the group energies of each frame, sum-pooled over windows of frames.

Compared on the fraction of pooled windows whose two voices are both named:
exact HiLasso codes on the same structured dictionary, an unstructured
network, the structured network, and the structured network trained with
the discriminative objective (2-layer networks). Targets: structured >=
exact; discriminative >= unsupervised.

Run ``python benchmarks/speakers.py``. Writes
``benchmarks/results/speakers.md`` and ``speakers.json``.
"""

import argparse
import itertools
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks._machine import machine_info  # noqa: E402
from benchmarks._plots import bar_panels  # noqa: E402
from benchmarks._report import check_lines, finish  # noqa: E402
from sklearn_lsc import StructuredSparseClassifier, sparse_encode  # noqa: E402

VOICES = ("en+m1", "en+f2", "en+m3", "en+f4", "en-us+m7", "en-gb-scotland+f1")
TRAIN_TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish. "
    "Rice is often served in round bowls. The juice of lemons makes fine punch. "
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage. "
    "Four hours of steady work faced us. A large size in stockings is hard to sell."
)
TEST_TEXTS = (
    "The boy was there when the sun rose. A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring. Kick the ball straight and follow through.",
)
FRAME, HOP, N_BANDS = 512, 128, 80
POOLING = 50
PROBLEM = dict(alpha=0.05, group_alpha=0.1)
RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def speak(voice, text, directory):
    path = pathlib.Path(directory) / f"{voice.replace('+', '_')}_{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    with wave.open(str(path)) as handle:
        rate = handle.getframerate()
        samples = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    return samples.astype(np.float64) / 32768.0, rate


def mel_bands(rate):
    """``(N_BANDS, FRAME // 2 + 1)`` triangular filters, mel-spaced up to Nyquist."""
    mel = np.linspace(0, 2595 * np.log10(1 + (rate / 2) / 700), N_BANDS + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    frequencies = np.fft.rfftfreq(FRAME, 1 / rate)
    bands = np.zeros((N_BANDS, frequencies.size))
    for band in range(N_BANDS):
        low, centre, high = edges[band : band + 3]
        rising = (frequencies - low) / (centre - low)
        falling = (high - frequencies) / (high - centre)
        bands[band] = np.clip(np.minimum(rising, falling), 0, None)
    return bands


def envelopes(signal, bands):
    """80-band power envelopes of Hann-windowed frames, 75% overlap."""
    starts = np.arange(0, signal.size - FRAME + 1, HOP)
    frames = signal[starts[:, None] + np.arange(FRAME)] * np.hanning(FRAME)
    return (np.abs(np.fft.rfft(frames, axis=1)) ** 2) @ bands.T


def build(directory):
    training, rate = {}, None
    for voice in VOICES:
        signal, rate = speak(voice, TRAIN_TEXT, directory)
        training[voice] = signal
    bands = mel_bands(rate)
    X_train, y_train = [], []
    for label, voice in enumerate(VOICES):
        features = envelopes(training[voice], bands)
        X_train.append(features)
        y_train.append(np.full(features.shape[0], label))
    X_train, y_train = np.concatenate(X_train), np.concatenate(y_train)
    loud = X_train.sum(axis=1) > 1e-3 * np.median(X_train.sum(axis=1))
    scale = np.sqrt(np.mean(np.sum(X_train[loud] ** 2, axis=1)))
    X_train, y_train = X_train[loud] / scale, y_train[loud]

    # Test: every pair of voices, each reading a test sentence, summed.
    tests = {voice: [speak(voice, text, directory)[0] for text in TEST_TEXTS] for voice in VOICES}
    windows, truths = [], []
    for first, second in itertools.combinations(range(len(VOICES)), 2):
        for sentence in range(len(TEST_TEXTS)):
            a, b = tests[VOICES[first]][sentence], tests[VOICES[second]][sentence]
            length = min(a.size, b.size)
            features = envelopes(a[:length] + b[:length], bands) / scale
            n_windows = features.shape[0] // POOLING
            windows.append(features[: n_windows * POOLING])
            truths += [(first, second)] * n_windows
    return X_train, y_train, windows, np.array(truths)


def identified(pooled, truths):
    top = np.sort(np.argsort(-pooled, axis=1)[:, :2], axis=1)
    return float(np.mean(np.all(top == truths, axis=1)))


def pooled_energies(energies):
    n_windows = energies.shape[0] // POOLING
    return energies[: n_windows * POOLING].reshape(n_windows, POOLING, -1).sum(axis=1)


def plot(payload, path):
    """Share of test windows whose two voices are both named, per method."""
    return bar_panels(path, [
        {"title": "two-voice mixtures, both voices named", "xlabel": "identified",
         "percent": True, "bars": [(row["method"], row["identified"]) for row in payload["rows"]]},
    ])  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components-per-voice", type=int, default=24)
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng): nothing to measure.")
        return 2
    with tempfile.TemporaryDirectory() as directory:
        X_train, y_train, windows, truths = build(directory)
    X_test = np.concatenate(windows)
    print(f"{X_train.shape[0]} training frames of {len(VOICES)} voices; "
          f"{truths.shape[0]} test windows of {POOLING} frames", flush=True)  # fmt: skip

    params = dict(n_components_per_class=args.n_components_per_voice, n_layers=2, n_active=2,
                  pooling_window=POOLING, random_state=0, **PROBLEM)  # fmt: skip
    rows, reference = [], None
    for name, options in {
        "unstructured network (lista)": dict(architecture="lista"),
        "structured network (bcofb)": dict(architecture="bcofb"),
        "structured network, discriminative": dict(objective="discriminative"),
    }.items():
        start = time.perf_counter()
        classifier = StructuredSparseClassifier(**params, **options).fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        energies = classifier.encoder_.group_energies(X_test)
        rows.append(
            {"method": name, "identified": identified(pooled_energies(energies), truths),
             "fit_s": fit_s}
        )  # fmt: skip
        print(f"  {name}: {rows[-1]['identified']:.1%}", flush=True)
        reference = reference or classifier
    encoder = reference.encoder_
    code = sparse_encode(X_test, encoder.components_, groups=encoder.groups_, tol=1e-6,
                         max_iter=3000, **PROBLEM)  # fmt: skip
    energies = np.stack([np.linalg.norm(code[:, g], axis=1) for g in encoder.groups_], axis=1)
    rows.insert(0, {"method": "exact HiLasso codes",
                    "identified": identified(pooled_energies(energies), truths)})  # fmt: skip

    by_method = {row["method"]: row["identified"] for row in rows}
    structured = by_method["structured network (bcofb)"]
    checks = [
        ("structured network >= exact HiLasso",
         f"{structured:.1%} vs {by_method['exact HiLasso codes']:.1%}",
         structured >= by_method["exact HiLasso codes"]),
        ("discriminative >= unsupervised",
         f"{by_method['structured network, discriminative']:.1%} vs {structured:.1%}",
         by_method["structured network, discriminative"] >= structured),
    ]  # fmt: skip
    lines = [
        "# Two-voice mixtures (Table 2 with espeak-ng voices)",
        "",
        f"{len(VOICES)} voices ({', '.join(VOICES)}), {X_train.shape[0]} training frames, "
        f"{truths.shape[0]} test windows of {POOLING} frames (every pair of voices), "
        f"{args.n_components_per_voice} atoms per voice, 2-layer networks.",
        "",
        "| method | both voices named |",
        "|---|---|",
    ]
    lines += [f"| {row['method']} | {row['identified']:.1%} |" for row in rows]
    lines.append("")
    lines += check_lines(checks)
    payload = {"machine": machine_info(), "rows": rows, "checks": checks}
    return finish(
        RESULTS, "speakers", "\n".join(lines), payload, checks,
        draw=lambda path: plot(payload, path),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
