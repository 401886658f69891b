"""A small, explainable sentiment score for every response, on -1 (negative) .. 1 (positive).

Text polarity comes from a word list with negation ("not happy" counts as negative); scores
(NPS, CSAT) contribute their position on the scale. The final value is the mean of the parts
present, 0.0 (neutral) when a response has neither text nor a score.
"""

import re

POSITIVE = frozenset(
    """love loved lovely beautiful great excellent amazing perfect happy fast quick quickly gorgeous
    wonderful fantastic recommend helpful friendly stunning quality delighted pleased thanks thank
    nice good best awesome superb responsive kind easy clear smooth sturdy unique gift""".split()
)
NEGATIVE = frozenset(
    """late delay delayed slow broken damaged cracked poor bad terrible awful worst disappointed
    disappointing never rude unhelpful confusing confused unclear expensive missing lost wrong refund
    return returned cheap flimsy waited waiting angry frustrated frustrating unresponsive problem issue
    complaint horrible useless shattered ignored unfair""".split()
)
NEGATORS = frozenset("not no never hardly isn't wasn't didn't don't doesn't aren't weren't".split())
_WORD = re.compile(r"[a-z']+")


def text_polarity(text: str) -> float | None:
    words = _WORD.findall(text.lower())
    score = hits = 0
    for index, word in enumerate(words):
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if not polarity:
            continue
        if any(w in NEGATORS for w in words[max(0, index - 2) : index]):
            polarity = -polarity
        score += polarity
        hits += 1
    if not hits:
        return None
    return score / hits


def sentiment_score(*, text: str = "", nps: int | None = None, csat: int | None = None) -> float:
    parts = []
    if text:
        polarity = text_polarity(text)
        if polarity is not None:
            parts.append(polarity)
    if nps is not None:
        parts.append((nps - 5) / 5)
    if csat is not None:
        parts.append((csat - 3) / 2)
    if not parts:
        return 0.0
    return round(max(-1.0, min(1.0, sum(parts) / len(parts))), 4)
