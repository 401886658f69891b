"""The outbound policy: which buyer and artisan messages may go out, when, and in what words.

It is applied inside the outbox (core.outbox), on the way in and again on the way out, so no
caller can send around it. See docs/messaging.md for the rules in plain words.

On the way in (``messages_admit``) every message is
  1. classified by its category: topic, essential (service mail about the person's own
     order or application) or exempt (operational mail to staff team addresses);
  2. rendered from its template (an admin's MessageTemplate row, else the built-in wording)
     with the recipient's own context; a template that fails blocks only that message;
  3. checked against the recipient's preferences and the caps; a blocked message is stored
     as ``suppressed`` with the reason, never dropped;
  4. held until the end of quiet hours in the recipient's time zone.
On the way out (``delivery_decision``) suppression and quiet hours are checked again, because a
person may unsubscribe, or an address bounce, after the message was queued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.db.models.functions import Lower
from django.template import Context, Engine, TemplateSyntaxError
from django.urls import reverse
from django.utils import timezone

from core.models import (
    Channel,
    ContactPreference,
    MessageTemplate,
    MessagingPolicy,
    OutboxStatus,
    SuppressedReason,
)

logger = logging.getLogger(__name__)

CAP_WINDOW = timedelta(days=7)
UNSUBSCRIBE_SALT = "kiln.messaging.unsubscribe"


@dataclass(frozen=True)
class MessageKind:
    topic: str
    # Essential: about the person's own order or application. Not blocked by caps or by an
    # unsubscribe from marketing, but still by a hard bounce or by muting its own topic.
    essential: bool = False
    # Exempt: operational mail to staff (team addresses). Outside the recipient policy entirely.
    exempt: bool = False


TOPICS = {
    "loyalty": "Points, rewards and expiry reminders",
    "competitions": "Point competitions and their results",
    "surveys": "Feedback surveys",
    "orders": "Updates about your orders",
    "onboarding": "Your artisan application and workshops",
    "general": "Other news from Kiln",
}

KINDS: dict[str, MessageKind] = {
    "loyalty_expiry_reminder": MessageKind("loyalty"),
    "loyalty_badge_earned": MessageKind("loyalty"),
    "competition_prize": MessageKind("competitions"),
    "survey_invitation": MessageKind("surveys"),
    "late_order_status": MessageKind("orders", essential=True),
    "onboarding_info_request": MessageKind("onboarding", essential=True),
    "workshop_invitation": MessageKind("onboarding", essential=True),
    "kpi_alert": MessageKind("staff", exempt=True),
    "churn_review_digest": MessageKind("staff", exempt=True),
}
# A category nobody registered still goes through the full policy, as general news.
UNREGISTERED = MessageKind("general")


def message_kind(*, category: str, to: str) -> MessageKind:
    kind = KINDS.get(category, UNREGISTERED)
    if not kind.exempt and to.lower() in {a.lower() for a in settings.TEAM_EMAILS.values()}:
        # Anything addressed to a team inbox is staff mail, whatever its category.
        return MessageKind("staff", exempt=True)
    return kind


# --- built-in wording ---------------------------------------------------------------------

GREETING = "Hello {{ recipient.name|default:'there' }},\n\n"
PERSONAL = (
    "{% if recipient.recent_artisans %}\nFrom artisans you buy from: {{ recipient.recent_artisans|join:', ' }}.{% endif %}"
    "{% if recipient.recommended_items %}\nPicked for you: {{ recipient.recommended_items|join:', ' }}.{% endif %}"
)
DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "loyalty_expiry_reminder": (
        "{{ points }} points expire on {{ expires_on }}",
        GREETING
        + "You have {{ points }} points{% if recipient.tier %} as a {{ recipient.tier }} member{% endif %} expiring on "
        "{{ expires_on }}"
        "{% if covers %}; they cover {{ covers|join:', ' }}{% endif %}. Redeem them before then so they are not lost.\n"
        + PERSONAL,
    ),
    "late_order_status": (
        "An update on your order {{ order_ref }}",
        GREETING
        + "Your order {{ order_ref }} from {{ artisan }} was due to ship by {{ ship_by }} and has not shipped yet. "
        "We have asked {{ artisan }} for an update and will write again when it is on its way. "
        "Handmade pieces sometimes take a little longer; thank you for your patience.\n",
    ),
    "competition_prize": (
        "You placed #{{ rank }} in {{ competition }}",
        GREETING
        + "You finished #{{ rank }} in {{ competition }} with {{ score }} points. Your prize: {{ prize }}.\n"
        + PERSONAL,
    ),
}
# Categories without built-in wording pass the caller's own subject and body (already addressed
# to the person by name) through this frame, which adds the unsubscribe footer. An admin can
# replace it with a MessageTemplate that uses the full recipient context.
GENERIC_TEMPLATE = ("{{ subject }}", "{{ body }}")
FOOTER = (
    "\n\n--\nYou receive this because you are part of Kiln ({{ topic_label }})."
    "\nManage or stop these emails: {{ unsubscribe_url }}\n"
)
ESSENTIAL_FOOTER = "\n\n--\nThis is a service message about your own order or application.\n"

# Plain-text mail: no HTML escaping of names like "Ana & Bo".
_engine = Engine(autoescape=False, string_if_invalid="")


@lru_cache(maxsize=256)
def _compiled(source: str):
    # A nightly batch renders thousands of messages from the same few sources; compile each once.
    return _engine.from_string(source)


def template_source(category: str) -> tuple[str, str]:
    row = MessageTemplate.objects.filter(category=category, is_active=True).first()
    if row:
        return row.subject, row.body
    return DEFAULT_TEMPLATES.get(category, GENERIC_TEMPLATE)


def message_render(*, category: str, kind: MessageKind, context: dict, source: tuple[str, str] | None = None) -> tuple[str, str]:
    """Subject and body for one recipient. Raises on a template error; the caller records it."""
    subject_src, body_src = source or template_source(category)
    ctx = Context({**context, "topic_label": TOPICS.get(kind.topic, kind.topic)})
    subject = " ".join(_compiled(subject_src).render(ctx).split())[:255]
    body = _compiled(body_src).render(ctx).rstrip()
    if not kind.exempt:
        body += _compiled(ESSENTIAL_FOOTER if kind.essential else FOOTER).render(ctx)
    if not subject:
        raise ValueError("the subject rendered empty")
    return subject, body


# --- validation ---------------------------------------------------------------------------


def time_zone_validate(value: str, *, field: str = "time_zone") -> None:
    if not value:
        return
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({field: f"Unknown time zone {value!r}; use an IANA name such as Europe/Paris."}) from exc


def preference_validate(pref: ContactPreference) -> None:
    errors = {}
    if not isinstance(pref.muted_topics, list) or not all(isinstance(t, str) for t in pref.muted_topics):
        errors["muted_topics"] = "A list of topic names."
    else:
        unknown = sorted(set(pref.muted_topics) - set(TOPICS))
        if unknown:
            errors["muted_topics"] = f"Unknown topic(s) {', '.join(unknown)}; choose from {', '.join(TOPICS)}."
    if pref.channel not in Channel.values:
        errors["channel"] = f"Unknown channel {pref.channel!r}; use one of {', '.join(Channel.values)}."
    if pref.weekly_cap is not None and not (0 <= pref.weekly_cap <= 50):
        errors["weekly_cap"] = "Between 0 and 50 messages a week, or empty for the marketplace cap."
    try:
        time_zone_validate(pref.time_zone)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def template_validate(template: MessageTemplate) -> None:
    errors = {}
    for field in ("subject", "body"):
        try:
            _engine.from_string(getattr(template, field))
        except TemplateSyntaxError as exc:
            errors[field] = f"Template error: {exc}"
    if errors:
        raise ValidationError(errors)


# --- reads --------------------------------------------------------------------------------


def policy_get() -> MessagingPolicy:
    policy, _ = MessagingPolicy.objects.get_or_create(pk=1)
    return policy


def preferences_for(addresses) -> dict[str, ContactPreference]:
    return {p.address: p for p in ContactPreference.objects.filter(address__in=[a.lower() for a in addresses])}


def unsubscribe_token(*, address: str, topic: str = "") -> str:
    """A signed token naming the address (and optionally one topic); it cannot be forged or edited."""
    return signing.dumps({"a": address.lower(), "t": topic}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> dict:
    """The address and topic; raises signing.BadSignature for a forged or damaged token."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    return {"address": data["a"], "topic": data.get("t", "")}


def unsubscribe_url(*, address: str, topic: str = "") -> str:
    base = getattr(settings, "KILN_PUBLIC_URL", "http://localhost:8000").rstrip("/")
    return base + reverse("messaging-unsubscribe", args=[unsubscribe_token(address=address, topic=topic)])


# Who an address is (buyer, artisan, team) and what a message may say about them is read from
# the apps above core; workflows/recipients.py registers the function that does it at start-up.
_recipient_contexts_provider = None
_sample_address_provider = None


def recipient_contexts_register(provider, *, sample_address=None) -> None:
    """``provider(addresses, *, now)`` returns ``{address: context}`` for lower-cased addresses;
    ``sample_address()`` names a real recipient for template previews (or None)."""
    global _recipient_contexts_provider, _sample_address_provider
    _recipient_contexts_provider = provider
    _sample_address_provider = sample_address


def preview_address_default() -> str:
    """The address a template preview renders for when staff name none: the first buyer's."""
    address = _sample_address_provider() if _sample_address_provider is not None else None
    return address or "someone@example.com"


def recipient_contexts(addresses, *, now: datetime | None = None) -> dict[str, dict]:
    """Each address's own context: name, tier, points about to expire, recent artisans,
    recommended items and rewards. A handful of queries for any number of addresses."""
    if _recipient_contexts_provider is not None:
        return _recipient_contexts_provider(addresses, now=now)
    wanted = {a.lower() for a in addresses}
    out: dict[str, dict] = {a: {"address": a, "kind": "unknown", "name": ""} for a in wanted}
    teams = {v.lower() for v in settings.TEAM_EMAILS.values()}
    for address in wanted & teams:
        out[address].update(kind="team", name="team")
    return out


# --- the decision -------------------------------------------------------------------------


def _zone(pref: ContactPreference | None, policy: MessagingPolicy) -> ZoneInfo:
    name = (pref.time_zone if pref and pref.time_zone else "") or policy.default_time_zone or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_hours_end(*, now: datetime, pref: ContactPreference | None, policy: MessagingPolicy) -> datetime | None:
    """When quiet hours end for this recipient, or None if it is not quiet there now."""
    start, end = policy.quiet_start_hour, policy.quiet_end_hour
    if start == end or not getattr(settings, "MESSAGING_QUIET_HOURS", True):
        return None
    local = now.astimezone(_zone(pref, policy))
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(dt_timezone.utc)


def _blocked_by_preference(kind: MessageKind, pref: ContactPreference | None) -> str:
    if pref is None:
        return ""
    if pref.hard_bounced_at:
        return SuppressedReason.HARD_BOUNCE
    if kind.topic in (pref.muted_topics or []):
        return SuppressedReason.TOPIC_MUTED
    if kind.essential:
        return ""
    if pref.unsubscribed_at:
        return SuppressedReason.UNSUBSCRIBED
    if pref.channel == Channel.NONE:
        return SuppressedReason.CHANNEL_OFF
    return ""


def recent_counts(addresses, *, now: datetime) -> dict[str, int]:
    """Messages each address was queued in the last 7 days (sent or on their way, not suppressed)."""
    from core.models import OutboxMessage

    rows = (
        OutboxMessage.objects.annotate(address=Lower("to"))
        .filter(address__in=[a.lower() for a in addresses], created_at__gt=now - CAP_WINDOW, exempt=False)
        .exclude(status=OutboxStatus.SUPPRESSED)
        .values("address")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["address"]: r["n"] for r in rows}


def messages_admit(messages: list[dict], *, now: datetime | None = None) -> list[dict]:
    """Classify, render and judge messages about to be queued. Returns OutboxMessage field dicts.

    Input dicts carry dedupe_key, to, category and either ``context`` (for the template) or the
    caller's own subject and body (rendered through the generic frame).
    """
    now = now or timezone.now()
    policy = policy_get()
    addresses = {m["to"].lower() for m in messages}
    prefs = preferences_for(addresses)
    contexts = recipient_contexts(addresses, now=now)
    counts = recent_counts(addresses, now=now)
    sources: dict[str, tuple[str, str]] = {}
    admitted = []
    for m in messages:
        to = m["to"].strip()
        address = to.lower()
        kind = message_kind(category=m["category"], to=to)
        pref = prefs.get(address)
        row = {
            "dedupe_key": m["dedupe_key"], "to": to, "category": m["category"], "topic": kind.topic,
            "exempt": kind.exempt, "status": OutboxStatus.PENDING, "suppressed_reason": "", "last_error": "",
            "created_at": now, "next_attempt_at": now,
        }
        context = {
            "subject": m.get("subject", ""),
            "body": m.get("body", ""),
            **(m.get("context") or {}),
            "recipient": contexts.get(address, {"address": address, "name": ""}),
            "unsubscribe_url": "" if kind.exempt else unsubscribe_url(address=address, topic=kind.topic),
        }
        if m["category"] not in sources:
            sources[m["category"]] = template_source(m["category"])
        try:
            row["subject"], row["body"] = message_render(
                category=m["category"], kind=kind, context=context, source=sources[m["category"]]
            )
        except Exception as exc:  # noqa: BLE001 - a broken template blocks only its own message
            row.update(
                subject=(m.get("subject") or f"({m['category']}: not rendered)")[:255], body="",
                status=OutboxStatus.SUPPRESSED, suppressed_reason=SuppressedReason.RENDER_ERROR,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            admitted.append(row)
            continue
        if kind.exempt:
            admitted.append(row)
            continue
        reason = _blocked_by_preference(kind, pref)
        sent_this_week = counts.get(address, 0)
        if not reason and not kind.essential:
            if pref is not None and pref.weekly_cap is not None and sent_this_week >= pref.weekly_cap:
                reason = SuppressedReason.PERSONAL_CAP
            elif sent_this_week >= policy.global_weekly_cap:
                reason = SuppressedReason.GLOBAL_CAP
        if reason:
            row.update(status=OutboxStatus.SUPPRESSED, suppressed_reason=reason)
            admitted.append(row)
            continue
        counts[address] = sent_this_week + 1  # later messages in the same batch see this one
        wake = quiet_hours_end(now=now, pref=pref, policy=policy)
        if wake:
            row["next_attempt_at"] = wake
        admitted.append(row)
    return admitted


def delivery_decision(message, *, now: datetime | None = None) -> tuple[str, object]:
    """("send", None), ("defer", until) or ("suppress", reason) for a message about to go out."""
    if message.exempt:
        return "send", None
    now = now or timezone.now()
    kind = message_kind(category=message.category, to=message.to)
    pref = ContactPreference.objects.filter(address=message.to.lower()).first()
    reason = _blocked_by_preference(kind, pref)
    if reason:
        return "suppress", reason
    wake = quiet_hours_end(now=now, pref=pref, policy=policy_get())
    if wake:
        return "defer", wake
    return "send", None


# --- writes -------------------------------------------------------------------------------


def preference_set(*, address: str, **fields) -> ContactPreference:
    """Create or change one recipient's preferences; invalid fields raise a ValidationError naming them."""
    allowed = {"channel", "muted_topics", "weekly_cap", "time_zone"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: "Not a preference field." for f in sorted(unknown)})
    address = address.strip().lower()
    pref = ContactPreference.objects.filter(address=address).first() or ContactPreference(address=address)
    for name, value in fields.items():
        setattr(pref, name, value)
    pref.full_clean()
    pref.save()
    return pref


def contact_unsubscribe(*, address: str, topic: str = "", now: datetime | None = None) -> ContactPreference:
    """From a signed link: mute one topic, or (no topic) stop every non-essential message."""
    now = now or timezone.now()
    address = address.strip().lower()
    pref, _ = ContactPreference.objects.get_or_create(address=address)
    if topic and topic in TOPICS:
        if topic not in pref.muted_topics:
            pref.muted_topics = [*pref.muted_topics, topic]
    else:
        pref.unsubscribed_at = pref.unsubscribed_at or now
    pref.save()
    return pref


def contact_mark_bounced(*, address: str, detail: str = "", now: datetime | None = None) -> ContactPreference:
    """A hard bounce: nothing more goes to this address until staff clear it."""
    now = now or timezone.now()
    pref, _ = ContactPreference.objects.get_or_create(address=address.strip().lower())
    pref.hard_bounced_at = now
    pref.bounce_detail = detail[:255]
    pref.save(update_fields=["hard_bounced_at", "bounce_detail", "updated_at"])
    return pref


def message_preview(*, category: str, address: str, context: dict | None = None, source: tuple[str, str] | None = None) -> dict:
    """What one recipient would receive, for the admin preview. Errors are returned, not raised."""
    kind = message_kind(category=category, to=address)
    recipient = recipient_contexts([address]).get(address.lower(), {})
    sample = {**_sample_context(category, recipient), **(context or {})}
    ctx = {**sample, "recipient": recipient, "unsubscribe_url": unsubscribe_url(address=address, topic=kind.topic)}
    try:
        subject, body = message_render(category=category, kind=kind, context=ctx, source=source)
        return {"subject": subject, "body": body, "error": ""}
    except Exception as exc:  # noqa: BLE001 - shown to the admin
        return {"subject": "", "body": "", "error": f"{type(exc).__name__}: {exc}"}


def _sample_context(category: str, recipient: dict) -> dict:
    """Plausible caller context so a preview shows every field filled in."""
    rewards = recipient.get("rewards") or []
    return {
        "points": recipient.get("points_expiring") or 420,
        "expires_on": recipient.get("points_expiring_on") or "31 Dec",
        "covers": [r["name"] for r in rewards if r.get("affordable")][:3] or ["a sample reward"],
        "order_ref": "ORD-1001", "artisan": (recipient.get("recent_artisans") or ["an artisan"])[0], "ship_by": "1 Dec",
        "rank": 1, "competition": "Spring share-a-story", "score": 120, "prize": "100 bonus points",
        "subject": "Sample subject", "body": "Sample body.",
    }


def suppression_summary(*, since: datetime) -> list[dict]:
    from core.models import OutboxMessage

    return list(
        OutboxMessage.objects.filter(created_at__gte=since, status=OutboxStatus.SUPPRESSED)
        .values("category", "suppressed_reason")
        .annotate(n=Count("id"))
        .order_by("category", "suppressed_reason")
    )
