"""Generated specs for the scale benchmark: realistic Kiro specs of any size, deterministically.

``generate_spec(n)`` writes a spec of ``n`` requirements (five EARS criteria each, varied
subjects, objects, field names and numbers, with a few exact and near-duplicates, vague words,
``and/or`` and passives, so that lint has real work), a ``design.md`` with one correctness
property per five requirements, and a ``tasks.md`` of ``5 * n`` tasks (a parent per
requirement with four sub-tasks, ``_Requirements:_`` lines citing real criteria,
``_Depends on:_`` lines to earlier tasks, optional ``*`` test tasks, and a waves block derived
from the dependencies). The same seed gives the same files; ``tests/test_bench_smoke.py``
checks that they parse to the counts promised.

May import: the standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from random import Random

__all__ = [
    "CRITERIA_PER_REQUIREMENT",
    "SUBTASKS_PER_PARENT",
    "GeneratedSpec",
    "generate_spec",
]

CRITERIA_PER_REQUIREMENT = 5
SUBTASKS_PER_PARENT = 4

# -- vocabulary -----------------------------------------------------------------------------

_SYSTEMS = (
    "Order Service", "Payment Gateway", "Inventory Service", "Notification Service",
    "Auth Service", "Search Index", "Report Builder", "Billing Engine", "Catalog API",
    "Shipping Planner", "Audit Logger", "Session Manager", "Export Worker", "Import Worker",
    "Pricing Engine", "Review Moderator", "Cart Service", "Tax Calculator", "Refund Processor",
    "Webhook Dispatcher", "Rate Limiter", "File Store", "Job Scheduler",
    "Recommendation Engine", "Loyalty Service", "Fraud Detector", "Address Validator",
    "Invoice Generator", "Admin Console", "Mobile API", "Sync Agent", "Metrics Collector",
    "Backup Service", "Feature Flag Service", "Localization Service", "Email Renderer",
    "SMS Gateway", "Ledger", "Warehouse Connector", "Customer Portal",
)  # fmt: skip
_OBJECTS = (
    "order", "invoice", "payment", "refund", "shipment", "customer profile",
    "product listing", "price rule", "coupon", "cart", "review", "return request",
    "subscription", "delivery slot", "warehouse transfer", "tax rate", "gift card", "wishlist",
    "support ticket", "API key", "user session", "export file", "audit record",
    "webhook subscription", "loyalty balance", "shipping label", "stock level",
    "catalog category", "discount campaign", "payout",
)  # fmt: skip
_ACTORS = (
    "a customer", "an administrator", "a warehouse operator", "a support agent", "a merchant",
    "an auditor", "a guest user", "a partner system", "a finance clerk", "a scheduled job",
)  # fmt: skip
_EVENTS = (
    "submits", "updates", "cancels", "deletes", "requests an export of", "uploads", "approves",
    "archives", "restores", "imports", "duplicates", "reassigns",
)  # fmt: skip
_ACTIONS = (
    "validate", "persist", "publish an event for", "send a confirmation for",
    "recalculate the total of", "lock", "index", "archive", "notify the owner of",
    "record the change to", "queue a retry for", "encrypt", "checksum", "version",
)  # fmt: skip
_STATES = (
    "the {other} is in maintenance mode", "the {other} is unavailable",
    "a bulk import is running", "the {object} is locked for review",
    "the merchant account is suspended", "the {other} reports degraded health",
    "the nightly reconciliation is running", "the {object} queue holds more than {n} items",
)  # fmt: skip
_FAILURES = (
    "the {object} payload exceeds {kb} KB", "the {object} fails schema validation",
    "the {other} does not respond within {s} seconds",
    "the {object} references an unknown {object2}", "the `{field}` of the {object} is empty",
    "a duplicate {object} arrives within {s} seconds", "the {object} signature is invalid",
    "more than {n} {object} requests arrive per minute from one client",
)  # fmt: skip
_RECOVERIES = (
    "reject the {object} and return error code E{code}",
    "retry the request at most {n} times with exponential backoff",
    "mark the {object} as failed and notify {actor}",
    "roll back the {object} and record the failure in the audit log",
)  # fmt: skip
_FEATURES = (
    "the {feature} feature is enabled", "the tenant has the {plan} plan",
    "the {object} belongs to {region} merchant",
)  # fmt: skip
_FEATURE_NAMES = (
    "multi-currency",
    "two-factor",
    "bulk editing",
    "express checkout",
    "partial shipment",
    "offline mode",
    "gift wrapping",
)
_QUALIFIERS = (
    "within {ms} milliseconds", "within {s} seconds", "before returning HTTP {status}",
    "in batches of at most {n} records", "using the {format} format", "for {days} days",
    "through the {channel} channel", "",
)  # fmt: skip
_BENEFITS = (
    "I can trust the numbers I report", "customers are not charged twice",
    "support can answer questions without engineering", "audits pass without manual work",
    "the shop keeps working during peak sales", "partners can integrate without surprises",
    "mistakes can be undone", "nobody waits for a nightly batch",
)  # fmt: skip
_TITLE_VERBS = (
    "Manage",
    "Validate",
    "Export",
    "Audit",
    "Synchronise",
    "Price",
    "Archive",
    "Search",
    "Reconcile",
    "Import",
    "Notify about",
    "Secure",
)
# Field names (`billing_postcode`): the words that make criteria specific. Real specs name many
# such things, so their vocabulary keeps growing with their size (the pooled Kiro examples
# under tests/data have about 3 distinct words per criterion); drawn from 60 x 60 names, the
# generated vocabulary grows with the spec too instead of staying at a few hundred words.
_FIELD_QUALIFIERS = (
    "billing", "shipping", "primary", "secondary", "external", "internal", "legacy", "default",
    "max", "min", "last", "first", "next", "previous", "current", "pending", "approved",
    "rejected", "expiry", "renewal", "tax", "discount", "gross", "net", "local", "remote",
    "display", "canonical", "audit", "retry", "locked", "archived", "public", "private",
    "customer", "merchant", "partner", "warehouse", "carrier", "currency", "region", "locale",
    "timezone", "sort", "batch", "export", "import", "source", "target", "parent", "child",
    "origin", "destination", "signature", "checksum", "reference", "tracking", "promo",
    "fraud", "risk",
)  # fmt: skip
_FIELD_NOUNS = (
    "id", "code", "name", "email", "phone", "postcode", "address", "amount", "total", "count",
    "limit", "rate", "score", "status", "state", "date", "time", "timestamp", "window",
    "deadline", "token", "key", "hash", "url", "path", "version", "flag", "level", "threshold",
    "quantity", "weight", "price", "balance", "label", "note", "reason", "tier", "channel",
    "zone", "slot", "number", "sequence", "cursor", "offset", "ratio", "factor", "margin",
    "period", "interval", "quota", "owner", "group", "role", "scope", "tag", "category", "type",
    "size", "hint", "mode",
)  # fmt: skip
FIELDS_PER_REQUIREMENT = 3
FIELD_SHARE = 0.7
"""Share of criteria that name one of their requirement's fields."""

_NUMBERS = {
    "ms": (50, 100, 150, 200, 250, 300, 400, 500, 750, 1000),
    "s": (2, 3, 5, 10, 15, 30, 60),
    "status": (200, 201, 202, 204, 409, 422),
    "n": tuple(range(2, 21)),
    "kb": (64, 128, 256, 512, 1024, 2048),
    "days": (7, 14, 30, 60, 90, 180, 365),
    "code": tuple(range(1001, 1041)),
}
_FORMATS = ("CSV", "JSON", "PDF", "XLSX", "Parquet")
_CHANNELS = ("email", "SMS", "push", "webhook", "Slack")
_PLANS = ("Enterprise", "Team", "Starter")
_REGIONS = ("an EU", "a US", "an APAC")

# Shares of criteria written with a known defect, so that every lint rule family has work.
_NEAR_DUPLICATE_SHARE = 0.01
_EXACT_DUPLICATE_SHARE = 0.002
_VAGUE_SHARE = 0.02
_AND_OR_SHARE = 0.01
_PASSIVE_SHARE = 0.01

_NUMBER = re.compile(r"\b\d+\b")


@dataclass(slots=True)
class _Requirement:
    number: int
    system: str
    object: str
    title: str
    story: str
    criteria: list[str]
    property_number: int = 0
    property_title: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedSpec:
    """A generated spec and what parsing it must give.

    Attributes:
        requirements: Number of requirements.
        criteria: Number of acceptance criteria.
        tasks: Number of tasks (parents and sub-tasks).
        properties: Number of design properties.
        files: File name to text, as ``load_spec`` takes them.
    """

    requirements: int
    criteria: int
    tasks: int
    properties: int
    files: dict[str, str] = field(repr=False)

    @property
    def size_bytes(self) -> int:
        """Total size of the files, UTF-8 encoded."""
        return sum(len(text.encode()) for text in self.files.values())


class _Words:
    """Draws the words of one criterion from the vocabulary."""

    def __init__(self, rng: Random, system: str, obj: str, fields: tuple[str, ...]) -> None:
        self.rng = rng
        self.system = system
        self.object = obj
        self.fields = fields

    def fill(self, template: str) -> str:
        rng = self.rng
        values: dict[str, object] = {
            "other": rng.choice([s for s in _SYSTEMS if s != self.system]),
            "object": self.object if rng.random() < 0.7 else rng.choice(_OBJECTS),
            "object2": rng.choice(_OBJECTS),
            "actor": rng.choice(_ACTORS),
            "feature": rng.choice(_FEATURE_NAMES),
            "plan": rng.choice(_PLANS),
            "region": rng.choice(_REGIONS),
            "format": rng.choice(_FORMATS),
            "channel": rng.choice(_CHANNELS),
            "field": rng.choice(self.fields),
        }
        values.update({name: rng.choice(choices) for name, choices in _NUMBERS.items()})
        return template.format(**values)

    def response(self) -> str:
        qualifier = self.fill(self.rng.choice(_QUALIFIERS))
        obj = self.object if self.rng.random() < 0.8 else self.rng.choice(_OBJECTS)
        if self.rng.random() < FIELD_SHARE:
            obj = f"`{self.rng.choice(self.fields)}` of the {obj}"
        text = f"{self.rng.choice(_ACTIONS)} the {obj}"
        return f"{text} {qualifier}" if qualifier else text


def _criterion(words: _Words, kind: int, written: list[str]) -> str:
    """One EARS criterion; ``kind`` picks the pattern (0-4), ``written`` holds earlier ones."""
    rng, system, obj = words.rng, words.system, words.object
    roll = rng.random()
    if written and roll < _EXACT_DUPLICATE_SHARE:
        return rng.choice(written)
    roll -= _EXACT_DUPLICATE_SHARE
    if written and roll < _NEAR_DUPLICATE_SHARE:
        # An earlier criterion with one number changed: a near-duplicate when the sentence is
        # long enough for one different word to stay above the similarity threshold.
        earlier = rng.choice(written)
        changed = _NUMBER.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), earlier, 1)
        if changed != earlier:
            return changed
    roll -= _NEAR_DUPLICATE_SHARE
    if roll < _VAGUE_SHARE:
        return f"THE {system} SHALL {rng.choice(_ACTIONS)} the {obj} quickly"
    roll -= _VAGUE_SHARE
    if roll < _AND_OR_SHARE:
        return (
            f"WHEN {rng.choice(_ACTORS)} {rng.choice(_EVENTS)} a {obj}, THE {system} SHALL "
            f"notify the customer and/or the merchant"
        )
    roll -= _AND_OR_SHARE
    if roll < _PASSIVE_SHARE:
        days = rng.choice(_NUMBERS["days"])
        return f"WHEN a {obj} is closed, THE {obj} record SHALL be archived after {days} days"
    if kind == 0:
        actor, event = rng.choice(_ACTORS), rng.choice(_EVENTS)
        return f"WHEN {actor} {event} a {obj}, THE {system} SHALL {words.response()}"
    if kind == 1:
        state = words.fill(rng.choice(_STATES))
        return f"WHILE {state}, THE {system} SHALL {words.response()}"
    if kind == 2:
        failure = words.fill(rng.choice(_FAILURES))
        recovery = words.fill(rng.choice(_RECOVERIES))
        return f"IF {failure}, THEN THE {system} SHALL {recovery}"
    if kind == 3:
        feature = words.fill(rng.choice(_FEATURES))
        return f"WHERE {feature}, THE {system} SHALL {words.response()}"
    return f"THE {system} SHALL {words.response()}"


def _plan(count: int, rng: Random) -> list[_Requirement]:
    written: list[str] = []
    plans: list[_Requirement] = []
    for number in range(1, count + 1):
        system, obj = rng.choice(_SYSTEMS), rng.choice(_OBJECTS)
        title = f"{rng.choice(_TITLE_VERBS)} {obj}s in the {system}"
        actor = rng.choice(_ACTORS)
        story = (
            f"As {actor}, I want the {system} to handle each {obj} correctly, so that "
            f"{rng.choice(_BENEFITS)}."
        )
        kinds = [0, 1, 2, 3, 4]
        rng.shuffle(kinds)
        fields = tuple(
            f"{rng.choice(_FIELD_QUALIFIERS)}_{rng.choice(_FIELD_NOUNS)}"
            for _ in range(FIELDS_PER_REQUIREMENT)
        )
        words = _Words(rng, system, obj, fields)
        criteria = [_criterion(words, kind, written) for kind in kinds]
        written.extend(criteria)
        plans.append(_Requirement(number, system, obj, title, story, criteria))
    for index in range(0, count, 5):
        requirement = plans[index]
        requirement.property_number = index // 5 + 1
        requirement.property_title = f"{requirement.object.capitalize()} round trip holds"
    return plans


def _render_requirements(plans: list[_Requirement]) -> str:
    out = [
        "# Requirements Document",
        "",
        "## Introduction",
        "",
        f"A generated shop back end with {len(plans)} requirements, used to measure how "
        "specloom scales.",
        "",
        "## Glossary",
        "",
    ]
    out.extend(
        f"- **{system}**: The component that owns its part of the shop" for system in _SYSTEMS
    )
    out.extend(["", "## Requirements", ""])
    for plan in plans:
        out.extend(
            [
                f"### Requirement {plan.number}: {plan.title}",
                "",
                f"**User Story:** {plan.story}",
                "",
                "#### Acceptance Criteria",
                "",
            ]
        )
        out.extend(f"{index}. {text}" for index, text in enumerate(plan.criteria, start=1))
        out.append("")
    return "\n".join(out)


def _render_design(plans: list[_Requirement]) -> str:
    out = [
        "# Design Document",
        "",
        "## Overview",
        "",
        "Each component is a module with a pure core and adapters at its edges.",
        "",
        "## Architecture",
        "",
        "```mermaid",
        "graph TD",
        "    Portal[Customer Portal] --> Orders[Order Service]",
        "    Orders --> Payments[Payment Gateway]",
        "```",
        "",
        "## Correctness Properties",
        "",
    ]
    for plan in plans:
        if not plan.property_number:
            continue
        cited = [f"{plan.number}.1", f"{plan.number}.2"]
        if plan.number < len(plans):
            cited.append(f"{plan.number + 1}.3")
        out.extend(
            [
                f"### Property {plan.property_number}: {plan.property_title}",
                "",
                f"*For any* valid {plan.object}, saving it in the {plan.system} and "
                "loading it back gives an equal value.",
                "",
                f"**Validates: Requirements {', '.join(cited)}**",
                "",
            ]
        )
    out.extend(["## Testing Strategy", "", "Property tests for every property above.", ""])
    return "\n".join(out)


def _render_tasks(plans: list[_Requirement], rng: Random) -> str:
    count = len(plans)
    done_until = count // 10
    leaves_of = {
        str(p.number): [f"{p.number}.{k}" for k in range(1, SUBTASKS_PER_PARENT + 1)] for p in plans
    }
    level: dict[str, int] = {}
    out = ["# Implementation Plan", ""]
    for plan in plans:
        n = plan.number
        box = "x" if n <= done_until else ("-" if n == done_until + 1 else " ")
        sub_box = "x" if n <= done_until else " "
        package = plan.system.lower().replace(" ", "_")
        module = f"src/shop/{package}/{plan.object.replace(' ', '_')}.py"
        first_dependencies: list[str] = []
        if n > 1:
            window = range(max(1, n - 30), n)
            for _ in range(rng.choice((1, 1, 2))):
                earlier = rng.choice(window)
                target = str(earlier) if rng.random() < 0.3 else f"{earlier}.{rng.randint(1, 3)}"
                if target not in first_dependencies:
                    first_dependencies.append(target)
        extra = ""
        if n > 1 and rng.random() < 0.1:
            extra = f", {rng.randint(1, n - 1)}.{rng.randint(1, CRITERIA_PER_REQUIREMENT)}"
        third = f"{n}.5{extra}" if rng.random() >= 0.005 else f"{n}.4"
        optional = "*" if n % 3 == 0 else ""
        subtasks: list[tuple[str, str, list[str], list[str], list[str]]] = [
            (
                f"{n}.1",
                f"Define the {plan.object} model and its validation in `{module}`",
                [f"{n}.1, {n}.2"],
                first_dependencies,
                [f"Add the fields that the criteria of requirement {n} name, with their bounds"],
            ),
            (
                f"{n}.2",
                f"Implement {plan.object} handling in the {plan.system}",
                [f"{n}.3, {n}.4"],
                [f"{n}.1"],
                [],
            ),
            (
                f"{n}.3",
                f"Wire the {plan.system} events and error responses",
                [third],
                [f"{n}.1"],
                [f"Return the error codes the criteria list for {plan.object}s"],
            ),
            (
                f"{n}.4",
                f"Write tests for {plan.title[0].lower()}{plan.title[1:]}",
                [f"{n}.1, {n}.3"],
                [f"{n}.2", f"{n}.3"],
                [],
            ),
        ]
        out.append(f"- [{box}] {n}. {plan.title}")
        for task_id, title, requirements, depends, details in subtasks:
            marker = optional if task_id.endswith(".4") else ""
            out.append(f"  - [{sub_box}]{marker} {task_id} {title}")
            out.extend(f"    - {detail}" for detail in details)
            if task_id.endswith(".4") and plan.property_number:
                out.append(f"    - **Property {plan.property_number}: {plan.property_title}**")
                out.append(f"    - **Validates: Requirements {n}.1, {n}.2**")
            out.append(f"    - _Requirements: {', '.join(requirements)}_")
            if depends:
                out.append(f"    - _Depends on: {', '.join(depends)}_")
            dependency_leaves = [leaf for d in depends for leaf in leaves_of.get(d, [d])]
            level[task_id] = 1 + max((level[leaf] for leaf in dependency_leaves), default=-1)
        out.append("")
    waves: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for task_id, wave in level.items():
        waves[wave].append(task_id)
    block = json.dumps({"waves": [{"id": i, "tasks": wave} for i, wave in enumerate(waves)]})
    out.extend(["## Task Dependency Graph", "", "```json", block, "```", ""])
    return "\n".join(out)


def generate_spec(requirements: int, seed: int = 20_240_601) -> GeneratedSpec:
    """Generate a spec of ``requirements`` requirements (see the module docstring).

    Args:
        requirements: How many requirements (each gets five criteria and five tasks).
        seed: Seed of the random choices; the same seed gives the same files.

    Returns:
        The files and the counts that parsing them must give.
    """
    rng = Random(f"{seed}-{requirements}")
    plans = _plan(requirements, rng)
    files = {
        "requirements.md": _render_requirements(plans),
        "design.md": _render_design(plans),
        "tasks.md": _render_tasks(plans, rng),
        ".config.kiro": json.dumps(
            {
                "specId": f"bench-{requirements}",
                "specType": "feature",
                "workflowType": "requirements-first",
            }
        ),
    }
    return GeneratedSpec(
        requirements=requirements,
        criteria=requirements * CRITERIA_PER_REQUIREMENT,
        tasks=requirements * (1 + SUBTASKS_PER_PARENT),
        properties=sum(1 for plan in plans if plan.property_number),
        files=files,
    )
