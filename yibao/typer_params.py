"""Typer coerces every parameter value through a pydantic TypeAdapter, and importing pydantic to build the first one
costs more than the rest of a light command's start-up (bench/bench_cli_start.py). `install()` makes the values the
command line actually receives — a str, an int written in digits, a path, a bool or int already of its type — pass
without pydantic, exactly as typer's adapter would return them; any other value or annotation goes to typer's own
coercion, built on first use, so its results and its error messages are typer's. Typer is pinned (pyproject.toml):
`tests/test_cli_start.py` checks these values against typer's own coercion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer import core
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_path

if TYPE_CHECKING:
    from typer._click import Context

_DIGITS = re.compile(r"-?[0-9]{1,18}")
_PLAIN = (str, int, bool, Path)


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """A str, int, bool or Path parameter with no parser, range or path type of its own."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: core._TyperParameter, ctx: Context) -> Any:
        annotation, kind = self.annotation, type(value)
        if kind is annotation and annotation is not Path:
            return value
        if annotation is Path and (kind is str and value or isinstance(value, Path)):
            return coerce_cli_path(Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx)
        if annotation is int and kind is str and _DIGITS.fullmatch(value):
            return int(value)
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    """The coercion of one parameter: `PlainRuntimeParam` when it applies, else typer's."""
    info = descriptor.parameter_info
    if (descriptor.annotation in _PLAIN and descriptor.file_annotation is None and info.parser is None
            and info.path_type is None and info.min is None and info.max is None and not info.clamp):
        return PlainRuntimeParam(info, descriptor.annotation, descriptor)
    return build_runtime_param(descriptor)


def _get_runtime_param(self: core._TyperParameter) -> RuntimeParam:
    if self._runtime_param is None:
        self._runtime_param = runtime_param(self.type_descriptor)
    return self._runtime_param


def install() -> None:
    """From now on, every typer parameter in this process is coerced by `runtime_param` (built on first use)."""
    core._TyperParameter.get_runtime_param = _get_runtime_param  # type: ignore[method-assign]
