from celery import shared_task


@shared_task(name="marketplace.late_order_outreach", acks_late=True)
def late_order_outreach_task() -> dict:
    from marketplace.late_orders import late_order_outreach_run

    return late_order_outreach_run()
