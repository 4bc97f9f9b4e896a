"""``singlewindow``: run the service and its workers, migrate, and administer the registry."""

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from app import audit, migrate
from app.auth import Agency
from app.config import get_settings
from app.db import make_engine, make_sessionmaker, transaction
from app.registry import service as registry_service
from app.registry.schemas import CreditClass, EnterpriseCreate, PrincipalCreate, Role
from app.window import signature
from app.window.signature import Algorithm
from app.window.xmlsafe import parse_xml

cli = typer.Typer(
    help="Single window for cross-border e-commerce (CEB messages, customs, inspection, FX).",
    no_args_is_help=True,
    add_completion=False,
)
enterprise_cli = typer.Typer(help="Manage filed enterprises (事前备案).", no_args_is_help=True)
key_cli = typer.Typer(help="Issue API keys.", no_args_is_help=True)
audit_cli = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
cli.add_typer(enterprise_cli, name="enterprise")
cli.add_typer(key_cli, name="key")
cli.add_typer(audit_cli, name="audit")

CLI_ACTOR = "admin:cli"


def _sessionmaker() -> sessionmaker[Session]:
    settings = get_settings()
    return make_sessionmaker(
        make_engine(settings.database_url, pool_size=settings.db_pool_size, echo=settings.db_echo)
    )


@cli.command("migrate")
def migrate_cmd(
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
) -> None:
    """Apply the database migrations (SW_DATABASE_URL) up to REVISION."""
    migrate.upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API processes")] = 1,
    relay: Annotated[bool, typer.Option(help="run an outbox relay inside the API")] = True,
    demo: Annotated[bool, typer.Option(help="file demo parties and print their keys")] = False,
) -> None:
    """Run the HTTP API. On the embedded SQLite database the migrations run first by themselves."""
    import uvicorn

    settings = get_settings()
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    elif demo:
        typer.echo("note: on PostgreSQL run `singlewindow migrate` before serving", err=True)
    if demo:
        _print_demo(host, port)
        # The demo parties have no certificates filed, so signed-only messages could not be
        # tried; production keeps the standard's requirement (SW_REQUIRE_SIGNATURES=true).
        os.environ["SW_REQUIRE_SIGNATURES"] = "false"
        typer.echo("demo: XML signatures are NOT required (SW_REQUIRE_SIGNATURES=false)\n")
    if not relay:
        os.environ["SW_OUTBOX__IN_PROCESS"] = "false"
    get_settings.cache_clear()  # the app (and worker processes) read the settings anew
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@cli.command()
def worker(
    once: Annotated[bool, typer.Option(help="run one batch and exit")] = False,
    jobs: Annotated[bool, typer.Option(help="also run the periodic jobs")] = True,
) -> None:
    """Run an outbox relay (the handlers that react to events) and the periodic jobs.

    Run as many workers as you like against one PostgreSQL database.
    """
    from app.jobs import DEFAULT_JOBS, JobRunner
    from app.main import build_dispatcher
    from app.outbox import Relay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    factory = _sessionmaker()
    relay = Relay(factory, build_dispatcher(), settings.outbox)
    if once:
        typer.echo(f"handled {relay.run_once()} events")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if jobs:
        runner = JobRunner(factory, DEFAULT_JOBS)
        threading.Thread(target=runner.run_forever, args=(stop,), name="jobs", daemon=True).start()
    relay.run_forever(stop)


@enterprise_cli.command("add")
def enterprise_add(
    code: Annotated[str, typer.Argument(help="10-char customs code or 18-char USCC")],
    name: Annotated[str, typer.Argument(help="registered name")],
    role: Annotated[list[Role], typer.Option(help="a role; repeat for several")],
    credit_class: Annotated[CreditClass, typer.Option()] = CreditClass.GENERAL,
) -> None:
    """File an enterprise and print its first API key."""
    data = EnterpriseCreate(code=code, name=name, roles=role, credit_class=credit_class)
    with transaction(_sessionmaker()) as session:
        registry_service.create_enterprise(session, data=data, actor=CLI_ACTOR)
        key = registry_service.issue_enterprise_key(
            session, code=code, label="cli", actor=CLI_ACTOR
        )
    typer.echo(f"enterprise {code} filed; API key (shown once): {key.key}")


@key_cli.command("issue")
def key_issue(
    enterprise: Annotated[str | None, typer.Option(help="enterprise code")] = None,
    principal: Annotated[UUID | None, typer.Option(help="officer, bank or admin id")] = None,
    label: Annotated[str | None, typer.Option(help="what the key is for")] = None,
) -> None:
    """Issue a new API key for an enterprise or a principal; it is printed once."""
    if (enterprise is None) == (principal is None):
        raise typer.BadParameter("give exactly one of --enterprise and --principal")
    with transaction(_sessionmaker()) as session:
        if principal is None:
            key = registry_service.issue_enterprise_key(
                session, code=str(enterprise), label=label, actor=CLI_ACTOR
            )
        else:
            key = registry_service.issue_principal_key(
                session, principal_id=principal, label=label, actor=CLI_ACTOR
            )
    typer.echo(key.key)


@cli.command("admin")
def admin_add(
    name: Annotated[str, typer.Argument(help="who the administrator is")],
) -> None:
    """Register an administrator and print its API key."""
    with transaction(_sessionmaker()) as session:
        _, key = registry_service.create_principal(
            session, data=PrincipalCreate(kind="admin", name=name), actor=CLI_ACTOR
        )
    typer.echo(key.key)


DEMO_ENTERPRISES: list[tuple[str, str, list[Role], CreditClass]] = [
    ("4301990001", "湘通跨境平台", [Role.EBP], CreditClass.ADVANCED),
    ("4301990002", "长沙星沙贸易有限公司", [Role.EBC], CreditClass.GENERAL),
    ("4301990003", "长沙报关行", [Role.AGENT], CreditClass.ADVANCED),
    ("4301990004", "湘速物流", [Role.LOGISTICS], CreditClass.GENERAL),
    ("4301990005", "湘付支付", [Role.PAYMENT], CreditClass.GENERAL),
    ("4301990006", "黄花机场监管场所", [Role.OPERATOR], CreditClass.GENERAL),
    ("4301990011", "湘购进口平台", [Role.EBP], CreditClass.GENERAL),
    ("4301990012", "湘江进口商贸有限公司", [Role.EBC], CreditClass.GENERAL),
    ("4301990013", "星城报关有限公司", [Role.AGENT], CreditClass.GENERAL),
    ("4301990014", "湘运国际物流", [Role.LOGISTICS], CreditClass.GENERAL),
    ("4301990015", "湘银支付", [Role.PAYMENT], CreditClass.GENERAL),
    ("4301990016", "湘保担保有限公司", [Role.GUARANTOR], CreditClass.GENERAL),
    ("4301990017", "综保区仓储经营", [Role.OPERATOR], CreditClass.GENERAL),
]


def _print_demo(host: str, port: int) -> None:
    """File the demo parties (once) and print a fresh key for each."""
    keys: list[tuple[str, str]] = []
    with transaction(_sessionmaker()) as session:
        for code, name, roles, credit in DEMO_ENTERPRISES:
            existing = registry_service.enterprises_with_roles(session, codes={code})
            if not existing:
                registry_service.create_enterprise(
                    session,
                    data=EnterpriseCreate(code=code, name=name, roles=roles, credit_class=credit),
                    actor=CLI_ACTOR,
                )
            issued = registry_service.issue_enterprise_key(
                session, code=code, label="demo", actor=CLI_ACTOR
            )
            keys.append((f"{code} {name} ({', '.join(r.value for r in roles)})", issued.key))
        for data in (
            PrincipalCreate(
                kind="officer",
                name="demo customs officer",
                agency=Agency.CUSTOMS,
                customs_codes=["4900"],
            ),
            PrincipalCreate(
                kind="officer",
                name="demo inspection officer",
                agency=Agency.INSPECTION,
                customs_codes=["4900"],
            ),
            PrincipalCreate(kind="admin", name="demo admin"),
        ):
            _, issued = registry_service.create_principal(session, data=data, actor=CLI_ACTOR)
            keys.append((data.name, issued.key))
        banks = {p.bank_code for p in registry_service.list_principals(session)}
        if "DEMOBANK" not in banks:
            _, issued = registry_service.create_principal(
                session,
                data=PrincipalCreate(kind="bank", name="demo bank", bank_code="DEMOBANK"),
                actor=CLI_ACTOR,
            )
            keys.append(("demo bank DEMOBANK", issued.key))
    typer.echo("Demo parties filed. API keys (shown once):")
    for who, key in keys:
        typer.echo(f"  {who:<48} {key}")
    typer.echo("\nTry:")
    typer.echo(
        f"  curl -s -H 'Authorization: Bearer {keys[0][1]}' "
        f"http://{host}:{port}/api/v1/enterprises/4301990001"
    )
    typer.echo(f"  open http://{host}:{port}/docs\n")


@cli.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """File demo parties with every role, an officer per agency, a bank; print their keys."""
    settings = get_settings()
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    _print_demo(host, port)


@cli.command("sign")
def sign_message(
    message: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CEB XML file")],
    key: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="PEM private key")],
    cert: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="PEM or DER cert")],
    algorithm: Annotated[Algorithm, typer.Option(help="signature algorithm")] = (Algorithm.SM2_SM3),
    output: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """Sign a CEB message (enveloped XML-DSig, C14N) as the window verifies it."""
    root = parse_xml(message.read_bytes(), max_depth=get_settings().max_xml_depth)
    signature.sign(
        root, private_key=key.read_bytes(), certificate=cert.read_bytes(), algorithm=algorithm
    )
    encoding = root.getroottree().docinfo.encoding or "UTF-8"
    signed = etree.tostring(root.getroottree(), xml_declaration=True, encoding=encoding)
    assert isinstance(signed, bytes)  # noqa: S101 - an explicit encoding always gives bytes
    if output is None:
        sys.stdout.buffer.write(signed)
    else:
        output.write_bytes(signed)


@audit_cli.command("seal")
def audit_seal() -> None:
    """Chain every committed, unsealed audit entry now (workers do this every few seconds)."""
    total = 0
    factory = _sessionmaker()
    while True:
        with transaction(factory) as session:
            sealed = audit.seal(session)
        total += sealed
        if not sealed:
            break
    typer.echo(f"sealed {total} entries")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit 1 naming the first entry that was altered or removed."""
    with _sessionmaker()() as session:
        report = audit.verify(session)
    typer.echo(f"{report.sealed} sealed entries verified, {report.unsealed} not yet sealed")
    if report.first_broken is not None:
        typer.echo(f"chain broken at audit entry {report.first_broken}", err=True)
        raise typer.Exit(1)


forex_cli = typer.Typer(help="Foreign exchange for banks (收结汇, 购付汇).", no_args_is_help=True)
forex_rates_cli = typer.Typer(help="The exchange rates checks convert at.", no_args_is_help=True)
forex_cli.add_typer(forex_rates_cli, name="rates")
cli.add_typer(forex_cli, name="forex")


@forex_rates_cli.command("load")
def forex_rates_load(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: currency,effective_date,rate")
    ],
) -> None:
    """Load exchange rates (CNY for one unit of a customs currency code) from a CSV file."""
    from app.forex import ratefile
    from app.forex import service as forex_service

    try:
        rates = ratefile.parse(file.read_text(encoding="utf-8-sig"))
    except ratefile.BadRateFile as exc:
        raise typer.BadParameter(exc.detail) from exc
    with transaction(_sessionmaker()) as session:
        loaded = forex_service.load_rates(session, rates=rates, actor=CLI_ACTOR)
    typer.echo(f"loaded {loaded} rates")


summaries_cli = typer.Typer(
    help="汇总申报: monthly drafts and overdue lists.", no_args_is_help=True
)
cli.add_typer(summaries_cli, name="summaries")


@summaries_cli.command("draft")
def summaries_draft(
    month: Annotated[str, typer.Option(help="the month of release, YYYY-MM (China time)")],
) -> None:
    """Stage a 701 per agent, ebc and customs code for the month's unsummarised B lists."""
    from datetime import date

    from app import clock
    from app.customs import summaries

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise typer.BadParameter(f"{month!r} is not YYYY-MM") from exc
    with transaction(_sessionmaker()) as session:
        drafts = summaries.draft_month(session, month=first, now=clock.now())
    for d in drafts:
        state = "drafted" if d.created else "exists "
        typer.echo(
            f"{state} {d.cop_no} agent {d.agent_code} ebc {d.ebc_code} customs {d.customs_code}: "
            f"{d.list_count} lists, {d.start_time}-{d.end_time}"
        )
    typer.echo(f"{sum(d.created for d in drafts)} drafts staged, {len(drafts)} in all")


@summaries_cli.command("overdue")
def summaries_overdue() -> None:
    """List released B lists still unsummarised after the 15th of the following month."""
    from app import clock
    from app.auth import Caller, PrincipalKind
    from app.customs import summaries

    with _sessionmaker()() as session:
        report = summaries.overdue(
            session, caller=Caller(None, PrincipalKind.ADMIN, CLI_ACTOR), now=clock.now()
        )
    for row in report.rows:
        typer.echo(
            f"agent {row.agent_code} ebc {row.ebc_code} customs {row.customs_code}: "
            f"{row.lists} lists overdue since {row.deadline}"
        )
    typer.echo(
        f"{sum(r.lists for r in report.rows)} lists released before {report.released_before}"
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
