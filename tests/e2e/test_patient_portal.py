"""The patient's portal in a real browser, one test per flow of issue 4 §1.

Each test signs in through the demo issuer (OIDC code + PKCE), clicks as a person would and
asserts what the page shows; every page passes axe-core (conftest). Rule ids in the names.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from tests.e2e.conftest import Browse, Server, Tabs
from tests.e2e.flows import (
    DEMO_SYSTEM,
    MINOR_INS,
    PARENT_INS,
    PATIENT_INS,
    api_open_record,
    minimal_pdf,
    open_own_record,
    pro_find,
    pro_upload,
    write,
)


def test_dashboard_state_latest_documents_and_emergency_alert_R_EM_3(tabs: Tabs) -> None:
    """An emergency access by a professional appears as an alert with its reason (R-EM-3)."""
    doctor = tabs.open()
    pro_find(doctor, "emergency")
    doctor.click("a:has-text('Accéder en urgence')")
    doctor.page.fill("#e-reason", "Patiente inconsciente aux urgences")
    doctor.page.check("#e-confirm")
    doctor.click("button:has-text('Accéder au dossier en urgence')")
    assert "Accès en mode bris de glace" in doctor.text("body")

    patient = tabs.open()
    open_own_record(patient)
    main = patient.text()
    assert "Ouvert" in main
    assert "Derniers documents" in main
    assert "Consultation du 4 mars" in main
    alerts = patient.text("section[aria-labelledby=alerts-title]")
    assert "Dr Ali Haddad" in alerts
    assert "Accès en urgence (bris de glace)" in alerts
    assert "Patiente inconsciente aux urgences" in alerts


def test_documents_filters_and_sort(browse: Browse) -> None:
    """ITI-67 through the list: category, author, dates and order change what is listed."""
    base = open_own_record(browse)
    browse.visit(f"{base}/documents")
    assert "4 document(s)" in browse.text()
    browse.page.select_option("#f-category", "42")  # Prescription
    browse.click("form[role=search] button[type=submit]")
    rows = browse.page.locator("table.data-table tbody tr")
    assert rows.count() == 1
    assert "Ordonnance" in rows.first.inner_text()
    browse.click("a:has-text('Effacer les filtres')")
    browse.page.fill("#f-to", "2001-01-01")
    browse.click("form[role=search] button[type=submit]")
    assert "0 document(s)" in browse.text()
    assert "Aucun document." in browse.text()
    browse.visit(f"{base}/documents?sort=date")
    assert browse.page.locator("#f-sort").input_value() == "date"
    browse.page.select_option("#f-author", "899900000001")
    browse.click("form[role=search] button[type=submit]")
    assert "4 document(s)" in browse.text()


def test_viewer_pdf_inline_and_download_DOC_2(browse: Browse) -> None:
    """The viewer shows a PDF inline; its bytes are the ones submitted (DOC-2)."""
    base = open_own_record(browse)
    browse.visit(f"{base}/documents")
    browse.click("a:has-text('Bilan sanguin')")
    frame = browse.page.locator("iframe.pdf-frame")
    assert frame.count() == 1
    source = frame.get_attribute("src")
    response = browse.page.request.get(browse.server.url + source)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.body().startswith(b"%PDF-1.4")
    assert b"Bilan sanguin" in response.body()
    with browse.page.expect_download() as download:
        browse.page.click("a:has-text('Télécharger le fichier')")
    assert download.value.suggested_filename == "Bilan sanguin.pdf"


def test_mask_and_unmask_a_document_R_PAT_2_R_PS_4(tabs: Tabs) -> None:
    """The patient masks a document: the authorized nurse of another structure no longer
    finds it (R-PS-4); unmasked, she finds it again."""
    patient = tabs.open()
    base = open_own_record(patient)
    patient.visit(f"{base}/documents")
    patient.click("a:has-text('Radiographie thoracique')")
    patient.click("button:has-text('Masquer aux professionnels')")
    assert "désormais masqué" in patient.text()
    assert "Masqué aux professionnels" in patient.text("dl.metadata")

    nurse = tabs.open()
    pro_find(nurse, "nurse")
    assert "Radiographie thoracique" not in nurse.text()
    assert "Ordonnance" not in nurse.text()  # masked by the demo data
    assert "Bilan sanguin" in nurse.text()

    patient.click("button:has-text('Ne plus masquer')")
    assert "n'est plus masqué" in patient.text()
    nurse.page.reload()
    nurse.check()
    assert "Radiographie thoracique" in nurse.text()


def test_upload_and_delete_own_document_DOC_6(browse: Browse, tmp_path: Path) -> None:
    open_own_record(browse)
    browse.click("nav a:has-text('Ajouter un document')")
    file = write(tmp_path, "directives.pdf", minimal_pdf("Mes directives anticipees"))
    browse.page.set_input_files("#u-file", str(file))
    browse.page.fill("#u-title", "Mes directives anticipées")
    browse.page.select_option("#u-type", "EXPPAT_3")
    browse.click("form[action$='/upload'] button[type=submit]")
    assert "Le document a été ajouté." in browse.text()
    browse.click("a:has-text('Mes directives anticipées')")
    assert "Directives anticipées" in browse.text("dl.metadata")
    assert "Ajouté par le patient" in browse.text("dl.metadata")
    browse.click("button:has-text('Supprimer')")
    assert "Le document a été supprimé." in browse.text()
    assert "Mes directives anticipées" not in browse.text()


def test_upload_refuses_an_unsupported_file_in_words(browse: Browse, tmp_path: Path) -> None:
    base = open_own_record(browse)
    browse.visit(f"{base}/upload")
    browse.page.set_input_files("#u-file", str(write(tmp_path, "photo.png", b"\x89PNG\r\n")))
    browse.page.fill("#u-title", "Photo")
    browse.click("form[action$='/upload'] button[type=submit]")
    assert "Ce type de fichier n'est pas accepté" in browse.text()
    assert browse.page.locator("#u-title").input_value() == "Photo"


def test_access_block_unblock_and_authorize_R_PS_1_R_PAT_2(tabs: Tabs) -> None:
    """Blocking ends every authorization; the blocked PS is refused (R-PS-1); unblocked, it
    needs the patient's agreement again (dmp-rules §3.3)."""
    patient = tabs.open()
    open_own_record(patient)
    patient.click("nav a:has-text('Accès des professionnels')")
    authorized = patient.text("section[aria-labelledby=authorized-title]")
    assert "Paul Bernard" in authorized
    assert "Dr Luc Petit" in patient.text("section[aria-labelledby=blocked-title]")
    with patient.page.expect_navigation(wait_until="domcontentloaded"):
        row = patient.page.locator("tr", has_text="Paul Bernard")
        row.locator("button:has-text('Bloquer')").click()
    patient.check()
    assert "Le professionnel est bloqué" in patient.text()
    assert "Paul Bernard" in patient.text("section[aria-labelledby=blocked-title]")

    nurse = tabs.open()
    nurse.sign_in("pro", "nurse")
    nurse.page.fill("#s-ins", PATIENT_INS)
    nurse.page.select_option("#s-system", DEMO_SYSTEM)
    nurse.click("form[action='/pro/search'] button[type=submit]")
    assert "Le patient vous a bloqué" in nurse.text()
    assert "R-PS-1" in nurse.text()

    with patient.page.expect_navigation(wait_until="domcontentloaded"):
        row = patient.page.locator("tr", has_text="Paul Bernard")
        row.locator("button:has-text('Débloquer')").click()
    assert "Il devra de nouveau obtenir votre accord" in patient.text()
    nurse.click("form[action='/pro/search'] button[type=submit]")
    assert "Vous n'êtes pas autorisé à consulter ce dossier" in nurse.text()

    patient.page.fill("#a-idnps", "899900000002")
    patient.page.fill("#a-name", "Paul Bernard")
    patient.click("#add-access button[type=submit]")
    assert "Le professionnel est autorisé" in patient.text()
    nurse.page.reload()
    nurse.check()
    assert "Bilan sanguin" in nurse.text()


def test_access_form_explains_a_malformed_identifier_ID_3(browse: Browse) -> None:
    base = open_own_record(browse)
    browse.visit(f"{base}/access")
    browse.page.fill("#a-idnps", "12345")
    browse.click("#add-access button[type=submit]")
    assert "Identifiant de professionnel (RPPS/ADELI) mal formé" in browse.text()
    assert "DMP-0106" in browse.text()


def test_emergency_settings_and_notifications_section_5_4(tabs: Tabs) -> None:
    """Refusing both emergency modes forces masked-in-emergency off (§5.4); break-the-glass
    is then refused to a professional (R-EM-1)."""
    patient = tabs.open()
    open_own_record(patient)
    patient.click("nav a:has-text('Urgences et notifications')")
    assert patient.page.is_checked("#s-c15") and patient.page.is_checked("#s-btg")
    assert patient.page.input_value("#s-email") == "camille.durand@example.org"
    patient.page.uncheck("#s-c15")
    patient.page.uncheck("#s-btg")
    patient.page.check("#s-masked")
    patient.page.check("#s-notify")
    patient.click("form[action$='/settings'] button[type=submit]")
    assert "les documents masqués ne peuvent pas y être visibles" in patient.text()
    assert not patient.page.is_checked("#s-masked")
    assert not patient.page.is_checked("#s-btg")

    doctor = tabs.open()
    record = pro_find(doctor, "emergency")
    doctor.visit(f"{record}/emergency")
    doctor.page.fill("#e-reason", "Arrêt cardiaque")
    doctor.page.check("#e-confirm")
    doctor.click("button:has-text('Accéder au dossier en urgence')")
    assert "Le patient a refusé l'accès en mode bris de glace." in doctor.text()
    assert "R-EM-1" in doctor.text()

    patient.page.check("#s-c15")
    patient.page.check("#s-btg")
    patient.click("form[action$='/settings'] button[type=submit]")
    assert "Vos choix sont enregistrés." in patient.text()


def test_history_timeline_filters_and_emergency_highlight_AUD_3(tabs: Tabs) -> None:
    doctor = tabs.open()
    record = pro_find(doctor, "emergency")
    doctor.visit(f"{record}/emergency")
    doctor.page.fill("#e-reason", "Détresse respiratoire")
    doctor.page.check("#e-confirm")
    doctor.click("button:has-text('Accéder au dossier en urgence')")

    patient = tabs.open()
    base = open_own_record(patient)
    patient.click("nav a:has-text('Historique des accès')")
    emergency_items = patient.page.locator("li.timeline-item.is-emergency")
    assert emergency_items.count() >= 1
    assert "Détresse respiratoire" in emergency_items.first.inner_text()
    patient.page.check("#h-emergency")
    patient.click("form[role=search] button[type=submit]")
    items = patient.page.locator("li.timeline-item")
    assert items.count() == emergency_items.count() >= 1
    patient.visit(f"{base}/history")
    patient.page.select_option("#h-who", "899900000001")
    patient.click("form[role=search] button[type=submit]")
    text = patient.text("main")
    assert "Dr Jeanne Martin" in text and "Dr Ali Haddad" not in text
    assert "a ouvert le dossier" in text


def test_export_archive_with_documents_and_metadata_R_PAT_2(browse: Browse) -> None:
    open_own_record(browse)
    browse.click("nav a:has-text('Export et fermeture')")
    with browse.page.expect_download() as download:
        browse.page.click('a:has-text("Télécharger l\'archive")')
    data = Path(download.value.path()).read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    metadata = json.loads(archive.read("metadata.json"))
    assert metadata["record"]["ins"]["value"] == "285107512345606"
    titles = {d["title"] for d in metadata["documents"]}
    assert {"Consultation du 4 mars", "Bilan sanguin", "Ordonnance"} <= titles
    for document in metadata["documents"]:
        assert archive.read(document["file"]).startswith(b"%PDF")
    masked = next(d for d in metadata["documents"] if d["title"] == "Ordonnance")
    assert masked["securityLabels"] == ["MASQUE_PS"]


def test_close_and_reopen_the_record_REC_3_REC_5(tabs: Tabs) -> None:
    patient = tabs.open()
    base = open_own_record(patient)
    patient.visit(f"{base}/record")
    patient.page.check("#c-confirm")
    patient.click("button:has-text('Fermer le dossier')")
    assert "Votre dossier est fermé." in patient.text()
    assert "Fermé" in patient.text("dl.metadata")

    gp = tabs.open()
    pro_find(gp, "gp")
    assert "Le dossier est fermé" in gp.text()
    assert "À la demande du patient" in gp.text()
    assert "Consultation du 4 mars" not in gp.text()

    patient.visit(f"{base}/documents")
    assert "Consultation du 4 mars" in patient.text()  # REC-3: the patient still reads
    patient.visit(f"{base}/record")
    patient.click("button:has-text('Rouvrir le dossier')")
    assert "Votre dossier est de nouveau ouvert." in patient.text()
    gp.page.reload()
    gp.check()
    assert "Consultation du 4 mars" in gp.text()


def test_legal_representative_chooses_the_minors_record_R_PAT_3(
    tabs: Tabs, server: Server, tmp_path: Path
) -> None:
    """A parent with a record of their own chooses between it and the child's (REC-6); a
    document hidden from legal representatives is not shown to them (R-PAT-3)."""
    api_open_record(server, PARENT_INS, "DURAND", "Dominique", "1982-02-01")
    gp = tabs.open()
    record = pro_find(gp, "gp", MINOR_INS)
    secret = write(tmp_path, "secret.pdf", minimal_pdf("Consultation confidentielle"))
    pro_upload(gp, record, secret, "Consultation confidentielle", labels=("u-inv-rl",))
    pro_upload(gp, record, secret, "Vaccinations à jour")

    parent = tabs.open()
    parent.sign_in("patient", "parent")
    assert "Mes dossiers" in parent.text()
    cards = parent.page.locator("ul.record-list li")
    assert cards.count() == 2
    assert "Dossier d'un mineur que je représente" in cards.filter(has_text="Léo").inner_text()
    parent.click("a:has-text('Léo DURAND')")
    assert "Vous êtes son représentant légal" in parent.text("body")
    parent.click("nav a:has-text('Documents')")
    listed = parent.text()
    assert "Consultation pédiatrique" in listed
    assert "Vaccinations à jour" in listed
    assert "Consultation confidentielle" not in listed
    parent.click("a:has-text('Changer de dossier')")
    parent.click("a:has-text('Dominique DURAND')")
    assert "Vous êtes son représentant légal" not in parent.text("body")
