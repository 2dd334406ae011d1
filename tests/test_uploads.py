"""Code uploads over the API (``indb.server.files``, ``indb.registry.uploads``): a developer puts
a function's files in its own upload area and names them in ``CREATE FUNCTION ... FILE PATHS
'upload://name'``; nobody else uploads, no name reaches outside the area."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import indb
import indb.errors
from indb.registry.uploads import MAX_UPLOAD, UPLOADS
from serving import Served

CODE = b"def score(ctx, t):\n    return t  # uploaded\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """dev and eve developers, ann an analyst; their tokens."""
    path = tmp_path_factory.mktemp("uploads") / "db"
    tokens = {}
    with indb.connect(path) as conn:
        for user, role in (("dev", "developer"), ("eve", "developer"), ("ann", "analyst")):
            conn.sql(f"CREATE USER {user}")
            conn.sql(f"GRANT {role} TO {user}")
            tokens[user] = conn.sql(f"CREATE TOKEN FOR {user}").arrow()["token"][0].as_py()
    server = Served(path)
    server.tokens, server.path = tokens, path
    yield server
    server.stop()


def client(served, user):
    return httpx.Client(base_url=served.url, timeout=60,
                        headers={"Authorization": f"Bearer {served.tokens[user]}"})


def stored_code(served, function):
    """The files the database keeps for ``function``, read from its code directory."""
    with indb.connect(served.path) as conn:
        functions = conn._engine.functions
        info = functions.find(function)
        return {name: (Path(functions.code_dir(info)) / name).read_bytes() for name in info.files}


def sql(http, statement):
    return http.post("/v1/sql", json={"sql": statement})


def test_a_developer_uploads_code_and_registers_it_from_the_upload(served):
    with client(served, "dev") as http:
        put = http.put("/v1/files/udfs/score.py", content=CODE)
        assert put.status_code == 200, put.text
        assert put.json() == {"name": "udfs/score.py", "size": len(CODE),
                              "file_path": "upload://udfs/score.py"}
        assert http.get("/v1/files").json()["files"] == [put.json()]
        created = sql(http, "CREATE FUNCTION score RUN_COMMAND = 'python' "
                            "FILE PATHS 'upload://udfs/score.py'")
        assert created.status_code == 200, created.text
        assert stored_code(served, "score") == {"udfs/score.py": CODE}
        assert (served.path / UPLOADS / "dev" / "udfs" / "score.py").read_bytes() == CODE


def test_only_developers_and_admins_upload(served):
    with client(served, "ann") as http:
        refused = http.put("/v1/files/x.py", content=CODE)
        assert refused.status_code == 403
        assert refused.json()["error"]["class"] == "PrivilegeError"
        assert http.get("/v1/files").status_code == 403
    assert not (served.path / UPLOADS / "ann").exists()
    assert httpx.put(f"{served.url}/v1/files/x.py", content=CODE).status_code == 401


@pytest.mark.parametrize("name", ["../escape.py", ".hidden.py", "a/../../b.py", "a//b.py",
                                  "%2Fetc%2Fpasswd", "x" * 200])
def test_names_outside_the_area_are_refused(served, name):
    with client(served, "dev") as http:
        answer = http.put(f"/v1/files/{name}", content=CODE)
        assert answer.status_code in (400, 404), answer.text
        assert "error" in answer.json()
    area = served.path / UPLOADS
    assert not (served.path / "escape.py").exists() and not (area / "b.py").exists()


def test_a_file_over_the_limit_is_refused_and_nothing_is_written(served):
    with client(served, "dev") as http:
        answer = http.put("/v1/files/big.bin", content=b"\0" * (MAX_UPLOAD + 1))
        assert answer.status_code == 400 and "MiB" in answer.json()["error"]["message"]
    assert not (served.path / UPLOADS / "dev" / "big.bin").exists()


def test_a_user_names_only_its_own_uploads(served):
    with client(served, "dev") as http:
        assert http.put("/v1/files/mine.py", content=CODE).status_code == 200
    with client(served, "eve") as http:
        answer = sql(http, "CREATE FUNCTION theirs RUN_COMMAND = 'python' FILE PATHS 'upload://mine.py'")
        assert answer.status_code == 422 and "eve uploaded" in answer.json()["error"]["message"]
        refused = sql(http, "CREATE FUNCTION theirs RUN_COMMAND = 'python' "
                            "FILE PATHS 'upload://../dev/mine.py'")
        assert refused.status_code == 400 and "not a name for an uploaded file" in refused.text


def test_delete_and_a_clash_of_names(served):
    with client(served, "dev") as http:
        assert http.put("/v1/files/pkg/a.py", content=CODE).status_code == 200
        clash = http.put("/v1/files/pkg", content=CODE)  # a directory of that name is there
        assert clash.status_code == 400 and "clashes" in clash.json()["error"]["message"]
        assert http.delete("/v1/files/pkg/a.py").json()["size"] == len(CODE)
        assert http.delete("/v1/files/pkg/a.py").status_code == 400
        assert "pkg/a.py" not in str(http.get("/v1/files").json())


def test_the_remote_connection_uploads(served, tmp_path):
    source = tmp_path / "local.py"
    source.write_bytes(CODE)
    with indb.connect(served.url, token=served.tokens["eve"]) as conn:
        assert conn.upload("lib/local.py", source) == "upload://lib/local.py"
        conn.sql("CREATE FUNCTION local_one RUN_COMMAND = 'python' FILE PATHS 'upload://lib/local.py'")
    assert stored_code(served, "local_one") == {"lib/local.py": CODE}
    with indb.connect(served.url, token=served.tokens["ann"]) as conn:
        with pytest.raises(indb.errors.PrivilegeError):
            conn.upload("x.py", CODE)


def test_a_remote_create_function_uploads_the_files_of_this_machine(served, tmp_path):
    (tmp_path / "udfs").mkdir()
    (tmp_path / "udfs" / "here.py").write_bytes(CODE)
    # dev has no file_paths_allowed: only an upload can be read for it
    with indb.connect(served.url, token=served.tokens["dev"]) as conn:
        conn.sql(f"CREATE FUNCTION from_here RUN_COMMAND = 'python' "
                 f"FILE PATHS '{tmp_path / 'udfs' / 'here.py'}'")
        names = [f["name"] for f in httpx.get(
            f"{served.url}/v1/files", headers={"Authorization": f"Bearer {served.tokens['dev']}"}
        ).json()["files"]]
        assert "here.py" in names
        with pytest.raises(indb.errors.PrivilegeError, match="file_paths_allowed"):
            conn.sql("CREATE FUNCTION elsewhere RUN_COMMAND = 'python' "
                     "FILE PATHS '/nonexistent/on/this/machine.py'")  # the server's path
    assert stored_code(served, "from_here") == {"here.py": CODE}
