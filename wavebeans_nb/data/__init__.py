"""Bundled speech recordings from the CMU ARCTIC database (16 kHz, 16-bit mono WAV).

The licence is in ``COPYING-cmu-arctic`` next to the files.
"""

from __future__ import annotations

import os

__all__ = ["ARCTIC_A0007", "ARCTIC_A0009", "data_path"]


def data_path(name: str) -> str:
    """Return the absolute path of a bundled data file such as ``"arctic_a0007.wav"``."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


#: Path of arctic_a0007.wav: 4.0 s of speech.
ARCTIC_A0007 = data_path("arctic_a0007.wav")
#: Path of arctic_a0009.wav.
ARCTIC_A0009 = data_path("arctic_a0009.wav")
