"""A CDA R2 document as readable text: header facts and the narrative of each section.

The viewer shows what the author wrote (the `text` narrative blocks, HL7 CDA R2 §4.3.5), not
the coded entries. Parsing refuses DTDs and entities (no entity expansion, no external
fetch), so a hostile upload cannot make the server read files or exhaust memory.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime

NS = "{urn:hl7-org:v3}"
_MAX_BYTES = 5 * 1024 * 1024
_XML_TYPES = frozenset({"text/xml", "application/xml", "application/hl7-cda+xml"})


@dataclass(frozen=True)
class Block:
    kind: str  # paragraph | list | table
    text: str = ""
    items: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]
    subsections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class CdaView:
    title: str
    effective: datetime | None
    patient: str
    authors: tuple[str, ...]
    custodian: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
    body_text: str = ""  # a non-XML body (nonXMLBody) is shown as a note


def is_xml(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in _XML_TYPES


def _text(element: ElementTree.Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _name(element: ElementTree.Element | None) -> str:
    if element is None:
        return ""
    parts = [
        _text(child)
        for child in element
        if child.tag in (f"{NS}prefix", f"{NS}given", f"{NS}family")
    ]
    return " ".join(p for p in parts if p) or _text(element)


def _time(value: str) -> datetime | None:
    digits = value.split("+")[0].split("-")[0]
    for size, pattern in ((14, "%Y%m%d%H%M%S"), (12, "%Y%m%d%H%M"), (8, "%Y%m%d")):
        if len(digits) >= size:
            try:
                return datetime.strptime(digits[:size], pattern)
            except ValueError:
                return None
    return None


def _blocks(narrative: ElementTree.Element | None) -> tuple[Block, ...]:
    if narrative is None:
        return ()
    blocks: list[Block] = []
    loose = (narrative.text or "").strip()
    if loose:
        blocks.append(Block("paragraph", text=" ".join(loose.split())))
    for child in narrative:
        tag = child.tag.removeprefix(NS)
        if tag == "list":
            items = tuple(_text(i) for i in child.iter(f"{NS}item"))
            blocks.append(Block("list", items=items))
        elif tag == "table":
            header = tuple(_text(c) for c in child.iter(f"{NS}th"))
            rows = tuple(
                tuple(_text(c) for c in row.findall(f"{NS}td"))
                for row in child.iter(f"{NS}tr")
                if row.findall(f"{NS}td")
            )
            blocks.append(Block("table", header=header, rows=rows))
        elif _text(child):
            blocks.append(Block("paragraph", text=_text(child)))
        tail = (child.tail or "").strip()
        if tail:
            blocks.append(Block("paragraph", text=" ".join(tail.split())))
    return tuple(blocks)


def _section(element: ElementTree.Element) -> Section:
    subsections = tuple(_section(s) for s in element.findall(f"{NS}component/{NS}section"))
    return Section(
        _text(element.find(f"{NS}title")), _blocks(element.find(f"{NS}text")), subsections
    )


def parse_cda(data: bytes) -> CdaView | None:
    """The document's readable content, or None when it is not a CDA we can show."""
    if len(data) > _MAX_BYTES or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 (no DTD, no entity: checked above)
    except ElementTree.ParseError:
        return None
    if root.tag != f"{NS}ClinicalDocument":
        return None
    effective = root.find(f"{NS}effectiveTime")
    patient = root.find(f"{NS}recordTarget/{NS}patientRole/{NS}patient/{NS}name")
    authors = tuple(
        name
        for author in root.findall(f"{NS}author")
        if (name := _name(author.find(f"{NS}assignedAuthor/{NS}assignedPerson/{NS}name")))
    )
    custodian = root.find(
        f"{NS}custodian/{NS}assignedCustodian/{NS}representedCustodianOrganization/{NS}name"
    )
    body = root.find(f"{NS}component/{NS}structuredBody")
    sections = (
        tuple(_section(s) for s in body.findall(f"{NS}component/{NS}section"))
        if body is not None
        else ()
    )
    non_xml = root.find(f"{NS}component/{NS}nonXMLBody")
    return CdaView(
        title=_text(root.find(f"{NS}title")),
        effective=_time(effective.get("value", "")) if effective is not None else None,
        patient=_name(patient),
        authors=authors,
        custodian=_text(custodian),
        sections=sections,
        body_text="nonXMLBody" if non_xml is not None else "",
    )
