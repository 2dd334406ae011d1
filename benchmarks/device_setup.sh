# Sourced by the device_*_round.sh scripts (from the repository root): $out (from $OUT, else
# ./device-out) made, $tag from their first argument (else today's date), the wheels in .whl/
# (made by device_wheels.sh) installed into /tmp/site and put on PYTHONPATH with the repository.
# The lent machine lacks duckdb, sqlglot, dask, pyiceberg and the rest: they travel as wheels.
set -u
out=${OUT:-device-out}
tag=${1:-$(date -u +%Y-%m-%d)}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
