from celery import shared_task


@shared_task(name="marketplace.late_order_outreach", acks_late=True)
def late_order_outreach_task() -> dict:
    from marketplace.late_orders import late_order_outreach_run

    return late_order_outreach_run()


# Celery autodiscovery imports each app's tasks.py only; the inventory audit's tasks keep their
# own module (and their "sellers." names, which beat, routes and stored results use).
from marketplace.inventory_tasks import inventory_audit_chunk_task, inventory_audit_task  # noqa: E402, F401
