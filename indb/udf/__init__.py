"""The API a UDF imports: ``from indb import udf``.

A UDF is a plain function ``(ctx, *inputs) -> output(s)``; ``@udf.function(frame=..., params=...)``
is optional metadata that indb reads from the source when the function is registered (the code
is never run for that), so the decorator itself only marks the function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from indb.udf.context import Context, Params

__all__ = ["Context", "Params", "function"]

F = TypeVar("F", bound=Callable)


def __getattr__(name: str) -> object:
    """``Context`` and ``Params``, imported when first asked for: a Kinetica script's
    ``kinetica_proc`` imports this package and needs neither (nor the catalog they import)."""
    if name in ("Context", "Params"):
        from indb.udf import context
        return getattr(context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def function(_fn: F | None = None, *, frame: str = "arrow",
             params: Iterable[str] | None = None) -> F | Callable[[F], F]:
    """Mark a UDF handler; ``frame`` is how inputs arrive (a key of ``indb.udf.frames.CONVERTERS``)
    and ``params`` the parameter names it accepts (EXECUTE FUNCTION refuses others)."""
    def mark(fn: F) -> F:
        setattr(fn, "__indb_udf__",  # noqa: B010 (a function's attribute mypy cannot see)
                {"frame": frame, "params": None if params is None else tuple(params)})
        return fn
    return mark(_fn) if _fn is not None else mark
