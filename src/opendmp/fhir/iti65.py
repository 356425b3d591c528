"""ITI-65 Provide Document Bundle ↔ `SubmitCommand` / `SubmitResult` (IHE MHD 4.2 §2:3.65).

The parser checks what the service cannot see: the FHIR structure (`fhir.resources`), the
transaction's shape (one SubmissionSet List, DocumentReferences, their Binaries), every
reference of the Bundle, the bytes, and the patient each resource names (API.md §14). Every
problem is collected with its FHIRPath and raised at once (`ValidationFailed`, DOC-1).
Value sets, sizes and hashes are the service's DOC-1 checks (`domain.metadata`), whose paths
it prefixes with `Bundle.entry[<DocumentDraft.index>].resource`.

Choices (MHD 4.2 §2:3.65.4.1.3): Folders are ignored with a `PartialFolderContentNotProcessed`
warning; relatesTo codes other than `replaces` are not recorded (`Partial…ContentNotProcessed`
warning); a FHIR Document Bundle as content is refused (`FHIRDocumentNotSupported`: the
FHIR Document Publish Option is not implemented); a Patient entry is never created, only
matched by its INS; the MHD UpdateDocumentRefs PATCH (status → superseded) is accepted for
the documents the Bundle replaces, the service superseding them itself (DOC-3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opendmp.domain.documents import DocumentEntry
from opendmp.domain.errors import DmpError
from opendmp.domain.metadata import MetadataIssue, MetadataProfile
from opendmp.fhir import iti65_entries
from opendmp.fhir.bundle import BundleReader, EntryKind, EntryPlan, note
from opendmp.fhir.datatypes import (
    MHD_LIST_TYPES,
    MHD_SD,
    PDSM_SD,
    as_dict,
    as_list,
    codings,
    format_datetime,
    text,
)
from opendmp.fhir.outcomes import warning_issue, warnings_outcome
from opendmp.fhir.references import PatientRef, parse_reference
from opendmp.fhir.validation import failure, structure_issues
from opendmp.services.submit_documents import SubmitCommand, SubmitResult

MHD_MINIMAL_BUNDLE = MHD_SD + "IHE.MHD.Minimal.ProvideBundle"
MHD_COMPREHENSIVE_BUNDLES = frozenset(
    {
        MHD_SD + "IHE.MHD.Comprehensive.ProvideBundle",
        MHD_SD + "IHE.MHD.UnContained.Comprehensive.ProvideBundle",
    }
)
SUBMISSION_SET_PROFILES = frozenset(
    {
        MHD_SD + "IHE.MHD.Minimal.SubmissionSet",
        MHD_SD + "IHE.MHD.Comprehensive.SubmissionSet",
        MHD_SD + "IHE.MHD.UnContained.Comprehensive.SubmissionSet",
        PDSM_SD + "pdsm-submissionset-comprehensive",
    }
)

__all__ = [
    "EntryKind",
    "EntryPlan",
    "ProvideBundleCommand",
    "parse_provide_bundle",
    "transaction_response",
]


@dataclass(frozen=True, slots=True)
class ProvideBundleCommand(SubmitCommand):
    """A SubmitCommand that remembers the Bundle's layout for the transaction-response."""

    entries: tuple[EntryPlan, ...] = ()


def parse_provide_bundle(bundle: object, *, profile: str, base_url: str) -> ProvideBundleCommand:
    """ITI-65 request → command; `profile` is the deployment's (`dmp` | `mhd`, SPEC.md §10)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise failure(structure_issues(bundle, path="Bundle", expected="Bundle"))
    errors = _structure(bundle)
    if errors:
        raise failure(errors)
    return _parse(BundleReader(bundle, MetadataProfile(profile), base_url))


def _structure(bundle: dict[str, Any]) -> list[DmpError]:
    """FHIR structure of the Bundle shell and of each entry's resource, each at its path."""
    entries = as_list(bundle.get("entry"))
    shell = dict(bundle)
    shell["entry"] = [{k: v for k, v in as_dict(e).items() if k != "resource"} for e in entries]
    errors = structure_issues(shell, path="Bundle")
    for index, entry in enumerate(entries):
        resource = as_dict(entry).get("resource")
        if resource is not None:
            errors += structure_issues(resource, path=f"Bundle.entry[{index}].resource")
    return errors


def _parse(reader: BundleReader) -> ProvideBundleCommand:
    issues = reader.issues
    if reader.bundle.get("type") != "transaction":
        issues.rule("DMP-0603", "an ITI-65 Bundle must be of type transaction", "Bundle.type")
    reader.metadata_profile = _metadata_profile(reader)
    reader.index_urls()
    sets, documents, binaries, patches = _classify(reader)
    if not sets:
        issues.rule("DMP-0604", "the Bundle must hold one SubmissionSet List", "Bundle.entry")
    for extra in sets[1:]:
        issues.rule(
            "DMP-0604",
            "the Bundle must hold exactly one SubmissionSet List",
            f"Bundle.entry[{extra}].resource",
        )
    if not documents:
        issues.rule(
            "DMP-0605", "the Bundle must hold at least one DocumentReference", "Bundle.entry"
        )
    drafts = [iti65_entries.document(reader, i, position) for position, i in enumerate(documents)]
    for index in binaries:
        if index not in reader.binary_users:
            issues.rule(
                "DMP-0618",
                "this Binary is not the content of any DocumentReference of the Bundle",
                f"Bundle.entry[{index}]",
            )
    named: list[tuple[str, PatientRef | None]] = []
    submission_set = None
    if sets:
        submission_set, list_subject = iti65_entries.submission_set(reader, sets[0], documents)
        named.append((f"Bundle.entry[{sets[0]}].resource.subject", list_subject))
    named += [
        (f"Bundle.entry[{index}].resource.subject", subject)
        for index, (_, subject) in zip(documents, drafts, strict=True)
    ]
    _supersede(reader, patches, {d.replaces for d, _ in drafts if d.replaces is not None})
    patient = reader.consolidate(named)
    issues.raise_if_any()
    assert submission_set is not None
    return ProvideBundleCommand(
        record_id=patient.record_id,
        subject_ins=patient.ins,
        submission_set=submission_set,
        documents=tuple(draft for draft, _ in drafts),
        metadata_profile=reader.metadata_profile.value,
        entries=tuple(reader.plans[i] for i in sorted(reader.plans)),
        subject_path=_subject_path(reader, documents[0]) if documents else "",
    )


def _subject_path(reader: BundleReader, index: int) -> str:
    """Where a DocumentReference names its patient: the reference, else the identifier."""
    subject = as_dict(reader.resource(index).get("subject"))
    base = f"Bundle.entry[{index}].resource.subject"
    if subject.get("reference"):
        return f"{base}.reference"
    return f"{base}.identifier" if subject.get("identifier") else base


def _metadata_profile(reader: BundleReader) -> MetadataProfile:
    """API.md §17, §25: under `mhd`, the MHD profile the Bundle declares sets the rules."""
    if reader.profile is MetadataProfile.DMP:
        return MetadataProfile.DMP
    meta = as_dict(reader.bundle.get("meta"))
    declared = {text(p) for p in as_list(meta.get("profile"))}
    if declared & MHD_COMPREHENSIVE_BUNDLES:
        return MetadataProfile.MHD
    if MHD_MINIMAL_BUNDLE in declared:
        return MetadataProfile.MHD_MINIMAL
    reader.issues.rule(
        "DMP-0612",
        "Bundle.meta.profile must declare an MHD Provide Document Bundle profile "
        f"({MHD_MINIMAL_BUNDLE} or the Comprehensive / UnContained one)",
        "Bundle.meta.profile",
        rule="ITI-65",
    )
    return MetadataProfile.MHD


def _classify(
    reader: BundleReader,
) -> tuple[list[int], list[int], list[int], list[tuple[int, str]]]:
    """Sort the entries by role; anything an ITI-65 Bundle may not hold is an issue."""
    issues = reader.issues
    sets: list[int] = []
    documents: list[int] = []
    binaries: list[int] = []
    patches: list[tuple[int, str]] = []
    for index, entry in enumerate(reader.entries):
        path = f"Bundle.entry[{index}]"
        resource = reader.resource(index)
        request = as_dict(entry.get("request"))
        method = text(request.get("method")).upper()
        kind = text(resource.get("resourceType"))
        if not resource:
            issues.rule("DMP-0611", "every entry needs a resource", f"{path}.resource")
            continue
        if not request:
            issues.rule("DMP-0611", "a transaction entry needs a request", f"{path}.request")
        if kind == "List":
            _classify_list(reader, index, method, sets)
        elif kind in ("DocumentReference", "Binary"):
            _expect(reader, method, "POST", path)
            (documents if kind == "DocumentReference" else binaries).append(index)
        elif kind == "Patient":
            reader.plans[index] = EntryPlan(EntryKind.PATIENT, index, reader.full_url(index))
        elif kind == "Parameters" and method == "PATCH":
            target = parse_reference(text(request.get("url")), reader.base_url)
            is_document = target.resource_type == "DocumentReference"
            patches.append((index, target.id if is_document else ""))
        elif kind == "Bundle":
            issues.rule(
                "DMP-0611",
                "FHIRDocumentNotSupported: a FHIR Document Bundle as content is not "
                "supported (ITI-65 FHIR Document Publish Option)",
                f"{path}.resource",
                rule="ITI-65",
            )
        else:
            issues.rule(
                "DMP-0611",
                f"an ITI-65 Bundle holds List, DocumentReference, Binary and Patient "
                f"entries, not {kind}",
                f"{path}.resource",
                rule="ITI-65",
            )
    return sets, documents, binaries, patches


def _classify_list(reader: BundleReader, index: int, method: str, sets: list[int]) -> None:
    path = f"Bundle.entry[{index}]"
    list_type = _list_type(reader.resource(index))
    if list_type == "submissionset":
        _expect(reader, method, "POST", path)
        sets.append(index)
        reader.plans[index] = EntryPlan(EntryKind.SUBMISSION_SET, index, reader.full_url(index))
    elif list_type == "folder":
        warning = note(
            "DMP-0650",
            "PartialFolderContentNotProcessed: Folders are not supported; this List was ignored",
            f"{path}.resource",
        )
        reader.plans[index] = EntryPlan(
            EntryKind.FOLDER, index, reader.full_url(index), notes=(warning,)
        )
    else:
        reader.issues.rule(
            "DMP-0611",
            "a List of an ITI-65 Bundle is a SubmissionSet or a Folder (List.code)",
            f"{path}.resource.code",
        )


def _list_type(resource: dict[str, Any]) -> str:
    for item in codings(resource.get("code")):
        if item.system in ("", MHD_LIST_TYPES) and item.code in ("submissionset", "folder"):
            return item.code
    declared = {text(p) for p in as_list(as_dict(resource.get("meta")).get("profile"))}
    return "submissionset" if declared & SUBMISSION_SET_PROFILES else ""


def _expect(reader: BundleReader, method: str, expected: str, path: str) -> None:
    if method and method != expected:
        reader.issues.rule(
            "DMP-0611", f"this entry must be created with {expected}", f"{path}.request.method"
        )


def _supersede(reader: BundleReader, patches: list[tuple[int, str]], replaced: set[str]) -> None:
    """MHD UpdateDocumentRefs: PATCH status → superseded of a document being replaced."""
    for index, target in patches:
        if target not in replaced or not _is_supersede(reader.resource(index)):
            reader.issues.rule(
                "DMP-0614",
                "a PATCH entry may only set DocumentReference.status to superseded for a "
                "document that this Bundle replaces (relatesTo replaces)",
                f"Bundle.entry[{index}]",
                rule="DOC-3",
            )
            continue
        reader.plans[index] = EntryPlan(
            EntryKind.SUPERSEDE, index, reader.full_url(index), target=target
        )


def _is_supersede(parameters: dict[str, Any]) -> bool:
    operations = [as_dict(p) for p in as_list(parameters.get("parameter"))]
    if len(operations) != 1 or operations[0].get("name") != "operation":
        return False
    parts = {text(as_dict(p).get("name")): as_dict(p) for p in as_list(operations[0].get("part"))}
    value = parts.get("value", {})
    return (
        text(parts.get("type", {}).get("valueCode")) == "replace"
        and text(parts.get("path", {}).get("valueString")) == "DocumentReference.status"
        and text(value.get("valueCode") or value.get("valueString")) == "superseded"
    )


# --- response -----------------------------------------------------------------------------


def transaction_response(
    result: SubmitResult, command: SubmitCommand, base_url: str
) -> dict[str, Any]:
    """ITI-65 response: a transaction-response Bundle, one entry per request entry, in order;
    warnings of an entry in its response.outcome (API.md §16)."""
    base = base_url.rstrip("/")
    plans = command.entries if isinstance(command, ProvideBundleCommand) else _plans_of(command)
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": _response(plan, result, command, base)} for plan in plans],
    }


def _plans_of(command: SubmitCommand) -> tuple[EntryPlan, ...]:
    """Without the Bundle layout: the SubmissionSet, then each document."""
    documents = tuple(
        EntryPlan(EntryKind.DOCUMENT, draft.index, draft.ref, position)
        for position, draft in enumerate(command.documents)
    )
    return (EntryPlan(EntryKind.SUBMISSION_SET, 0, ""), *documents)


def _response(
    plan: EntryPlan, result: SubmitResult, command: SubmitCommand, base: str
) -> dict[str, Any]:
    notes: list[MetadataIssue] = list(plan.notes)
    if plan.kind is EntryKind.SUBMISSION_SET:
        ss = result.submission_set
        notes += _located(result.warnings.get("submission-set", []), plan.index)
        response = _created(
            f"{base}/List/{ss.id}/_history/1", "1", format_datetime(ss.submitted_at)
        )
    elif plan.kind in (EntryKind.DOCUMENT, EntryKind.BINARY) and plan.document is not None:
        document: DocumentEntry = result.documents[plan.document]
        if plan.kind is EntryKind.DOCUMENT:
            draft = command.documents[plan.document]
            notes += _located(result.warnings.get(draft.ref, []), draft.index)
            location = f"{base}/DocumentReference/{document.id}/_history/{document.version}"
        else:
            location = f"{base}/Binary/{document.id}"
        response = _created(location, str(document.version), format_datetime(document.submitted_at))
    elif plan.kind is EntryKind.PATIENT:
        response = {"status": "200 OK", "location": f"{base}/Patient/{result.record.id}"}
    elif plan.kind is EntryKind.SUPERSEDE:
        response = {"status": "200 OK", "location": f"{base}/DocumentReference/{plan.target}"}
    else:
        response = {"status": "200 OK"}
    outcome = warnings_outcome(
        warning_issue(n.code, n.message, rule=n.rule, path=n.path) for n in notes
    )
    if outcome is not None:
        response["outcome"] = outcome
    return response


def _created(location: str, version: str, modified: str) -> dict[str, Any]:
    return {
        "status": "201 Created",
        "location": location,
        "etag": f'W/"{version}"',
        "lastModified": modified,
    }


def _located(issues: list[MetadataIssue], index: int) -> list[MetadataIssue]:
    """Service warnings name `DocumentReference.x`; the response names the Bundle entry."""
    prefix = f"Bundle.entry[{index}].resource"
    return [MetadataIssue(i.severity, i.code, i.message, i.located(prefix), i.rule) for i in issues]
