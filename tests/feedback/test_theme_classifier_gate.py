"""The theme classifier goes live only when, on held-out staff-coded responses, keyword rules plus
the classifier code themes better than the keyword rules alone (paired bootstrap on micro F1)."""

import random

import numpy as np
import pytest

from feedback.factories import ResponseFactory, ThemeFactory
from feedback.models import ThemeClassifier
from feedback.themes import classifier_train, coding_gate, response_themes_correct

pytestmark = pytest.mark.django_db

SHIPPING = ["my order took forever to arrive", "package turned up weeks after the date", "parcel never showed up on time",
            "courier lost track of the box for ages", "delivery dragged on for a month"]
QUALITY = ["the glaze chipped on first wash", "stitching came apart quickly", "colours faded after one week",
           "the handle snapped off", "wood split along the grain"]
OTHER = ["lovely gift for my mother", "beautiful colours and pattern", "would buy again from this artisan",
         "great communication with the maker", "exactly as pictured"]


def _code(themes_by_kind, *, n=48, seed=3, shuffle_labels=False):
    rng = random.Random(seed)
    kinds = [i % 3 for i in range(n)]
    labels = list(kinds)
    if shuffle_labels:
        rng.shuffle(labels)
    for kind, label in zip(kinds, labels):
        response = ResponseFactory(text=rng.choice([SHIPPING, QUALITY, OTHER][kind]) + rng.choice(["", ".", "!"]))
        response_themes_correct(response=response, theme_ids=themes_by_kind[label])


def test_a_classifier_that_finds_what_keywords_miss_passes_the_gate_and_goes_live():
    shipping = ThemeFactory(slug="shipping-delay", name="Shipping delay", keywords="late\ndelayed")
    quality = ThemeFactory(slug="item-quality", name="Item quality", keywords="broken")
    _code({0: [shipping.pk], 1: [quality.pk], 2: []})

    classifier = classifier_train()

    gate = classifier.metrics["gate"]
    assert gate["passed"] and classifier.is_active
    assert gate["difference_ci"][0] > 0
    assert gate["micro_f1"]["with_classifier"] > gate["keyword_micro_f1"]["value"]
    shipping_terms = [t["term"] for t in classifier.metrics["themes"]["shipping-delay"]["top_terms"]]
    assert shipping_terms and all(t["weight"] > 0 for t in classifier.metrics["themes"]["shipping-delay"]["top_terms"])


def test_a_classifier_trained_on_shuffled_codes_is_refused_and_the_live_one_stays():
    shipping = ThemeFactory(slug="shipping-delay", name="Shipping delay", keywords="late\ndelayed")
    quality = ThemeFactory(slug="item-quality", name="Item quality", keywords="broken")
    _code({0: [shipping.pk], 1: [quality.pk], 2: []})
    live = classifier_train()
    assert live.is_active
    for response_seed in range(3):
        _code({0: [shipping.pk], 1: [quality.pk], 2: []}, seed=10 + response_seed, shuffle_labels=True)

    # Staff codes now mostly disagree with the texts: nothing the model learns beats the rules.
    candidate = classifier_train()

    assert not candidate.is_active
    assert not candidate.metrics["gate"]["passed"]
    assert ThemeClassifier.objects.get(is_active=True) == live


def test_when_keyword_rules_already_code_every_response_the_classifier_adds_nothing_and_is_refused():
    shipping = ThemeFactory(slug="shipping-delay", name="Shipping delay", keywords="arrive\ndate\ntime\nages\nmonth")
    quality = ThemeFactory(slug="item-quality", name="Item quality", keywords="glaze\nstitching\ncolours faded\nhandle\nwood")
    _code({0: [shipping.pk], 1: [quality.pk], 2: []})

    classifier = classifier_train()

    gate = classifier.metrics["gate"]
    assert gate["keyword_micro_f1"]["value"] == 1.0
    assert gate["difference"] <= 0 and not gate["passed"] and not classifier.is_active


def test_gate_numbers_match_a_hand_count():
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
    rules = np.array([[1, 0], [0, 0], [0, 0], [0, 0]], dtype=bool)  # TP 1, FN 2 -> F1 2/(2+2) = 0.5
    both = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=bool)  # TP 3, FP 1 -> F1 6/7

    gate = coding_gate(truth, both, rules)

    # Every theme on every response: TP 3, FP 5 -> F1 6/11, the stronger simple coding here.
    assert gate["keyword_micro_f1"]["value"] == 0.5
    assert gate["baselines"]["every theme on every response"]["value"] == round(6 / 11, 3)
    assert gate["best_baseline"] == "every theme on every response"
    assert gate["micro_f1"]["with_classifier"] == round(6 / 7, 3)
    assert gate["difference"] == round(6 / 7 - 6 / 11, 3)
