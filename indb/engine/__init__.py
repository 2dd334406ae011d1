"""The engine: carries plans out, one module per statement family (``tables``, ``functions``,
``models``, ``queries``), each handler registered in the one table of ``handlers``."""

from indb.engine.core import Engine
from indb.engine.handlers import HANDLERS

__all__ = ["HANDLERS", "Engine"]
