"""What the storefront services announce. They send these inside their transaction; the
orchestration layer (workflows/reactions.py) decides what each one sets in motion, so the
marketplace names no task of another app. Every signal is sent with keyword arguments only."""

from django.dispatch import Signal

# seller_id
seller_applied = Signal()
# order_id, seller_id, status
order_status_changed = Signal()
# review_id, seller_id, created
review_saved = Signal()
# event_id, buyer_id (or None), seller_ids
engagement_recorded = Signal()
