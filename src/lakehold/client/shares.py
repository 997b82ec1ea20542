"""The SDK's Delta Sharing management (ADR 37): shares and their tables, recipients and their
tokens (a new token comes back once, in its profile file), recipients' grants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment


@dataclass(frozen=True)
class TableFilters:
    """How an approval serves one table of the share (``schema.table``): in full unless a
    row filter or a column filter of its asset is named."""

    table: str
    row_filter: str | None = None
    column_filter: str | None = None


class Shares(Resource):
    """Shares: a project's published tables offered over the Delta Sharing protocol."""

    def create(self, project: str, name: str, *, comment: str | None = None) -> m.ShareView:
        """An empty share of ``project`` (owners), named uniquely on the server."""
        body = m.ShareIn(name=name, project=project, comment=comment)
        return self._post("/api/v1/shares", m.ShareView, json=body)

    def list(self, *, project: str | None = None) -> list[m.ShareView]:
        """The shares of your projects (of ``project``)."""
        params = {"project": project} if project else None
        return self._get("/api/v1/shares", list[m.ShareView], params=params)

    def get(self, share: str) -> m.ShareView:
        return self._get(f"/api/v1/shares/{segment(share)}", m.ShareView)

    def delete(self, share: str) -> None:
        """Delete a share: its grants end."""
        self._delete(f"/api/v1/shares/{segment(share)}")

    def add_table(
        self, share: str, asset: str, *, schema: str | None = None, name: str | None = None
    ) -> m.ShareView:
        """Offer a published lakehouse table of the share's project as ``schema.name``
        (defaults: the project's name, the asset's name)."""
        body = m.ShareTableIn(asset=asset, schema=schema, name=name)
        return self._post(f"/api/v1/shares/{segment(share)}/tables", m.ShareView, json=body)

    def remove_table(self, share: str, table: str) -> m.ShareView:
        """Stop offering ``schema.table``; grants' snapshots of it are removed."""
        path = f"/api/v1/shares/{segment(share)}/tables/{segment(table)}"
        return self._delete(path, m.ShareView)


class ShareRecipients(Resource):
    """Recipients: external organisations a project shares with, and their bearer tokens."""

    def create(
        self,
        project: str,
        name: str,
        organisation: str,
        *,
        comment: str | None = None,
        days: int | None = None,
    ) -> m.IssuedProfile:
        """A recipient of ``project`` (owners) and its first token, in its profile file
        (``.profile``: shown this once)."""
        body = m.RecipientIn(
            project=project, name=name, organisation=organisation, comment=comment, days=days
        )
        return self._post("/api/v1/share-recipients", m.IssuedProfile, json=body)

    def list(self, *, project: str | None = None) -> list[m.RecipientView]:
        params = {"project": project} if project else None
        return self._get("/api/v1/share-recipients", list[m.RecipientView], params=params)

    def get(self, recipient: str) -> m.RecipientView:
        return self._get(f"/api/v1/share-recipients/{segment(recipient)}", m.RecipientView)

    def delete(self, recipient: str) -> None:
        """Delete a recipient: its tokens and grants end."""
        self._delete(f"/api/v1/share-recipients/{segment(recipient)}")

    def issue_token(self, recipient: str, *, days: int | None = None) -> m.IssuedProfile:
        """Another token of the recipient, in its profile file (shown this once)."""
        path = f"/api/v1/share-recipients/{segment(recipient)}/tokens"
        return self._post(path, m.IssuedProfile, json=m.RecipientTokenIn(days=days))

    def revoke_token(self, recipient: str, token_id: str) -> m.RecipientView:
        """Revoke one token: refused from its next request on."""
        path = f"/api/v1/share-recipients/{segment(recipient)}/tokens/{segment(token_id)}"
        return self._delete(path, m.RecipientView)


class ShareGrants(Resource):
    """Recipients' access to shares, decided like subscriptions."""

    def request(self, share: str, recipient: str, reason: str) -> m.ShareGrantView:
        """Ask the project's owners to give ``recipient`` (its id) access to ``share``."""
        body = m.ShareGrantIn(share=share, recipient=recipient, reason=reason)
        return self._post("/api/v1/share-grants", m.ShareGrantView, json=body)

    def list(
        self,
        *,
        share: str | None = None,
        project: str | None = None,
        status: str | None = None,
    ) -> list[m.ShareGrantView]:
        given = {"share": share, "project": project, "status": status}
        params = {k: v for k, v in given.items() if v is not None}
        return self._get("/api/v1/share-grants", list[m.ShareGrantView], params=params)

    def get(self, grant: str) -> m.ShareGrantView:
        return self._get(f"/api/v1/share-grants/{segment(grant)}", m.ShareGrantView)

    def approve(
        self,
        grant: str,
        *,
        tables: Sequence[TableFilters] = (),
        comment: str | None = None,
    ) -> m.ShareGrantView:
        """Approve (owners): the tables named in ``tables`` through their filters (a
        snapshot of the grant's own), every other table in full."""
        body = m.ShareApproveIn(
            tables=[
                m.ShareTableDecisionIn(
                    table=t.table, row_filter=t.row_filter, column_filter=t.column_filter
                )
                for t in tables
            ],
            comment=comment,
        )
        path = f"/api/v1/share-grants/{segment(grant)}/approve"
        return self._post(path, m.ShareGrantView, json=body)

    def reject(self, grant: str, *, comment: str | None = None) -> m.ShareGrantView:
        path = f"/api/v1/share-grants/{segment(grant)}/reject"
        return self._post(path, m.ShareGrantView, json=m.ShareRejectIn(comment=comment))

    def revoke(self, grant: str) -> m.ShareGrantView:
        """End an approved grant: reads and file URLs are refused from now on."""
        return self._post(f"/api/v1/share-grants/{segment(grant)}/revoke", m.ShareGrantView)
