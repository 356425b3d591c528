"""Emergency access in the professionals' portal (SPEC.md §5.3), on a server of its own.

Break-the-glass: a warning, a stated reason, a banner while it lasts, traces with the mode
and the reason, an alert for the patient (R-EM-1, R-EM-3). Centre 15: the demographic search
without the INS (R-EM-2), refused in normal mode.
"""

from __future__ import annotations

from tests.e2e.conftest import Browse, Tabs
from tests.e2e.flows import open_own_record, pro_find


def test_break_the_glass_warning_reason_and_trace_R_EM_1_R_EM_3(tabs: Tabs) -> None:
    doctor = tabs.open()
    pro_find(doctor, "emergency")
    doctor.click("a:has-text('Accéder en urgence')")
    warning = doctor.text()
    assert "Chaque action sera tracée" in warning
    assert "signalée au patient et à ses administrateurs" in warning
    doctor.page.evaluate("document.querySelector('#e-reason').removeAttribute('required')")
    doctor.page.check("#e-confirm")
    doctor.click("button:has-text('Accéder au dossier en urgence')")
    assert "Indiquez le motif" in doctor.text()
    doctor.page.fill("#e-reason", "Coma, aucun proche joignable")
    doctor.page.check("#e-confirm")
    doctor.click("button:has-text('Accéder au dossier en urgence')")
    banner = doctor.text(".emergency-banner")
    assert "Accès en mode bris de glace" in banner
    assert "Coma, aucun proche joignable" in banner
    listed = doctor.text()
    assert "Bilan sanguin" in listed and "Ordonnance" not in listed  # masked stays hidden
    doctor.click("nav a:has-text('Mes traces')")
    traces = doctor.page.locator("li.timeline-item.is-emergency")
    assert traces.count() >= 2
    assert "Coma, aucun proche joignable" in traces.first.inner_text()
    doctor.click("button:has-text(\"Terminer l'accès d'urgence\")")
    assert "L'accès d'urgence est terminé." in doctor.text()
    assert "Vous n'êtes pas autorisé" in doctor.text()

    patient = tabs.open()
    open_own_record(patient)
    alerts = patient.text("section[aria-labelledby=alerts-title]")
    assert "Dr Ali Haddad" in alerts and "Coma, aucun proche joignable" in alerts


def test_centre_15_finds_a_patient_without_ins_R_EM_2(browse: Browse) -> None:
    browse.sign_in("pro", "emergency", "centre_15")
    assert "Mode régulation (centre 15)" in browse.text()
    browse.page.fill("#d-family", "durand")
    browse.page.fill("#d-given", "Camille")
    browse.click("form[action='/pro/search/demographics'] button[type=submit]")
    assert "1 dossier(s) trouvé(s)" in browse.text()
    browse.click("table a:has-text('Camille DURAND')")
    assert "Mode régulation (centre 15)" in browse.text(".emergency-banner")
    assert "Bilan sanguin" in browse.text()


def test_demographic_search_is_refused_in_normal_mode_R_EM_2(browse: Browse) -> None:
    browse.sign_in("pro", "gp")
    assert browse.page.locator("#d-family").count() == 0
    csrf = browse.page.locator("input[name=csrf_token]").first.input_value()
    response = browse.page.request.post(
        browse.server.url + "/pro/search/demographics",
        form={"csrf_token": csrf, "family": "DURAND"},
    )
    assert response.status == 403
    assert "DMP-04" in response.text()
