"""Outputs: where streams are written."""

from .base import AtomicFile, Output, Writer
from .devnull import DevNullOutput

__all__ = ["AtomicFile", "Output", "Writer", "DevNullOutput"]
