"""``indb init``, ``indb worker`` and ``indb cluster status``: a database described by URLs and
the cluster of several hosts it runs on (docs/cluster.md)."""

from __future__ import annotations

from pathlib import Path

import click

from indb.errors import IndbError


@click.command()
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--catalog", required=True, metavar="URL",
              help="SQL catalog: postgresql://user@host:5432/db (password from PGPASSWORD or "
                   "~/.pgpass), or sqlite:////path/catalog.db.")
@click.option("--warehouse", required=True, metavar="URL",
              help="Where tables live: s3://bucket/prefix, or a path every host mounts.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler functions run on: tcp://host:8786 (tls://... with --tls).")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE",
              help="pyiceberg FileIO property, e.g. s3.endpoint=http://minio:9000 (repeatable; "
                   "keys and secrets: from the environment instead).")
@click.option("--tls", is_flag=True,
              help="Make a CA and a certificate for the cluster in DIRECTORY/tls and use them.")
@click.option("--tls-host", "tls_hosts", multiple=True, metavar="NAME",
              help="A host name or address the certificate names (repeatable).")
def init(directory: str, catalog: str, warehouse: str, scheduler: str | None,
         properties: tuple[str, ...], tls: bool, tls_hosts: tuple[str, ...]) -> None:
    """Create a database described by URLs and write DIRECTORY/indb.toml describing it; open it
    with indb.connect("DIRECTORY/indb.toml") or indb --db DIRECTORY/indb.toml."""
    from indb.catalog.location import CONFIG_FILE, locate, write_config
    from indb.catalog.database import Database
    target = Path(directory).resolve()
    config = target / CONFIG_FILE
    if config.exists():
        raise click.ClickException(f"{config} exists; it describes a database already")
    pairs = dict(p.partition("=")[::2] for p in properties)
    try:
        certificates = None
        if tls:
            from indb.sharding.certificates import make_certificates
            certificates = make_certificates(target / "tls", tls_hosts)
        location = locate(catalog, warehouse, scheduler, pairs, certificates, str(config), target)
        target.mkdir(parents=True, exist_ok=True)  # a SQLite catalog may live there
        Database(location).close()  # created (or found: an existing indb catalog is kept)
        write_config(config, location)
    except IndbError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {config} (catalog and warehouse ready"
               + (f"; certificates in {target / 'tls'}" if tls else "") + ")")


@click.command()
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="The scheduler to join: tcp://host:8786 or tls://host:8786 (default: "
                   "--config's).")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An indb.toml: its scheduler and TLS files.")
@click.option("--gpus", type=int, default=None,
              help="GPUs to use, one worker each (default: those visible; 0: one CPU worker).")
@click.option("--threads", type=int, default=None,
              help="Instances each worker runs at once (default: 4 with a GPU, else 2).")
@click.option("--resources", default="", metavar="NAME=N,...",
              help="Dask resource tags every worker declares (GPU workers also declare GPU=1).")
@click.option("--name", default=None, help="Name prefix of the workers (default: host name).")
@click.option("--host", default=None, help="Address the workers listen on (default: Dask's choice).")
def worker(scheduler: str | None, config: str | None, gpus: int | None, threads: int | None,
           resources: str, name: str | None, host: str | None) -> None:
    """Join a cluster with this host's GPUs (one worker per GPU) until SIGTERM or Ctrl-C."""
    from indb.catalog.location import read_config
    from indb.runtime.gpus import visible_gpus
    from indb.sharding.workers import parse_resources, run_workers
    try:
        location = read_config(config) if config else None
        address = scheduler or (location.scheduler if location else None)
        if not address:
            raise click.ClickException("give --scheduler, or --config with a scheduler in it")
        count = visible_gpus() if gpus is None else gpus
        click.echo(f"joining {address} with {max(count, 1)} worker(s)"
                   + (", one per GPU" if count else ""), err=True)
        run_workers(address, gpus=count, threads=threads or (4 if count else 2),
                    resources=parse_resources(resources), host=host, name=name,
                    tls=location.tls if location else None)
    except IndbError as error:
        raise click.ClickException(str(error)) from None


@click.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An indb.toml: its scheduler address and TLS files.")
@click.option("--address", default=None, metavar="ADDRESS",
              help="Where to listen: tcp://0.0.0.0:8786 or tls://... (default: --config's).")
@click.option("--worker-ttl", default="30s", show_default=True, metavar="TIME",
              help="A worker silent this long (a host cut off) is taken for dead: its runs fail.")
def scheduler(config: str | None, address: str | None, worker_ttl: str) -> None:
    """Run the cluster's Dask scheduler with indb's settings (a task whose worker dies fails at
    once) until SIGTERM or Ctrl-C."""
    from indb.catalog.location import read_config
    from indb.sharding.workers import run_scheduler
    try:
        location = read_config(config) if config else None
        listen = address or (location.scheduler if location else None)
        if not listen:
            raise click.ClickException("give --address, or --config with a scheduler in it")
        click.echo(f"scheduler at {listen}", err=True)
        run_scheduler(listen, tls=location.tls if location else None, worker_ttl=worker_ttl)
    except IndbError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def cluster() -> None:
    """The cluster a database described by URLs runs its functions on."""


@cluster.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The database's indb.toml (its scheduler and TLS files).")
@click.option("--shards", type=int, default=None,
              help="Shard count whose placement is shown (default: the database's default).")
def status(config: str, shards: int | None) -> None:
    """The workers: address, threads, resources, resident memory, health, and the shards of a
    table of --shards shards each one runs."""
    from distributed import Client

    from indb.catalog.database import Database
    from indb.catalog.location import read_config
    from indb.sharding.cluster import security
    from indb.sharding.workers import cluster_status
    try:
        location = read_config(config)
        if not location.scheduler:
            raise click.ClickException(f"{config} names no scheduler: functions run on a local "
                                       "cluster of the connecting process")
        if shards is None:
            db = Database(location)
            shards = db.default_shards
            db.close()
        with Client(location.scheduler, security=security(location.tls), timeout=10) as client:
            rows = cluster_status(client, shards)
    except (IndbError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{'worker':<20} {'address':<28} {'threads':>7} {'memory':>10} {'health':<7} "
               f"shards (of {shards})")
    for row in rows:
        tags = ",".join(f"{k}={v:g}" for k, v in sorted(row.resources.items()))
        click.echo(f"{row.name:<20} {row.address:<28} {row.threads:>7} "
                   f"{row.memory / 2**20:>8.0f}MB {row.health:<7} "
                   f"{','.join(map(str, row.shards)) or '-'}" + (f"  [{tags}]" if tags else ""))
    if not rows:
        click.echo("no workers: start some with indb worker --config indb.toml")
