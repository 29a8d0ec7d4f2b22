"""Who is asking: password hashing, the login check with throttling, OpenID Connect roles.

The SQL side (accounts, audit rows) lives in :mod:`gistcad.store.accounts` and
:mod:`gistcad.store.audit`; what a caller may see is their
:class:`~gistcad.store.scope.AccessScope`.
"""
