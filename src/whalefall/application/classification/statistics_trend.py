"""GetStatisticsTrend: counts per period and classification or rule, from assignment history (api.md §3.9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from whalefall.application.ports.classification import ClassificationStatsReader, ClassificationStore, Stretch
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.classification.trend import Span, TrendPoint, day_start, trend_points
from whalefall.domain.errors import InvalidReferenceError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.periods import PeriodType

#: Default look-back per period type when `start_on` is absent (about a dozen points).
DEFAULT_SPAN_DAYS: Final = {PeriodType.DAILY: 29, PeriodType.WEEKLY: 7 * 11, PeriodType.MONTHLY: 365,
                            PeriodType.QUARTERLY: 2 * 365, PeriodType.YEARLY: 5 * 365}
MAX_RANGE_DAYS: Final = 8 * 366
MAX_SERIES: Final = 50
#: Ids the metadata store can hold (64-bit); larger ones are refused before any query.
MAX_ID: Final = 2**63 - 1
#: Accepted dates (whole windows and look-back padding must stay inside the calendar's range).
EARLIEST: Final = date(1970, 1, 1)
LATEST: Final = date(9000, 12, 31)


def id_problems(name: str, ids: Iterable[int]) -> list[Problem]:
    """400 `too_large` for query ids no 64-bit column can hold (a query with them would fail in the store)."""
    return [Problem(f"query.{name}[{index}]", "too_large", f"must be at most {MAX_ID}", {"max": MAX_ID})
            for index, value in enumerate(ids) if not -MAX_ID - 1 <= value <= MAX_ID]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendSeries:
    classification_id: int | None
    rule_id: int | None
    points: tuple[TrendPoint, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    period_type: PeriodType
    series: tuple[TrendSeries, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendQuery:
    classification_ids: tuple[int, ...] = ()
    rule_ids: tuple[int, ...] = ()
    period_type: PeriodType = PeriodType.DAILY
    start_on: date | None = None
    end_on: date | None = None


@dataclass(frozen=True, slots=True)
class GetStatisticsTrend:
    """Trend (`classifications:read`). One series per requested classification and per requested rule; with
    neither, one series per classification. A classification series counts distinct accounts assigned (auto or
    manual); a rule series counts accounts whose auto stretch credits the rule. Points cover whole calendar
    periods of `period_type` (default daily) intersecting [`start_on`, `end_on`] (defaults: today and about a dozen
    periods back). Never re-evaluates rules. Limitation: a stretch's `rule_ids` are its current ones (history
    keeps one stretch per continuous assignment), so a rule series reflects the rules credited now for the stretch.
    Dates outside 1970-01-01…9000-12-31, `start_on` after `end_on`, a range over 8 years or more than 50 series
    → 400; unknown ids → 422."""

    store: ClassificationStore
    stats: ClassificationStatsReader
    clock: Clock

    async def execute(self, actor: Actor, query: TrendQuery) -> Trend:
        actor.require(Permission.CLASSIFICATIONS_READ)
        problems = [Problem(f"query.{name}", "out_of_range", f"{name} must lie between {EARLIEST} and {LATEST}")
                    for name, value in (("start_on", query.start_on), ("end_on", query.end_on))
                    if value is not None and not EARLIEST <= value <= LATEST]
        problems += id_problems("classification_id", query.classification_ids)
        problems += id_problems("rule_id", query.rule_ids)
        if problems:
            raise ValidationProblemsError(problems)
        today = self.clock.now().date()
        end_on = query.end_on or today
        start_on = query.start_on or end_on - timedelta(days=DEFAULT_SPAN_DAYS[query.period_type])
        if start_on > end_on:
            problems.append(Problem("query.start_on", "out_of_range", "start_on must not be after end_on"))
        elif (end_on - start_on).days > MAX_RANGE_DAYS:
            problems.append(Problem("query.start_on", "out_of_range", "the range may span at most 8 years"))
        if len(query.classification_ids) + len(query.rule_ids) > MAX_SERIES:
            problems.append(Problem("query.classification_id", "too_many", f"at most {MAX_SERIES} series"))
        if problems:
            raise ValidationProblemsError(problems)
        classification_ids = await self._classifications(query)
        rule_classes = await self._rules(query.rule_ids)
        wanted = frozenset(classification_ids) | frozenset(rule_classes.values())
        start = day_start(start_on - timedelta(days=366))  # whole windows may start before start_on
        stretches = await self.stats.stretches(wanted, start, day_start(end_on + timedelta(days=366)))
        tracking = await self.stats.tracking_start()
        tracking_day = tracking.date() if tracking is not None else None

        def points(chosen: list[Stretch]) -> tuple[TrendPoint, ...]:
            spans = [Span(account_id=s.account_id, valid_from=s.valid_from, valid_to=s.valid_to) for s in chosen]
            return tuple(trend_points(spans, query.period_type, start_on, end_on, today=today,
                                      tracking_start=tracking_day))

        series = [TrendSeries(classification_id=cid, rule_id=None,
                              points=points([s for s in stretches if s.classification_id == cid]))
                  for cid in classification_ids]
        series += [TrendSeries(classification_id=cid, rule_id=rid,
                               points=points([s for s in stretches if s.classification_id == cid
                                              and rid in s.rule_ids]))
                   for rid, cid in rule_classes.items()]
        return Trend(period_type=query.period_type, series=tuple(series))

    async def _classifications(self, query: TrendQuery) -> list[int]:
        known = {c.id for c in await self.store.all_classifications()}
        if not query.classification_ids and not query.rule_ids:
            return sorted(known)
        problems = [Problem(f"query.classification_id[{i}]", "not_found", f"classification {cid} does not exist")
                    for i, cid in enumerate(query.classification_ids) if cid not in known]
        if problems:
            raise InvalidReferenceError(problems=problems)
        return list(dict.fromkeys(query.classification_ids))

    async def _rules(self, rule_ids: tuple[int, ...]) -> dict[int, int]:
        found: dict[int, int] = {}
        problems = []
        for index, rule_id in enumerate(dict.fromkeys(rule_ids)):
            rule = await self.store.get_rule(rule_id)
            if rule is None:
                problems.append(Problem(f"query.rule_id[{index}]", "not_found", f"rule {rule_id} does not exist"))
            else:
                found[rule_id] = rule.classification_id
        if problems:
            raise InvalidReferenceError(problems=problems)
        return found
