"""The main pages of both portals, checked with axe-core, and photographed for the docs.

`OPENDMP_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/e2e/test_screenshots.py`
rewrites the pictures of docs/portals.md; without the variable the pages are only checked.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Tabs
from tests.e2e.flows import cda_document, open_own_record, pro_find, pro_upload, write


def test_main_pages(tabs: Tabs, tmp_path: Path) -> None:
    visitor = tabs.open()
    visitor.visit("/")
    visitor.check("home")

    doctor = tabs.open()
    pro_find(doctor, "emergency")
    doctor.check("pro-not-authorized")
    doctor.click("a:has-text('Accéder en urgence')")
    doctor.check("pro-break-the-glass")
    doctor.page.fill("#e-reason", "Patiente inconsciente, aucun proche joignable")
    doctor.page.check("#e-confirm")
    doctor.click("button:has-text('Accéder au dossier en urgence')")
    doctor.check("pro-record-emergency")

    gp = tabs.open()
    gp_record = pro_find(gp, "gp")
    gp.check("pro-record")
    synthesis = cda_document("Synthèse médicale", "Traitement en cours", "Hypertension suivie.")
    pro_upload(
        gp,
        gp_record,
        write(tmp_path, "synthese.xml", synthesis),
        "Synthèse médicale",
        "60591-5",
        format_code="urn:asip:ci-sis:vsm:2012",
    )
    gp.check("pro-document-cda")
    gp.visit(f"{gp_record}/upload")
    gp.check("pro-upload")

    patient = tabs.open()
    base = open_own_record(patient)
    patient.check("patient-dashboard")
    for page in ("documents", "access", "settings", "history"):
        patient.visit(f"{base}/{page}")
        patient.check(f"patient-{page}")
