"""`opendmp`: the operator's command line (database, demo, audit, keys, jobs, import)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from opendmp.adapters.crypto import CryptoError
from opendmp.adapters.sql.engine import make_engine, upgrade
from opendmp.bootstrap import Application, build
from opendmp.domain.actors import Actor, ActorKind
from opendmp.domain.errors import DmpError
from opendmp.services import jobs
from opendmp.services.context import Call
from opendmp.services.import_records import import_records
from opendmp.services.verify_audit import verify_audit
from opendmp.settings import Settings, SettingsError

app = typer.Typer(help="OpenDMP: a national shared personal health record.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail (AUD-2).", no_args_is_help=True)
keys_app = typer.Typer(help="Master keys and data-key rotation (SEC-1).", no_args_is_help=True)
records_app = typer.Typer(help="Records in bulk (REC-1, opt-out model).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(records_app, name="records")

Home = Annotated[
    Path | None, typer.Option("--home", help="Data directory (default: $OPENDMP_HOME or ./var).")
]


def _app(home: Path | None, **kwargs: bool) -> Application:
    try:
        settings = Settings.from_env(home=home)
        return build(settings, **kwargs)
    except (SettingsError, OSError, ValueError, CryptoError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _fail(error: DmpError) -> typer.Exit:
    typer.echo(
        f"error: {error.code} {error.message}" + (f" ({error.rule})" if error.rule else ""),
        err=True,
    )
    return typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(home: Home = None) -> None:
    """Create or migrate the schema to the latest version (Alembic)."""
    try:
        settings = Settings.from_env(home=home)
        settings.home.mkdir(parents=True, exist_ok=True)
        upgrade(make_engine(settings.effective_database_url))
    except (SettingsError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"database at the latest version: {_safe_url(settings)}")


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


@app.command()
def demo(home: Home = None) -> None:
    """Run the service with demo data on the embedded default (SQLite + local files)."""
    from opendmp import demo as demo_data

    settings = Settings.from_env(home=home or Path("var/demo"), demo_mode=True)
    application = build(settings, migrate=True, create_keys=True)
    typer.echo(f"OpenDMP demo — data in {settings.home.resolve()}")
    try:
        for line in demo_data.load(application.services):
            typer.echo(f"  • {line}")
        typer.echo("What each actor sees (SPEC.md §5):")
        for line in demo_data.scenario(application.services):
            typer.echo(f"  • {line}")
    except DmpError as error:
        raise _fail(error) from None
    report = verify_audit(application.services)
    typer.echo(
        f"audit trail: {report.entries} entries in {report.chains} chains, "
        + ("intact" if report.is_intact else f"{len(report.breaks)} BREAKS")
    )


@audit_app.command("verify")
def audit_verify(home: Home = None) -> None:
    """Check every hash chain; exit 1 and list the breaks if any entry was altered (AUD-2)."""
    report = verify_audit(_app(home).services)
    for chain, found in report.breaks:
        typer.echo(
            f"BROKEN chain {chain or '(no record)'} at #{found.sequence} "
            f"(entry {found.entry_id}): {found.problem}"
        )
    typer.echo(
        f"{report.entries} entries in {report.chains} chains checked: "
        + ("intact" if report.is_intact else f"{len(report.breaks)} breaks")
    )
    if not report.is_intact:
        raise typer.Exit(1)


@keys_app.command("init")
def keys_init(home: Home = None) -> None:
    """Create the master key file (0600) if it does not exist."""
    application = _app(home, create_keys=True)
    typer.echo(f"master key file: {application.settings.effective_key_file}")


@keys_app.command("rotate")
def keys_rotate(home: Home = None) -> None:
    """Add a new current master key and rewrap every record's data key under it."""
    application = _app(home)
    new_id = application.key_provider.add_key()
    rewrapped = build(application.settings).services
    report = jobs.rotate_keys(rewrapped)
    typer.echo(f"new master key {new_id}; {report.done} data keys rewrapped")


@app.command("jobs")
def run_jobs(home: Home = None) -> None:
    """Run the scheduled jobs once: notices, lapses, destruction, orphan sweep, e-mail."""
    application = _app(home)
    services = application.services
    reports = [
        jobs.invisible_patient_notices(services),
        jobs.lapse_invisible_patient(services),
        jobs.destroy_due_records(services),
        jobs.sweep_orphan_blobs(services),
    ]
    sender = application.mail_sender()
    if sender is not None:
        reports.append(jobs.deliver_notifications(services, sender))
    else:
        typer.echo("e-mail delivery skipped: OPENDMP_SMTP_HOST is not set")
    for report in reports:
        typer.echo(f"{report.name}: {report.done} done, {report.failed} failed")


@records_app.command("import")
def records_import(
    file: Annotated[Path, typer.Argument(help="CSV: ins,ins_system,family,given,birth_date,sex")],
    operator: Annotated[
        str, typer.Option(help="The operator account recorded as opener.")
    ] = "operator",
    home: Home = None,
) -> None:
    """Open records in bulk (opt-out model): activated at the patient's first login (REC-2)."""
    application = _app(home)
    call = Call(Actor(ActorKind.OPERATOR, operator, operator))
    try:
        with file.open(encoding="utf-8", newline="") as lines:
            report = import_records(application.services, call, lines)
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    for line, code, message in report.rejected:
        typer.echo(f"line {line}: {code} {message}", err=True)
    typer.echo(f"{report.opened} records opened, {len(report.rejected)} rows rejected")
    if report.rejected:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="opendmp")
    sys.exit(0)
