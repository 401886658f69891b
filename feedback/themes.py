"""Theme coding beyond keywords: a TF-IDF + logistic-regression classifier trained on what staff coded.

The model is stored as plain JSON (vocabulary, IDF weights, one coefficient vector per theme),
so loading it never unpickles bytes. Held-out precision and recall per theme are stored next
to the keyword rules' figures on the same held-out responses, which are the naive baseline.

Production codes a response with the keyword rules and then adds the classifier's themes, so the
gate asks whether adding the classifier codes held-out responses better than the rules alone:
the micro-averaged F1 over every theme, with a paired bootstrap interval over responses. It
activates only when the interval's lower bound is above zero; otherwise the version is kept,
inactive, with the numbers that refused it.
"""

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import normalize

from feedback.models import CodingOrigin, Response, ResponseTheme, Theme, ThemeClassifier

NGRAMS = (1, 2)
# A theme needs this many staff-coded examples on each side before the model learns it.
MIN_EXAMPLES_PER_CLASS = 4
MIN_TRAINING_RESPONSES = 20
HOLDOUT_SHARE = 0.25
THRESHOLD = 0.5
GATE_RESAMPLES = 1000
GATE_SEED = 0
TOP_TERMS = 8


def _features(texts: list[str], params: dict):
    counts = CountVectorizer(vocabulary=params["vocabulary"], ngram_range=NGRAMS, lowercase=True).transform(texts)
    counts = counts.astype(np.float64)
    counts.data = 1.0 + np.log(counts.data)  # sublinear tf, as in training
    weighted = counts @ sparse.diags(np.asarray(params["idf"], dtype=np.float64))
    return normalize(weighted)


def classifier_predict(*, params: dict, texts: list[str]) -> dict[int, np.ndarray]:
    """theme_id -> probability per text."""
    if not texts or not params.get("themes"):
        return {}
    features = _features(texts, params)
    out = {}
    for theme_id, model in params["themes"].items():
        logits = features @ np.asarray(model["coef"]) + model["intercept"]
        out[int(theme_id)] = 1.0 / (1.0 + np.exp(-logits))
    return out


def _micro_f1(y_true: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Micro-averaged F1 over all themes under each row of bootstrap ``weights`` (resamples x responses)."""
    tp = (y_true & predicted).sum(axis=1)
    fp = (~y_true & predicted).sum(axis=1)
    fn = (y_true & ~predicted).sum(axis=1)
    tp_w, fp_w, fn_w = weights @ tp, weights @ fp, weights @ fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp_w + fp_w + fn_w > 0, 2 * tp_w / (2 * tp_w + fp_w + fn_w), 0.0)


def coding_gate(y_true: np.ndarray, with_classifier: np.ndarray, rules_only: np.ndarray) -> dict:
    """Does adding the classifier beat the strongest simple coding on held-out responses?

    Arrays are (responses x themes) booleans. The simple codings are the keyword rules alone and
    every theme on every response (which a coder guessing at random cannot beat on F1). Responses
    are resampled with replacement, the same draws for every coding, so the interval is on the
    paired difference with the strongest one.
    """
    n = len(y_true)
    rng = np.random.default_rng(GATE_SEED)
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=GATE_RESAMPLES)])
    model = _micro_f1(y_true, with_classifier, weights)
    baselines = {
        "keyword rules": _micro_f1(y_true, rules_only, weights),
        "every theme on every response": _micro_f1(y_true, np.ones_like(y_true, dtype=bool), weights),
    }
    best = max(baselines, key=lambda name: baselines[name][0])
    diff = model - baselines[best]
    interval = lambda values: [round(float(v), 3) for v in np.percentile(values[1:], [2.5, 97.5])] if n else None  # noqa: E731
    low = float(np.percentile(diff[1:], 2.5)) if n else 0.0
    passed = bool(n) and low > 0
    return {
        "passed": passed,
        "held_out": n,
        "micro_f1": {"with_classifier": round(float(model[0]), 3), "ci": interval(model)},
        "baselines": {name: {"value": round(float(v[0]), 3), "ci": interval(v)} for name, v in baselines.items()},
        "best_baseline": best,
        "keyword_micro_f1": {"value": round(float(baselines["keyword rules"][0]), 3), "ci": interval(baselines["keyword rules"])},
        "difference": round(float(diff[0]), 3),
        "difference_ci": interval(diff),
        "detail": (
            f"rules + classifier F1 {model[0]:.2f} vs {best} {baselines[best][0]:.2f} on {n} held-out responses; "
            + ("the 95% interval of the gain is above 0" if passed else f"the 95% interval of the gain reaches {low:+.2f}: no better")
        ),
    }


def _top_terms(params: dict, theme_id: str) -> list[dict]:
    terms = {index: term for term, index in params["vocabulary"].items()}
    coef = np.asarray(params["themes"][theme_id]["coef"])
    return [{"term": terms[int(i)], "weight": round(float(coef[i]), 3)} for i in np.argsort(coef)[::-1][:TOP_TERMS] if coef[i] > 0]


def _training_set():
    responses = list(
        Response.objects.filter(staff_coded_at__isnull=False).exclude(text="").order_by("pk").values_list("pk", "text")
    )
    staff_codes = ResponseTheme.objects.filter(
        origin=CodingOrigin.STAFF, response_id__in=[pk for pk, _ in responses]
    ).values_list("response_id", "theme_id")
    labels: dict[int, set[int]] = {}
    for response_id, theme_id in staff_codes:
        labels.setdefault(response_id, set()).add(theme_id)
    return responses, labels


@transaction.atomic
def classifier_train(*, actor=None, activate: bool = True, random_state: int = 7) -> ThemeClassifier:
    """Train on staff-coded responses, measure on a held-out quarter, store and (by default) activate."""
    from feedback.services import ThemeRules

    responses, labels = _training_set()
    if len(responses) < MIN_TRAINING_RESPONSES:
        raise ValidationError(
            f"Need at least {MIN_TRAINING_RESPONSES} staff-coded responses with text; have {len(responses)}."
        )
    themes = list(Theme.objects.filter(is_active=True).order_by("pk"))
    ids = [pk for pk, _ in responses]
    texts = [text for _, text in responses]
    train_idx, test_idx = train_test_split(list(range(len(ids))), test_size=HOLDOUT_SHARE, random_state=random_state)
    vectorizer = TfidfVectorizer(ngram_range=NGRAMS, lowercase=True, sublinear_tf=True, min_df=1)
    vectorizer.fit([texts[i] for i in train_idx])
    params = {
        "vocabulary": {term: int(index) for term, index in vectorizer.vocabulary_.items()},
        "idf": [float(v) for v in vectorizer.idf_],
        "themes": {},
        "threshold": THRESHOLD,
    }
    x_train = _features([texts[i] for i in train_idx], params)
    x_test = _features([texts[i] for i in test_idx], params)
    rules = ThemeRules(themes)
    rule_hits = [set(rules.match(texts[i])) for i in test_idx]
    metrics = {"themes": {}, "trained_on": len(train_idx), "held_out": len(test_idx)}
    truth_columns, combined_columns, rule_columns = [], [], []
    for theme in themes:
        y = np.array([theme.pk in labels.get(ids[i], set()) for i in range(len(ids))], dtype=int)
        y_train, y_test = y[train_idx], y[test_idx]
        positives = int(y_train.sum())
        baseline = np.array([theme.pk in hits for hits in rule_hits], dtype=int)
        truth_columns.append(y_test.astype(bool))
        rule_columns.append(baseline.astype(bool))
        if positives < MIN_EXAMPLES_PER_CLASS or len(y_train) - positives < MIN_EXAMPLES_PER_CLASS:
            metrics["themes"][theme.slug] = {"name": theme.name, "skipped": f"only {positives} positive training examples"}
            combined_columns.append(baseline.astype(bool))
            continue
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000)
        model.fit(x_train, y_train)
        params["themes"][str(theme.pk)] = {"coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}
        predicted = (model.predict_proba(x_test)[:, 1] >= THRESHOLD).astype(int)
        combined_columns.append(predicted.astype(bool) | baseline.astype(bool))
        metrics["themes"][theme.slug] = {
            "name": theme.name,
            "support": int(y_test.sum()),
            "precision": round(float(precision_score(y_test, predicted, zero_division=0)), 3),
            "recall": round(float(recall_score(y_test, predicted, zero_division=0)), 3),
            "keyword_precision": round(float(precision_score(y_test, baseline, zero_division=0)), 3),
            "keyword_recall": round(float(recall_score(y_test, baseline, zero_division=0)), 3),
            "top_terms": _top_terms(params, str(theme.pk)),
        }
    as_matrix = lambda columns: np.column_stack(columns) if columns else np.zeros((len(test_idx), 0), dtype=bool)  # noqa: E731
    metrics["gate"] = coding_gate(as_matrix(truth_columns), as_matrix(combined_columns), as_matrix(rule_columns))
    classifier = ThemeClassifier.objects.create(
        trained_by=actor, training_size=len(train_idx), holdout_size=len(test_idx), metrics=metrics, parameters=params
    )
    if activate and metrics["gate"]["passed"]:
        classifier_activate(classifier=classifier)
    return classifier


@transaction.atomic
def classifier_activate(*, classifier: ThemeClassifier) -> ThemeClassifier:
    ThemeClassifier.objects.filter(is_active=True).exclude(pk=classifier.pk).update(is_active=False)
    ThemeClassifier.objects.filter(pk=classifier.pk).update(is_active=True)
    classifier.is_active = True
    return classifier


def responses_classify(*, response_ids: list[int]) -> int:
    """Add classifier themes to responses that staff have not coded; returns codes added."""
    classifier = ThemeClassifier.objects.filter(is_active=True).first()
    if classifier is None:
        return 0
    rows = list(
        Response.objects.filter(pk__in=response_ids, staff_coded_at__isnull=True).exclude(text="").values_list("pk", "text")
    )
    if not rows:
        return 0
    probabilities = classifier_predict(params=classifier.parameters, texts=[text for _, text in rows])
    threshold = classifier.parameters.get("threshold", THRESHOLD)
    live = set(Theme.objects.filter(is_active=True, pk__in=list(probabilities)).values_list("pk", flat=True))
    codes = [
        ResponseTheme(response_id=pk, theme_id=theme_id, origin=CodingOrigin.MODEL, confidence=round(float(p[i]), 4))
        for theme_id, p in probabilities.items()
        if theme_id in live
        for i, (pk, _) in enumerate(rows)
        if p[i] >= threshold
    ]
    ResponseTheme.objects.bulk_create(codes, ignore_conflicts=True)
    Response.objects.filter(pk__in=[pk for pk, _ in rows]).update(coded_at=timezone.now())
    return len(codes)


@transaction.atomic
def response_theme_staff_save(*, code: ResponseTheme, actor) -> ResponseTheme:
    """Staff code one theme on a response: the coding is theirs, made now, whatever the form sent."""
    # Who coded a response and when is training provenance; it is never taken from user input.
    code.origin = CodingOrigin.STAFF
    code.coded_by = actor
    code.created_at = timezone.now()
    code.confidence = 1.0
    code.save()
    Response.objects.filter(pk=code.response_id).update(staff_coded_at=code.created_at, coded_at=code.created_at)
    return code


@transaction.atomic
def response_themes_correct(*, response: Response, theme_ids: list[int], actor=None) -> Response:
    """Staff set a response's themes; this replaces rule/model codes and becomes training data."""
    # Locks the response so two staff members correcting it at once do not merge their choices.
    response = Response.objects.select_for_update().get(pk=response.pk)
    wanted = set(Theme.objects.filter(pk__in=theme_ids).values_list("pk", flat=True))
    response.theme_codes.exclude(theme_id__in=wanted).delete()
    response.theme_codes.filter(theme_id__in=wanted).update(origin=CodingOrigin.STAFF, confidence=1.0, coded_by=actor)
    have = set(response.theme_codes.values_list("theme_id", flat=True))
    ResponseTheme.objects.bulk_create(
        ResponseTheme(response=response, theme_id=pk, origin=CodingOrigin.STAFF, coded_by=actor) for pk in wanted - have
    )
    now = timezone.now()
    urgent = Theme.objects.filter(pk__in=wanted, is_urgent=True).exists()
    response.staff_coded_at = now
    response.coded_at = now
    if urgent:
        response.is_flagged = True
    response.save(update_fields=["staff_coded_at", "coded_at", "is_flagged"])
    if urgent:
        from feedback.tasks import process_responses_task

        transaction.on_commit(lambda: process_responses_task.delay([response.pk]))
    return response


def metrics_rows(classifier: ThemeClassifier) -> list[dict]:
    rows = []
    for slug, values in (classifier.metrics or {}).get("themes", {}).items():
        rows.append({"slug": slug, **values})
    return rows
