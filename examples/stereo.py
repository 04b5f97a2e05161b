"""Put two recordings side by side as the channels of one stereo file, then read one channel back.

Run: ``python examples/stereo.py [OUTPUT_DIR]`` (default: ./out).
"""

from __future__ import annotations

import os
import sys

import numpy as np

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007, ARCTIC_A0009


def main(output_dir: str = "out") -> int:
    os.makedirs(output_dir, exist_ok=True)
    target = os.path.join(output_dir, "stereo.wav")
    # The shorter recording (a0009) is padded with silence to the length of the longer one.
    stereo = wb.channels(wb.wave(ARCTIC_A0007), wb.wave(ARCTIC_A0009))
    with wb.SingleThreadedOverseer(stereo.to_wav(target)) as overseer:
        result = overseer.eval(16000)[0].result()
    if not result.finished:
        print(f"writing {target} failed: {result.exception!r}")
        return 1

    right = wb.wave(target, channel=1)
    peak = max(float(np.abs(block).max()) for block in right.iter_blocks(16000))
    print(f"wrote {target}: {right.samples_count(16000)} frames; right channel peak {peak:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
