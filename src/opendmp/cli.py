"""`opendmp`: the operator's command line (database, demo, audit, keys, jobs, import)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from opendmp.adapters.crypto import CryptoError
from opendmp.adapters.demo_tokens import DemoKeyError, demo_claims
from opendmp.adapters.sql.engine import make_engine, upgrade
from opendmp.bootstrap import Application, build, build_authentication, demo_issuer
from opendmp.domain.actors import Actor, ActorKind
from opendmp.domain.errors import DmpError, InvalidRequest
from opendmp.services import jobs
from opendmp.services.context import Call
from opendmp.services.import_records import import_records
from opendmp.services.statistics import statistics
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


@app.command("stats")
def stats(home: Home = None) -> None:
    """Counts without personal data: records by state, documents by month and type (§9)."""
    figures = statistics(_app(home).services)
    for state, count in sorted(figures.records_by_state.items()):
        typer.echo(f"records {state}: {count}")
    for month, type_code, count in figures.documents_by_month_and_type:
        typer.echo(f"documents {month} {type_code}: {count}")


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


DEMO_HOME = Path("var/demo")


def _display_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "localhost"}.get(host, host)  # noqa: S104


def _server_url(settings: Settings) -> str:
    return settings.base_url.rstrip("/") or f"http://{_display_host(settings.host)}:{settings.port}"


def _serve_environment(
    *,
    demo: bool,
    home: Path | None,
    host: str | None,
    port: int | None,
    profile: str | None,
    workers: int | None,
    base_url: str | None,
) -> dict[str, str]:
    """The OPENDMP_* variables the command line sets: every uvicorn worker reads them."""
    env: dict[str, str] = {}
    if demo:  # the embedded default: SQLite and local files under the demo home
        env |= {
            "OPENDMP_HOME": str(home or DEMO_HOME),
            "OPENDMP_DEMO_MODE": "true",
            "OPENDMP_DATABASE_URL": "",
            "OPENDMP_BLOB_STORE": "filesystem",
        }
    elif home is not None:
        env["OPENDMP_HOME"] = str(home)
    options = {"HOST": host, "PORT": port, "PROFILE": profile, "WORKERS": workers}
    options["BASE_URL"] = base_url
    env |= {f"OPENDMP_{name}": str(value) for name, value in options.items() if value is not None}
    return env


def _print_demo(application: Application) -> None:
    """Load the demo data (idempotent) and print the URLs, a token and ready-to-paste curls."""
    from opendmp import demo as demo_data

    settings = application.settings
    typer.echo(f"OpenDMP demo — data in {settings.home.resolve()}")
    for line in demo_data.load(application.services):
        typer.echo(f"  • {line}")
    people = demo_data.people()
    gp, patient = people.gp, people.patient
    token = demo_issuer(settings).issue(
        demo_claims(
            practitioner=gp.id,
            profession=gp.profession,
            specialty=gp.specialty,
            structure=gp.structure,
            name=gp.name,
        ),
        ttl=12 * 3600,
    )
    url = _server_url(settings)
    ins = f"urn:oid:{patient.system}|{patient.value}"
    typer.echo(
        f"""
Portals (browser)    {url}/  (patient: {url}/patient/  professional: {url}/pro/)
FHIR base            {url}/fhir
CapabilityStatement  {url}/fhir/metadata
Health, readiness    {url}/health  {url}/ready
Metrics              {url}/metrics
Demo token endpoint  POST {url}/auth/dev/token

A token for {gp.name} (physician, administrator of Camille DURAND's record), valid 12 h:

export TOKEN={token}

curl -s -H "Authorization: Bearer $TOKEN" '{url}/fhir/Patient?identifier={ins}'
curl -s -H "Authorization: Bearer $TOKEN" '{url}/fhir/DocumentReference?patient.identifier={ins}'

Other callers: opendmp token --home {settings.home} --patient {patient.value} \\
  --ins-system {patient.system}   (or --practitioner 899900000004 --profession 10: blocked)
"""
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8080).")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Demo mode: SQLite under var/demo, demo data, tokens.")
    ] = False,
    profile: Annotated[
        str | None, typer.Option(help="Metadata profile: dmp (default) or mhd (SPEC.md §10).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Public URL, when behind a proxy.")
    ] = None,
    home: Home = None,
) -> None:
    """Run the FHIR R4 / IHE MHD / PDQm server (API.md) with uvicorn."""
    env = _serve_environment(
        demo=demo,
        home=home,
        host=host,
        port=port,
        profile=profile,
        workers=workers,
        base_url=base_url,
    )
    try:
        settings = Settings.from_env({**os.environ, **env})
        application = build(settings, migrate=demo, create_keys=demo)
        build_authentication(settings).close()
        if demo:
            _print_demo(application)
    except (SettingsError, OSError, ValueError, CryptoError, DemoKeyError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except DmpError as error:
        raise _fail(error) from None
    application.engine.dispose()  # type: ignore[attr-defined]
    # This process has imported and checked everything: hand its PID to a fresh uvicorn, so
    # that with several workers the supervisor stays small (docs/benchmarks.md, memory).
    command = [sys.executable, "-m", "uvicorn", "opendmp.web.app:create_app_from_env"]
    command += ["--factory", "--host", settings.host, "--port", str(settings.port)]
    command += ["--workers", str(settings.workers), "--no-server-header"]
    command += ["--no-access-log"]  # SEC-4: its lines hold paths and queries (INS); ours do not
    sys.stdout.flush()
    # glibc gives each thread of the pool its own malloc arena; two keep the RSS of a worker
    # down under load (docs/configuration.md). An operator's own value wins.
    environment = {"MALLOC_ARENA_MAX": "2", **os.environ, **env}
    os.execve(sys.executable, command, environment)  # noqa: S606 - fixed argv


@app.command()
def token(
    practitioner: Annotated[str | None, typer.Option(help="IDNPS of a professional.")] = None,
    organization: Annotated[
        str | None, typer.Option(help="IDNST of an establishment credential.")
    ] = None,
    patient: Annotated[
        str | None, typer.Option(help="INS of a person (holder or legal representative).")
    ] = None,
    operator: Annotated[str | None, typer.Option(help="Operator account name.")] = None,
    profession: Annotated[str | None, typer.Option(help="TRE_G15 code (10 physician…).")] = None,
    specialty: Annotated[str | None, typer.Option(help="Specialty code (e.g. SM26).")] = None,
    structure: Annotated[str | None, typer.Option(help="IDNST of the PS's structure.")] = None,
    auth_mode: Annotated[
        str | None, typer.Option(help="DIRECTE, INDIRECTE or INDIRECTE_RENFORCEE.")
    ] = None,
    card: Annotated[str | None, typer.Option(help="CPS, CPF or CPE.")] = None,
    occupational_physician: Annotated[bool, typer.Option("--occupational-physician")] = False,
    secret_connection: Annotated[bool, typer.Option("--secret-connection")] = False,
    purpose: Annotated[
        str | None, typer.Option(help="normal, bris_de_glace or centre_15 (TRE_R248).")
    ] = None,
    purpose_reason: Annotated[str | None, typer.Option(help="The emergency's reason.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    ins_system: Annotated[
        str, typer.Option(help="OID of the --patient INS.")
    ] = "1.2.250.1.213.1.4.8",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    home: Home = None,
) -> None:
    """Print a demo token (the JWT alone); demo mode only (API.md Details §1, SEC-2)."""
    if home is None and "OPENDMP_HOME" not in os.environ:
        home = DEMO_HOME
    try:
        settings = Settings.from_env(home=home)
        key_file = settings.effective_demo_key_file
        if not settings.demo_mode and not key_file.exists():
            typer.echo(
                f"error: no demo issuer key at {key_file}: tokens are made by the demo issuer "
                "only (run `opendmp serve --demo` first, or give its --home)",
                err=True,
            )
            raise typer.Exit(2)
        claims = demo_claims(
            practitioner=practitioner,
            organization=organization,
            patient=patient,
            operator=operator,
            profession=profession,
            specialty=specialty,
            structure=structure,
            auth_mode=auth_mode,
            card=card,
            occupational_physician=occupational_physician,
            secret_connection=secret_connection,
            purpose=purpose,
            purpose_reason=purpose_reason,
            name=name,
            ins_system=ins_system,
        )
        typer.echo(demo_issuer(settings).issue(claims, ttl=ttl))
    except InvalidRequest as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    except (SettingsError, OSError, ValueError, DemoKeyError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="opendmp")
    sys.exit(0)
