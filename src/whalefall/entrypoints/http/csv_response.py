"""CSV downloads (api.md §5.1): streamed RFC 4180 text, UTC file names, formula guard from the codec."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from litestar.response import Stream

from whalefall.application.shared.csv_codec import CellValue, encode_csv

# Litestar appends `; charset=utf-8` to text media types itself.
CSV_MEDIA_TYPE = "text/csv"


def csv_download(resource: str, header: Sequence[str], rows: Iterable[Sequence[CellValue]], *, at: datetime,
                 bom: bool = False) -> Stream:
    """`<resource>_<YYYYMMDDTHHMMSSZ>.csv` as an attachment; rows are encoded while they are sent."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def chunks() -> Iterator[bytes]:
        for chunk in encode_csv(header, rows, bom=bom):
            yield chunk.encode("utf-8")

    return Stream(chunks(), media_type=CSV_MEDIA_TYPE,
                  headers={"Content-Disposition": f'attachment; filename="{resource}_{stamp}.csv"',
                           "Cache-Control": "no-store"})
