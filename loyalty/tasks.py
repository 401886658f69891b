"""Celery entry points. Each takes IDs, calls one service, and is safe to run twice."""

from celery import shared_task

from loyalty import badges, services, tiers

# Bulk tasks handle a bounded chunk and re-enqueue themselves while work remains.


@shared_task(name="loyalty.order_points_sync", acks_late=True)
def order_points_sync_task(order_id: int) -> str:
    return services.order_points_sync(order_id=order_id)


@shared_task(name="loyalty.engagement_points", acks_late=True)
def engagement_points_task(event_id: int) -> bool:
    return services.engagement_points(event_id=event_id)


@shared_task(name="loyalty.review_points", acks_late=True)
def review_points_task(review_id: int) -> bool:
    return services.review_points(review_id=review_id)


@shared_task(name="loyalty.award_delivered_orders", acks_late=True)
def award_delivered_orders_task(after_id: int = 0) -> int:
    created, last_id = services.points_award_delivered_orders(after_id=after_id)
    if last_id is not None:
        award_delivered_orders_task.delay(last_id)
    return created


@shared_task(name="loyalty.activate_points", acks_late=True)
def activate_points_task() -> int:
    return services.points_activate_due()


@shared_task(name="loyalty.expire_points", acks_late=True)
def expire_points_task() -> int:
    services.points_activate_due()
    handled = services.points_expire_due()
    if handled == services.EXPIRE_CHUNK:
        expire_points_task.delay()
    return handled


@shared_task(name="loyalty.send_expiry_reminders", acks_late=True)
def send_expiry_reminders_task() -> int:
    sent = services.expiry_reminders_send()
    if sent == services.REMINDER_CHUNK:
        send_expiry_reminders_task.delay()
    return sent


@shared_task(name="loyalty.recompute_tiers", acks_late=True)
def recompute_tiers_task() -> dict:
    return tiers.tiers_recompute()


@shared_task(name="loyalty.evaluate_badges", acks_late=True)
def evaluate_badges_task(badge_ids: list[int] | None = None) -> dict:
    return badges.badges_evaluate(badge_ids=badge_ids)


@shared_task(name="loyalty.close_competitions", acks_late=True)
def close_competitions_task() -> int:
    from loyalty.competitions import competitions_close_due

    return competitions_close_due()
