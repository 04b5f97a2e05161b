"""Code shipping: pickle a job's pods so that they run on workers that have only wavebeans-nb installed.

cloudpickle already sends functions and classes of ``__main__`` (a notebook,
a script) and locally defined ones by value. Functions and classes of other
modules travel by reference, which fails on a worker that cannot import the
module. :func:`pickle_job` therefore registers, for the time of one
``dumps``, every module that the job's beans and parameters come from and
that is not installed (not wavebeans-nb itself, not in the standard library
or site-packages) to be pickled by value. The payload then contains the
code; the worker unpickles it into fresh objects for that job only, and
nothing is installed into a module or registry there.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from types import ModuleType
from typing import Any, Iterable

import cloudpickle

from ..execution.config import ExecutionConfig
from ..execution.podref import PodRef

__all__ = ["pickle_job", "modules_to_ship"]

_LOCK = threading.Lock()
_INSTALLED_ROOTS = tuple(
    os.path.realpath(path) + os.sep
    for name in ("stdlib", "platstdlib", "purelib", "platlib")
    if (path := sysconfig.get_paths().get(name))
)
_NEVER_SHIPPED = {"wavebeans_nb", "builtins", "__main__"}


def _values(value: Any, depth: int = 0) -> Iterable[Any]:
    yield value
    if depth >= 3:
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _values(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _values(item, depth + 1)
    closure = getattr(value, "__closure__", None)
    for cell in closure or ():
        try:
            yield from _values(cell.cell_contents, depth + 1)
        except ValueError:  # an empty cell
            continue


def _needs_shipping(module: ModuleType) -> bool:
    if module.__name__.split(".")[0] in _NEVER_SHIPPED:
        return False
    path = getattr(module, "__file__", None)
    if not path:
        return False
    return not os.path.realpath(path).startswith(_INSTALLED_ROOTS)


def modules_to_ship(pods: Iterable[PodRef]) -> list[ModuleType]:
    """Return the modules the pods' beans and parameters come from that workers may not be able to import."""
    names: set[str] = set()
    for pod in pods:
        for ref in pod.beans:
            names.add(ref.cls.__module__)
            for value in _values(list(ref.params.values())):
                module = getattr(value, "__module__", None) if not isinstance(value, ModuleType) else None
                if isinstance(module, str):
                    names.add(module)
                names.add(type(value).__module__)
    modules = [sys.modules[name] for name in sorted(names) if name in sys.modules]
    return [module for module in modules if _needs_shipping(module)]


def pickle_job(pods: list[PodRef], config: ExecutionConfig, extra_modules: Iterable[ModuleType] = ()) -> bytes:
    """Return the cloudpickle payload a Facilitator plants: ``{"pods": pods, "config": config}``.

    Parameters
    ----------
    pods : list of PodRef
    config : ExecutionConfig
    extra_modules : iterable of module
        Modules to send by value as well (for code the automatic rule misses).
    """
    modules = {module.__name__: module for module in [*modules_to_ship(pods), *extra_modules]}
    with _LOCK:  # registration is process-wide in cloudpickle, so pickling jobs is serialised
        registered = []
        try:
            for module in modules.values():
                if module.__name__ not in cloudpickle.list_registry_pickle_by_value():
                    cloudpickle.register_pickle_by_value(module)
                    registered.append(module)
            return cloudpickle.dumps({"pods": list(pods), "config": config})
        finally:
            for module in registered:
                cloudpickle.unregister_pickle_by_value(module)
