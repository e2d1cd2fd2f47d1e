"""Direct capabilities of a principal state, for the denormalised `superuser` column and privileged-account alerts.

Interim rule set until `whalefall.domain.accounts.facts.build_facts` (classification.md §2.3) exists; it looks
only at the principal's own attributes, grants and direct memberships (no role traversal), which is what the list
filter `is_superuser` and the sync result's added/reactivated accounts need (accounts.md §4 step 6, defect 7).
"""

from __future__ import annotations

from typing import Final

from whalefall.domain.accounts.model import GrantEffect, PrincipalState
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope

_SUPER_PRIVILEGES: Final = {
    DbEngine.MYSQL: frozenset({"SUPER", "SYSTEM_USER"}),
    DbEngine.POSTGRESQL: frozenset[str](),
    DbEngine.SQLSERVER: frozenset({"CONTROL SERVER"}),
    DbEngine.ORACLE: frozenset({"SYSDBA"}),
}
_SUPER_ROLES: Final = {
    DbEngine.MYSQL: frozenset[str](),
    DbEngine.POSTGRESQL: frozenset[str](),
    DbEngine.SQLSERVER: frozenset({"sysadmin"}),
    DbEngine.ORACLE: frozenset({"DBA"}),
}
_GRANT_ADMIN_PRIVILEGES: Final = frozenset({"GRANT OPTION", "GRANT ANY PRIVILEGE", "GRANT ANY ROLE",
                                            "GRANT ANY OBJECT PRIVILEGE", "CREATE USER", "CREATE ROLE",
                                            "ALTER ANY LOGIN", "SECURITYADMIN"})


def direct_capabilities(engine: DbEngine, state: PrincipalState) -> frozenset[str]:
    """SUPERUSER, GRANT_ADMIN, LOGIN and LOCKED as far as the principal's own state shows them."""
    held: set[str] = set()
    attrs = state.attributes
    global_grants = {g.privilege for g in state.grants if g.scope is Scope.GLOBAL and g.effect is GrantEffect.GRANT}
    roles = {edge.role.key for edge in state.memberships}
    if (attrs.get("rolsuper") is True or global_grants & _SUPER_PRIVILEGES[engine]
            or roles & _SUPER_ROLES[engine]):
        held.add("SUPERUSER")
    if (global_grants & _GRANT_ADMIN_PRIVILEGES or attrs.get("rolcreaterole") is True
            or any(g.grant_option and g.scope is Scope.GLOBAL for g in state.grants)):
        held.add("GRANT_ADMIN")
    if attrs.get("login_capable") is True:
        held.add("LOGIN")
    if attrs.get("locked") is True:
        held.add("LOCKED")
    return frozenset(held)
