"""The SCIM 2.0 resources Lakehold serves (RFC 7643), as scim2-models classes, and the
discovery documents of RFC 7644 §4: ServiceProviderConfig, ResourceTypes, Schemas.

Two kinds of model. :class:`User` and :class:`Group` hold exactly what Lakehold keeps (a
user's name, display name, one email, active, external id and groups; a group's name,
external id and user members): they are what responses carry and what ``/Schemas``
publishes, so a client never sends an attribute believing it is stored. Requests are read
with scim2-models' full core models (:data:`USER_REQUEST`, :data:`GROUP_REQUEST`) under
:data:`POLICY`, the tolerances identity providers need: Okta and Microsoft Entra send
``name``, ``title``, the enterprise extension, ``"active": "False"``, ``Replace`` and
``emails[type eq "work"].value``; what Lakehold does not keep is read and dropped.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    Context,
    EnterpriseUser,
    Error,
    ETag,
    Filter,
    Mutability,
    Patch,
    PatchOp,
    Reference,
    Required,
    Resource,
    ResourceType,
    Returned,
    Schema,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models import Group as CoreGroup
from scim2_models import User as CoreUser

from lakehold.errors import Invalid

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_RESULTS = 1000
"""The most resources one list response holds (``count`` above it is lowered to it)."""
DEFAULT_COUNT = 100


class Email(ComplexAttribute):
    """An email address; Lakehold keeps one, the primary."""

    value: str | None = None
    """The email address."""

    primary: Annotated[bool | None, Mutability.read_only, Returned.request] = None
    """Always true: the address Lakehold keeps is the primary one sent, else the first
    (returned when asked for: ``attributes=emails.primary``)."""


class GroupRef(ComplexAttribute):
    """A group the user belongs to (read-only: group membership is changed on the group)."""

    value: Annotated[str | None, Mutability.read_only, CaseExact.true] = None
    """The group's id."""

    ref: Annotated[Reference["Group"] | None, Mutability.read_only] = Field(  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The group's URI."""

    display: Annotated[str | None, Mutability.read_only] = None
    """The group's name."""


class User(Resource[Any]):
    """A Lakehold user provisioned by an identity provider."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """The Lakehold username, in lower case: letters, digits, '_', '.', '-', '@', '+' (an
    e-mail address is one)."""

    display_name: str | None = None
    """The name shown for the user."""

    active: Annotated[bool | None, Required.true] = None
    """False: deactivated; every session and API token of the user is refused (a user
    created without it is active)."""

    emails: list[Email] | None = None
    """The user's email address (one is kept)."""

    groups: Annotated[list[GroupRef] | None, Mutability.read_only] = None
    """The provider's groups the user belongs to."""


class Member(ComplexAttribute):
    """A member of a group: a user of the same identity provider."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    """The user's id."""

    ref: Annotated[Reference["User"] | None, Mutability.immutable] = Field(  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The user's URI."""

    display: Annotated[str | None, Mutability.read_only, Returned.request] = None
    """The user's username (returned when asked for: ``attributes=members.display``)."""


class Group(Resource[Any]):
    """A Lakehold group managed by an identity provider."""

    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true, Returned.default] = None
    """The group's name: letters, digits, '_', '.', '-' (1 to 100)."""

    members: list[Member] | None = None
    """The group's members (users)."""


USER_REQUEST = CoreUser[EnterpriseUser]
"""How a user is read from a request (every core attribute and the enterprise extension)."""
GROUP_REQUEST = CoreGroup
"""How a group is read from a request."""

POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
"""Tolerances for the identity providers' dialects (ignored unknown attributes, Entra's
``remove`` with a value and ``emails[type eq "work"].value`` on a user with no such entry)."""


def service_provider_config() -> ServiceProviderConfig:
    """What Lakehold's SCIM service supports (RFC 7643 §5)."""
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A Lakehold API token with the 'scim' scope, bound to an "
                "identity provider: lakehold token create <name> --scope scim --provider <p>",
                primary=True,
            )
        ],
    )


def resource_types() -> list[ResourceType]:
    """The resource types served: User at ``/Users``, Group at ``/Groups``."""
    return [ResourceType.from_resource(User), ResourceType.from_resource(Group)]


def schemas() -> list[Schema]:
    """The schemas of :class:`User` and :class:`Group`, as RFC 7643 §7 describes them."""
    return [User.to_schema(), Group.to_schema()]


def invalid(error: ValidationError) -> Invalid:
    """The first problem of a request scim2-models refused, as Invalid with its scimType."""
    found = error.errors()[0]
    first = Error.from_validation_error(found)
    named = [str(part) for part in found.get("loc", ()) if isinstance(part, str)]
    return Invalid(
        first.detail or "invalid request",
        field=named[0] if named else "body",
        scim_type=first.scim_type or "invalidValue",
    )


def read(model: type[Resource[Any]], payload: Any, *, replacing: bool = False) -> Any:
    """A creation (or, ``replacing``, a replacement) request's resource, read under
    :data:`POLICY`; Invalid (scimType ``invalidSyntax``/``invalidValue``) when it is not one."""
    context = (
        Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    )
    try:
        return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)
    except ValidationError as error:
        raise invalid(error) from None


def read_patch(model: type[Resource[Any]], payload: Any) -> PatchOp[Any]:
    """A PATCH request's operations on a ``model`` resource (RFC 7644 §3.5.2)."""
    try:
        return PatchOp[model].model_validate(  # type: ignore[valid-type]
            payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
        )
    except ValidationError as error:
        raise invalid(error) from None
