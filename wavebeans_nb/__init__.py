"""wavebeans-nb: audio stream processing graphs for Jupyter, evaluated on threads or a Dask cluster.

Describe a graph of beans, then evaluate its outputs with an overseer::

    import wavebeans_nb as wb
    out = (wb.wave("speech.wav") * 0.5).trim("2s").to_wav("quiet.wav")
    with wb.SingleThreadedOverseer([out]) as overseer:
        overseer.eval(16000)[0].result()
"""

from .beans import (
    Bean, BeanKind, Output, Stream, TimeMeasure, Writer, input, list_input, measure,
    register_type, sine, sine_sweep,
)
from .beans import WriteFunctionArgument, WritePhase, channels, wave
from .beans.wav_input import AudioFileInfo, read_audio_info as audio_info
from .beans import (
    FftSample, Managed, OutputSignal, SampleVector, TableHandle, TableRegistry, Window, default_registry,
    sample_vector, table, with_output_signal,
)
from .errors import (
    AudioFileError, AudioFormatError, ExecutionError, InvalidParameterError, JobCancelledError,
    OutputError, SampleRateMismatchError, WaveBeansError,
)
from .execution.result import ExecutionResult
from .execution.single_threaded import SingleThreadedOverseer
from .execution import ExecutionConfig, MultiThreadedOverseer, Topology, build_topology
from .distributed import DistributedOverseer, EvenDistributionPlanner, PartitionAffinityPlanner

__version__ = "0.1.0"

__all__ = [
    "Bean", "BeanKind", "Output", "Stream", "TimeMeasure", "Writer",
    "input", "list_input", "measure", "register_type", "sine", "sine_sweep",
    "wave", "audio_info", "AudioFileInfo", "channels", "WriteFunctionArgument", "WritePhase",
    "Window", "FftSample", "Managed", "OutputSignal", "SampleVector", "sample_vector", "with_output_signal",
    "table", "TableRegistry", "TableHandle", "default_registry",
    "AudioFileError", "AudioFormatError", "ExecutionError", "InvalidParameterError",
    "JobCancelledError", "OutputError", "SampleRateMismatchError", "WaveBeansError",
    "ExecutionResult", "SingleThreadedOverseer",
    "ExecutionConfig", "MultiThreadedOverseer", "Topology", "build_topology",
    "DistributedOverseer", "EvenDistributionPlanner", "PartitionAffinityPlanner",
]


def load_ipython_extension(ipython) -> None:
    """Register the ``%wavebeans`` magics (``%load_ext wavebeans_nb``)."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def _draw_for_jupyter(graph, include=None, exclude=None) -> dict:
    # Imported on first display, so that importing the package does not load the drawing code.
    from .notebook.drawing import mimebundle

    return mimebundle(graph, include, exclude)


from .execution import display as _display  # noqa: E402

_display.set_renderer(_draw_for_jupyter)
