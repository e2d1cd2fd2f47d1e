"""What every CSV export use case shares (api.md §5): the row cap checked before reading, the audited filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from whalefall.application.shared.csv_codec import ExportTooLargeError

DEFAULT_MAX_ROWS: Final = 200_000  # setting `export.max_rows`


def check_export_size(total: int, max_rows: int) -> None:
    """Refuse (422 EXPORT_TOO_LARGE) when more rows match than the cap; called before any row is read."""
    if total > max_rows:
        raise ExportTooLargeError(total, max_rows)


def given_filters(filters: Mapping[str, object]) -> dict[str, object]:
    """The filters the caller actually set: absent (None) and empty-list values are left out of the audit event."""
    return {key: value for key, value in filters.items() if value is not None and value != []}

