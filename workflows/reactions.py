"""What storefront data sets in motion. The tasks belong to other apps and are imported lazily
by their dotted path when the reaction runs (integrations.reactions), so this module imports
none of them and a missing task never breaks ingestion."""

from integrations.reactions import reaction_enqueue

SELLER_APPLICATION_RECEIVED = "sellers.tasks.seller_application_received_task"
SELLER_RESCORE = "scoring.tasks.seller_rescore_task"
ORDER_POINTS_SYNC = "loyalty.tasks.order_points_sync_task"
REVIEW_POINTS = "loyalty.tasks.review_points_task"
ENGAGEMENT_POINTS = "loyalty.tasks.engagement_points_task"

ALL_REACTION_TASKS = (
    SELLER_APPLICATION_RECEIVED,
    SELLER_RESCORE,
    ORDER_POINTS_SYNC,
    REVIEW_POINTS,
    ENGAGEMENT_POINTS,
)


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
