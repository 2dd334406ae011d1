"""Other hosts a statement reads rows from: a kdb+ host over IPC (``kdb``), what SQL's
``kdb('kdb://host:port', 'q query')`` calls. Clients only, with no tickerplant behind them, so
that the engine imports them directly; the tickerplant (``indb.stream``) publishes through the
same connection."""
