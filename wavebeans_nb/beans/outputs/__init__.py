"""Outputs: where streams are written. Importing this package registers ``to_wav``, ``to_csv``, ``out``."""

from .base import AtomicFile, Output, Writer
from .csv import CsvOutput
from .devnull import DevNullOutput
from .function import FunctionOutput, WriteFunctionArgument, WritePhase
from .wav import WavOutput

__all__ = [
    "AtomicFile", "Output", "Writer", "CsvOutput", "DevNullOutput", "FunctionOutput",
    "WavOutput", "WriteFunctionArgument", "WritePhase",
]
