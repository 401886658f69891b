"""generate_marketplace: write a reproducible synthetic marketplace (see docs/generator.md)."""

from __future__ import annotations

import math
import sys
import time
from datetime import date, datetime

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from buyers.models import Buyer
from marketplace.models import EngagementEvent, Order, OrderLine, Return, Review
from sellers.models import CraftCategory, Listing, Seller

from . import params as P
from .sampling import Window, sample_buyer_chunk, sample_seller_events, sample_sellers
from core.statistics import statistics_refresh

from .writers import TableWriter, postgres_bulk_load, reset_sequences

GENERATED_MODELS = [Seller, Listing, Buyer, Order, OrderLine, Return, Review, EngagementEvent]
MAX_COUNT = 50_000_000
MAX_PURCHASE_FREQUENCY = 20.0


class GeneratorError(ValueError):
    """Bad arguments or a database the generator refuses to write to; nothing was written."""


def _validate(
    *, sellers: int, buyers: int, months: int, seed: int, categories: list[str] | None, purchase_frequency: float
) -> list[str]:
    for name, value in (("sellers", sellers), ("buyers", buyers), ("months", months)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise GeneratorError(f"{name} must be an integer, got {value!r}.")
        if value < 1:
            raise GeneratorError(f"{name} must be at least 1, got {value}.")
        if value > MAX_COUNT:
            raise GeneratorError(f"{name} must be at most {MAX_COUNT}, got {value}.")
    if months > 120:
        raise GeneratorError(f"months must be at most 120, got {months}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GeneratorError(f"seed must be a non-negative integer, got {seed!r}.")
    if isinstance(purchase_frequency, bool) or not isinstance(purchase_frequency, (int, float)):
        raise GeneratorError(f"purchase_frequency must be a number, got {purchase_frequency!r}.")
    if not 0 < purchase_frequency <= MAX_PURCHASE_FREQUENCY:
        raise GeneratorError(
            f"purchase_frequency must be above 0 and at most {MAX_PURCHASE_FREQUENCY:g}, got {purchase_frequency}."
        )
    if categories is None:
        return list(CraftCategory.values)
    unknown = sorted(set(categories) - set(CraftCategory.values))
    if unknown:
        raise GeneratorError(f"Unknown craft category: {', '.join(unknown)}. Known: {', '.join(CraftCategory.values)}.")
    if not categories:
        raise GeneratorError("categories must not be empty.")
    return [c for c in CraftCategory.values if c in set(categories)]


def _end_timestamp(end: date | datetime | str | None) -> pd.Timestamp:
    if end is None:
        return pd.Timestamp(timezone.now().date())
    try:
        ts = pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise GeneratorError(f"end must be a date YYYY-MM-DD, got {end!r}.") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def _database_has_rows() -> bool:
    return any(model.objects.exists() for model in GENERATED_MODELS)


def _clear() -> None:
    if connection.vendor == "postgresql":
        tables = ", ".join(model._meta.db_table for model in GENERATED_MODELS)
        with connection.cursor() as cursor:
            # CASCADE also empties every table that references sellers, buyers or orders (cases,
            # points ...): they would point at rows that no longer exist.
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        return
    # Elsewhere (SQLite) the same meaning as TRUNCATE ... RESTART IDENTITY CASCADE: every table
    # whose rows point at the generated ones is emptied with them (an ORM delete stops at points
    # that protect their buyer), and the ids start again from 1. Foreign keys are checked at commit.
    tables = list(dict.fromkeys(
        model._meta.db_table for model in _referencing_closure(GENERATED_MODELS)
        if model._meta.managed and not model._meta.proxy
    ))
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
        cursor.execute(
            f"DELETE FROM sqlite_sequence WHERE name IN ({', '.join(['%s'] * len(tables))})", tables
        )


def _referencing_closure(models: list) -> list:
    """``models`` and every model whose rows point at theirs, directly or through another."""
    closure = list(models)
    index = 0
    while index < len(closure):
        model = closure[index]
        index += 1
        linked = [rel.related_model for rel in model._meta.related_objects]
        linked += [rel.through for rel in model._meta.related_objects if rel.many_to_many]
        linked += [field.remote_field.through for field in model._meta.local_many_to_many]
        closure.extend(other for other in linked if other not in closure)
    return closure


def generate_marketplace(
    *,
    sellers: int,
    buyers: int,
    months: int,
    seed: int,
    end: date | datetime | str | None = None,
    categories: list[str] | None = None,
    clear: bool = False,
    progress: bool = True,
    purchase_frequency: float = 1.0,
) -> dict:
    """Generate and write a synthetic marketplace in one transaction; return counts and rates.

    Refuses to run on a database that already holds sellers, buyers, listings, orders, reviews or
    events unless ``clear`` is set (then they are emptied first, in the same transaction).
    """
    allowed = _validate(
        sellers=sellers, buyers=buyers, months=months, seed=seed, categories=categories, purchase_frequency=purchase_frequency
    )
    window = Window.build(end=_end_timestamp(end), months=months)
    started = time.perf_counter()
    show = progress and sys.stderr.isatty()
    counts = dict.fromkeys(
        ["sellers", "listings", "buyers", "orders", "order_lines", "returns", "reviews", "events"], 0
    )
    stats = {"late": 0, "shipped": 0, "cancelled": 0, "out_of_stock": 0, "returned": 0, "delivered_or_returned": 0}

    stages: dict[str, float] = {}
    mark = time.perf_counter()
    with transaction.atomic():
        if _database_has_rows():
            if not clear:
                raise GeneratorError(
                    "The database already holds marketplace rows; pass clear=True (--clear) to replace them."
                )
            _clear()
        stages["clear"], mark = time.perf_counter() - mark, time.perf_counter()
        writer = TableWriter()
        now = timezone.now().replace(tzinfo=None)
        with postgres_bulk_load([model._meta.db_table for model in GENERATED_MODELS]):
            try:
                world, sold_after_update = _write_rows(
                    writer=writer,
                    window=window,
                    sellers=sellers,
                    buyers=buyers,
                    categories=allowed,
                    seed=seed,
                    purchase_frequency=purchase_frequency,
                    show=show,
                    now=now,
                    counts=counts,
                    stats=stats,
                )
            except BaseException:
                writer.close(raise_error=False)
                raise
            writer.close()
            stages["sample_and_write"], mark = time.perf_counter() - mark, time.perf_counter()
        stages["index_and_foreign_key_rebuild"], mark = time.perf_counter() - mark, time.perf_counter()
        reset_sequences([model._meta.db_table for model in GENERATED_MODELS])
    stages["commit"], mark = time.perf_counter() - mark, time.perf_counter()
    statistics_refresh(*GENERATED_MODELS)
    stages["analyze"] = time.perf_counter() - mark

    stock = world.listing_stock
    tracked = ~np.isnan(stock)
    stale = tracked & (world.listing_stock_updated < window.days - 90)
    oversold = tracked & (sold_after_update > np.nan_to_num(stock))
    n_tracked = max(int(tracked.sum()), 1)
    return {
        "seed": seed,
        "window_start": window.start.date().isoformat(),
        "window_end": window.end.date().isoformat(),
        "counts": counts,
        "rates": {
            "late_shipment_share_of_orders": round(stats["late"] / max(counts["orders"], 1), 4),
            "cancellation_rate": round(stats["cancelled"] / max(counts["orders"], 1), 4),
            "out_of_stock_cancellation_rate": round(stats["out_of_stock"] / max(counts["orders"], 1), 4),
            "return_rate_of_delivered": round(stats["returned"] / max(stats["delivered_or_returned"], 1), 4),
            "made_to_order_listings": round(1 - tracked.mean(), 4) if len(stock) else 0.0,
            "stale_stock_share_of_tracked": round(int(stale.sum()) / n_tracked, 4),
            "oversold_share_of_tracked": round(int(oversold.sum()) / n_tracked, 4),
        },
        "seconds": round(time.perf_counter() - started, 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
        "write_seconds": {k: round(v, 2) for k, v in writer.seconds.items()},
    }


def _write_rows(
    *,
    writer: TableWriter,
    window: Window,
    sellers: int,
    buyers: int,
    categories: list[str],
    seed: int,
    purchase_frequency: float,
    show: bool,
    now: datetime,
    counts: dict,
    stats: dict,
) -> tuple:
    """Sample and write every table; return the artisan world and units sold after each stock update."""
    seller_seq, seller_event_seq, buyer_seq = np.random.SeedSequence(seed).spawn(3)
    n_buyer_chunks = math.ceil(buyers / P.BUYER_CHUNK)
    n_seller_chunks = math.ceil(sellers / P.SELLER_CHUNK)
    bar = tqdm(total=1 + n_seller_chunks + n_buyer_chunks, unit="chunk", disable=not show, desc="generate")

    frames, world = sample_sellers(np.random.default_rng(seller_seq), n=sellers, window=window, categories=categories)
    seller_frame = frames["sellers"]
    if writer.copy:
        seller_frame = seller_frame.assign(created_at=now, updated_at=now)
    counts["sellers"] = writer.write(Seller, seller_frame)
    counts["listings"] = writer.write(Listing, frames["listings"])
    listings_frame = frames["listings"]
    bar.update(1)

    event_id = 0
    sold_after_update = np.zeros(len(listings_frame), dtype="int64")
    for i, seq in enumerate(seller_event_seq.spawn(n_seller_chunks)):
        lo, hi = i * P.SELLER_CHUNK, min(sellers, (i + 1) * P.SELLER_CHUNK)
        ev = sample_seller_events(np.random.default_rng(seq), world=world, window=window, lo=lo, hi=hi)
        ev = ev.sort_values("t", kind="stable")
        frame = pd.DataFrame(
            {
                "id": np.arange(event_id + 1, event_id + len(ev) + 1),
                "seller_id": ev["seller_idx"].to_numpy() + 1,
                "kind": ev["kind"].to_numpy(),
                "occurred_at": window.stamp(ev["t"].to_numpy()),
            }
        )
        event_id += len(frame)
        counts["events"] += writer.write(EngagementEvent, frame)
        bar.update(1)

    order_id = line_id = return_id = review_id = 0
    for i, seq in enumerate(buyer_seq.spawn(n_buyer_chunks)):
        lo, hi = i * P.BUYER_CHUNK, min(buyers, (i + 1) * P.BUYER_CHUNK)
        chunk = sample_buyer_chunk(
            np.random.default_rng(seq), world=world, window=window, lo=lo, hi=hi, purchase_frequency=purchase_frequency
        )
        buyer_frame = chunk["buyers"]
        if writer.copy:
            buyer_frame = buyer_frame.assign(created_at=now, updated_at=now)
        counts["buyers"] += writer.write(Buyer, buyer_frame)

        o = chunk["orders"]
        ids = np.arange(order_id + 1, order_id + len(o) + 1)
        orders = pd.DataFrame(
            {
                "id": ids,
                "external_id": pd.Series(ids).map("O{:09d}".format).to_numpy(dtype=object),
                "buyer_id": o["buyer_idx"].to_numpy() + 1,
                "seller_id": o["seller_idx"].to_numpy() + 1,
                "status": o["status"].to_numpy(),
                "total_amount": o["total_cents"].to_numpy() / 100.0,
                "placed_at": window.stamp(o["t"].to_numpy()),
                "ship_by": window.stamp(o["ship_by"].to_numpy()),
                "shipped_at": window.stamp(o["shipped"].to_numpy()),
                "delivered_at": window.stamp(o["delivered"].to_numpy()),
                "cancelled_at": window.stamp(o["cancelled"].to_numpy()),
                "cancel_reason": o["cancel_reason"].to_numpy(),
                "returned_at": window.stamp(o["returned"].to_numpy()),
            }
        )
        counts["orders"] += writer.write(Order, orders)

        ln = chunk["lines"]
        lines = pd.DataFrame(
            {
                "id": np.arange(line_id + 1, line_id + len(ln) + 1),
                "order_id": ln["order_pos"].to_numpy() + order_id + 1,
                "listing_id": ln["listing_idx"].to_numpy() + 1,
                "quantity": ln["quantity"].to_numpy(),
                "unit_price": ln["unit_cents"].to_numpy() / 100.0,
            }
        )
        counts["order_lines"] += writer.write(OrderLine, lines)
        after = (
            o["t"].to_numpy()[ln["order_pos"].to_numpy()] > world.listing_stock_updated[ln["listing_idx"].to_numpy()]
        )
        sold_after_update += np.bincount(
            ln["listing_idx"].to_numpy()[after],
            weights=ln["quantity"].to_numpy()[after],
            minlength=len(sold_after_update),
        ).astype("int64")

        r = chunk["returns"]
        returns = pd.DataFrame(
            {
                "id": np.arange(return_id + 1, return_id + len(r) + 1),
                "order_id": r["order_pos"].to_numpy() + order_id + 1,
                "reason": r["reason"].to_numpy(),
                "detail": r["detail"].to_numpy(),
                "refund_amount": r["refund_cents"].to_numpy() / 100.0,
                "created_at": window.stamp(r["t"].to_numpy()),
            }
        )
        counts["returns"] += writer.write(Return, returns)

        rv = chunk["reviews"]
        rids = np.arange(review_id + 1, review_id + len(rv) + 1)
        pos = rv["order_pos"].to_numpy()
        reviews = pd.DataFrame(
            {
                "id": rids,
                "external_id": pd.Series(rids).map("R{:09d}".format).to_numpy(dtype=object),
                "order_id": pos + order_id + 1,
                "buyer_id": o["buyer_idx"].to_numpy()[pos] + 1,
                "seller_id": o["seller_idx"].to_numpy()[pos] + 1,
                "rating": rv["rating"].to_numpy(),
                "text": rv["text"].to_numpy(),
                "created_at": window.stamp(rv["t"].to_numpy()),
                "updated_at": window.stamp(rv["updated"].to_numpy()),
            }
        )
        counts["reviews"] += writer.write(Review, reviews)

        ev = chunk["events"]
        # Buyer events by (buyer, kind, time) like their index; artisan replies (no buyer) last.
        buyer_key = np.where(ev["buyer_idx"].to_numpy() < 0, np.iinfo("int64").max, ev["buyer_idx"].to_numpy())
        ev = ev.iloc[np.lexsort((ev["t"].to_numpy(), ev["kind"].to_numpy().astype(str), buyer_key))]
        frame = pd.DataFrame(
            {
                "id": np.arange(event_id + 1, event_id + len(ev) + 1),
                "buyer_id": _nullable_fk(ev["buyer_idx"].to_numpy()),
                "seller_id": _nullable_fk(ev["seller_idx"].to_numpy()),
                "target_seller_id": _nullable_fk(ev["target_idx"].to_numpy()),
                "kind": ev["kind"].to_numpy(),
                "occurred_at": window.stamp(ev["t"].to_numpy()),
                "response_minutes": _nullable_fk(ev["minutes"].to_numpy(), offset=0),
            }
        )
        event_id += len(frame)
        counts["events"] += writer.write(EngagementEvent, frame)

        stats["late"] += int(o["late"].sum())
        stats["shipped"] += int(o["shipped"].notna().sum())
        stats["cancelled"] += int((o["status"] == "cancelled").sum())
        stats["out_of_stock"] += int((o["cancel_reason"] == "out_of_stock").sum())
        stats["returned"] += int((o["status"] == "returned").sum())
        stats["delivered_or_returned"] += int(o["delivered"].notna().sum())
        order_id += len(o)
        line_id += len(ln)
        return_id += len(r)
        review_id += len(rv)
        bar.update(1)
        bar.set_postfix(orders=order_id)
    bar.close()
    return world, sold_after_update


def _nullable_fk(idx: np.ndarray, *, offset: int = 1) -> pd.arrays.IntegerArray:
    idx = np.asarray(idx, dtype="int64")
    arr = pd.array(idx + offset, dtype="Int64")
    arr[idx < 0] = pd.NA
    return arr
