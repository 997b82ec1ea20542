"""Every action Lakehold decides on, with the resource it acts on and who may take it.

One registry, read as a table: :data:`RULES` maps each :class:`Action` to its :class:`Rule`.
:func:`lakehold.kernel.authorize.authorize` is the only function that reads it, and the audit
log records the action's value (``table.write``, ``subscription.approve``, ...). A new action
goes here first; a later policy engine (organisation-wide guardrails, Cedar) plugs into
``authorize`` and sees the same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lakehold.kernel.roles import Role


class Allow(StrEnum):
    """Who may take an action."""

    ADMIN = "admin"  # administrators only
    ROLE = "role"  # members of the resource project holding at least ``Rule.role``
    UNIT_OWNER = "unit_owner"  # owners of the resource unit or an ancestor
    PROJECT_CREATOR = "project_creator"  # anyone in a domain's root unit, unit owners below
    SELF = "self"  # the user the resource belongs to (a user id), or an administrator
    ANYONE = "anyone"  # any authenticated principal
    SCOPE = "scope"  # tokens granted ``Rule.scope`` (by an administrator), whoever holds them
    ADMIN_OR_SCOPE = "admin_or_scope"  # administrators, and tokens granted ``Rule.scope``
    RECIPIENT = "recipient"  # the Delta Sharing recipient of an approved share grant (ADR 37)


@dataclass(frozen=True)
class Rule:
    """Who may take an action (``allow``, ``role``) and how a refusal names it (``phrase``:
    "only owners of project 'p' may <phrase>"). A project is "not found" to non-members
    unless ``known`` (the caller is already a party, e.g. the subscriber of a request)."""

    allow: Allow
    phrase: str
    role: Role | None = None
    known: bool = False
    scope: str | None = None
    """The token scope an ``Allow.SCOPE`` action needs (an administrator's own token has none)."""
    service: bool = True
    """Whether a project's service principal may take it (ADR 32): never, for actions that
    mint credentials; nor for anything decided outside a project (unit owners, creators)."""


class Action(StrEnum):
    """The actions of Lakehold, named ``<resource>.<verb>``."""

    DOMAIN_CREATE = "domain.create"
    UNIT_CREATE = "unit.create"
    UNIT_UPDATE = "unit.update"
    UNIT_DELETE = "unit.delete"
    UNIT_OWNERS_MANAGE = "unit.owners.manage"
    UNIT_POLICY_MANAGE = "unit_policy.manage"
    UNIT_PROJECTS_READ = "unit.projects.read"
    UNIT_POLICY_USE = "unit_policy.use"
    PROJECT_CREATE = "project.create"
    PROJECT_READ = "project.read"
    PROJECT_MEMBERS_MANAGE = "project.members.manage"
    GROUP_CREATE = "group.create"
    GROUP_DELETE = "group.delete"
    GROUP_MEMBERS_MANAGE = "group.members.manage"
    ASSET_DESCRIBE = "asset.describe"
    TABLE_WRITE = "table.write"
    TABLE_VACUUM_FORCE = "table.vacuum.force"
    LISTING_PUBLISH = "listing.publish"
    LISTING_UNPUBLISH = "listing.unpublish"
    FILTER_MANAGE = "filter.manage"
    SUBSCRIPTION_REQUEST = "subscription.request"
    SUBSCRIPTION_DECIDE = "subscription.decide"
    GRANT_REVOKE = "grant.revoke"
    GRANT_UNSUBSCRIBE = "grant.unsubscribe"
    GRANT_CHANGE_FILTERS = "grant.change_filters"
    RULE_CREATE = "metadata_rule.create"
    RULE_MOVE = "metadata_rule.move"
    RULE_UPDATE = "metadata_rule.update"
    RULE_DELETE = "metadata_rule.delete"
    WEBHOOK_MANAGE = "webhook.manage"
    WEBHOOK_GLOBAL_MANAGE = "webhook.global.manage"
    WEBHOOK_PURGE = "webhook.purge"
    ALERT_READ = "alert.read"
    ALERT_READ_ALL = "alert.read_all"
    ALERT_EVALUATE = "alert.evaluate"
    CONNECTION_READ = "connection.read"
    CONNECTION_MANAGE = "connection.manage"
    CONNECTION_TEST = "connection.test"
    SECRET_KEY_ROTATE = "secret_key.rotate"
    DATA_SOURCE_READ = "data_source.read"
    DATA_SOURCE_MANAGE = "data_source.manage"
    DATA_SOURCE_RUN = "data_source.run"
    SYNC_JOB_MANAGE = "sync_job.manage"
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    TOKEN_CREATE = "token.create"
    TOKEN_ISSUE_FOR_OTHERS = "token.issue_for_others"
    TOKEN_REVOKE = "token.revoke"
    SERVICE_PRINCIPAL_MANAGE = "service_principal.manage"
    SESSION_READ = "session.read"
    SESSION_REVOKE = "session.revoke"
    USER_CREDENTIALS_REVOKE = "user.credentials.revoke"
    USER_DEACTIVATE = "user.deactivate"
    USER_ACTIVATE = "user.activate"
    PROVIDER_CREDENTIALS_REVOKE = "identity_provider.credentials.revoke"
    SECURITY_POLICY_READ = "security_policy.read"
    SECURITY_POLICY_MANAGE = "security_policy.manage"
    AUDIT_READ = "audit.read"
    SEARCH_REBUILD = "search.rebuild"
    NETWORK_RULE_READ = "network_rule.read"
    NETWORK_RULE_MANAGE = "network_rule.manage"
    STATEMENT_READ = "statement.read"
    TABLE_LOCATION_READ = "table.location.read"
    RECONCILE = "reconcile.run"
    CATALOG_READ_ALL = "catalog.read_all"
    SCOPE_GRANT = "token.scope.grant"
    CONNECTION_UNRESTRICTED = "connection.unrestricted"
    SCIM_READ = "scim.read"
    SCIM_PROVISION = "scim.provision"
    METRICS_READ = "metrics.read"
    SHARE_MANAGE = "share.manage"
    SHARE_RECIPIENT_MANAGE = "share_recipient.manage"
    SHARE_GRANT_REQUEST = "share_grant.request"
    SHARE_GRANT_DECIDE = "share_grant.decide"
    SHARE_GRANT_REVOKE = "share_grant.revoke"
    SHARE_READ = "share.read"


_OWNER: Role = "owner"
_CONTRIBUTOR: Role = "contributor"

RULES: dict[Action, Rule] = {
    Action.DOMAIN_CREATE: Rule(Allow.ADMIN, "create domains"),
    Action.UNIT_CREATE: Rule(Allow.UNIT_OWNER, "create domain units below it"),
    Action.UNIT_UPDATE: Rule(Allow.UNIT_OWNER, "change it"),
    Action.UNIT_DELETE: Rule(Allow.UNIT_OWNER, "delete it"),
    Action.UNIT_OWNERS_MANAGE: Rule(Allow.UNIT_OWNER, "manage its owners"),
    Action.UNIT_POLICY_MANAGE: Rule(Allow.UNIT_OWNER, "manage its policies"),
    Action.UNIT_PROJECTS_READ: Rule(Allow.UNIT_OWNER, "see every project in it"),
    Action.UNIT_POLICY_USE: Rule(Allow.ROLE, "use its unit's authorization policies", _CONTRIBUTOR),
    Action.PROJECT_CREATE: Rule(Allow.PROJECT_CREATOR, "create projects in it"),
    Action.PROJECT_READ: Rule(Allow.ROLE, "see it", "viewer"),
    Action.PROJECT_MEMBERS_MANAGE: Rule(Allow.ROLE, "manage members", _OWNER),
    Action.GROUP_CREATE: Rule(Allow.ADMIN, "create groups"),
    Action.GROUP_DELETE: Rule(Allow.ADMIN, "delete groups"),
    Action.GROUP_MEMBERS_MANAGE: Rule(Allow.ADMIN, "change group members"),
    Action.ASSET_DESCRIBE: Rule(Allow.ROLE, "describe assets", _CONTRIBUTOR),
    Action.TABLE_WRITE: Rule(Allow.ROLE, "change its tables", _CONTRIBUTOR),
    Action.TABLE_VACUUM_FORCE: Rule(Allow.ADMIN, "force a vacuum below the retention minimum"),
    Action.LISTING_PUBLISH: Rule(Allow.ROLE, "publish its assets", _CONTRIBUTOR),
    Action.LISTING_UNPUBLISH: Rule(Allow.ROLE, "unpublish its assets", _CONTRIBUTOR),
    Action.FILTER_MANAGE: Rule(Allow.ROLE, "manage asset filters", _OWNER),
    Action.SUBSCRIPTION_REQUEST: Rule(Allow.ROLE, "request subscriptions", _CONTRIBUTOR),
    Action.SUBSCRIPTION_DECIDE: Rule(
        Allow.ROLE, "decide on this subscription request", _OWNER, known=True
    ),
    Action.GRANT_REVOKE: Rule(Allow.ROLE, "revoke this grant", _OWNER, known=True),
    Action.GRANT_UNSUBSCRIBE: Rule(Allow.ROLE, "unsubscribe from this grant", _OWNER, known=True),
    Action.GRANT_CHANGE_FILTERS: Rule(
        Allow.ROLE, "change the filters of this grant", _OWNER, known=True
    ),
    Action.RULE_CREATE: Rule(Allow.UNIT_OWNER, "create rules in it"),
    Action.RULE_MOVE: Rule(Allow.UNIT_OWNER, "move rules into it"),
    Action.RULE_UPDATE: Rule(Allow.UNIT_OWNER, "change its rules"),
    Action.RULE_DELETE: Rule(Allow.UNIT_OWNER, "delete its rules"),
    Action.WEBHOOK_MANAGE: Rule(Allow.ROLE, "manage its webhooks", _OWNER),
    Action.WEBHOOK_GLOBAL_MANAGE: Rule(Allow.ADMIN, "manage global webhooks"),
    Action.WEBHOOK_PURGE: Rule(Allow.ADMIN, "purge webhook deliveries"),
    Action.ALERT_READ: Rule(Allow.ROLE, "see its alerts", "viewer"),
    Action.ALERT_READ_ALL: Rule(Allow.ADMIN, "see the alerts of every project"),
    Action.ALERT_EVALUATE: Rule(Allow.ADMIN, "evaluate the anomaly alerts"),
    Action.CONNECTION_READ: Rule(Allow.ROLE, "see its connections", _OWNER),
    Action.CONNECTION_MANAGE: Rule(Allow.ROLE, "manage its connections", _OWNER),
    Action.CONNECTION_TEST: Rule(Allow.ROLE, "test its connections", _OWNER),
    Action.SECRET_KEY_ROTATE: Rule(Allow.ADMIN, "rotate the secret key"),
    Action.DATA_SOURCE_READ: Rule(Allow.ROLE, "see its data sources", _OWNER),
    Action.DATA_SOURCE_MANAGE: Rule(Allow.ROLE, "manage its data sources", _OWNER),
    Action.DATA_SOURCE_RUN: Rule(Allow.ROLE, "run its data sources", _OWNER),
    Action.SYNC_JOB_MANAGE: Rule(Allow.ROLE, "manage its sync jobs", _CONTRIBUTOR),
    Action.USER_CREATE: Rule(Allow.ADMIN, "create users"),
    Action.USER_LIST: Rule(Allow.ADMIN, "list users"),
    Action.TOKEN_CREATE: Rule(Allow.ANYONE, "issue tokens", service=False),
    Action.TOKEN_ISSUE_FOR_OTHERS: Rule(Allow.ADMIN, "issue tokens for other users"),
    Action.TOKEN_REVOKE: Rule(Allow.SELF, "revoke this token"),
    Action.SERVICE_PRINCIPAL_MANAGE: Rule(
        Allow.ROLE, "manage its service principals", _OWNER, service=False
    ),
    Action.SESSION_READ: Rule(Allow.SELF, "see this user's sign-in sessions"),
    Action.SESSION_REVOKE: Rule(Allow.SELF, "end this sign-in session"),
    Action.USER_CREDENTIALS_REVOKE: Rule(Allow.SELF, "revoke this user's sessions and tokens"),
    Action.USER_DEACTIVATE: Rule(Allow.ADMIN, "deactivate users"),
    Action.USER_ACTIVATE: Rule(Allow.ADMIN, "reactivate users"),
    Action.PROVIDER_CREDENTIALS_REVOKE: Rule(
        Allow.ADMIN, "revoke the sessions and tokens of an identity provider's users"
    ),
    Action.SECURITY_POLICY_READ: Rule(Allow.ADMIN, "see the security policy"),
    Action.SECURITY_POLICY_MANAGE: Rule(
        Allow.ADMIN, "change the security policy or revoke every credential"
    ),
    Action.AUDIT_READ: Rule(Allow.ADMIN, "read the audit log"),
    Action.SEARCH_REBUILD: Rule(Allow.ADMIN, "rebuild the search index"),
    Action.NETWORK_RULE_READ: Rule(Allow.ADMIN, "see the network allow-list"),
    Action.NETWORK_RULE_MANAGE: Rule(Allow.ADMIN, "change the network allow-list"),
    Action.STATEMENT_READ: Rule(Allow.SELF, "see this statement"),
    Action.TABLE_LOCATION_READ: Rule(Allow.ROLE, "see where its tables are stored", _OWNER),
    Action.RECONCILE: Rule(Allow.ADMIN, "check and repair the catalog and the warehouse"),
    Action.CATALOG_READ_ALL: Rule(Allow.ADMIN, "see every project, group, token and statement"),
    Action.SCOPE_GRANT: Rule(Allow.ADMIN, "grant this scope"),
    Action.CONNECTION_UNRESTRICTED: Rule(
        Allow.ADMIN, "connect to any public address or folder, with any role"
    ),
    Action.SCIM_READ: Rule(
        Allow.SCOPE, "read provisioned users and groups", scope="scim", service=False
    ),
    Action.SCIM_PROVISION: Rule(
        Allow.SCOPE, "provision users and groups", scope="scim", service=False
    ),
    Action.METRICS_READ: Rule(
        Allow.ADMIN_OR_SCOPE, "read the metrics", scope="metrics", service=False
    ),
    Action.SHARE_MANAGE: Rule(Allow.ROLE, "manage its Delta Sharing shares", _OWNER),
    Action.SHARE_RECIPIENT_MANAGE: Rule(
        Allow.ROLE, "manage its sharing recipients and their tokens", _OWNER, service=False
    ),
    Action.SHARE_GRANT_REQUEST: Rule(Allow.ROLE, "request access to its shares", _CONTRIBUTOR),
    Action.SHARE_GRANT_DECIDE: Rule(Allow.ROLE, "decide on access to its shares", _OWNER),
    Action.SHARE_GRANT_REVOKE: Rule(Allow.ROLE, "revoke access to its shares", _OWNER),
    Action.SHARE_READ: Rule(Allow.RECIPIENT, "read this share", service=False),
}
