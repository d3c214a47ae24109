"""The firm's state: legal entities, people, customers, projects, rate cards, and every business record.

Records are plain slotted dataclasses mutated by the flows. The system APIs read them (each showing its
own system's view) and the ground-truth oracle reads them; nothing here knows about events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulator.calendar import DAY, day_start

__all__ = [
    "BILLING_CYCLE_MIX",
    "ENTITIES",
    "PRESETS",
    "ROLES",
    "Assignment",
    "Consultant",
    "Customer",
    "DeadLetter",
    "Deal",
    "Entry",
    "ExceptionRecord",
    "Firm",
    "Invoice",
    "LegalEntity",
    "Posting",
    "Project",
    "RateCard",
    "Timesheet",
    "WorkerChange",
    "build_firm",
]

PRESETS = (500, 5_000, 50_000)


@dataclass(frozen=True, slots=True)
class LegalEntity:
    tenant: str
    currency: str
    share: float
    month_end_split: bool  # this entity asks for a split timesheet at month end (the second spike)
    fx: float  # units of currency per USD


ENTITIES: tuple[LegalEntity, ...] = (
    LegalEntity("acme-us", "USD", 0.42, True, 1.0),
    LegalEntity("acme-uk", "GBP", 0.20, False, 0.79),
    LegalEntity("acme-de", "EUR", 0.15, True, 0.92),
    LegalEntity("acme-in", "INR", 0.13, False, 83.0),
    LegalEntity("acme-au", "AUD", 0.10, False, 1.52),
)
ROLES: dict[str, float] = {"analyst": 120.0, "consultant": 165.0, "senior": 215.0, "manager": 265.0, "director": 340.0}
# Most T&M customers are invoiced weekly or monthly; a few are billed as time is approved.
BILLING_CYCLE_MIX = {"daily": 0.10, "weekly": 0.45, "monthly": 0.45}
_ROLE_MIX = {"analyst": 0.25, "consultant": 0.35, "senior": 0.22, "manager": 0.13, "director": 0.05}


@dataclass(slots=True)
class Consultant:
    id: str
    tenant: str
    role: str
    cost_center: str
    approver_id: str
    hired_at: float
    status: str = "active"  # HCM truth: active, leave, terminated
    hcm_updated_at: float = 0.0
    psa_status: str = "active"  # what PSA believes, updated only by worker.synced
    psa_cost_center: str = ""
    psa_updated_at: float = 0.0
    terminated_at: float | None = None
    assignments: list[Assignment] = field(default_factory=list)


@dataclass(slots=True)
class Customer:
    id: str
    name: str
    tenant: str
    large: bool


@dataclass(slots=True)
class Project:
    code: str
    name: str
    customer_id: str
    tenant: str
    currency: str
    billing_type: str  # time_and_materials, fixed_fee, non_billable
    billing_cycle: str  # daily, weekly, monthly
    opportunity_id: str
    start: float
    end: float
    psa_id: str
    erp_id: str
    status: str = "active"  # PSA
    crm_status: str = "active"
    erp_status: str = "active"
    psa_code: str = ""  # differs from code after a CRM rename reached PSA
    crm_code: str = ""
    erp_code: str = ""
    erp_customer_id: str = ""
    erp_currency: str = ""
    erp_billing_type: str = ""
    psa_created_at: float | None = None
    erp_created_at: float | None = None
    updated_at: float = 0.0
    erp_updated_at: float = 0.0
    monthly_fee: float = 0.0


@dataclass(slots=True)
class Deal:
    opportunity_id: str
    account_id: str
    tenant: str
    amount: float
    currency: str
    closed_at: float
    project_code: str = ""


@dataclass(slots=True)
class RateCard:
    id: str
    tenant: str
    customer_id: str  # "" for the entity's standard card
    currency: str
    rates: dict[str, float]
    start: float  # day start, inclusive
    end: float  # day start, inclusive
    updated_at: float = 0.0


@dataclass(slots=True)
class Assignment:
    id: str
    consultant_id: str
    project_code: str
    role: str
    start: float
    end: float
    weekly_hours: float
    booking_type: str
    status: str = "ASSIGNED"
    updated_at: float = 0.0
    synced_at: float | None = None


@dataclass(slots=True)
class Timesheet:
    id: str
    consultant_id: str
    tenant: str
    period_start: float
    period_end: float
    entry_ids: list[str]
    regular: bool  # a whole-week sheet (not the month-end split part)
    status: str = "DRAFT"
    first_submitted_at: float | None = None
    submitted_at: float | None = None
    approved_at: float | None = None
    late: bool = False
    rejections: int = 0
    correlation_id: str = ""


@dataclass(slots=True)
class Entry:
    id: str
    consultant_id: str
    tenant: str
    project_code: str  # the code PSA held when the line was entered
    work_date: float
    hours: float
    timesheet_id: str
    billable: bool
    rate: float = 0.0
    currency: str = ""
    status: str = "DRAFT"
    approved_at: float | None = None
    attempts: int = 0
    first_attempt_at: float | None = None
    first_attempt_ok: bool = False
    posted_at: float | None = None
    blocked_since: float | None = None  # a post failure not yet fixed
    invoice_id: str = ""
    invoice_ready_at: float | None = None
    written_off_at: float | None = None
    superseded_by: str = ""
    supersedes: str = ""
    correlation_id: str = ""

    @property
    def amount(self) -> float:
        return round(self.hours * self.rate, 2)


@dataclass(slots=True)
class Posting:
    """One journal line in ERP; a duplicate submission makes two for one entry."""

    document_id: str
    entry_id: str
    consultant_id: str
    project_code: str
    work_date: float
    hours: float
    amount: float
    currency: str
    tenant: str
    posted_at: float
    idempotency_key: str
    reversed: bool = False


@dataclass(slots=True)
class Invoice:
    id: str
    project_code: str
    tenant: str
    currency: str
    entry_ids: list[str]
    amount: float
    period: str
    ready_at: float
    status: str = "READY"
    released_at: float | None = None
    posted_at: float | None = None
    erp_number: str = ""
    correlation_id: str = ""


@dataclass(slots=True)
class ExceptionRecord:
    id: str
    category: str
    severity: str
    object_type: str
    object_id: str
    tenant: str
    opened_at: float
    due_at: float
    resolved_at: float | None = None
    resolution: str = ""


@dataclass(slots=True)
class DeadLetter:
    message_id: str
    original_event_id: str
    queue: str
    reason: str
    attempt_count: int
    object_id: str
    tenant: str
    created_at: float
    replayed_at: float | None = None
    new_message_id: str = ""


@dataclass(slots=True)
class WorkerChange:
    change_id: str
    consultant_id: str
    change_type: str
    effective_date: float
    entered_at: float
    tenant: str
    synced_at: float | None = None


@dataclass
class Firm:
    consultants: dict[str, Consultant] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    deals: dict[str, Deal] = field(default_factory=dict)
    rate_cards: dict[str, RateCard] = field(default_factory=dict)
    assignments: dict[str, Assignment] = field(default_factory=dict)
    timesheets: dict[str, Timesheet] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    postings: list[Posting] = field(default_factory=list)
    postings_by_entry: dict[str, list[Posting]] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    exceptions: dict[str, ExceptionRecord] = field(default_factory=dict)
    dead_letters: dict[str, DeadLetter] = field(default_factory=dict)
    worker_changes: dict[str, WorkerChange] = field(default_factory=dict)
    # ERP accounting periods per tenant: "YYYY-MM" -> open?
    closed_periods: set[tuple[str, str]] = field(default_factory=set)
    internal_projects: dict[str, str] = field(default_factory=dict)  # tenant -> non-billable project code
    counters: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return n

    def card_for(self, project: Project, role: str, work_date: float) -> tuple[float, bool]:
        """The bill rate for a line, and whether an effective card covered it.

        A large account has a negotiated card: when it lapses there is no fallback to the standard card.
        """
        customer = self.customers[project.customer_id]
        if customer.large:
            card = self.rate_cards.get(f"RC-{customer.id}")
        else:
            card = self.rate_cards.get(f"RC-STD-{project.tenant}")
        if card is None or not (card.start <= work_date <= card.end):
            return 0.0, False
        return card.rates[role], True


def _choice(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def build_firm(consultants: int, seed: int, start: float) -> Firm:
    """The estate as it stands at `start`: people, customers, projects, cards and assignments already live."""
    rng = random.Random(f"firm-{seed}")
    firm = Firm()
    start_day = day_start(start)
    by_tenant: dict[str, list[Consultant]] = {}
    for entity in ENTITIES:
        n = max(8, round(consultants * entity.share))
        people: list[Consultant] = []
        approvers: list[str] = []
        for _ in range(n):
            number = firm.next_id("consultant")
            cid = f"C{number:06d}"
            role = _choice(rng, _ROLE_MIX)
            if len(people) % 8 == 0:  # one approver per eight consultants
                approvers.append(cid)
            cc = f"CC-{entity.tenant[-2:].upper()}-{rng.randint(1, max(2, n // 80)):03d}"
            c = Consultant(cid, entity.tenant, role, cc, approvers[-1], start_day - rng.uniform(60, 3000) * DAY)
            c.psa_cost_center = cc
            c.hcm_updated_at = c.psa_updated_at = c.hired_at
            people.append(c)
            firm.consultants[cid] = c
        by_tenant[entity.tenant] = people
        # Customers: a few large accounts with negotiated cards hold a big share of the work.
        n_customers = max(4, n // 12)
        customers = []
        for i in range(n_customers):
            cust_id = f"CUST-{firm.next_id('customer'):05d}"
            cust = Customer(cust_id, f"Customer {cust_id[5:]}", entity.tenant, large=i < max(2, n_customers // 25))
            firm.customers[cust_id] = cust
            customers.append(cust)
        std = RateCard(
            f"RC-STD-{entity.tenant}", entity.tenant, "", entity.currency,
            {r: round(v * entity.fx, 2) for r, v in ROLES.items()},
            start_day - 200 * DAY, start_day + 365 * DAY, start_day,
        )  # fmt: skip
        firm.rate_cards[std.id] = std
        for cust in customers:
            if cust.large:
                discount = rng.uniform(0.85, 0.97)
                firm.rate_cards[f"RC-{cust.id}"] = RateCard(
                    f"RC-{cust.id}", entity.tenant, cust.id, entity.currency,
                    {r: round(v * entity.fx * discount, 2) for r, v in ROLES.items()},
                    start_day - rng.uniform(30, 300) * DAY, start_day + rng.uniform(60, 330) * DAY, start_day,
                )  # fmt: skip
        # The internal, non-billable project every consultant can book bench and training time to.
        internal = new_project(firm, rng, entity, customers[0], start_day - 900 * DAY, billing_type="non_billable")
        internal.end = start_day + 3650 * DAY
        firm.internal_projects[entity.tenant] = internal.code
        # About one active client project per consultant (domain.md: 3,000-8,000 per 5,000 consultants).
        weights = [8.0 if c.large else 1.0 for c in customers]
        for _ in range(max(3, round(n * 1.0))):
            cust = rng.choices(customers, weights=weights)[0]
            p = new_project(firm, rng, entity, cust, start_day - rng.uniform(1, 200) * DAY)
            p.end = start_day + rng.uniform(20, 300) * DAY
        client_projects = [
            p for p in firm.projects.values() if p.tenant == entity.tenant and p.billing_type != "non_billable"
        ]
        for c in people:
            for _ in range(1 if rng.random() < 0.55 else 2):
                new_assignment(firm, rng, c, rng.choice(client_projects), start_day - rng.uniform(1, 60) * DAY)
    return firm


def new_project(
    firm: Firm, rng: random.Random, entity: LegalEntity, customer: Customer, created: float, billing_type: str = ""
) -> Project:
    number = firm.next_id("project")
    billing_type = billing_type or _choice(rng, {"time_and_materials": 0.75, "fixed_fee": 0.25})
    cycle = "monthly"
    if billing_type == "time_and_materials":
        cycle = _choice(rng, BILLING_CYCLE_MIX)
    code = f"PRJ-{entity.tenant[-2:].upper()}-{number:06d}"
    p = Project(
        code=code, name=f"{customer.name} engagement {number}", customer_id=customer.id, tenant=entity.tenant,
        currency=entity.currency, billing_type=billing_type, billing_cycle=cycle,
        opportunity_id=f"006{number:012d}", start=day_start(created), end=day_start(created) + 180 * DAY,
        psa_id=str(100000 + number), erp_id=str(500000 + number),
    )  # fmt: skip
    p.psa_code = p.crm_code = p.erp_code = code
    p.erp_customer_id, p.erp_currency, p.erp_billing_type = customer.id, p.currency, billing_type
    p.psa_created_at = p.erp_created_at = p.updated_at = p.erp_updated_at = created
    if billing_type == "fixed_fee":
        p.monthly_fee = round(rng.uniform(20_000, 120_000) * entity.fx, -2)
    firm.projects[code] = p
    return p


def new_assignment(firm: Firm, rng: random.Random, c: Consultant, project: Project, start: float) -> Assignment:
    a = Assignment(
        id=f"ASG-{firm.next_id('assignment'):07d}", consultant_id=c.id, project_code=project.code, role=c.role,
        start=day_start(start), end=min(project.end, day_start(start) + rng.uniform(28, 160) * DAY),
        weekly_hours=rng.choice((16.0, 24.0, 32.0, 40.0)), booking_type="hard" if rng.random() < 0.85 else "soft",
        updated_at=start, synced_at=start,
    )  # fmt: skip
    firm.assignments[a.id] = a
    c.assignments.append(a)
    return a
