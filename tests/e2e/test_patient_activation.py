"""A record opened in bulk is activated at the patient's first sign-in (REC-2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Browse, Server
from tests.e2e.flows import DEMO_SYSTEM, PARENT_INS


def test_first_sign_in_activates_a_bulk_opened_record_REC_2(
    browse: Browse, server: Server, tmp_path: Path
) -> None:
    rows = tmp_path / "records.csv"
    rows.write_text(
        f"ins,ins_system,family,given,birth_date,sex\n"
        f"{PARENT_INS},{DEMO_SYSTEM},DURAND,Dominique,1982-02-01,male\n",
        encoding="utf-8",
    )
    opendmp = Path(sys.executable).parent / "opendmp"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDMP_")}
    env["OPENDMP_ALLOW_TEST_INS"] = "true"
    done = subprocess.run(
        [str(opendmp), "records", "import", str(rows), "--home", str(server.home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    browse.sign_in("patient", "parent")
    browse.click("a:has-text('Dominique DURAND')")
    assert "Activez votre dossier" in browse.text()
    assert browse.page.is_checked("#a-c15") and not browse.page.is_checked("#a-masked")
    browse.page.check("#a-mask-new")
    browse.click("form[action$='/activate'] button[type=submit]")
    assert "Votre dossier est activé." in browse.text()
    assert "Activez votre dossier" not in browse.text()
    browse.click("nav a:has-text('Urgences et notifications')")
    assert browse.page.is_checked("#s-mask-new")
