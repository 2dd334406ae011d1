"""``indb serve``: the database served to many clients at once, over HTTP (``app``: statements,
loads, runs with progress) and the PostgreSQL protocol (``pgwire``), from one process that owns
it (``serve.Service``). Needs the ``[server]`` extra (FastAPI, uvicorn, buenavista)."""
