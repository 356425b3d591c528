"""French first, English available: the portals' message catalogs and formats (issue 4).

Catalogs are flat JSON files (`locales/fr.json`, `locales/en.json`) read once from the
package; a test checks that both hold the same keys. Code labels come from the DMP tables
(`display` in French, `display_en` in English). Times are shown in France's time zone.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opendmp.domain.terminology import ValueSet

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


@cache
def catalog(lang: str) -> dict[str, str]:
    text = files("opendmp.web.portal").joinpath(f"locales/{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


@cache
def _zone() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # no tz database: show UTC
        return None


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        text = catalog(self.lang).get(key)
        if text is None:
            return key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalog(self.lang)

    def concept(self, value_set: ValueSet, code: str, system: str | None = None) -> str:
        """The label of a code in this language, else the code itself."""
        concept = value_set.lookup(system, code) if system else None
        if concept is None:
            concept = next((c for c in value_set.concepts if c.code == code), None)
        if concept is None:
            return code
        if self.lang == "en" and concept.display_en:
            return concept.display_en
        return concept.display or code

    def datetime(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        zone = _zone()
        local = moment.astimezone(zone) if zone is not None and moment.tzinfo else moment
        return self("format.datetime", date=self.date(local), time=local.strftime("%H:%M"))

    def time(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        zone = _zone()
        local = moment.astimezone(zone) if zone is not None and moment.tzinfo else moment
        return local.strftime("%H:%M")

    def date(self, day: dt.date | dt.datetime | None) -> str:
        if day is None:
            return ""
        month = self(f"month.{day.month}")
        return self("format.date", day=day.day, month=month, year=day.year)
