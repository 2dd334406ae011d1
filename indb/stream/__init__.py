"""Streaming: a kdb+ tick-compatible tickerplant over indb's tables.

``Tickerplant`` (journal, real-time tables, subscribers, flushes) and ``TickServer`` (kdb+ IPC
on asyncio) are in their modules; ``serve`` starts both for a database directory. PyKX is
needed (``pip install 'indb[kdb]'``). The guide is docs/streaming.md.
"""
