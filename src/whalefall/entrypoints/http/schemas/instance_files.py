"""Bodies of the instance CSV routes (api.md §3.5, §5.3): the import report."""

from __future__ import annotations

import msgspec

from whalefall.application.instances.import_instances import ImportReport, RowResult, RowStatus


class ImportErrorOut(msgspec.Struct, kw_only=True):
    field: str | None
    code: str
    message: str


class ImportRowOut(msgspec.Struct, kw_only=True):
    row: int
    name: str
    status: str
    instance_id: int | None
    reason: str | None
    errors: list[ImportErrorOut]

    @classmethod
    def of(cls, r: RowResult) -> ImportRowOut:
        return cls(row=r.row, name=r.name, status=r.status.value, instance_id=r.instance_id, reason=r.reason,
                   errors=[ImportErrorOut(field=p.field, code=p.code, message=p.message) for p in r.errors])


class ImportTotalsOut(msgspec.Struct, kw_only=True):
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    failed: int
    not_applied: int


class ImportReportOut(msgspec.Struct, kw_only=True):
    mode: str
    dry_run: bool
    atomic: bool
    applied: bool
    totals: ImportTotalsOut
    rows: list[ImportRowOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        totals = ImportTotalsOut(rows=len(report.rows), created=report.total(RowStatus.CREATED),
                                 updated=report.total(RowStatus.UPDATED), unchanged=report.total(RowStatus.UNCHANGED),
                                 skipped=report.total(RowStatus.SKIPPED), failed=report.total(RowStatus.FAILED),
                                 not_applied=report.total(RowStatus.NOT_APPLIED))
        return cls(mode=report.mode, dry_run=report.dry_run, atomic=report.atomic, applied=report.applied,
                   totals=totals, rows=[ImportRowOut.of(r) for r in report.rows])
