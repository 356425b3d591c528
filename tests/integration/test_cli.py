"""The operator's CLI on the embedded default: demo, audit verify, import, keys, jobs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendmp.cli import app
from tests.support import an_ins

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OPENDMP_DATABASE_URL", "OPENDMP_HOME", "OPENDMP_BLOB_STORE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_the_demo_runs_and_its_trail_verifies(home: Path) -> None:
    result = runner.invoke(app, ["demo", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "is refused" in result.output  # the blocked physician (R-PS-1)
    assert "intact" in result.output
    again = runner.invoke(app, ["demo", "--home", str(home)])
    assert again.exit_code == 0 and "already loaded" in again.output
    verified = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert verified.exit_code == 0 and "intact" in verified.output


def test_audit_verify_fails_on_an_edited_entry_aud_2(home: Path) -> None:
    assert runner.invoke(app, ["demo", "--home", str(home)]).exit_code == 0
    with sqlite3.connect(home / "opendmp.db") as connection:
        connection.execute(
            "UPDATE audit_entries SET outcome = '0' WHERE rowid = "
            "(SELECT max(rowid) FROM audit_entries WHERE outcome = '4')"
        )
    result = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert result.exit_code == 1
    assert "BROKEN" in result.output


def test_records_import_reports_bad_rows(home: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade", "--home", str(home)]).exit_code == 0
    assert runner.invoke(app, ["keys", "init", "--home", str(home)]).exit_code == 0
    ins = an_ins()
    csv_file = tmp_path / "records.csv"
    csv_file.write_text(
        "ins,ins_system,family,given,birth_date,sex\n"
        f"{ins.value},{ins.system},MARTIN,Luc,1970-01-02,male\n"
        "295109912611199,1.2.250.1.213.1.4.8,FAUX,Cle,1990-01-01,female\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["records", "import", str(csv_file), "--home", str(home)],
        env={"OPENDMP_ALLOW_TEST_INS": "true"},
    )
    assert result.exit_code == 1
    assert "1 records opened, 1 rows rejected" in result.output
    assert "line 3" in result.output


def test_key_rotation_keeps_documents_readable_sec_1(home: Path) -> None:
    assert runner.invoke(app, ["demo", "--home", str(home)]).exit_code == 0
    rotated = runner.invoke(app, ["keys", "rotate", "--home", str(home)])
    assert rotated.exit_code == 0, rotated.output
    assert "data keys rewrapped" in rotated.output and " 0 data keys" not in rotated.output
    again = runner.invoke(app, ["demo", "--home", str(home)])
    assert again.exit_code == 0, again.output
    assert "decrypted" in again.output


def test_jobs_run_without_smtp_says_so(home: Path) -> None:
    assert runner.invoke(app, ["demo", "--home", str(home)]).exit_code == 0
    result = runner.invoke(app, ["jobs", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "OPENDMP_SMTP_HOST is not set" in result.output


def test_a_missing_home_database_gives_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["audit", "verify", "--home", str(tmp_path)],
        env={"OPENDMP_PROFILE": "nonsense"},
    )
    assert result.exit_code == 2
    assert "OPENDMP_PROFILE" in result.output


def test_stats_print_counts_and_no_identifier(home: Path) -> None:
    """SPEC.md §9: statistics without personal data."""
    assert runner.invoke(app, ["demo", "--home", str(home)]).exit_code == 0
    result = runner.invoke(app, ["stats", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "records open: 2" in result.output
    assert "11488-4" in result.output
    assert "DURAND" not in result.output and "285107512345606" not in result.output
