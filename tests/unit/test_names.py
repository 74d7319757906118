"""One thing, one name: no two modules of app/ and loaders/ define a public class of the
same name, so that a name read anywhere says which concept it is. The API's GraphQL types
that present a domain object under its own name are the exceptions, listed here."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# GraphQL types named as the domain objects they present (the schema's names), GraphQL enums
# named as the domain vocabularies they mirror (app/api/vocabularies.py), and the synthetic
# data's shapes beside the API's query shapes.
SHARED_WITH_THE_API = {
    "AuditEntry", "ComputedTrait", "ErasureReceipt", "Event", "Explanation", "FunnelStep",
    "Identifier", "IdentifierStatus", "LinkStatus", "OutcomeKind", "Profile", "ReviewEffect",
    "ReviewStatus", "Segment", "Shape", "WhyNot",
}


def public_classes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for package in ("app", "loaders"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    found[node.name].append(str(path.relative_to(ROOT)))
    return found


def test_no_public_class_name_is_defined_twice():
    twice = {name: paths for name, paths in public_classes().items()
             if len(paths) > 1 and name not in SHARED_WITH_THE_API}
    assert twice == {}


def test_each_exception_still_names_a_class_defined_twice():
    classes = public_classes()
    assert {name for name in SHARED_WITH_THE_API if len(classes[name]) < 2} == set()
