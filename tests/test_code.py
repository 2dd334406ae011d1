import pytest

from indb.errors import FunctionError
from indb.registry.code import code_hash, entry_path, inspect_code, stored_path


def facts(source: str, handler: str | None = "f", must: bool = False):
    return inspect_code({"f.py": source.encode()}, "f.py", handler, must_have_handler=must)


def test_a_function_of_the_handler_name_is_called():
    assert facts("def f(ctx, t):\n    return t\n").style == "handler"


def test_decorator_metadata_is_read_without_running_the_code():
    found = facts("import sys\nsys.exit(1)\nfrom indb import udf\n"
                  "@udf.function(frame='numpy', params=['Epochs', 'lr'])\ndef train(ctx, t): pass\n",
                  handler="other")
    assert (found.handler, found.frame, found.params) == ("train", "numpy", ("epochs", "lr"))


def test_a_file_without_a_handler_is_a_script():
    found = facts("from kinetica_proc import ProcData\nProcData().complete()\n")
    assert (found.style, found.handler) == ("script", None)


def test_syntax_errors_name_the_file_and_line():
    with pytest.raises(FunctionError, match="syntax error in f.py line 2"):
        facts("x = 1\ndef f(:\n")


@pytest.mark.parametrize("decorator, message", [
    ("@udf.function(frame='excel')", "unknown frame 'excel'"),
    ("@udf.function(colour='red')", "takes frame= and params="),
    ("@udf.function(frame=FRAME)", "must be a literal"),
])
def test_bad_decorator_arguments(decorator, message):
    with pytest.raises(FunctionError, match=message):
        facts(f"from indb import udf\n{decorator}\ndef f(ctx, t): pass\n")


def test_code_hash_depends_on_names_and_contents():
    base = code_hash({"a.py": b"x"})
    assert base == code_hash({"a.py": b"x"})
    assert base != code_hash({"a.py": b"y"}) != code_hash({"b.py": b"x"})


@pytest.mark.parametrize("path, stored", [
    ("udf/x.py", "udf/x.py"), ("./udf/./data.csv", "udf/data.csv"), ("x.py", "x.py"),
    ("udf\\win.py", "udf/win.py"), ("/abs/dir/y.py", "y.py"), ("../up/z.py", "z.py"),
])
def test_file_paths_keep_their_folders_when_relative(path, stored):
    assert stored_path(path) == stored


def test_the_entry_is_the_file_at_the_path_or_the_one_of_that_name():
    stored = ["udf/f.py", "udf/lib.py", "other/lib.py"]
    assert entry_path("udf/f.py", stored) == "udf/f.py"
    assert entry_path("./udf/lib.py", stored) == "udf/lib.py"
    assert entry_path("f.py", stored) == "udf/f.py"          # indb's shorthand: one file of that name
    assert entry_path("lib.py", stored) is None               # two of that name: say which
    assert entry_path("g.py", stored) is None
