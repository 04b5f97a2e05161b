"""Every public parameter rejects bad values with an InvalidParameterError that names the value.

One table lists each parameter of the public functions, the fluent stream methods, the
overseers, ExecutionConfig and build_topology, with the kinds of bad value it must reject:
wrong types, negative, zero, NaN, infinities, a bool where a number is expected, None and
fractions where a whole number is expected. Each rejection must be an InvalidParameterError
(never a raw TypeError, ZeroDivisionError or a hang), its message must show the value, and it
must say what to pass instead.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007

pytestmark = pytest.mark.timeout(30)

#: The bad values, by kind.
BAD_VALUES: dict[str, Any] = {
    "str": "x",
    "negative": -1,
    "zero": 0,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "bool": True,
    "none": None,
    "list": [1],
    "fraction": 2.5,
}
ALL = frozenset(BAD_VALUES)
#: Kinds every real number parameter rejects (negative and zero may be valid).
NOT_A_REAL = frozenset({"str", "nan", "inf", "-inf", "bool", "none", "list"})
#: Kinds a positive real (a rate, a duration) rejects.
NOT_POSITIVE = NOT_A_REAL | {"negative", "zero"}
#: Kinds a whole number >= 1 rejects.
NOT_A_COUNT = NOT_POSITIVE | {"fraction"}
#: Kinds a text parameter (a name, a unit) rejects.
NOT_TEXT = ALL - {"str"}
#: Words that introduce the advice in a message.
ADVICE = re.compile(r"\b(pass|use|call|give|leave|choose|add|write|end the stream)\b")


def samples() -> wb.Stream:
    return wb.sine(440.0).trim(10)


def managed() -> wb.Stream:
    return samples().map(lambda x: wb.Managed(wb.OutputSignal.NOOP, None, x), element_type=wb.Managed)


def evaluate_at(rate: Any, overseer_class: Callable) -> None:
    with overseer_class([samples().to_dev_null()]) as overseer:
        overseer.eval(rate)


#: name -> (function of the bad value, kinds of value it must reject, kinds excused from naming the value).
CASES: dict[str, tuple[Callable[[Any], Any], frozenset]] = {
    # sources
    "sine frequency": (lambda v: wb.sine(v), NOT_A_REAL),
    "sine amplitude": (lambda v: wb.sine(440.0, v), NOT_A_REAL),
    "sine time_offset": (lambda v: wb.sine(440.0, 1.0, v), NOT_A_REAL),
    "sine_sweep start_frequency": (lambda v: wb.sine_sweep(v, 200.0), NOT_A_REAL),
    "sine_sweep end_frequency": (lambda v: wb.sine_sweep(100.0, v), NOT_A_REAL),
    "sine_sweep amplitude": (lambda v: wb.sine_sweep(100.0, 200.0, v), NOT_A_REAL),
    "sine_sweep time": (lambda v: wb.sine_sweep(100.0, 200.0, 1.0, v), NOT_POSITIVE),
    "sine_sweep time_offset": (lambda v: wb.sine_sweep(100.0, 200.0, 1.0, 1.0, v), NOT_A_REAL),
    "wave uri": (lambda v: wb.wave(v), ALL - {"str"}),
    "wave channel": (lambda v: wb.wave(ARCTIC_A0007, channel=v), ALL - {"zero", "none"}),
    "wave resample": (lambda v: wb.wave(ARCTIC_A0007, resample=v), ALL - {"bool", "none"}),
    "audio_info uri": (lambda v: wb.audio_info(v), ALL - {"str"}),
    "input fn": (lambda v: wb.input(v), ALL),
    "input sample_rate": (lambda v: wb.input(lambda i, rate: 0.0, sample_rate=v), NOT_POSITIVE - {"none"}),
    "input element_type": (lambda v: wb.input(lambda i, rate: 0.0, element_type=v), ALL - {"none"}),
    "list_input values": (lambda v: wb.list_input(v), ALL - {"list"}),
    "list_input element_type": (lambda v: wb.list_input([1.0], element_type=v), ALL - {"none"}),
    "channels streams": (lambda v: wb.channels(v), ALL),
    # operations
    "trim length": (lambda v: wb.sine(1.0).trim(v), NOT_A_REAL | {"negative"}),
    "trim unit": (lambda v: wb.sine(1.0).trim(1, unit=v), ALL),
    "range_projection start": (lambda v: samples().range_projection(v), NOT_A_REAL),
    "range_projection end": (lambda v: samples().range_projection(0, v), NOT_A_REAL - {"none"} | {"negative"}),
    "range_projection unit": (lambda v: samples().range_projection(0, 5, unit=v), ALL),
    "window size": (lambda v: samples().window(v), NOT_A_COUNT),
    "window step": (lambda v: samples().window(4, v), NOT_A_COUNT - {"none"}),
    "fft bin_count": (lambda v: samples().window(4).fft(v), ALL),
    "window_function function": (lambda v: samples().window(4).window_function(v), ALL),
    "resample to": (lambda v: samples().resample(v), NOT_POSITIVE - {"none"}),
    "resample method": (lambda v: samples().resample(4000, method=v), ALL - {"none"}),
    "resample reduce": (lambda v: samples().resample(4000, reduce=v), ALL - {"none"}),
    "resample window_size": (lambda v: samples().resample(4000, method="sinc", window_size=v), NOT_A_COUNT),
    "map fn": (lambda v: samples().map(v), ALL),
    "map element_type": (lambda v: samples().map(abs, element_type=v), ALL - {"none"}),
    "map_blocks fn": (lambda v: samples().map_blocks(v), ALL),
    "map_blocks element_type": (lambda v: samples().map_blocks(np.abs, element_type=v), ALL - {"none"}),
    "merge other": (lambda v: samples().merge(v, lambda a, b: a), ALL),
    "merge fn": (lambda v: samples().merge(samples(), v), ALL),
    "merge element_type": (lambda v: samples().merge(samples(), max, element_type=v), ALL - {"none"}),
    "flat_map fn": (lambda v: samples().flat_map(v), ALL),
    "flat_map element_type": (lambda v: samples().flat_map(lambda x: [x], element_type=v), ALL - {"none"}),
    "flatten element_type": (lambda v: samples().window(4).flatten(element_type=v), ALL - {"none"}),
    "concat other": (lambda v: samples().concat(v), ALL),
    "after_filling zero": (lambda v: samples().after_filling(v), {"str", "bool", "none", "list"}),
    # outputs
    "to_wav uri": (lambda v: samples().to_wav(v), ALL - {"str"}),
    "to_wav bit_depth": (lambda v: samples().to_wav("memory://v.wav", bit_depth=v), ALL),
    "to_csv uri": (lambda v: samples().to_csv(v), ALL - {"str"}),
    "to_csv time_unit": (lambda v: samples().to_csv("memory://v.csv", time_unit=v), ALL),
    "to_csv encoding": (lambda v: samples().to_csv("memory://v.csv", encoding=v), ALL),
    "to_csv header": (lambda v: samples().to_csv("memory://v.csv", header=v, serializer=lambda *a: []),
                      ALL - {"list", "none"}),
    "magnitude_to_csv time_unit": (lambda v: samples().window(4).fft(4).magnitude_to_csv("memory://m.csv",
                                                                                          time_unit=v), ALL),
    "phase_to_csv encoding": (lambda v: samples().window(4).fft(4).phase_to_csv("memory://p.csv", encoding=v),
                              ALL),
    "to_managed_wav uri": (lambda v: managed().to_managed_wav(v), ALL - {"str"}),
    "to_managed_wav bit_depth": (lambda v: managed().to_managed_wav("memory://m.wav", bit_depth=v), ALL),
    "to_managed_wav suffix": (lambda v: managed().to_managed_wav("memory://m.wav", suffix=v), ALL - {"none"}),
    "to_managed_csv encoding": (lambda v: managed().to_managed_csv("memory://m.csv", encoding=v), ALL),
    "to_table name": (lambda v: samples().to_table(v, registry=wb.TableRegistry()), NOT_TEXT),
    "to_table max_size": (lambda v: samples().to_table("t", max_size=v, registry=wb.TableRegistry()),
                          NOT_POSITIVE),
    "to_table unit": (lambda v: samples().to_table("t", max_size=5, unit=v, registry=wb.TableRegistry()), ALL),
    "to_table reuse": (lambda v: samples().to_table("t", reuse=v, registry=wb.TableRegistry()), ALL - {"bool"}),
    "to_table registry": (lambda v: samples().to_table("t", registry=v), ALL - {"none"}),
    "table name": (lambda v: wb.table(v, registry=wb.TableRegistry()), NOT_TEXT),
    "table registry": (lambda v: wb.table("t", registry=v), ALL - {"none"}),
    "with_output_signal signal": (lambda v: wb.with_output_signal(1.0, v), ALL - {"zero"}),
    "sample_vector values": (lambda v: wb.sample_vector(v), {"str"}),
    # evaluation
    "iter_blocks sample_rate": (lambda v: next(samples().iter_blocks(v)), NOT_POSITIVE),
    "iter_blocks block_size": (lambda v: next(samples().iter_blocks(8000, v)), NOT_A_COUNT - {"none"}),
    "SingleThreadedOverseer outputs": (lambda v: wb.SingleThreadedOverseer(v), ALL),
    "SingleThreadedOverseer block_size": (lambda v: wb.SingleThreadedOverseer(samples().to_dev_null(), block_size=v),
                                          NOT_A_COUNT - {"none"}),
    "SingleThreadedOverseer eval": (lambda v: evaluate_at(v, wb.SingleThreadedOverseer), NOT_POSITIVE),
    "MultiThreadedOverseer outputs": (lambda v: wb.MultiThreadedOverseer(v), ALL),
    "MultiThreadedOverseer threads": (lambda v: wb.MultiThreadedOverseer(samples().to_dev_null(), threads=v),
                                      NOT_A_COUNT - {"none"}),
    "MultiThreadedOverseer partitions": (lambda v: wb.MultiThreadedOverseer(samples().to_dev_null(),
                                                                            partitions=v), NOT_A_COUNT),
    "MultiThreadedOverseer config": (lambda v: wb.MultiThreadedOverseer(samples().to_dev_null(), config=v),
                                     ALL - {"none"}),
    "MultiThreadedOverseer eval": (lambda v: evaluate_at(v, wb.MultiThreadedOverseer), NOT_POSITIVE),
    "build_topology outputs": (lambda v: wb.build_topology(v), ALL),
    **{f"ExecutionConfig {field}": ((lambda v, field=field: wb.ExecutionConfig(**{field: v})), NOT_A_COUNT)
       for field in ("chunk_size", "prefetch_buckets", "buffer_chunks")},
    **{f"ExecutionConfig {field}": ((lambda v, field=field: wb.ExecutionConfig(**{field: v})),
                                    NOT_A_COUNT - {"none"})
       for field in ("threads", "block_size")},
    **{f"ExecutionConfig {field}": ((lambda v, field=field: wb.ExecutionConfig(**{field: v})), NOT_POSITIVE)
       for field in ("poll_interval", "stall_timeout")},
    "ExecutionConfig group_beans": (lambda v: wb.ExecutionConfig(group_beans=v), ALL - {"bool"}),
    "ExecutionConfig proxy_prefetch": (lambda v: wb.ExecutionConfig(proxy_prefetch=v), ALL - {"bool", "none"}),
    "ExecutionConfig.replace chunk_size": (lambda v: wb.ExecutionConfig().replace(chunk_size=v), NOT_A_COUNT),
}

def table_rows() -> list:
    return [pytest.param(name, kind, id=f"{name}-{kind}") for name, (_, kinds) in CASES.items()
            for kind in sorted(kinds)]


def shown(name: str, value: Any) -> list[str]:
    """Return the ways a message may show ``value``; a list of outputs may be shown by its wrong item."""
    texts = [repr(value), str(value)]
    if isinstance(value, list) and name.endswith(" outputs"):
        texts += [repr(item) for item in value]
    return texts


@pytest.mark.parametrize("name, kind", table_rows())
def test_bad_parameter_rejected(name, kind):
    call, _ = CASES[name]
    value = BAD_VALUES[kind]

    with pytest.raises(wb.InvalidParameterError) as caught:
        call(value)

    message = str(caught.value)
    assert any(text in message for text in shown(name, value)), f"the message does not show {value!r}: {message}"
    assert ADVICE.search(message), f"the message does not say what to do: {message}"


#: A valid value for every case, to show the table's calls are otherwise correct.
VALID_VALUES: dict[str, Any] = {
    "sine frequency": 440.0, "sine amplitude": 0.5, "sine time_offset": 0.0,
    "sine_sweep start_frequency": 100.0, "sine_sweep end_frequency": 300.0, "sine_sweep amplitude": 0.5,
    "sine_sweep time": 1.0, "sine_sweep time_offset": 0.0, "wave channel": 0, "wave resample": False,
    "audio_info uri": ARCTIC_A0007, "input element_type": float, "list_input values": [1.0, 2.0],
    "trim length": 5, "trim unit": "s", "range_projection start": 1, "range_projection end": 5,
    "window size": 4, "window step": 2, "fft bin_count": 8, "window_function function": "hann",
    "resample to": 4000, "resample method": "sinc", "resample window_size": 16, "to_wav bit_depth": 24,
    "to_csv time_unit": "s", "to_csv encoding": "latin-1", "to_table max_size": 5, "to_table reuse": False,
    "with_output_signal signal": wb.OutputSignal.FLUSH, "iter_blocks sample_rate": 8000,
    "iter_blocks block_size": 3, "SingleThreadedOverseer block_size": 3, "MultiThreadedOverseer threads": 2,
    "MultiThreadedOverseer partitions": 2, "ExecutionConfig chunk_size": 16, "ExecutionConfig poll_interval": 0.01,
    "ExecutionConfig group_beans": False, "ExecutionConfig proxy_prefetch": True,
    "after_filling zero": 0.25, "map element_type": object,
}


@pytest.mark.parametrize("name", sorted(VALID_VALUES))
def test_valid_parameter_accepted(name):
    call, _ = CASES[name]

    result = call(VALID_VALUES[name])

    if isinstance(result, wb.MultiThreadedOverseer):
        result.close()


def test_table_covers_public_callables():
    # Every public function and fluent method with parameters has at least one row above.
    covered = {name.split()[0].split(".")[0] for name in CASES}
    functions = {"sine", "sine_sweep", "wave", "audio_info", "input", "list_input", "channels", "table",
                 "with_output_signal", "sample_vector", "build_topology", "ExecutionConfig",
                 "SingleThreadedOverseer", "MultiThreadedOverseer"}
    methods = {"trim", "range_projection", "window", "fft", "window_function", "resample", "map", "map_blocks",
               "merge", "flat_map", "flatten", "concat", "after_filling", "to_wav", "to_csv", "magnitude_to_csv",
               "phase_to_csv", "to_managed_wav", "to_managed_csv", "to_table", "iter_blocks"}
    assert functions <= set(wb.__all__) | {"audio_info"}
    assert all(hasattr(wb.Stream, method) for method in methods)
    assert functions | methods <= covered


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0, -5.0])
def test_change_amplitude_and_scalars_follow_numpy(value):
    # Multiplying by any real number is defined (NaN and inf give NaN and inf samples, as in numpy).
    with np.errstate(invalid="ignore"):
        expected = np.sin(2 * np.pi * 440.0 * np.arange(80) / 8000) * value

    actual = np.concatenate(list(samples().change_amplitude(value).iter_blocks(8000)))

    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("value", ["x", None, [1]])
def test_arithmetic_with_non_number_raises_type_error(value):
    # Operators follow Python's protocol: an unsupported operand raises TypeError, as for numbers.
    with pytest.raises(TypeError):
        samples() * value


def test_negative_projection_start_clamps_to_zero():
    stream = wb.list_input([1.0, 2.0, 3.0, 4.0])

    assert list(stream.range_projection(-1000, 1000).elements(2)) == [1.0, 2.0]


def test_endless_file_output_warns(tmp_dir):
    target = os.path.join(tmp_dir, "endless.wav")

    with pytest.warns(UserWarning, match="never ends") as caught:
        wb.SingleThreadedOverseer((wb.sine(440) + wb.sine(220).trim(10)).to_wav(target)).close()

    assert caught[0].filename == __file__, "the warning should point at the caller's line"


def test_ending_or_discarding_outputs_do_not_warn(tmp_dir):
    outputs = [wb.sine(440).trim(10).to_wav(os.path.join(tmp_dir, "short.wav")),
               wb.sine(440).to_dev_null()]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wb.SingleThreadedOverseer(outputs).close()
