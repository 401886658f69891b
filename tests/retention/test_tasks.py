from django.utils import timezone

from buyers.models import BuyerRetention, SellerDormancy
from retention.tasks import (
    open_churn_cases_task,
    recompute_recommendations_task,
    recompute_retention_task,
    recompute_seller_dormancy_task,
)
from core.schedule import collect_beat_schedule


def test_nightly_tasks_recompute_every_buyer_in_chunks_and_are_idempotent(small_base, settings):
    as_of = timezone.now().isoformat()

    chunks = recompute_retention_task.delay(as_of).get()
    recompute_recommendations_task.delay(as_of).get()
    first = {r.buyer_id: (r.segment, r.recommended_listing_ids) for r in BuyerRetention.objects.all()}
    recompute_retention_task.delay(as_of).get()
    recompute_recommendations_task.delay(as_of).get()

    assert chunks == 1
    assert BuyerRetention.objects.count() == 46
    assert {r.buyer_id: (r.segment, r.recommended_listing_ids) for r in BuyerRetention.objects.all()} == first
    assert open_churn_cases_task.delay(as_of).get()["flagged"] >= 0
    assert recompute_seller_dormancy_task.delay(as_of).get()["flagged"] == 0
    assert SellerDormancy.objects.exists()


def test_retention_runs_in_the_nightly_pipeline_and_retrains_weekly():
    from workflows.stages import STAGES

    tasks = {entry["task"] for entry in collect_beat_schedule().values()}
    assert {"core.pipeline.start", "buyers.train_churn_model"} <= tasks
    assert {"buyer_lifetime_fits", "buyer_retention", "buyer_recommendations"} <= {stage.name for stage in STAGES}
