"""Mix speech with a quiet tone, keep two seconds and write a 24-bit WAV and a CSV.

Run: ``python examples/speech_mix.py [OUTPUT_DIR]`` (default: ./out).
"""

from __future__ import annotations

import os
import sys

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0009


def main(output_dir: str = "out") -> int:
    os.makedirs(output_dir, exist_ok=True)
    speech = wb.wave(ARCTIC_A0009)
    mixed = (speech * 0.9 + wb.sine(220, amplitude=0.03)).trim("2s")
    outputs = [
        mixed.to_wav(os.path.join(output_dir, "speech_mix.wav"), bit_depth=24),
        # The second half-second only, as CSV with times in microseconds.
        mixed.range_projection("1.5s", "2s").to_csv(os.path.join(output_dir, "speech_mix.csv"), time_unit="us"),
    ]
    with wb.SingleThreadedOverseer(outputs) as overseer:
        results = [future.result() for future in overseer.eval(wb.audio_info(ARCTIC_A0009).sample_rate)]
    for output, result in zip(outputs, results):
        print(output.label(), "finished" if result.finished else f"failed: {result.exception!r}")
    return 0 if all(result.finished for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
