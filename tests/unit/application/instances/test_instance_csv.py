"""The instance CSV mapping (api.md §5; defect 41): import(export(v)) == v for every text cell, no exported text
cell starts a formula, and header and row parsing rules."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.application.instances.instance_csv import COLUMNS, ImportFileInvalidError, export_row, read_import
from whalefall.application.ports.instances import CredentialRef, InstanceRecord, TagRef
from whalefall.application.shared.csv_codec import encode_csv
from whalefall.domain.instances import CredentialId, DbEngine, InstanceId, TagId

AT = datetime(2027, 3, 1, tzinfo=UTC)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
texts = st.text(min_size=1, max_size=40)
tag_names = st.lists(st.text(min_size=1, max_size=12).filter(lambda t: ";" not in t), max_size=3, unique=True)


def _record(*, name: str, description: str, credential: str, tags: list[str]) -> InstanceRecord:
    return InstanceRecord(
        id=InstanceId(1), name=name, db_type=DbEngine.MYSQL, flavor=None, host="db.example", port=3306,
        database_name=None, description=description, is_active=True,
        credential=CredentialRef(CredentialId(1), credential),
        tags=tuple(TagRef(TagId(i), t, t, "c") for i, t in enumerate(tags)), capacity_limit_bytes=None,
        collect_table_sizes=False, version=None, version_major=None, version_minor=None, edition=None,
        version_raw=None, last_contact_at=None, last_contact_ok=None, last_contact_error_code=None,
        last_success_at=None, accounts_synced_at=None, last_capacity_collected_on=None, account_count=0,
        database_count=0, created_at=AT, updated_at=AT, deleted_at=None, revision=1)


def _file(record: InstanceRecord, *, bom: bool = False) -> bytes:
    return "".join(encode_csv(COLUMNS, [export_row(record)], bom=bom)).encode("utf-8")


@given(name=texts, description=texts, credential=texts, tags=tag_names, bom=st.booleans())
def test_import_of_export_restores_every_text_value(name: str, description: str, credential: str, tags: list[str],
                                                     bom: bool) -> None:
    [row] = read_import(_file(_record(name=name, description=description, credential=credential, tags=tags), bom=bom))
    assert (row.name, row.description, row.credential_name, list(row.tags)) == (name, description, credential, tags)


@given(name=texts, description=texts, credential=texts, tags=tag_names)
def test_no_exported_text_cell_begins_a_formula(name: str, description: str, credential: str,
                                                tags: list[str]) -> None:
    content = _file(_record(name=name, description=description, credential=credential, tags=tags)).decode()
    for cells in list(csv.reader(io.StringIO(content, newline="")))[1:]:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)


def test_rows_are_typed_and_problems_name_their_column() -> None:
    content = (b"name,db_type,host,port,is_active,capacity_limit_bytes,collect_table_sizes,tags\r\n"
               b",sybase,,x,yes,-1,maybe,a;;b\r\n"
               b"ok,mysql,h,3306,false,10,true,\r\n")
    bad, good = read_import(content)
    assert {(p.field, p.code) for p in bad.problems} == {
        ("name", "required"), ("db_type", "invalid_choice"), ("host", "required"), ("port", "invalid_type"),
        ("is_active", "invalid_type"), ("capacity_limit_bytes", "too_small"),
        ("collect_table_sizes", "invalid_type")}
    assert bad.tags == ("a", "b")
    assert (good.port, good.is_active, good.capacity_limit_bytes, good.collect_table_sizes, good.tags) == (
        3306, False, 10, True, ())
    assert good.line == 3 and not good.problems


def test_lf_line_ends_blank_lines_and_short_rows() -> None:
    rows = read_import(b"name,db_type,host,description\n\na,mysql,h\nb,mysql,h,x\n")
    assert [(r.line, r.name) for r in rows] == [(3, "a"), (4, "b")]
    assert [p.code for p in rows[0].problems] == ["column_count"]


@pytest.mark.parametrize(("content", "code"), [
    (b"", "no_rows"), (b"name,db_type,host\r\n", "no_rows"), (b"name,db_type\r\na,b\r\n", "missing_column"),
    (b"\xc3\x28", "encoding"),
])
def test_file_level_problems(content: bytes, code: str) -> None:
    with pytest.raises(ImportFileInvalidError) as raised:
        read_import(content)
    assert raised.value.problems[0].code == code


def test_row_cap() -> None:
    with pytest.raises(ImportFileInvalidError) as raised:
        read_import(b"name,db_type,host\r\n" + b"a,mysql,h\r\n" * 3, max_rows=2)
    assert raised.value.problems[0].code == "too_many_rows"
