"""The demo marketplace at its default size trains real models: two categories train their own
seller-score model, and the demo ends with an active model whose scores spread across the bands."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from marketplace.generator.services import generate_marketplace
from scoring.models import ModelStatus, ModelVersion, ScoreBasis
from scoring.services import active_models, seller_scores_compute
from scoring.training import KIND, data_range
from workflows.demo import DEMO_BUYERS, DEMO_CATEGORIES, DEMO_SELLERS, demo_models_train

pytestmark = pytest.mark.django_db

# Not the demo's own seed (7): the size must hold for other marketplaces drawn the same way.
SEED = 11


@pytest.fixture(scope="module")
def demo_models(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        try:
            generate_marketplace(sellers=DEMO_SELLERS, buyers=DEMO_BUYERS, months=24, seed=SEED,
                                 categories=list(DEMO_CATEGORIES), progress=False)
            yield demo_models_train(seed=SEED)
        finally:
            # The data was committed: empty the test database again for the tests that follow.
            call_command("flush", interactive=False, verbosity=0)


def test_two_categories_train_their_own_model(demo_models):
    categories = set(ModelVersion.objects.filter(kind=KIND, category__isnull=False).values_list("category", flat=True))
    assert len(categories) >= 2, demo_models
    for version in ModelVersion.objects.filter(kind=KIND, category__isnull=False):
        # Judged against the global model on its own category's held-out rows, under the same gate.
        assert version.metrics["gate"]["checks"], version
        assert version.metrics["n_train"] >= 400


def test_demo_ends_with_an_active_model_whose_scores_spread(demo_models):
    # At this size the gate passes the global model on some seeds and not on others (the held-out
    # interval against the mean rating is wide); where it refuses, the demo admin's override is
    # recorded on the version, never silent.
    active = ModelVersion.objects.get(kind=KIND, category__isnull=True, status=ModelStatus.ACTIVE)
    if not active.metrics["gate"]["passed"]:
        assert any("recorded override" in line for line in demo_models)
        forced = active.events.get(action="forced_activation")
        assert forced.actor.username == "admin" and "best_baseline" in forced.note

    _, last_order = data_range()
    scores = seller_scores_compute(as_of=last_order + timedelta(days=1), models=active_models())
    scored = scores[scores["basis"] == ScoreBasis.MODEL]
    assert len(scored) >= 100
    values = scored["score"].astype(int)
    assert (values == 50).mean() < 0.05
    # The default bands: high risk below 30, low risk from 70.
    assert (values < 30).sum() > 0 and ((values >= 30) & (values < 70)).sum() > 0 and (values >= 70).sum() > 0
