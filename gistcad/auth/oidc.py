"""OpenID Connect: from the identity provider's claims to a gistcad role and centers.

Hospitals with an identity provider sign users in through Streamlit's ``st.login``; the
provider is configured in ``.streamlit/secrets.toml`` (section ``[auth]``, see the README).
Which role and centers a person gets is decided here, from a claim that lists their groups
(or roles), by the rules of the section ``[gistcad.oidc]`` of the same file::

    [gistcad.oidc]
    claim = "groups"          # the claim holding the user's groups or app roles
    name_claim = "email"      # what the audit trail records as the user
    provider = ""             # the [auth.NAME] section to use; empty: the plain [auth]

    [[gistcad.oidc.rules]]
    group = "gistcad-admins"
    role = "admin"

    [[gistcad.oidc.rules]]
    group = "gist-pi-amsterdam"
    role = "pi"
    centers = ["Amsterdam"]

A person whose groups match several rules gets the most privileged of their roles
(admin > pi > clinician) and the union of the centers of the rules with that role; one whose
groups match no rule gets no access at all. Nothing here imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gistcad.domain import ALL_CENTER_ROLES, Role
from gistcad.errors import ConfigError

SECTION = "gistcad.oidc"
PRIVILEGE = (Role.ADMIN, Role.PI, Role.CLINICIAN)


@dataclass(frozen=True)
class RoleRule:
    group: str
    role: Role
    centers: tuple[str, ...]


@dataclass(frozen=True)
class OidcConfig:
    claim: str
    name_claim: str
    provider: str | None
    rules: tuple[RoleRule, ...]

    @property
    def has_admin_rule(self) -> bool:
        return any(rule.role is Role.ADMIN for rule in self.rules)


@dataclass(frozen=True)
class OidcIdentity:
    name: str
    role: Role
    centers: tuple[str, ...]


def parse_config(secrets: Mapping[str, Any]) -> OidcConfig:
    """The ``[gistcad.oidc]`` section of the secrets, checked; :class:`ConfigError` if bad."""
    section = secrets.get("gistcad", {}).get("oidc")
    if not isinstance(section, Mapping):
        raise ConfigError(
            f"GISTCAD_AUTH=oidc needs a [{SECTION}] section in .streamlit/secrets.toml "
            "(claim and rules mapping the provider's groups to roles); see the README"
        )
    rules = []
    for i, raw in enumerate(section.get("rules", [])):
        where = f"[{SECTION}] rule {i + 1}"
        try:
            role = Role(str(raw.get("role", "")))
        except ValueError:
            choices = ", ".join(r.value for r in Role)
            raise ConfigError(f"{where}: role must be one of {choices}") from None
        group = str(raw.get("group", "")).strip()
        if not group:
            raise ConfigError(f"{where}: 'group' (the value the claim must contain) is missing")
        centers = tuple(str(c) for c in raw.get("centers", []))
        if role not in ALL_CENTER_ROLES and not centers:
            raise ConfigError(f"{where}: role {role.value} needs a list of centers")
        rules.append(RoleRule(group=group, role=role, centers=centers))
    if not rules:
        raise ConfigError(f"[{SECTION}] has no rules: no one could sign in with a role")
    provider = str(section.get("provider", "")).strip() or None
    return OidcConfig(
        claim=str(section.get("claim", "groups")),
        name_claim=str(section.get("name_claim", "email")),
        provider=provider,
        rules=tuple(rules),
    )


def identity_from_claims(claims: Mapping[str, Any], config: OidcConfig) -> OidcIdentity | None:
    """The role and centers the rules give to the person with ``claims``; None: no access."""
    raw = claims.get(config.claim, [])
    groups = {raw} if isinstance(raw, str) else {str(g) for g in raw or []}
    matched = [rule for rule in config.rules if rule.group in groups]
    name = str(claims.get(config.name_claim) or claims.get("sub") or "").strip().lower()
    if not matched or not name:
        return None
    role = next(r for r in PRIVILEGE if any(rule.role is r for rule in matched))
    if role in ALL_CENTER_ROLES:
        return OidcIdentity(name=name, role=role, centers=())
    centers = sorted({c for rule in matched if rule.role is role for c in rule.centers})
    return OidcIdentity(name=name, role=role, centers=tuple(centers))
