"""The stream model: bean kinds, element types, inputs, operations and outputs.

This layer does not import the execution layer, and importing it registers every fluent
method on :class:`~wavebeans_nb.beans.base.Stream`.
"""

from . import operations  # noqa: F401  (registers fluent methods)
from .base import Bean, BeanKind, Stream, register_api
from .channels import ChannelsStream, Frame, channels
from .inputs import input, list_input, sine, sine_sweep
from .measure import measure, register_type
from .outputs import (
    CsvOutput, DevNullOutput, FunctionOutput, Output, WavOutput, WriteFunctionArgument, WritePhase, Writer,
)
from .timeunit import TimeMeasure
from .wav_input import WaveInput, wave
from . import fft, flatten, resample, window  # noqa: F401  (register fluent methods)
from .outputs import fft_csv, managed  # noqa: F401  (register fluent methods)
from .table import TableHandle, TableRegistry, default_registry, table
from .types import FftSample, Managed, OutputSignal, SampleVector, Window, sample_vector, with_output_signal

__all__ = [
    "Bean", "BeanKind", "Stream", "register_api", "Output", "Writer", "TimeMeasure",
    "input", "list_input", "sine", "sine_sweep", "measure", "register_type",
    "wave", "WaveInput", "channels", "ChannelsStream", "Frame",
    "CsvOutput", "DevNullOutput", "FunctionOutput", "WavOutput", "WriteFunctionArgument", "WritePhase",
    "Window", "FftSample", "Managed", "OutputSignal", "SampleVector", "sample_vector", "with_output_signal",
    "table", "TableRegistry", "TableHandle", "default_registry",
]
