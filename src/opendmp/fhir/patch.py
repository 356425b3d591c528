"""Changes to a DocumentReference: JSON Patch (PDSm) and `$meta-add` / `$meta-delete`.

API.md §8: only `securityLabel`, `status` and the PDSm `isArchived` extension may be patched
(any other path is a 400); `N` stays first whatever the patch does. The patch is applied
(RFC 6902) to the DocumentReference as the caller sees it, then read back into a
`DocumentChange` that the web layer passes to `update_documents` (change_labels, set_status,
set_archived). A `test` operation may look at any path (e.g. `/meta/versionId`).
The PDSm filter segment `extension[url:'…']` (transaction TD3.3d) is accepted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opendmp.domain import terminology
from opendmp.domain.documents import DocumentStatus, Label
from opendmp.domain.errors import BusinessRuleViolation, Conflict, InvalidRequest
from opendmp.fhir.datatypes import IS_ARCHIVED_URL, as_dict, as_list, coding, codings, text
from opendmp.fhir.labels import labels_of
from opendmp.fhir.validation import failure, structure_issues

_FILTER = re.compile(r"(?P<name>[A-Za-z]+)\[url:'(?P<url>[^']*)'\]")
_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
RULE = "DOC-7"


@dataclass(frozen=True, slots=True)
class DocumentChange:
    """What a PATCH asks; None: unchanged. Each part is decided by its own rule (DOC-4/5/7)."""

    labels: frozenset[Label] | None = None
    status: DocumentStatus | None = None
    is_archived: bool | None = None

    @property
    def is_empty(self) -> bool:
        return self.labels is None and self.status is None and self.is_archived is None


def _bad(message: str, path: str | None = None) -> InvalidRequest:
    return InvalidRequest("DMP-0641", message, rule=RULE, path=path)


def _segments(pointer: str) -> list[str]:
    """Split on `/`, except inside a PDSm `[url:'…']` filter (its URL has slashes)."""
    segments, current, depth = [], "", 0
    for char in pointer:
        depth += (char == "[") - (char == "]")
        if char == "/" and depth == 0:
            segments.append(current)
            current = ""
        else:
            current += char
    return [*segments, current]


def _pointer(raw: object, document: dict[str, Any], op_path: str) -> list[str | int]:
    """RFC 6901 pointer → tokens; list indices resolved (PDSm `extension[url:'…']` too)."""
    if not isinstance(raw, str) or not raw.startswith("/"):
        raise _bad(f"{op_path} must be a JSON Pointer starting with /", op_path)
    tokens: list[str | int] = []
    node: Any = document
    for part in _segments(raw[1:]):
        name = part.replace("~1", "/").replace("~0", "~")
        match = _FILTER.fullmatch(name)
        if match:
            items = as_list(as_dict(node).get(match["name"]))
            found = [i for i, e in enumerate(items) if as_dict(e).get("url") == match["url"]]
            if not found:
                raise BusinessRuleViolation(
                    "DMP-0642", f"no {match['name']} with url {match['url']}", path=op_path
                )
            tokens += [match["name"], found[0]]
            node = items[found[0]]
            continue
        if isinstance(node, list):
            if name == "-":
                tokens.append(len(node))
                node = None
                continue
            if not name.isdigit():
                raise _bad(f"{raw}: {name!r} is not an array index", op_path)
            tokens.append(int(name))
            node = node[int(name)] if int(name) < len(node) else None
        else:
            tokens.append(name)
            node = node.get(name) if isinstance(node, dict) else None
    return tokens


def _is_allowed(tokens: list[str | int], document: dict[str, Any], value: object) -> bool:
    """API.md §8: securityLabel, status, or the isArchived extension."""
    if not tokens:
        return False
    if tokens[0] == "securityLabel" or tokens == ["status"]:
        return True
    if tokens[0] != "extension" or len(tokens) < 2 or not isinstance(tokens[1], int):
        return False
    extensions = as_list(document.get("extension"))
    if len(tokens) == 2:  # the whole extension: old and new must both be isArchived
        old = extensions[tokens[1]] if tokens[1] < len(extensions) else {"url": IS_ARCHIVED_URL}
        new = value if value is not None else {"url": IS_ARCHIVED_URL}
        return as_dict(old).get("url") == IS_ARCHIVED_URL == as_dict(new).get("url")
    target = extensions[tokens[1]] if tokens[1] < len(extensions) else {}
    return as_dict(target).get("url") == IS_ARCHIVED_URL and tokens[2] != "url"


def _get(document: Any, tokens: list[str | int], op_path: str) -> Any:
    node = document
    for token in tokens:
        in_list = isinstance(node, list) and isinstance(token, int) and token < len(node)
        in_dict = isinstance(node, dict) and isinstance(token, str) and token in node
        if in_list or in_dict:
            node = node[token]
        else:
            raise BusinessRuleViolation("DMP-0642", f"{op_path}: no such element", path=op_path)
    return node


def _parent(document: Any, tokens: list[str | int], op_path: str) -> tuple[Any, str | int]:
    if not tokens:
        raise _bad("the whole resource cannot be patched", op_path)
    return _get(document, tokens[:-1], op_path), tokens[-1]


def _add(document: Any, tokens: list[str | int], value: Any, op_path: str) -> None:
    parent, key = _parent(document, tokens, op_path)
    if isinstance(parent, list) and isinstance(key, int) and key <= len(parent):
        parent.insert(key, value)
    elif isinstance(parent, dict) and isinstance(key, str):
        parent[key] = value
    else:
        raise BusinessRuleViolation("DMP-0642", f"{op_path}: cannot add here", path=op_path)


def _remove(document: Any, tokens: list[str | int], op_path: str) -> Any:
    parent, key = _parent(document, tokens, op_path)
    _get(document, tokens, op_path)  # must exist
    return parent.pop(key)


# Whether an operation may change `tokens` of `document` to `value` (None: any change).
Guard = Callable[[list[str | int], dict[str, Any], object], bool]


def apply_json_patch(
    document: dict[str, Any], operations: object, *, guard: Guard | None = None
) -> dict[str, Any]:
    """RFC 6902 on a copy of `document`; each changed path is checked by `guard` first."""
    if not isinstance(operations, list):
        raise _bad("a JSON Patch is an array of operations")
    result = copy.deepcopy(document)
    for index, raw in enumerate(operations):
        op_path = f"[{index}]"
        operation = as_dict(raw)
        op = operation.get("op")
        if not isinstance(op, str) or op not in _OPS:
            raise _bad(f"operation {index}: op is one of {', '.join(sorted(_OPS))}", op_path)
        tokens = _pointer(operation.get("path"), result, f"{op_path}.path")
        has_value = "value" in operation
        if op in ("add", "replace", "test") and not has_value:
            raise _bad(f"operation {index}: {op} needs a value", op_path)
        source = (
            _pointer(operation.get("from"), result, f"{op_path}.from")
            if op in ("move", "copy")
            else None
        )
        value = operation.get("value")
        allowed = (
            op == "test"
            or guard is None
            or (
                guard(tokens, result, value if op in ("add", "replace") else None)
                and (source is None or op == "copy" or guard(source, result, None))
            )
        )
        if not allowed:
            raise InvalidRequest(
                "DMP-0640",
                f"operation {index}: {operation.get('path')} may not be patched; only "
                "securityLabel, status and the isArchived extension (API.md §8)",
                rule=RULE,
                path=f"{op_path}.path",
            )
        if op == "test":
            if not _json_equal(_get(result, tokens, op_path), value):
                raise Conflict(
                    "DMP-0645", f"test failed at {operation.get('path')}", path=f"{op_path}.path"
                )
        elif op == "remove":
            _remove(result, tokens, op_path)
        elif op == "replace":
            _remove(result, tokens, op_path)
            _add(result, tokens, copy.deepcopy(value), op_path)
        elif op == "add":
            _add(result, tokens, copy.deepcopy(value), op_path)
        else:
            assert source is not None
            moved = copy.deepcopy(_get(result, source, op_path))
            if op == "move":
                _remove(result, source, op_path)
            _add(result, tokens, moved, op_path)
    return result


def _json_equal(left: object, right: object) -> bool:
    """RFC 6902 §4.6 equality: same JSON type and value (true is not 1, "10" is not 10)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left == right
    return type(left) is type(right) and left == right


def _security_of(document: dict[str, Any]) -> tuple[frozenset[Label], frozenset[tuple[str, str]]]:
    """(labels, the other JDV_J58 codes except N) of a securityLabel array."""
    found = [c for label in as_list(document.get("securityLabel")) for c in codings(label)]
    labels = labels_of(found, path="DocumentReference.securityLabel")
    table = terminology.confidentiality_codes()
    others = set()
    for item in found:
        concept = table.lookup(item.system, item.code)
        if concept and concept.system != terminology.LABEL_SYSTEM_URI and concept.code != "N":
            others.add((concept.system, concept.code))
    return labels, frozenset(others)


def _archived_of(document: dict[str, Any]) -> bool:
    for ext in as_list(document.get("extension")):
        if as_dict(ext).get("url") == IS_ARCHIVED_URL:
            value = as_dict(ext).get("valueBoolean")
            if not isinstance(value, bool):
                raise BusinessRuleViolation(
                    "DMP-0644",
                    "the isArchived extension needs a valueBoolean",
                    rule="DOC-4",
                    path="DocumentReference.extension",
                )
            return value
    return False


def parse_json_patch(operations: object, current: dict[str, Any]) -> DocumentChange:
    """`PATCH DocumentReference/<id>` (JSON Patch) → the change it asks, compared with
    `current` (the DocumentReference as rendered for this caller)."""
    patched = apply_json_patch(current, operations, guard=_is_allowed)
    labels, others = _security_of(patched)
    old_labels, old_others = _security_of(current)
    if others != old_others:
        raise BusinessRuleViolation(
            "DMP-0643",
            "only the visibility labels (TRE_A07) of securityLabel can change; N, R and V "
            "are set at submission",
            rule=RULE,
            path="DocumentReference.securityLabel",
        )
    raw_status = text(patched.get("status"))
    try:
        status = DocumentStatus(raw_status)
    except ValueError:
        raise BusinessRuleViolation(
            "DMP-0644",
            f"status {raw_status!r} is not a DocumentReference status",
            rule="DOC-5",
            path="DocumentReference.status",
        ) from None
    archived = _archived_of(patched)
    return DocumentChange(
        labels=labels if labels != old_labels else None,
        status=status if raw_status != text(current.get("status")) else None,
        is_archived=archived if archived != _archived_of(current) else None,
    )


def parse_meta_change(
    parameters: object, current: frozenset[Label], *, add: bool
) -> frozenset[Label]:
    """`$meta-add` / `$meta-delete` Parameters (`meta` = Meta with `security`) → new labels.

    N is always kept; a JDV_J58 code other than the TRE_A07 labels cannot be added or
    removed (DOC-7); a code outside JDV_J58 is a 422.
    """
    errors = structure_issues(parameters, path="Parameters", expected="Parameters")
    if errors:
        raise failure(errors)
    assert isinstance(parameters, dict)
    metas = [
        (index, as_dict(p.get("valueMeta")))
        for index, p in enumerate(as_dict(p) for p in as_list(parameters.get("parameter")))
        if p.get("name") == "meta"
    ]
    if len(metas) != 1:
        raise InvalidRequest(
            "DMP-0646",
            "the Parameters hold one `meta` parameter (valueMeta)",
            path="Parameters.parameter",
        )
    index, meta = metas[0]
    path = f"Parameters.parameter[{index}].valueMeta.security"
    found = [c for raw in as_list(meta.get("security")) if (c := coding(raw)) is not None]
    labels = labels_of(found, path=path)
    table = terminology.confidentiality_codes()
    for position, item in enumerate(found):
        concept = table.lookup(item.system, item.code)
        if concept and concept.system != terminology.LABEL_SYSTEM_URI and concept.code != "N":
            raise BusinessRuleViolation(
                "DMP-0643",
                f"{item.code} is set at submission; only the TRE_A07 labels change",
                rule=RULE,
                path=f"{path}[{position}]",
            )
    return current | labels if add else current - labels
