"""Pure per-engine normalisers: typed catalog rows → canonical `InstanceSnapshot` (accounts.md §2)."""

from whalefall.domain.accounts.normalize.builder import CatalogVisibilityError
from whalefall.domain.accounts.normalize.mariadb import normalize_mariadb
from whalefall.domain.accounts.normalize.mysql import normalize_mysql
from whalefall.domain.accounts.normalize.oracle import normalize_oracle
from whalefall.domain.accounts.normalize.postgresql import normalize_postgresql
from whalefall.domain.accounts.normalize.sqlserver import normalize_sqlserver

__all__ = [
    "CatalogVisibilityError",
    "normalize_mariadb",
    "normalize_mysql",
    "normalize_oracle",
    "normalize_postgresql",
    "normalize_sqlserver",
]
