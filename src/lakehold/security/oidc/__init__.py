"""Single sign-on with OpenID Connect providers (ADR 0031), one module per job:

- :mod:`~lakehold.security.oidc.service`: :class:`OidcService`, what the adapters call;
- :mod:`~lakehold.security.oidc.discovery`: provider metadata and signing keys, cached;
- :mod:`~lakehold.security.oidc.flow`: the portal's code flow with PKCE, bound to a browser;
- :mod:`~lakehold.security.oidc.tokens`: ID token validation;
- :mod:`~lakehold.security.oidc.claims`: who the token says the person is (and UserInfo);
- :mod:`~lakehold.security.oidc.accounts`: the Lakehold user of that person, and groups;
- :mod:`~lakehold.security.oidc.limits`: failed sign-ins counted per address and person;
- :mod:`~lakehold.security.oidc.replay`: an ID token the CLI sends is exchanged once;
- :mod:`~lakehold.security.oidc.refusals`: why a sign-in is refused, as the audit log says.
"""

from lakehold.security.oidc.service import OidcService

__all__ = ["OidcService"]
