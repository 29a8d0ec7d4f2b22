"""Identity-provider claims to role and centers."""

from __future__ import annotations

import pytest

from gistcad.auth.oidc import identity_from_claims, parse_config
from gistcad.domain import Role
from gistcad.errors import ConfigError

SECRETS = {
    "auth": {"cookie_secret": "x"},
    "gistcad": {
        "oidc": {
            "claim": "groups",
            "name_claim": "email",
            "rules": [
                {"group": "gistcad-admins", "role": "admin"},
                {"group": "pi-ams", "role": "pi", "centers": ["Amsterdam"]},
                {"group": "pi-rot", "role": "pi", "centers": ["Rotterdam"]},
                {"group": "onc-ams", "role": "clinician", "centers": ["Amsterdam", "Leiden"]},
            ],
        }
    },
}


def test_rules_give_the_most_privileged_role_and_its_centers() -> None:
    config = parse_config(SECRETS)
    assert config.has_admin_rule
    pi = identity_from_claims(
        {"email": "J.Smith@Hospital.org", "groups": ["pi-ams", "pi-rot", "onc-ams"]}, config
    )
    assert pi is not None
    assert (pi.name, pi.role, pi.centers) == (
        "j.smith@hospital.org",
        Role.PI,
        ("Amsterdam", "Rotterdam"),
    )
    clinician = identity_from_claims({"email": "a@h.org", "groups": "onc-ams"}, config)
    assert clinician is not None
    assert (clinician.role, clinician.centers) == (Role.CLINICIAN, ("Amsterdam", "Leiden"))
    admin = identity_from_claims({"email": "b@h.org", "groups": ["x", "gistcad-admins"]}, config)
    assert admin is not None
    assert (admin.role, admin.centers) == (Role.ADMIN, ())


def test_no_matching_group_or_no_name_means_no_access() -> None:
    config = parse_config(SECRETS)
    assert identity_from_claims({"email": "c@h.org", "groups": ["other"]}, config) is None
    assert identity_from_claims({"email": "c@h.org"}, config) is None
    assert identity_from_claims({"groups": ["pi-ams"]}, config) is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (None, r"needs a \[gistcad.oidc\] section"),
        ({"rules": []}, "has no rules"),
        ({"rules": [{"group": "g", "role": "boss"}]}, "role must be one of admin, pi, clinician"),
        ({"rules": [{"group": "g", "role": "pi"}]}, "role pi needs a list of centers"),
        ({"rules": [{"role": "admin"}]}, "'group'"),
    ],
)
def test_bad_configuration_is_refused_with_the_reason(section: object, message: str) -> None:
    secrets = {} if section is None else {"gistcad": {"oidc": section}}
    with pytest.raises(ConfigError, match=message):
        parse_config(secrets)
