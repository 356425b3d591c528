"""The professionals' portal in a real browser, one test per flow of issue 4 §2.

What each professional sees is what SPEC.md §5 says: the administrator sees masked
documents (R-PS-3), an authorized nurse of another structure does not (R-PS-4), a blocked
physician sees nothing (R-PS-1), an emergency physician goes through break-the-glass
(R-EM-1) and leaves a clear trace (R-EM-3).
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Browse, Tabs
from tests.e2e.flows import (
    DEMO_SYSTEM,
    PATIENT_INS,
    cda_document,
    minimal_pdf,
    open_own_record,
    pro_find,
    pro_upload,
    write,
)


def test_find_by_ins_and_read_as_administrator_R_PS_3(browse: Browse) -> None:
    pro_find(browse, "gp")
    banner = browse.text(".record-banner")
    assert "Camille DURAND" in banner and PATIENT_INS in banner and "Ouvert" in banner
    documents = browse.text()
    assert "4 document(s)" in documents
    assert "Ordonnance" in documents  # masked, but the GP administers the record
    assert "Masqué aux professionnels" in documents
    browse.click("a:has-text('Consultation du 4 mars')")
    assert "CR ou fiche de consultation ou de visite" in browse.text("dl.metadata")
    assert browse.page.locator("iframe.pdf-frame").count() == 1


def test_an_invalid_ins_key_is_explained_ID_1(browse: Browse) -> None:
    browse.sign_in("pro", "gp")
    browse.page.fill("#s-ins", PATIENT_INS[:-2] + "99")
    browse.page.select_option("#s-system", DEMO_SYSTEM)
    browse.click("form[action='/pro/search'] button[type=submit]")
    assert "la clé de contrôle ne correspond pas" in browse.text()
    assert browse.page.locator("#s-ins").input_value() == PATIENT_INS[:-2] + "99"


def test_authorized_nurse_does_not_see_masked_documents_R_PS_4(browse: Browse) -> None:
    pro_find(browse, "nurse")
    listed = browse.text()
    assert "3 document(s)" in listed
    assert "Ordonnance" not in listed
    assert "Bilan sanguin" in listed


def test_blocked_professional_is_refused_R_PS_1(browse: Browse) -> None:
    browse.sign_in("pro", "blocked")
    browse.page.fill("#s-ins", PATIENT_INS)
    browse.page.select_option("#s-system", DEMO_SYSTEM)
    browse.click("form[action='/pro/search'] button[type=submit]")
    text = browse.text()
    assert "Le patient vous a bloqué" in text
    assert "DMP-0412" in text and "R-PS-1" in text


def test_blocked_professional_may_still_submit_R_PS_1(tabs: Tabs, tmp_path: Path) -> None:
    blocked = tabs.open()
    blocked.sign_in("pro", "blocked")
    blocked.page.fill("#s-ins", PATIENT_INS)
    blocked.page.select_option("#s-system", DEMO_SYSTEM)
    blocked.click("form[action='/pro/search'] button[type=submit]")
    blocked.click("form[action='/pro/deposit'] button[type=submit]")
    assert PATIENT_INS in blocked.text()
    blocked.page.set_input_files("#u-file", str(write(tmp_path, "l.pdf", minimal_pdf("Lettre"))))
    blocked.page.fill("#u-title", "Lettre du Dr Petit")
    blocked.page.select_option("#u-type", "11488-4")
    blocked.click("form[action='/pro/deposit/submit'] button[type=submit]")
    assert "information obligatoire manquante" in blocked.text()  # no structure: custodian
    blocked.page.set_input_files("#u-file", str(write(tmp_path, "l.pdf", minimal_pdf("Lettre"))))
    blocked.page.fill("#u-custodian", "1750000018")
    blocked.click("form[action='/pro/deposit/submit'] button[type=submit]")
    assert "Le document a été déposé dans le dossier du patient." in blocked.text()

    patient = tabs.open()
    base = open_own_record(patient)
    patient.visit(f"{base}/documents")
    assert "Lettre du Dr Petit" in patient.text()


def test_self_authorization_needs_the_attestation_R_PS_2(browse: Browse) -> None:
    pro_find(browse, "emergency")
    text = browse.text()
    assert "Vous n'êtes pas autorisé à consulter ce dossier" in text and "R-PS-2" in text
    browse.page.evaluate("document.querySelector('#attest').removeAttribute('required')")
    browse.click("button:has-text('Me déclarer autorisé')")
    assert "Cochez l'attestation" in browse.text()
    browse.page.check("#attest")
    browse.click("button:has-text('Me déclarer autorisé')")
    assert "Vous êtes désormais autorisé" in browse.text()
    assert "Bilan sanguin" in browse.text()
    assert "Ordonnance" not in browse.text()  # masked: not for a plain authorization
    browse.click("nav a:has-text('Mes traces')")
    assert "s'est déclaré autorisé" in browse.text()


def test_upload_with_dmp_value_sets_then_replace_archive_delete_DOC_1_3_4_5(
    browse: Browse, tmp_path: Path
) -> None:
    record = pro_find(browse, "gp")
    browse.visit(f"{record}/upload")
    options = browse.page.locator("#u-type option")
    assert options.count() > 100  # JDV_J66
    assert browse.page.locator("#u-type optgroup[label='Compte rendu']").count() == 1
    assert browse.page.locator("#u-facility option").count() > 60  # JDV_J61 stand-in
    assert browse.page.locator("#u-custodian").input_value() == "1750000018"

    first = write(tmp_path, "cr.pdf", minimal_pdf("Compte rendu v1"))
    pro_upload(browse, record, first, "Compte rendu opératoire", "34874-8")
    assert "Le document a été ajouté." in browse.text()
    assert "Compte rendu opératoire" in browse.text("h1")

    browse.click("a:has-text('Déposer une nouvelle version')")
    assert "remplacera « Compte rendu opératoire »" in browse.text()
    browse.page.set_input_files("#u-file", str(write(tmp_path, "v2.pdf", minimal_pdf("v2"))))
    browse.page.fill("#u-title", "Compte rendu opératoire (v2)")
    browse.click("form[action$='/upload'] button[type=submit]")
    assert "l'ancienne est remplacée" in browse.text()
    browse.visit(f"{record}/")
    assert "Compte rendu opératoire (v2)" in browse.text()
    assert browse.page.locator("a", has_text="Compte rendu opératoire").count() == 1

    browse.click("a:has-text('Compte rendu opératoire (v2)')")
    browse.click("button:has-text('Archiver')")
    assert "Le document est archivé." in browse.text()
    assert "Archivé" in browse.text("dl.metadata")
    browse.click("button:has-text('Désarchiver')")
    browse.click("button:has-text('Supprimer')")
    assert "Le document a été supprimé." in browse.text()
    assert "Compte rendu opératoire" not in browse.text()


def test_upload_form_explains_what_is_missing(browse: Browse, tmp_path: Path) -> None:
    """An XML file says nothing of its template: the form asks for the format (JDV_J60)."""
    record = pro_find(browse, "gp")
    browse.visit(f"{record}/upload")
    browse.page.set_input_files("#u-file", str(write(tmp_path, "a.xml", b"<a/>")))
    browse.page.fill("#u-title", "Document structuré")
    browse.page.select_option("#u-type", "11488-4")
    browse.click("form[action$='/upload'] button[type=submit]")
    assert "Indiquez le format du document" in browse.text()
    assert browse.page.locator("#u-title").input_value() == "Document structuré"
    assert browse.page.locator("#u-type").input_value() == "11488-4"


def test_a_cda_document_is_shown_as_readable_text(tabs: Tabs, tmp_path: Path) -> None:
    gp = tabs.open()
    record = pro_find(gp, "gp")
    cda = write(tmp_path, "synthese.xml", cda_document("Synthèse médicale", "Traitement", "Fièvre"))
    pro_upload(
        gp, record, cda, "Synthèse médicale", "60591-5", format_code="urn:asip:ci-sis:vsm:2012"
    )
    article = gp.text("article.cda")
    assert "Traitement" in article and "Fièvre" in article and "Paracétamol 1 g" in article
    assert "Dr Jeanne Martin" in article

    patient = tabs.open()
    base = open_own_record(patient)
    patient.visit(f"{base}/documents")
    patient.click("a:has-text('Synthèse médicale')")
    assert "Paracétamol 1 g" in patient.text("article.cda")


def test_make_visible_to_patient_and_mask_DOC_7(tabs: Tabs, tmp_path: Path) -> None:
    gp = tabs.open()
    record = pro_find(gp, "gp")
    result = write(tmp_path, "anapath.pdf", minimal_pdf("Resultat"))
    pro_upload(gp, record, result, "Résultat d'anatomopathologie", labels=("u-inv-patient",))
    assert "Invisible au patient" in gp.text("dl.metadata")

    patient = tabs.open()
    base = open_own_record(patient)
    patient.visit(f"{base}/documents")
    assert "Résultat d'anatomopathologie" not in patient.text()

    gp.click("button:has-text('Rendre visible au patient')")
    assert "Le document est désormais visible par le patient." in gp.text()
    gp.click("button:has-text('Masquer aux professionnels')")
    assert "Masqué aux professionnels" in gp.text("dl.metadata")
    patient.visit(f"{base}/documents")
    assert "Résultat d'anatomopathologie" in patient.text()

    nurse = tabs.open()
    pro_find(nurse, "nurse")
    assert "Résultat d'anatomopathologie" not in nurse.text()


def test_only_the_author_archives_DOC_4(tabs: Tabs) -> None:
    """The nurse may not archive the GP's document: the service refuses, the page says why."""
    nurse = tabs.open()
    pro_find(nurse, "nurse")
    nurse.click("a:has-text('Bilan sanguin')")
    nurse.click("button:has-text('Archiver')")
    text = nurse.text()
    assert "Action impossible" in text
    assert "DMP-04" in text


def test_own_traces_only_R_PS_7(browse: Browse) -> None:
    pro_find(browse, "nurse")
    browse.click("nav a:has-text('Mes traces')")
    items = browse.page.locator("li.timeline-item")
    assert items.count() >= 2
    for text in items.all_inner_texts():
        assert "Paul Bernard" in text
    assert "Dr Jeanne Martin" not in browse.text()
