"""Public pages reached from emails (no login: the signed token is the credential)."""

from django.core import signing
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.messaging import TOPICS, contact_unsubscribe, unsubscribe_token_read


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows what the link will do; POST does it. Mail scanners follow links with GET, so a
    GET alone never unsubscribes anyone."""
    try:
        data = unsubscribe_token_read(token)
    except signing.BadSignature:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    topic = data["topic"] if data["topic"] in TOPICS else ""
    scope = request.POST.get("scope", "topic") if request.method == "POST" else ""
    done = False
    if request.method == "POST":
        contact_unsubscribe(address=data["address"], topic=topic if scope == "topic" else "")
        done = True
    return render(
        request,
        "messaging/unsubscribe.html",
        {"address": data["address"], "topic": topic, "topic_label": TOPICS.get(topic, ""), "done": done, "scope": scope},
    )
