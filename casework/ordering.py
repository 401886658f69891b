"""How a case kind's queue is ordered, when an app above casework knows better than the default.

The workbench lists cases by priority and due date. An app that can rank a kind's open cases
(retention ranks buyer churn cases by expected uplift when an admin has switched that on)
registers an orderer for the kind here from its AppConfig.ready(), so casework imports nothing
above it. An orderer ranks the cases it is given and switches the kind's order for an actor.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models

from casework.models import ACTIVE_STATUSES

# The workbench's usual order: priority, then due date; among cases due at the same moment (a
# batch opened together), the one opened first. The case list uses these fields, and
# ``cases_in_workbench_order`` gives the same order in Python (for simulated staff).
WORKBENCH_ORDERING = ("priority", "due_at", "pk")

# Lists that also show closed cases put the open work first: a closed case's old due date
# would otherwise rank it above everything still to do.
OPEN_FIRST = models.Case(
    models.When(status__in=ACTIVE_STATUSES, then=models.Value(0)), default=models.Value(1),
    output_field=models.IntegerField(),
).asc()


def cases_in_workbench_order(cases) -> list:
    """The cases in the order the workbench lists them when no app ranks their kind."""
    return sorted(cases, key=lambda case: (case.priority, case.due_at, case.pk))


@dataclass(frozen=True)
class QueueRanking:
    """The order in force for one kind's queue.

    ``scores`` maps case id to a score, highest worked first; empty when the queue keeps the
    workbench's default order. ``shown`` is each score as staff read it (e.g. "+4.2 pts").
    """

    order: str
    label: str
    scores: dict[int, float] = field(default_factory=dict)
    shown: dict[int, str] = field(default_factory=dict)
    column: str = ""
    note: str = ""


@dataclass(frozen=True)
class QueueOrderer:
    rank: Callable  # rank(cases) -> QueueRanking
    switch: Callable  # switch(order_by=, actor=); raises PermissionDenied or ValidationError
    choices: Callable  # choices() -> [(order, label)]
    can_switch: Callable  # can_switch(user) -> bool


ORDERERS: dict[str, QueueOrderer] = {}


def queue_orderer_register(kind: str, *, rank: Callable, switch: Callable, choices: Callable, can_switch: Callable) -> None:
    ORDERERS[kind] = QueueOrderer(rank=rank, switch=switch, choices=choices, can_switch=can_switch)


def queue_orderer(kind: str | None) -> QueueOrderer | None:
    return ORDERERS.get(kind) if kind else None


def queue_ranking(kind: str, cases) -> QueueRanking | None:
    """The ranking in force for these cases of one kind, or None when no app orders the kind."""
    orderer = queue_orderer(kind)
    return orderer.rank(list(cases)) if orderer else None


def queue_order_switch(*, kind: str, order_by: str, actor) -> None:
    orderer = queue_orderer(kind)
    if orderer is None:
        raise ValidationError(f"The {kind} queue has only one order.")
    orderer.switch(order_by=order_by, actor=actor)
