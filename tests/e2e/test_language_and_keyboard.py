"""French first, English on demand; everything reachable with the keyboard (issue 4 §4)."""

from __future__ import annotations

from tests.e2e.conftest import Browse
from tests.e2e.flows import PATIENT_INS


def test_english_everywhere_after_the_switch(browse: Browse) -> None:
    browse.visit("/")
    assert browse.page.locator("html").get_attribute("lang") == "fr"
    assert "Votre dossier médical partagé" in browse.text()
    browse.click("a:has-text('English')")
    assert browse.page.locator("html").get_attribute("lang") == "en"
    assert "Your shared medical record" in browse.text()
    browse.click("a:has-text('Open my record')")
    assert "Demo sign-in" in browse.text()
    browse.click("button:has-text('Sign in')")
    text = browse.text("body")
    assert "Latest documents" in text and "Record of" in text and "Open" in text
    assert "Report" in text  # the class label of the DMP table, in English
    browse.click("nav a:has-text('Emergencies and notifications')")
    browse.click("form[action$='/settings'] button[type=submit]")
    assert "Your choices are saved." in browse.text()
    browse.click("nav a:has-text('Access history')")
    assert "read the settings" in browse.text() or "changed the settings" in browse.text()
    browse.click("a:has-text('Français')")
    assert "Historique des accès" in browse.text()
    assert browse.page.locator("html").get_attribute("lang") == "fr"


def test_professional_pages_in_english(browse: Browse) -> None:
    browse.visit("/lang/en?next=/pro/")
    browse.page.check("#who-nurse")
    browse.click("button:has-text('Sign in')")
    assert "Find a patient" in browse.text()
    browse.page.fill("#s-ins", PATIENT_INS)
    browse.page.select_option("#s-system", "1.2.250.1.213.1.4.11")
    browse.click("form[action='/pro/search'] button[type=submit]")
    assert "Documents you may read" in browse.text()
    browse.click("nav a:has-text('My traces')")
    assert "listed the documents" in browse.text()


def test_keyboard_only_sign_in_and_navigation(browse: Browse) -> None:
    """Tab reaches the skip link first; every control is reached and used from the keyboard."""
    page = browse.page
    browse.visit("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "/patient/":
            break
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.keyboard.press("Enter")
    browse.check()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "who-patient":
            break
    assert page.evaluate("document.activeElement.id") == "who-patient"
    page.keyboard.press("ArrowDown")
    assert page.is_checked("#who-parent")
    page.keyboard.press("ArrowUp")
    assert page.is_checked("#who-patient")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.keyboard.press("Enter")
    browse.check()
    assert "Derniers documents" in browse.text()
    focus_styles = page.evaluate(
        "(() => { const a = document.querySelector('nav.section-nav a'); a.focus();"
        " return getComputedStyle(a).outlineStyle; })()"
    )
    assert focus_styles != "none"  # a visible focus indicator (WCAG 2.4.7)
