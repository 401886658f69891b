"""What storefront data sets in motion.

The marketplace services announce each write (marketplace/events.py). ``RECEIVERS`` below maps
each announcement to the function that decides its reactions; ``REACTIONS`` maps each reaction
key to the Celery task that runs it. Both are plain mappings of importable objects, connected
once at start-up (``connect``, called by WorkflowsConfig.ready), so a reader follows an order to
its points and rescore without resolving a string. The reaction machinery (pending rows,
batching, after-commit dispatch) is integrations/reactions.py.
"""

from integrations.reactions import reaction_enqueue, reactions_register, reactions_register_sets
from loyalty import awards
from loyalty.tasks import engagement_points_task, order_points_sync_task, review_points_task
from marketplace import events
from workflows import onboarding
from workflows.tasks import seller_application_received_task, seller_rescore_task

# Reaction keys are the Celery task names: a pending row stores the key.
SELLER_APPLICATION_RECEIVED = "sellers.application_received"
SELLER_RESCORE = "scoring.rescore_seller"
ORDER_POINTS_SYNC = "loyalty.order_points_sync"
REVIEW_POINTS = "loyalty.review_points"
ENGAGEMENT_POINTS = "loyalty.engagement_points"

REACTIONS = {
    SELLER_APPLICATION_RECEIVED: seller_application_received_task,
    SELLER_RESCORE: seller_rescore_task,
    ORDER_POINTS_SYNC: order_points_sync_task,
    REVIEW_POINTS: review_points_task,
    ENGAGEMENT_POINTS: engagement_points_task,
}

# The set-based form of a reaction: a worker runs a message's subjects of that key in one call
# (same ledger and scores as the task per subject; integrations/reactions.py).
REACTION_SETS = {
    SELLER_RESCORE: lambda ids: onboarding.sellers_rescore(seller_ids=ids),
    ORDER_POINTS_SYNC: lambda ids: awards.order_points_sync_many(order_ids=ids),
    REVIEW_POINTS: lambda ids: awards.review_points_many(review_ids=ids),
    ENGAGEMENT_POINTS: lambda ids: awards.engagement_points_many(event_ids=ids),
}

# Rows pending when this version was deployed name the task by its former module path.
LEGACY_KEYS = {
    "sellers.tasks.seller_application_received_task": SELLER_APPLICATION_RECEIVED,
    "scoring.tasks.seller_rescore_task": SELLER_RESCORE,
    "loyalty.tasks.order_points_sync_task": ORDER_POINTS_SYNC,
    "loyalty.tasks.review_points_task": REVIEW_POINTS,
    "loyalty.tasks.engagement_points_task": ENGAGEMENT_POINTS,
}

ALL_REACTION_TASKS = tuple(REACTIONS)


def seller_application_reactions(*, seller_id: int) -> None:
    """A new application is scored and routed."""
    reaction_enqueue(task_path=SELLER_APPLICATION_RECEIVED, subject_id=seller_id)


def order_status_reactions(*, order_id: int, seller_id: int, status: str) -> None:
    """Delivered earns pending points; cancelled or returned reverses them (the task reads the
    order's current status). Every status change moves the seller's shipping, cancellation or
    return features, so the seller is rescored."""
    if status in ("delivered", "cancelled", "returned"):
        reaction_enqueue(task_path=ORDER_POINTS_SYNC, subject_id=order_id)
    reaction_enqueue(task_path=SELLER_RESCORE, subject_id=seller_id)


def review_reactions(*, review_id: int, seller_id: int, created: bool) -> None:
    reaction_enqueue(task_path=SELLER_RESCORE, subject_id=seller_id)
    if created:
        reaction_enqueue(task_path=REVIEW_POINTS, subject_id=review_id)


def engagement_event_reactions(*, event_id: int, buyer_id: int | None, seller_ids: list[int]) -> None:
    for seller_id in seller_ids:
        reaction_enqueue(task_path=SELLER_RESCORE, subject_id=seller_id)
    if buyer_id is not None:
        reaction_enqueue(task_path=ENGAGEMENT_POINTS, subject_id=event_id)


RECEIVERS = {
    events.seller_applied: seller_application_reactions,
    events.order_status_changed: order_status_reactions,
    events.review_saved: review_reactions,
    events.engagement_recorded: engagement_event_reactions,
}


def _receiver(function):
    def receive(sender, signal, **kwargs):
        function(**kwargs)

    return receive


def connect() -> None:
    reactions_register(REACTIONS)
    reactions_register({legacy: REACTIONS[key] for legacy, key in LEGACY_KEYS.items()})
    reactions_register_sets(REACTION_SETS)
    reactions_register_sets({legacy: REACTION_SETS[key] for legacy, key in LEGACY_KEYS.items() if key in REACTION_SETS})
    for signal, function in RECEIVERS.items():
        signal.connect(_receiver(function), weak=False, dispatch_uid=f"workflows.reactions.{function.__name__}")
