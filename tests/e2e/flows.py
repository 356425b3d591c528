"""Steps that several end-to-end tests take, as a person does them, and the files they upload."""

from __future__ import annotations

from pathlib import Path

import httpx

from opendmp import demo
from tests.e2e.conftest import Browse, Server

PEOPLE = demo.people()
PATIENT_INS = PEOPLE.patient.value
PARENT_INS = PEOPLE.parent.value
MINOR_INS = PEOPLE.minor.value
DEMO_SYSTEM = PEOPLE.patient.system


def minimal_pdf(text: str) -> bytes:
    """A small valid PDF (one page, one line of text), as a scanner or a report tool makes."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def cda_document(title: str, section: str, text: str) -> bytes:
    """A CDA R2 document with a structured body (HL7 CDA R2 §4.3), narrative only."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>{title}</title>
  <effectiveTime value="20260301101500+0100"/>
  <recordTarget><patientRole><patient><name><given>Camille</given><family>DURAND</family>
  </name></patient></patientRole></recordTarget>
  <author><assignedAuthor><assignedPerson><name><prefix>Dr</prefix><given>Jeanne</given>
  <family>Martin</family></name></assignedPerson></assignedAuthor></author>
  <component><structuredBody>
    <component><section><title>{section}</title>
      <text><paragraph>{text}</paragraph><list><item>Paracétamol 1 g</item>
      <item>Repos</item></list></text>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>
""".encode()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def open_own_record(tab: Browse) -> str:
    """Camille signs in; returns her record's base path (`/patient/records/<id>`)."""
    tab.sign_in("patient", "patient")
    path = tab.page.url.split(tab.server.url, 1)[1]
    assert path.startswith("/patient/records/"), path
    return path.rstrip("/")


def pro_find(tab: Browse, who: str, ins: str = PATIENT_INS, mode: str = "normal") -> str:
    """A professional signs in and finds the patient by INS; returns the record's base path."""
    tab.sign_in("pro", who, mode)
    tab.page.fill("#s-ins", ins)
    tab.page.select_option("#s-system", DEMO_SYSTEM)
    tab.click("form[action='/pro/search'] button[type=submit]")
    path = tab.page.url.split(tab.server.url, 1)[1]
    assert path.startswith("/pro/records/"), tab.text()
    return path.rstrip("/")


def pro_upload(
    tab: Browse,
    base: str,
    file: Path,
    title: str,
    type_code: str = "11488-4",
    *,
    format_code: str = "",
    labels: tuple[str, ...] = (),
) -> str:
    """The professional's upload form, filled from the DMP lists; returns the new document's
    path."""
    tab.visit(f"{base}/upload")
    tab.page.set_input_files("#u-file", str(file))
    tab.page.fill("#u-title", title)
    tab.page.select_option("#u-type", type_code)
    if format_code:
        tab.page.select_option("#u-format", format_code)
    for label in labels:
        tab.page.check(f"#{label}")
    tab.click("form[action$='/upload'] button[type=submit]")
    path = tab.page.url.split(tab.server.url, 1)[1]
    assert "/documents/" in path, tab.text()
    return path


def api_open_record(server: Server, ins: str, family: str, given: str, born: str) -> str:
    """`$dmp-open` by the demo GP over the FHIR API of the same server (REC-1)."""
    gp = PEOPLE.gp
    token = httpx.post(
        f"{server.url}/auth/dev/token",
        json={
            "sub": gp.id,
            "actor": "professional",
            "profession": gp.profession,
            "structure": gp.structure,
            "name": gp.name,
        },
        timeout=10,
    ).json()["access_token"]
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "patient",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": f"urn:oid:{DEMO_SYSTEM}", "value": ins}],
                    "name": [{"family": family, "given": [given]}],
                    "birthDate": born,
                },
            },
            {"name": "consent", "valueBoolean": True},
        ],
    }
    response = httpx.post(
        f"{server.url}/fhir/Patient/$dmp-open",
        json=parameters,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
