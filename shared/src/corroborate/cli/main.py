"""``corroborate``: the operators' command line."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from corroborate.auth import SERVICE_AUDIENCES, Role, generate_keypair, issue_token
from corroborate.cli.provider import provider_app
from corroborate.settings import load_settings

app = typer.Typer(help="Corroborate operator commands.", no_args_is_help=True)
keys_app = typer.Typer(help="Local key material.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(provider_app, name="provider")


class Dependency(StrEnum):
    AMQP = "amqp"
    MONGO = "mongo"
    S3 = "s3"


@app.command()
def ping(
    dependency: Dependency,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 3.0,
) -> None:
    """Exit 0 if the broker, database or object store answers with the configured settings."""
    from corroborate.cli.checks import check  # noqa: PLC0415 - keeps start-up light

    try:
        asyncio.run(asyncio.wait_for(check(dependency.value, load_settings()), timeout))
    except Exception as exc:
        typer.echo(f"{dependency.value}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{dependency.value}: ok")


@keys_app.command("init")
def keys_init(
    directory: Annotated[Path, typer.Option("--dir", help="Where keys and the env file go.")],
    mongo_url: Annotated[str, typer.Option()] = "mongodb://127.0.0.1:27017/?directConnection=true",
    s3_endpoint: Annotated[str, typer.Option()] = "127.0.0.1:9000",
    amqp_url: Annotated[str, typer.Option()] = "amqp://guest:guest@127.0.0.1:5672/",
) -> None:
    """Generate a token issuer key pair, a master key, the operator's database and storage
    credentials and each service's own (access.json) for a local stack."""
    keys = directory / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = generate_keypair()
    private_file = keys / "issuer.key.pem"
    public_file = keys / "issuer.pub.pem"
    _write_private(private_file, private_pem)
    public_file.write_text(public_pem, encoding="utf-8")
    from corroborate.access import Access, with_credentials  # noqa: PLC0415

    access_file = directory / "access.json"
    Access.generate().save(access_file)
    operator = with_credentials(
        mongo_url,
        "corroborate-operator",
        secrets.token_urlsafe(24),
        query={"authSource": "admin"},
    )
    env = {
        "CORROBORATE_AMQP_URL": amqp_url,
        "CORROBORATE_MONGO_URL": operator,
        "CORROBORATE_ACCESS_FILE": str(access_file.resolve()),
        "CORROBORATE_S3_ENDPOINT": s3_endpoint,
        "CORROBORATE_S3_ACCESS_KEY": "corroborate",
        "CORROBORATE_S3_SECRET_KEY": secrets.token_urlsafe(30),
        "CORROBORATE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CORROBORATE_BLIND_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CORROBORATE_AUTH_PUBLIC_KEY_FILE": str(public_file.resolve()),
        "CORROBORATE_AUTH_PRIVATE_KEY_FILE": str(private_file.resolve()),
        "CORROBORATE_REPORT_LINK_SECRET": secrets.token_urlsafe(32),
    }
    env_file = directory / "corroborate.env"
    _write_private(env_file, "".join(f"{k}={v}\n" for k, v in env.items()))
    typer.echo(f"wrote {env_file} and {keys}/")


def _write_private(path: Path, text: str) -> None:
    """Create a file only its owner can read, from the first byte written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)  # an existing file keeps its old mode through O_CREAT


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="The caller's role.")],
    org: Annotated[str | None, typer.Option(help="Organisation (required for partners).")] = None,
    sub: Annotated[str | None, typer.Option(help="Subject (user id).")] = None,
    name: Annotated[
        str | None, typer.Option(help="Display name, e.g. a clinician's name on the report.")
    ] = None,
    aud: Annotated[
        list[str] | None,
        typer.Option(help=f"Audience(s); default all of {sorted(SERVICE_AUDIENCES.values())}."),
    ] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print a signed bearer token for local use (the local stack's issuer key signs it)."""
    settings = load_settings()
    if settings.auth_private_key_file is None:
        typer.echo("CORROBORATE_AUTH_PRIVATE_KEY_FILE is not set", err=True)
        raise typer.Exit(2)
    typer.echo(
        issue_token(
            private_key_pem=settings.auth_private_key_file.read_text(encoding="utf-8"),
            issuer=settings.auth_issuer,
            subject=sub or f"{role.value}-local",
            role=role,
            organisation=org,
            name=name,
            audiences=aud,
            ttl_seconds=ttl,
        )
    )


@app.command()
def demo(
    survivor_name: Annotated[
        str, typer.Option(help="A made-up survivor name for the demo referral.")
    ] = "Demo Survivor",
    document: Annotated[
        Path | None, typer.Option(help="A PDF, JPEG or PNG to attach (default: a generated PDF).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the issued report.")] = Path(
        "medico-legal-report.pdf"
    ),
) -> None:
    """Walk one referral from submission to an issued report through the running services."""
    from corroborate.cli.demo import run_demo  # noqa: PLC0415

    ok = asyncio.run(
        run_demo(settings=load_settings(), survivor_name=survivor_name, document=document, out=out)
    )
    if not ok:
        raise typer.Exit(1)


stats_app = typer.Typer(help="Anonymised statistics from the reporting service.")
app.add_typer(stats_app, name="stats")


class Dimension(StrEnum):
    COUNTRY = "country"
    YEAR = "year"
    METHOD = "method"
    PERPETRATOR = "perpetrator"
    GENDER = "gender"
    AGE_BAND = "age_band"
    ORIGIN = "origin"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@stats_app.command("export")
def stats_export(
    by: Annotated[list[Dimension], typer.Option(help="Count by (repeat for several).")],
    country: Annotated[
        list[str] | None, typer.Option(help="Only these countries of ill-treatment.")
    ] = None,
    file_format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.CSV,
    out: Annotated[Path | None, typer.Option(help="Write here (default: standard output).")] = None,
) -> None:
    """Export a patterns-of-torture table, as an analyst sees it (small counts suppressed,
    every count rounded), from the running reporting service."""
    import httpx  # noqa: PLC0415

    from corroborate.cli.local_token import local_token  # noqa: PLC0415

    settings = load_settings()
    token = local_token(
        settings, Role.ANALYST, "stats-export", audiences=[SERVICE_AUDIENCES["reporting"]]
    )
    params: list[tuple[str, str | int | float | bool | None]] = [("by", d.value) for d in by]
    params += [("country", c) for c in country or []]
    params.append(("format", file_format.value))
    response = httpx.get(
        f"{settings.reporting_url}/statistics/patterns",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if response.status_code != 200:
        typer.echo(f"HTTP {response.status_code}: {response.text[:500]}", err=True)
        raise typer.Exit(1)
    if out is None:
        typer.echo(response.text, nl=False)
    else:
        out.write_text(response.text, encoding="utf-8")
        typer.echo(f"wrote {out}")


parked_app = typer.Typer(help="Messages a service parked: list them, replay them after a fix.")
app.add_typer(parked_app, name="parked")


class Service(StrEnum):
    INTAKE = "intake"
    REVIEW = "review"
    REPORTING = "reporting"


@parked_app.command("list")
def parked_list(
    service: Annotated[Service, typer.Option(help="Whose parking queue.")],
    limit: Annotated[int, typer.Option(help="At most this many.")] = 1000,
) -> None:
    """Show parked messages (type, event and case ids, reason, when), leaving them parked."""
    from corroborate.messaging.parked import list_parked  # noqa: PLC0415

    parked = asyncio.run(list_parked(load_settings(), service.value, limit=limit))
    for p in parked:
        typer.echo(
            f"{p.parked_at or '-'}  {p.event_type or '-'}  event {p.event_id or '-'}  "
            f"case {p.case_id or '-'}  {p.reason}: {p.detail}"
        )
    typer.echo(f"{len(parked)} parked message(s) for {service.value}")


@parked_app.command("replay")
def parked_replay(
    service: Annotated[Service, typer.Option(help="Whose parking queue.")],
    reason: Annotated[str | None, typer.Option(help="Only those parked for this reason.")] = None,
    event_id: Annotated[str | None, typer.Option(help="Only this event.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 1000,
) -> None:
    """Put parked messages back on the exchange under their original routing key (after the
    cause was fixed); the rest stay parked."""
    from corroborate.messaging.parked import replay_parked  # noqa: PLC0415

    replayed = asyncio.run(
        replay_parked(load_settings(), service.value, reason=reason, event_id=event_id, limit=limit)
    )
    for p in replayed:
        typer.echo(f"replayed {p.event_type} event {p.event_id or '-'} (was: {p.reason})")
    typer.echo(f"{len(replayed)} message(s) replayed for {service.value}")


audit_app = typer.Typer(help="The services' tamper-evident audit logs.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(service: Annotated[Service, typer.Option(help="Whose audit log.")]) -> None:
    """Check a service's hash chain; name the first broken link (exit 1) if there is one."""
    from corroborate.audit import COLLECTION, AuditLog, Broken, verify  # noqa: PLC0415
    from corroborate.mongo import mongo_client  # noqa: PLC0415

    async def check() -> tuple[int, Broken | None]:
        settings = load_settings()
        client = mongo_client(settings)
        try:
            log = AuditLog(
                client[settings.database_name(service.value)][COLLECTION], service=service.value
            )
            chain = await log.chain()
            return len(chain), verify(chain)
        finally:
            await client.close()

    count, broken = asyncio.run(check())
    if broken is not None:
        typer.echo(f"{service.value}: broken at record {broken.seq}: {broken.reason}")
        raise typer.Exit(1)
    typer.echo(f"{service.value}: {count} record(s), chain intact")


@keys_app.command("rewrap")
def keys_rewrap(
    service: Annotated[Service, typer.Option(help="Whose database.")],
) -> None:
    """After rotating the master key (new CORROBORATE_MASTER_KEY, the old one in
    CORROBORATE_PREVIOUS_MASTER_KEYS): re-wrap every stored data key under the new one."""
    from corroborate.mongo import mongo_client  # noqa: PLC0415
    from corroborate.rewrap import rewrap_database  # noqa: PLC0415

    async def run() -> dict[str, int]:
        settings = load_settings()
        client = mongo_client(settings)
        try:
            database = client[settings.database_name(service.value)]
            return await rewrap_database(database, settings.keyring())
        finally:
            await client.close()

    done = asyncio.run(run())
    for collection, count in sorted(done.items()):
        typer.echo(f"{service.value}.{collection}: {count} data key(s) re-wrapped")
    typer.echo(f"{service.value}: {sum(done.values())} data key(s) now under the current key")


access_app = typer.Typer(
    help="Each service's own broker, database and storage credentials.", no_args_is_help=True
)
app.add_typer(access_app, name="access")


def _write_json(path: Path, document: object) -> None:
    import json  # noqa: PLC0415

    _write_private(path, json.dumps(document, indent=2))


@access_app.command("rabbitmq-definitions")
def access_rabbitmq(out: Annotated[Path, typer.Option(help="The JSON file to write.")]) -> None:
    """The services' broker users and permissions, for `rabbitmqctl import_definitions`."""
    from corroborate.access import load_access, rabbitmq_definitions  # noqa: PLC0415

    settings = load_settings()
    _write_json(out, rabbitmq_definitions(load_access(settings), settings))


@access_app.command("rabbitmq-users")
def access_rabbitmq_users() -> None:
    """The services' broker user names, one per line."""
    from corroborate.access import load_access  # noqa: PLC0415

    for own in load_access(load_settings()).services.values():
        typer.echo(own.user)


@access_app.command("s3-identities")
def access_s3(out: Annotated[Path, typer.Option(help="The JSON file to write.")]) -> None:
    """The operator's and the services' identities for SeaweedFS's S3 gateway (-s3.config)."""
    from corroborate.access import load_access, s3_identities  # noqa: PLC0415

    settings = load_settings()
    _write_json(out, s3_identities(load_access(settings), settings))


@access_app.command("s3-policy")
def access_s3_policy(service: Service) -> None:
    """A service's S3 identity policy (AWS IAM syntax) for the configured namespace, for stores
    other than the local SeaweedFS."""
    import json  # noqa: PLC0415

    from corroborate.access import s3_policy  # noqa: PLC0415

    typer.echo(json.dumps(s3_policy(load_settings(), service.value), indent=2))


@access_app.command("create-operator")
def access_create_operator() -> None:
    """On a database server not yet requiring authentication, create the operator's user."""
    from corroborate.access import create_operator  # noqa: PLC0415

    asyncio.run(create_operator(load_settings()))
    typer.echo("database operator user ready")


@access_app.command("grant")
def access_grant() -> None:
    """Let each service use its own database and bucket in the configured namespace."""
    from corroborate.access import grant  # noqa: PLC0415

    settings = load_settings()
    asyncio.run(grant(settings))
    typer.echo(f"{settings.namespace}: each service granted its own database and bucket")


@access_app.command("revoke")
def access_revoke() -> None:
    """Take back the services' rights on the configured namespace's databases."""
    from corroborate.access import revoke  # noqa: PLC0415

    settings = load_settings()
    asyncio.run(revoke(settings))
    typer.echo(f"{settings.namespace}: services' database rights revoked")


@access_app.command("env")
def access_env(service: Service) -> None:
    """Environment lines (KEY=value) that give one service process its own credentials."""
    from corroborate.access import service_environment  # noqa: PLC0415

    for key, value in service_environment(load_settings(), service.value).items():
        typer.echo(f"{key}={value}")
