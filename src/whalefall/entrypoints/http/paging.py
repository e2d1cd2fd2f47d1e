"""Paging and sorting query parameters shared by every list route (api.md §1.8–1.9)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from litestar.params import QueryParameter

from whalefall.application.shared.paging import MAX_LIMIT, PageRequest, parse_sort

PageQuery = Annotated[int, QueryParameter(name="page", ge=1, description="1-based page number")]
LimitQuery = Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_LIMIT, description="items per page (1–200)")]
SortQuery = Annotated[str | None, QueryParameter(name="sort", description="comma list of fields, '-' for descending")]


def page_request(page: int, limit: int, sort: str | None, *, allowed: Sequence[str], default: str) -> PageRequest:
    """The validated page request; an unknown sort field → 400 `unknown_sort_field`."""
    return PageRequest(page=page, limit=limit, sort=parse_sort(sort, allowed=allowed, default=default))
