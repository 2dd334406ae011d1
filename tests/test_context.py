"""``ctx``: its facts, its parameters, and where its status and progress go."""

import io

import pytest

from indb.udf.context import PROGRESS_INTERVAL, Context, Params


def make(tmp_path, function="f", **kw):
    said = []
    ctx = Context(run_id="r1", function=function, shard=2, shards=4, mode="distributed",
                  params={"alpha": "0.5"}, scratch=tmp_path, outputs=("out",),
                  on_status=lambda text: said.append(("status", text)),
                  on_progress=lambda done, total: said.append(("progress", done, total)), **kw)
    return ctx, said


def test_a_context_knows_where_it_runs(tmp_path):
    ctx, _ = make(tmp_path)
    assert (ctx.run_id, ctx.shard, ctx.shards, ctx.mode, ctx.device) == ("r1", 2, 4, "distributed", "cpu")
    assert ctx.outputs == ("out",) and ctx.scratch == tmp_path and "shard 2/4" in repr(ctx)


def test_a_missing_parameter_says_how_to_pass_it():
    params = Params({"alpha": "1"})
    assert params["alpha"] == "1" and params.get("beta", "2") == "2"
    with pytest.raises(KeyError, match=r"no parameter 'beta'.*given: alpha.*KV_PAIRS\(beta"):
        params["beta"]


def test_status_goes_out_at_once(tmp_path):
    ctx, said = make(tmp_path)
    ctx.status(42)
    assert said == [("status", "42")]


def test_progress_is_sent_at_most_every_interval_and_always_at_the_end(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("indb.udf.context.time.monotonic", lambda: clock[0])
    ctx, said = make(tmp_path)
    ctx.progress(1, 10)
    ctx.progress(2, 10)              # too soon: dropped
    clock[0] += PROGRESS_INTERVAL
    ctx.progress(3, 10)
    ctx.progress(10, 10)             # the end: always sent
    assert said == [("progress", 1.0, 10.0), ("progress", 3.0, 10.0), ("progress", 10.0, 10.0)]


def test_log_lines_go_to_stderr_which_is_the_instance_log(tmp_path, monkeypatch):
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    ctx, _ = make(tmp_path, function="logs")  # a new logger: its handler writes to stderr now
    ctx.logger.info("hello from the shard")
    assert stderr.getvalue().endswith("INFO hello from the shard\n")
