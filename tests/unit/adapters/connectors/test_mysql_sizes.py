"""MySQL/MariaDB tablespace attribution and file-name decoding (capacity.md §3.3, E13, defect 24)."""

from __future__ import annotations

import pytest

from whalefall.adapters.connectors._shared import ResultSet
from whalefall.adapters.connectors.mysql.filenames import CODES, decode_filename
from whalefall.adapters.connectors.mysql.mapping import attribute_sizes

INVENTORY = ("information_schema", "mysql", "performance_schema", "sys", "shop", "my-db", "销售")


@pytest.mark.parametrize(("encoded", "decoded"), [
    ("shop", "shop"), ("my@002ddb", "my-db"), ("@9500@552e", "销售"), ("@@a", "ⓐ"), ("@A@", "Ａ"), ("@0G", "À"),
    ("@01c5", "ǅ"), ("@1e9e", "ẞ"), ("@002D@002d", "--"), ("a@b", "a@b"), ("trailing@", "trailing@"),
    ("@zz", "@zz"), ("caf@0p", "café"),
])
def test_decoding(encoded: str, decoded: str) -> None:
    assert decode_filename(encoded) == decoded


def test_code_table_covers_the_blocks_and_nothing_else() -> None:
    blocks = ((0x00C0, 0x05FF), (0x1E00, 0x1FFF), (0x2160, 0x217F), (0x24B0, 0x24EF), (0xFF20, 0xFF5F))
    assert len(CODES) == 1510 and len(set(CODES.values())) == 1510
    assert all(any(lo <= ord(c) <= hi for lo, hi in blocks) for c in CODES.values())
    assert all(len(code) == 2 and all(0x30 <= ord(ch) <= 0x7F for ch in code) for code in CODES)


def test_e13_attribution() -> None:
    tablespaces = ResultSet(("NAME", "FILE_SIZE"), (
        ("shop/orders", 3145728), ("shop/orders#p#p2027", 1048576), ("my@002ddb/events", 98304),
        ("@9500@552e/daily", 65536), ("innodb_system", 12582912), ("mysql", 25165824)))
    non_innodb = ResultSet(("TABLE_SCHEMA", "bytes"), (("shop", 20480 + 4096),))
    result = attribute_sizes(INVENTORY, inventory=INVENTORY, tablespaces=tablespaces, non_innodb=non_innodb)
    sizes = {row.name: row.size_bytes for row in result.sizes}
    assert sizes == {"information_schema": 0, "mysql": 0, "performance_schema": 0, "sys": 0, "shop": 4218880,
                     "my-db": 98304, "销售": 65536}
    assert sum(s or 0 for s in sizes.values()) == 4382720
    assert result.unattributed_bytes == 37748736 and result.warnings == ()


def test_empty_view_is_valid_and_unknown_schemas_are_unattributed_with_a_warning() -> None:
    empty = attribute_sizes(["shop"], inventory=["shop"], tablespaces=ResultSet(("NAME", "FILE_SIZE")),
                            non_innodb=None)
    assert [(r.name, r.size_bytes) for r in empty.sizes] == [("shop", 0)] and empty.unattributed_bytes == 0
    stray = attribute_sizes(["shop", "gone"], inventory=["shop"], tablespaces=ResultSet(
        ("NAME", "FILE_SIZE"), (("old@002ddb/t", 4096), ("shop/#sql-ib12", 8192))), non_innodb=None)
    assert [(r.name, r.size_bytes) for r in stray.sizes] == [("shop", 8192), ("gone", None)]
    assert stray.unattributed_bytes == 4096
    assert stray.warnings == ("TABLESPACE_UNATTRIBUTED: old@002ddb/t",)
