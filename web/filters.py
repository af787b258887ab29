"""The participation pages' filter form: campaign, platform, source and a date range.

Days are in the dashboard's time zone and both ends are included; the page says
which `campaignbot stats` command gives the same numbers (its --until is the day
after).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request

from campaigns.catalog import Catalog
from campaigns.model import PLATFORMS
from campaigns.reports import Filters
from db.times import to_text


@dataclass(frozen=True)
class FilterForm:
    """The filter form as typed, what it means as `Filters`, and any problems."""

    values: dict[str, str]
    filters: Filters
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> str:
        return urlencode({k: v for k, v in self.values.items() if v})

    def cli(self) -> str:
        """The same numbers at the terminal."""
        parts = ["campaignbot stats"]
        f = self.filters
        for option, value in (
            ("--campaign", f.campaign),
            ("--platform", f.platform),
            ("--source", f.source),
        ):
            if value:
                parts.append(f"{option} {value}")
        if self.values.get("since") and "since" not in self.errors:
            parts.append(f"--since {self.values['since']}")
        if self.values.get("until") and "until" not in self.errors:
            day = date.fromisoformat(self.values["until"]) + timedelta(days=1)
            parts.append(f"--until {day.isoformat()}")
        return " ".join(parts)


DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _bound(value: str, zone: ZoneInfo, *, end: bool) -> str:
    """A typed day as stored UTC text: its start, or (`end`) the start of the day after.

    Raises ValueError for anything but a real YYYY-MM-DD that has a day after it
    and exists in UTC (not 9999-12-31, say).
    """
    if not DAY.fullmatch(value):
        raise ValueError(value)
    day = datetime.combine(date.fromisoformat(value), time(), tzinfo=zone)
    try:
        return to_text(day + timedelta(days=1) if end else day)
    except OverflowError:
        raise ValueError(value) from None


def read_filters(request: Request, zone: ZoneInfo, catalog: Catalog) -> FilterForm:
    """Filters from the query string. Days are local and both ends are included
    (`campaignbot stats` takes the day after as --until)."""
    params = request.query_params
    values = {
        name: (params.get(name) or "").strip()[:64]
        for name in ("campaign", "platform", "source", "since", "until")
    }
    errors: dict[str, str] = {}
    campaign = values["campaign"] or None
    if campaign and campaign not in catalog.packs:
        errors["campaign"] = "There's no campaign of that name."
        campaign = None
    platform = values["platform"] or None
    if platform and platform not in PLATFORMS:
        errors["platform"] = f"Choose one of {', '.join(PLATFORMS)}."
        platform = None
    bounds: dict[str, str | None] = {"since": None, "until": None}
    for name in ("since", "until"):
        if not values[name]:
            continue
        try:
            bounds[name] = _bound(values[name], zone, end=name == "until")
        except ValueError:
            errors[name] = "Give a date as YYYY-MM-DD."
    if bounds["since"] and bounds["until"] and bounds["since"] >= bounds["until"]:
        errors["until"] = "The end comes before the start."
        bounds["until"] = None
    filters = Filters(
        campaign=campaign,
        platform=platform,
        source=values["source"] or None,
        since=bounds["since"],
        until=bounds["until"],
    )
    return FilterForm(values, filters, errors)
