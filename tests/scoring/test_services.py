from datetime import timedelta

import pandas as pd

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from marketplace.factories import OrderFactory
from marketplace.models import OrderStatus
from scoring import services
from scoring.models import ScoreBasis
from scoring.factories import trained_cold_start_model, trained_seller_model
from scoring.models import RunStatus, ScoreRun, ScoreRunChunk, SellerScore, SellerScoreHistory
from sellers.factories import SellerFactory
from sellers.models import CraftCategory, OnboardingStatus
from tests.scoring.histories import seller_order_history


@pytest.mark.django_db
def test_scores_are_0_to_100_with_signed_reasons_in_plain_words():
    version = trained_seller_model()
    careful, sloppy = SellerFactory(), SellerFactory()
    seller_order_history(careful, good=20)
    seller_order_history(sloppy, late=12, good=3)

    scores = services.seller_scores_compute(as_of=timezone.now())

    assert scores.loc[careful.pk, "score"] > scores.loc[sloppy.pk, "score"]
    assert scores["score"].between(0, 100).all()
    assert (scores["model_version_id"] == version.pk).all()
    late_reason = next(r for r in scores.loc[sloppy.pk, "reasons"] if r["feature"] == "late_rate")
    assert late_reason["contribution"] < 0
    assert late_reason["text"].startswith("late shipments ") and "category average" in late_reason["text"]


@pytest.mark.django_db
def test_without_an_active_model_a_seller_is_labelled_unscored_not_given_a_made_up_50():
    seller = SellerFactory()
    seller_order_history(seller, good=5)

    scores = services.seller_scores_compute(as_of=timezone.now())

    assert pd.isna(scores.loc[seller.pk, "score"])
    assert scores.loc[seller.pk, "basis"] == ScoreBasis.NO_MODEL
    assert "no validated scoring model" in scores.loc[seller.pk, "reasons"][0]["text"]


@pytest.mark.django_db
def test_new_artisan_without_a_validated_cold_start_model_is_labelled_not_enoughseller_order_history():
    trained_seller_model()
    veteran = SellerFactory()
    seller_order_history(veteran, late=3, good=10)
    newcomer = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, applied_at=timezone.now() - timedelta(hours=1))

    scores = services.seller_scores_compute(as_of=timezone.now(), seller_ids=[newcomer.pk, veteran.pk])

    assert bool(scores.loc[newcomer.pk, "cold_start"]) is True
    assert pd.isna(scores.loc[newcomer.pk, "score"])
    assert scores.loc[newcomer.pk, "basis"] == ScoreBasis.NOT_ENOUGH_HISTORY
    assert "no sales history yet" in scores.loc[newcomer.pk, "reasons"][0]["text"]
    assert 0 <= scores.loc[veteran.pk, "score"] <= 100


@pytest.mark.django_db
def test_category_model_serves_its_category_and_global_model_the_rest():
    global_version = trained_seller_model(seed=1)
    jewelry_version = trained_seller_model(seed=2, category=CraftCategory.JEWELRY)
    ring_maker = SellerFactory(craft_category=CraftCategory.JEWELRY)
    potter = SellerFactory(craft_category=CraftCategory.CERAMICS)
    seller_order_history(ring_maker, good=4)
    seller_order_history(potter, good=4)

    scores = services.seller_scores_compute(as_of=timezone.now())

    assert scores.loc[ring_maker.pk, "model_version_id"] == jewelry_version.pk
    assert scores.loc[potter.pk, "model_version_id"] == global_version.pk


@pytest.mark.django_db
def test_recompute_run_writes_every_chunk_once_and_closes_the_run():
    trained_seller_model()
    sellers = [SellerFactory() for _ in range(5)]
    rejected = SellerFactory(onboarding_status=OnboardingStatus.REJECTED, approved_at=None, rejected_at=timezone.now())

    run, ranges = services.score_run_start(chunk_size=2)
    for first, last in ranges:
        services.score_run_chunk(run_id=run.pk, first_id=first, last_id=last)
    # A redelivered chunk (worker died after commit, broker sent it again) changes nothing.
    assert services.score_run_chunk(run_id=run.pk, first_id=ranges[0][0], last_id=ranges[0][1]) == 0

    run.refresh_from_db()
    assert (len(ranges), run.chunks_done, run.status, run.sellers_scored) == (3, 3, RunStatus.DONE, 5)
    assert SellerScore.objects.count() == 5
    assert SellerScoreHistory.objects.filter(run_key=f"run:{run.pk}").count() == 5
    assert not SellerScore.objects.filter(seller=rejected).exists()
    assert {s.pk for s in sellers} == set(SellerScore.objects.values_list("seller_id", flat=True))


@pytest.mark.django_db
def test_a_chunk_that_fails_mid_write_leaves_nothing_behind(monkeypatch):
    trained_seller_model()
    [SellerFactory() for _ in range(3)]
    run, ranges = services.score_run_start(chunk_size=10)

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    original = services.seller_scores_write

    def write_then_crash(**kwargs):
        original(**kwargs)
        crash()

    monkeypatch.setattr(services, "seller_scores_write", write_then_crash)
    with pytest.raises(RuntimeError):
        services.score_run_chunk(run_id=run.pk, first_id=ranges[0][0], last_id=ranges[0][1])
    assert SellerScore.objects.count() == 0
    assert SellerScoreHistory.objects.count() == 0
    assert ScoreRunChunk.objects.count() == 0

    monkeypatch.setattr(services, "seller_scores_write", original)
    assert services.score_run_chunk(run_id=run.pk, first_id=ranges[0][0], last_id=ranges[0][1]) == 3
    assert ScoreRun.objects.get(pk=run.pk).status == RunStatus.DONE


@pytest.mark.django_db
def test_rescoring_keeps_history_so_staff_see_the_trend():
    trained_seller_model()
    seller = SellerFactory()
    seller_order_history(seller, good=10)
    first = services.seller_rescore(seller_id=seller.pk, as_of=timezone.now() - timedelta(days=1))
    seller_order_history(seller, late=10, good=0)

    second = services.seller_rescore(seller_id=seller.pk)

    assert second.score < first.score
    assert SellerScore.objects.get(seller=seller).score == second.score
    assert list(SellerScoreHistory.objects.filter(seller=seller).order_by("computed_at").values_list("score", flat=True)) == [first.score, second.score]


@pytest.mark.django_db
def test_rescoring_an_unknown_seller_is_a_clear_error_and_saves_nothing():
    with pytest.raises(ValidationError, match="Unknown seller 424242"):
        services.seller_rescore(seller_id=424242)
    assert SellerScoreHistory.objects.count() == 0


@pytest.mark.django_db
def test_recompute_task_fans_out_and_scores_everyone():
    from scoring.tasks import seller_scores_recompute_task

    trained_seller_model()
    [SellerFactory() for _ in range(3)]

    run_id = seller_scores_recompute_task()

    assert ScoreRun.objects.get(pk=run_id).status == RunStatus.DONE
    assert SellerScore.objects.count() == 3


@pytest.mark.django_db
def test_recompute_query_count_does_not_grow_with_sellers(django_assert_max_num_queries):
    trained_seller_model()
    for _ in range(3):
        OrderFactory(status=OrderStatus.DELIVERED)
    run, ranges = services.score_run_start(chunk_size=1000)
    with django_assert_max_num_queries(30):
        services.score_run_chunk(run_id=run.pk, first_id=ranges[0][0], last_id=ranges[0][1])
    for _ in range(20):
        OrderFactory()
    run, ranges = services.score_run_start(chunk_size=1000)
    with django_assert_max_num_queries(30):
        services.score_run_chunk(run_id=run.pk, first_id=ranges[0][0], last_id=ranges[0][1])


@pytest.mark.django_db
def test_training_command_without_history_is_a_clear_error():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no orders to train on"):
        call_command("train_seller_score", "--seed", "3")


@pytest.mark.django_db
def test_applicants_are_scored_by_the_cold_start_model_from_their_application():
    trained_seller_model()
    cold_model = trained_cold_start_model()
    veteran = SellerFactory()
    seller_order_history(veteran, good=10)
    experienced = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, approved_at=None, years_experience=12, has_portfolio=True)
    novice = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, approved_at=None, years_experience=0, has_portfolio=False)

    scores = services.seller_scores_compute(as_of=timezone.now())

    assert scores.loc[experienced.pk, "model_version_id"] == cold_model.pk
    assert scores.loc[veteran.pk, "model_version_id"] != cold_model.pk
    assert scores.loc[experienced.pk, "score"] > scores.loc[novice.pk, "score"]
    texts = [r["text"] for r in scores.loc[novice.pk, "reasons"]]
    assert "0 years of craft experience (application)" in texts
    assert "no portfolio provided with the application" in texts


@pytest.mark.django_db
def test_a_single_rescore_reuses_the_population_figures_of_the_nightly_run(django_assert_max_num_queries):
    trained_seller_model()
    sellers = [SellerFactory() for _ in range(3)]
    for seller in sellers:
        seller_order_history(seller, good=3)
    run, ranges = services.score_run_start(chunk_size=10)
    for first, last in ranges:
        services.score_run_chunk(run_id=run.pk, first_id=first, last_id=last)

    assert services.recent_population(as_of=timezone.now())["priors"]["ceramics"]["cancel_rate"] == 0
    with django_assert_max_num_queries(40) as captured:
        services.seller_rescore(seller_id=sellers[0].pk)
    # No whole-population aggregate: every order/review query is limited to this artisan.
    order_queries = [q["sql"] for q in captured.captured_queries if "marketplace_order" in q["sql"] and "GROUP BY" in q["sql"]]
    assert order_queries and all("IN (" in sql for sql in order_queries)
