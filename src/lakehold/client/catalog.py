"""The SDK's catalog endpoints."""

from __future__ import annotations

import builtins
from typing import Any, Literal

from msgspec import UNSET, UnsetType

from lakehold.client import models as m
from lakehold.client.resource import Resource, asset_path, segment
from lakehold.errors import Invalid, NotFound

Role = Literal["owner", "contributor", "viewer"]
Capability = Literal["create_form", "create_glossary", "create_glossary_term"]
RuleAction = Literal["publish", "subscription_request"]
SearchScope = Literal["listings", "inventory", "all"]


def _owner_path(user: str | None, group: str | None) -> str:
    """``users/<user>`` or ``groups/<group>``: the path of one user or group below a
    resource."""
    if (user is None) == (group is None):
        raise Invalid("name exactly one of a user or a group", field="user")
    return f"users/{segment(user)}" if user is not None else f"groups/{segment(group or '')}"


class Domains(Resource):
    """Domains: the top of the catalog."""

    def create(self, name: str, description: str | None = None) -> m.DomainView:
        """Create a domain (administrators)."""
        body = m.DomainIn(name=name, description=description)
        return self._post("/api/v1/domains", m.DomainView, json=body)

    def list(self) -> list[m.DomainView]:
        return self._get("/api/v1/domains", list[m.DomainView])


class Units(Resource):
    """Domain units: a hierarchy under each domain, with owners. A unit is named by its id or
    its full path (``Sales/Marketing``)."""

    def unit_id(self, unit: str) -> str:
        """The id of ``unit`` (an id or a full path). A path is looked up in its domain's tree:
        a ``/`` cannot travel inside one URL segment."""
        ref = unit.strip().strip("/")
        if "/" not in ref:
            return ref
        domains = [d.name for d in self._get("/api/v1/domains", list[m.DomainView])]
        for domain in sorted(domains, key=len, reverse=True):
            if ref.startswith(domain + "/"):
                for found in self.list(domain):
                    if found.path == ref:
                        return found.id
        raise NotFound(f"domain unit '{ref}' not found", field="unit")

    def _path(self, unit: str) -> str:
        return f"/api/v1/domain-units/{segment(self.unit_id(unit))}"

    def create(
        self,
        domain: str,
        name: str,
        *,
        parent: str | None = None,
        description: str | None = None,
    ) -> m.DomainUnitView:
        """Create a unit below ``parent`` (default: the domain's root unit); administrators
        and owners of the parent or an ancestor."""
        body = m.DomainUnitIn(domain=domain, name=name, parent=parent, description=description)
        return self._post("/api/v1/domain-units", m.DomainUnitView, json=body)

    def list(self, domain: str) -> list[m.DomainUnitView]:
        """A domain's unit tree, depth first (root first, siblings by name)."""
        return self._get("/api/v1/domain-units", list[m.DomainUnitView], params={"domain": domain})

    def get(self, unit: str) -> m.DomainUnitView:
        """One unit, with its owners."""
        return self._get(self._path(unit), m.DomainUnitView)

    def update(
        self, unit: str, *, name: str | None = None, description: str | None = None
    ) -> m.DomainUnitView:
        """Rename a unit or change its description (``""`` clears it; ``None``: unchanged);
        owners of the unit or an ancestor."""
        body = m.DomainUnitChange(name=name, description=description)
        return self._patch(self._path(unit), m.DomainUnitView, json=body)

    def delete(self, unit: str) -> None:
        """Delete an empty unit; ``Conflict`` names what is still in it."""
        self._delete(self._path(unit))

    def projects(self, unit: str) -> builtins.list[m.ProjectView]:
        """The unit's projects you may see (its owners see all)."""
        return self._get(f"{self._path(unit)}/projects", list[m.ProjectView])

    def add_owner(
        self, unit: str, *, user: str | None = None, group: str | None = None
    ) -> m.DomainUnitView:
        """Make a user or a group an owner of a unit (owners of the unit or an ancestor)."""
        body = m.OwnerIn(user=user, group=group)
        return self._post(f"{self._path(unit)}/owners", m.DomainUnitView, json=body)

    def remove_owner(self, unit: str, *, user: str | None = None, group: str | None = None) -> None:
        """Remove an owner (a user or a group) from a unit."""
        owner = _owner_path(user, group)
        self._delete(f"{self._path(unit)}/owners/{owner}")


class UnitPolicies(Resource):
    """Authorization policies: a capability of a unit delegated to a project's contributors."""

    def _path(self, unit: str) -> str:
        return f"/api/v1/domain-units/{segment(Units(self._session).unit_id(unit))}/policies"

    def grant(
        self, unit: str, capability: Capability, project: str, *, include_children: bool = False
    ) -> m.UnitPolicyView:
        """Let contributors and owners of ``project`` use ``capability`` in ``unit`` (and the
        units below it with ``include_children``); unit owners."""
        body = m.PolicyIn(capability=capability, project=project, include_children=include_children)
        return self._post(self._path(unit), m.UnitPolicyView, json=body)

    def list(self, unit: str) -> list[m.UnitPolicyView]:
        """A unit's policies (a project you may not see: ``project:hidden:<id>``)."""
        return self._get(self._path(unit), list[m.UnitPolicyView])

    def revoke(self, unit: str, policy_id: str) -> None:
        """Remove a policy (unit owners)."""
        self._delete(f"{self._path(unit)}/{segment(policy_id)}")


class Groups(Resource):
    """Groups of users (administrators manage them)."""

    def create(self, name: str, description: str | None = None) -> m.GroupView:
        """Create a group (administrators)."""
        return self._post("/api/v1/groups", m.GroupView, json=m.GroupIn(name, description))

    def list(self) -> list[m.GroupView]:
        """Every group (administrators); otherwise the groups you belong to."""
        return self._get("/api/v1/groups", list[m.GroupView])

    def get(self, group: str) -> m.GroupView:
        """One group with its members (administrators and members)."""
        return self._get(f"/api/v1/groups/{segment(group)}", m.GroupView)

    def delete(self, group: str) -> None:
        """Delete a group (administrators); ``Conflict`` if a project would lose its last
        owner."""
        self._delete(f"/api/v1/groups/{segment(group)}")

    def add_member(self, group: str, user: str) -> m.GroupView:
        """Add a user to a group (administrators); effective at once."""
        return self._post(
            f"/api/v1/groups/{segment(group)}/members", m.GroupView, json=m.GroupMemberIn(user)
        )

    def remove_member(self, group: str, user: str) -> None:
        """Remove a user from a group (administrators); effective at once."""
        self._delete(f"/api/v1/groups/{segment(group)}/members/{segment(user)}")


class Projects(Resource):
    """Projects: own tables, addressed as project.table."""

    def create(
        self,
        name: str,
        domain: str,
        description: str | None = None,
        *,
        domain_unit: str | None = None,
    ) -> m.ProjectView:
        """Create a project in a domain (and domain unit); you become its owner."""
        body = m.ProjectIn(
            name=name, domain=domain, description=description, domain_unit=domain_unit
        )
        return self._post("/api/v1/projects", m.ProjectView, json=body)

    def list(self) -> list[m.ProjectView]:
        """The projects you may see."""
        return self._get("/api/v1/projects", list[m.ProjectView])

    def get(self, project: str) -> m.ProjectView:
        return self._get(f"/api/v1/projects/{segment(project)}", m.ProjectView)


class Members(Resource):
    """Project members: users and groups with a role (owner, contributor, viewer)."""

    @staticmethod
    def _path(project: str) -> str:
        return f"/api/v1/projects/{segment(project)}/members"

    def list(self, project: str) -> list[m.MemberView]:
        """The project's members, owners first (any member)."""
        return self._get(self._path(project), list[m.MemberView])

    def add(
        self, project: str, role: Role, *, user: str | None = None, group: str | None = None
    ) -> m.MemberView:
        """Add a user or a group with a role (project owners)."""
        body = m.MemberIn(role=role, user=user, group=group)
        return self._post(self._path(project), m.MemberView, json=body)

    def update(
        self, project: str, role: Role, *, user: str | None = None, group: str | None = None
    ) -> m.MemberView:
        """Change a member's role (project owners); ``Conflict`` for the last owner."""
        path = f"{self._path(project)}/{_owner_path(user, group)}"
        return self._put(path, m.MemberView, json=m.RoleIn(role=role))

    def remove(self, project: str, *, user: str | None = None, group: str | None = None) -> None:
        """Remove a member (project owners); ``Conflict`` for the last owner."""
        self._delete(f"{self._path(project)}/{_owner_path(user, group)}")


class Assets(Resource):
    """Assets of a project's inventory, and their business metadata (glossary terms on
    assets and columns, column tags)."""

    def list(self, project: str) -> list[m.AssetView]:
        """The assets of a project."""
        return self._get(f"/api/v1/projects/{segment(project)}/assets", list[m.AssetView])

    def get(self, project: str, asset: str) -> m.AssetView:
        """One asset with its columns, row count, size and current version."""
        return self._get(asset_path(project, asset), m.AssetView)

    def update(
        self,
        project: str,
        asset: str,
        *,
        description: str | None = None,
        tags: builtins.list[str] | None = None,
        column_descriptions: dict[str, str] | None = None,
    ) -> m.AssetView:
        """Change the description, tags or column descriptions (project owners); ``None``:
        unchanged."""
        body = m.AssetPatch(
            description=description, tags=tags, column_descriptions=column_descriptions
        )
        return self._patch(asset_path(project, asset), m.AssetView, json=body)

    def metadata(self, project: str, asset: str) -> m.AssetMetadataView:
        """Glossary terms on the asset, and tags and terms on its columns."""
        return self._get(f"{asset_path(project, asset)}/metadata", m.AssetMetadataView)

    def set_terms(self, project: str, asset: str, terms: builtins.list[str]) -> m.AssetMetadataView:
        """Replace the glossary terms on the asset (term ids or ``Glossary/Term`` names)."""
        path = f"{asset_path(project, asset)}/terms"
        return self._put(path, m.AssetMetadataView, json=m.TermsIn(terms=terms))

    def set_column_terms(
        self, project: str, asset: str, column: str, terms: builtins.list[str]
    ) -> m.AssetMetadataView:
        """Replace the glossary terms on a column."""
        path = f"{asset_path(project, asset)}/columns/{segment(column)}/terms"
        return self._put(path, m.AssetMetadataView, json=m.TermsIn(terms=terms))

    def set_column_tags(
        self, project: str, asset: str, column: str, tags: builtins.list[str]
    ) -> m.AssetMetadataView:
        """Replace the classification tags of a column."""
        path = f"{asset_path(project, asset)}/columns/{segment(column)}/tags"
        return self._put(path, m.AssetMetadataView, json=m.TagsIn(tags=tags))


class Glossaries(Resource):
    """Business glossaries of a domain and their terms. A glossary is named by its id (or its
    name, if unique); a term by its id or name."""

    @staticmethod
    def _path(glossary: str) -> str:
        return f"/api/v1/glossaries/{segment(glossary)}"

    def create(
        self,
        domain: str,
        name: str,
        *,
        unit: str | None = None,
        description: str | None = None,
    ) -> m.GlossaryView:
        """Create a glossary owned by ``unit`` (default: the root unit); unit owners, or
        members of a project with ``create_glossary`` on it."""
        body = m.GlossaryIn(domain=domain, name=name, unit=unit, description=description)
        return self._post("/api/v1/glossaries", m.GlossaryView, json=body)

    def list(self, domain: str) -> list[m.GlossaryView]:
        """A domain's glossaries with their terms."""
        return self._get("/api/v1/glossaries", list[m.GlossaryView], params={"domain": domain})

    def get(self, glossary: str) -> m.GlossaryView:
        """One glossary with its terms."""
        return self._get(self._path(glossary), m.GlossaryView)

    def update(
        self, glossary: str, *, name: str | None = None, description: str | None = None
    ) -> m.GlossaryView:
        """Rename a glossary or change its description (``""`` clears it)."""
        body = m.Change(name=name, description=description)
        return self._patch(self._path(glossary), m.GlossaryView, json=body)

    def delete(self, glossary: str, *, force: bool = False) -> None:
        """Delete a glossary; ``Conflict`` while it has terms (unless ``force``) or forms use
        it."""
        self._delete(self._path(glossary), params={"force": force})

    def create_term(
        self, glossary: str, name: str, *, description: str | None = None
    ) -> m.GlossaryTermView:
        """Add a term (unit owners, or members of a project with ``create_glossary_term``)."""
        body = m.TermIn(name=name, description=description)
        return self._post(f"{self._path(glossary)}/terms", m.GlossaryTermView, json=body)

    def terms(self, glossary: str) -> builtins.list[m.GlossaryTermView]:
        """A glossary's terms by name."""
        return self._get(f"{self._path(glossary)}/terms", list[m.GlossaryTermView])

    def update_term(
        self,
        glossary: str,
        term: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> m.GlossaryTermView:
        """Rename a term or change its description; assets with it are reindexed."""
        body = m.Change(name=name, description=description)
        path = f"{self._path(glossary)}/terms/{segment(term)}"
        return self._patch(path, m.GlossaryTermView, json=body)

    def delete_term(self, glossary: str, term: str) -> None:
        """Delete a term and its links to assets and columns (listings keep their snapshot)."""
        self._delete(f"{self._path(glossary)}/terms/{segment(term)}")


class Forms(Resource):
    """Metadata forms (versioned, typed fields) and their values on assets."""

    @staticmethod
    def _path(form: str) -> str:
        return f"/api/v1/metadata-forms/{segment(form)}"

    def create(
        self,
        domain: str,
        name: str,
        fields: list[m.FieldIn],
        *,
        unit: str | None = None,
        description: str | None = None,
    ) -> m.FormView:
        """Create a form, version 1, owned by ``unit`` (default: the root unit); unit owners,
        or members of a project with ``create_form`` on it."""
        body = m.FormIn(domain=domain, name=name, fields=fields, unit=unit, description=description)
        return self._post("/api/v1/metadata-forms", m.FormView, json=body)

    def list(self, domain: str) -> list[m.FormView]:
        """A domain's forms at their current versions."""
        return self._get("/api/v1/metadata-forms", list[m.FormView], params={"domain": domain})

    def get(
        self, form: str, *, domain: str | None = None, version: int | None = None
    ) -> m.FormView:
        """One form (by id, or by name with ``domain``) at a version (default: current)."""
        params = {"domain": domain, "version": version}
        return self._get(self._path(form), m.FormView, params=params)

    def update(
        self, form: str, fields: builtins.list[m.FieldIn], *, description: str | None = None
    ) -> m.FormView:
        """Replace the form's fields, creating its next version."""
        body = m.FormChange(fields=fields, description=description)
        return self._put(self._path(form), m.FormView, json=body)

    def delete(self, form: str, *, domain: str | None = None) -> None:
        """Delete a form with its versions; ``Conflict`` names the rules requiring it and the
        assets holding values of it."""
        self._delete(self._path(form), params={"domain": domain})

    def values(self, project: str, asset: str) -> builtins.list[m.FormValuesView]:
        """The forms filled in on an asset."""
        return self._get(f"{asset_path(project, asset)}/forms", list[m.FormValuesView])

    def get_values(self, project: str, asset: str, form: str) -> m.FormValuesView:
        """One form's values on an asset."""
        return self._get(f"{asset_path(project, asset)}/forms/{segment(form)}", m.FormValuesView)

    def set_values(
        self, project: str, asset: str, form: str, values: dict[str, Any]
    ) -> m.FormValuesView:
        """Set a form's values on an asset (replacing them); ``Invalid`` lists every
        problem."""
        path = f"{asset_path(project, asset)}/forms/{segment(form)}"
        return self._put(path, m.FormValuesView, json=m.ValuesIn(values=values))

    def remove_values(self, project: str, asset: str, form: str) -> None:
        """Remove a form's values from an asset."""
        self._delete(f"{asset_path(project, asset)}/forms/{segment(form)}")


class Search(Resource):
    """Search over active listings and your projects' assets, with facet counts."""

    def find(
        self,
        q: str = "",
        *,
        project: list[str] | None = None,
        domain_unit: list[str] | None = None,
        asset_type: list[str] | None = None,
        tag: list[str] | None = None,
        glossary_term: list[str] | None = None,
        scope: SearchScope = "all",
        limit: int = 20,
        offset: int = 0,
    ) -> m.SearchResults:
        """Matches of ``q`` (words, "quoted phrases", prefixes ``cust*``; blank browses),
        best first. Filters: any of the projects, domain units (with sub-units) and asset
        types; every one of the tags and glossary terms."""
        params = {
            "q": q,
            "project": project,
            "domain_unit": domain_unit,
            "asset_type": asset_type,
            "tag": tag,
            "glossary_term": glossary_term,
            "scope": scope,
            "limit": limit,
            "offset": offset,
        }
        return self._get("/api/v1/catalog/search", m.SearchResults, params=params)

    def reindex(self) -> int:
        """Rebuild the search index (administrators); the number of documents indexed."""
        return self._post("/api/v1/catalog/search/reindex", m.ReindexOut).documents


class Rules(Resource):
    """Metadata rules: what an asset needs before it is published or subscribed to."""

    def create(
        self,
        unit: str,
        name: str,
        form: str,
        *,
        action: RuleAction = "publish",
        include_children: bool = True,
        asset_types: list[str] | None = None,
        projects: list[str] | None = None,
        description: str | None = None,
    ) -> m.RuleView:
        """Require ``form`` for ``action`` on assets of ``unit`` (and below it with
        ``include_children``), of these asset types and projects (``None``: all); unit
        owners."""
        body = m.RuleIn(
            unit=unit,
            name=name,
            action=action,
            form=form,
            include_children=include_children,
            asset_types=asset_types,
            projects=projects,
            description=description,
        )
        return self._post("/api/v1/metadata-rules", m.RuleView, json=body)

    def list(
        self, *, unit: str | None = None, action: RuleAction | None = None
    ) -> list[m.RuleView]:
        """Rules, oldest first (a project you may not see: ``project:hidden:<id>``)."""
        params = {"unit": unit, "action": action}
        return self._get("/api/v1/metadata-rules", list[m.RuleView], params=params)

    def get(self, rule_id: str) -> m.RuleView:
        """One rule with the fields its form requires."""
        return self._get(f"/api/v1/metadata-rules/{segment(rule_id)}", m.RuleView)

    def update(
        self,
        rule_id: str,
        *,
        name: str | UnsetType = UNSET,
        unit: str | UnsetType = UNSET,
        form: str | UnsetType = UNSET,
        include_children: bool | UnsetType = UNSET,
        asset_types: builtins.list[str] | UnsetType | None = UNSET,
        projects: builtins.list[str] | UnsetType | None = UNSET,
        description: str | UnsetType | None = UNSET,
    ) -> m.RuleView:
        """Change a rule (owners of its unit): only the arguments given change;
        ``asset_types=None`` or ``projects=None`` mean all."""
        body = m.RuleChange(
            name=name,
            unit=unit,
            form=form,
            include_children=include_children,
            asset_types=asset_types,
            projects=projects,
            description=description,
        )
        return self._patch(f"/api/v1/metadata-rules/{segment(rule_id)}", m.RuleView, json=body)

    def delete(self, rule_id: str) -> None:
        """Delete a rule (owners of its unit)."""
        self._delete(f"/api/v1/metadata-rules/{segment(rule_id)}")
