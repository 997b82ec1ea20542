"""Metadata enforcement rules: an action needs a metadata form filled in.

- A rule has an action (``publish`` or ``subscription_request``), a form of the domain to
  require, and a scope: a domain unit (by default with the units below it), asset types
  (all, or a list) and projects (all, or a list of projects in the scope's units). Owners of
  the unit (and administrators) create, change and delete rules; every user reads them.
- The rules that apply to an asset are those whose scope holds the asset's project (its unit),
  type and project. Several may apply; all must be satisfied.
- Publishing: the asset's values of each required form are checked against the form's
  current version; every missing or invalid required field of every rule is named at once.
- Subscription requests: the rules in scope of each requested asset (its owning project's
  unit) require form values given with the request as ``{"<form>": {"<field>": value}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.forms import asset_forms, check_values, describe, find_form, form_fields
from lakehold.catalog.project_names import find_named_or_hidden, project_names
from lakehold.catalog.reconcile import LAKEHOUSE_TABLE
from lakehold.catalog.units import resolve_unit, unit_path
from lakehold.errors import Invalid, NotFound
from lakehold.kernel import Action, Command, governed, roles
from lakehold.security.principal import Principal
from lakehold.sources.importer import FEDERATED_TABLE
from lakehold.store.db import Store
from lakehold.store.models import (
    ACTIVE,
    Asset,
    DomainUnit,
    Listing,
    MetadataForm,
    MetadataRule,
    Project,
    User,
)

RuleAction = Literal["publish", "subscription_request"]
ACTIONS: tuple[RuleAction, ...] = ("publish", "subscription_request")
ASSET_TYPES = (FEDERATED_TABLE, LAKEHOUSE_TABLE)
"""The types of catalog assets a rule may be restricted to."""


@dataclass(frozen=True)
class RuleView:
    id: str
    name: str
    description: str | None
    action: str
    form: str
    form_id: str
    unit: str
    """The scope's unit path."""
    unit_id: str
    include_children: bool
    asset_types: list[str] | None
    """None: every asset type."""
    projects: list[str] | None
    """None: every project in scope."""
    created_by: str
    created_at: datetime
    required_fields: list[str] = field(default_factory=list)


def _view(session: Session, principal: Principal, rule: MetadataRule) -> RuleView:
    """``rule`` as ``principal`` sees it: projects it may not see as placeholders."""
    unit = session.get(DomainUnit, rule.unit_id)
    form = session.get(MetadataForm, rule.form_id)
    creator = session.get(User, rule.created_by)
    assert unit is not None and form is not None
    projects = None
    if rule.project_ids is not None:
        found = [p for p in (session.get(Project, i) for i in rule.project_ids) if p is not None]
        projects = sorted(project_names(session, principal, found).values())
    return RuleView(
        id=rule.id,
        name=rule.name,
        description=rule.description,
        action=rule.action,
        form=form.name,
        form_id=form.id,
        unit=unit_path(session, unit),
        unit_id=unit.id,
        include_children=rule.include_children,
        asset_types=list(rule.asset_types) if rule.asset_types is not None else None,
        projects=projects,
        created_by=creator.username if creator else "",
        created_at=rule.created_at,
        required_fields=[f["name"] for f in form_fields(session, form) if f.get("required")],
    )


def in_scope(session: Session, rule: MetadataRule, asset: Asset) -> bool:
    """True when ``rule`` applies to ``asset`` (its project's unit, its type, its project)."""
    project = asset.project
    if project.domain_unit_id is None:
        return False
    if rule.asset_types is not None and asset.asset_type not in rule.asset_types:
        return False
    if rule.project_ids is not None and project.id not in rule.project_ids:
        return False
    if project.domain_unit_id == rule.unit_id:
        return True
    if not rule.include_children:
        return False
    unit = session.get(DomainUnit, project.domain_unit_id)
    return unit is not None and rule.unit_id in {u.id for u in roles.unit_lineage(session, unit)}


def applicable(session: Session, action: RuleAction, asset: Asset) -> list[MetadataRule]:
    """The rules of ``action`` that apply to ``asset``, oldest first."""
    unit = session.get(DomainUnit, asset.project.domain_unit_id or "")
    if unit is None:
        return []
    lineage = [u.id for u in roles.unit_lineage(session, unit)]
    candidates = session.scalars(
        select(MetadataRule)
        .where(MetadataRule.action == action, MetadataRule.unit_id.in_(lineage))
        .order_by(MetadataRule.created_at, MetadataRule.id)
    )
    return [rule for rule in candidates if in_scope(session, rule, asset)]


def listed_asset(session: Session, listing_id: str) -> Asset:
    """The asset of an active listing; NotFound (on ``listings``) otherwise."""
    listing = session.get(Listing, listing_id)
    if listing is None or listing.status != ACTIVE:
        raise NotFound(f"listing '{listing_id}' not found", field="listings")
    asset = session.get(Asset, listing.asset_id)
    assert asset is not None
    return asset


def _forms_of(
    session: Session, rules: list[MetadataRule]
) -> dict[str, tuple[MetadataForm, list[str]]]:
    """The required forms (by id) with the names of the rules requiring each."""
    forms: dict[str, tuple[MetadataForm, list[str]]] = {}
    for rule in rules:
        form = session.get(MetadataForm, rule.form_id)
        assert form is not None
        forms.setdefault(form.id, (form, []))[1].append(rule.name)
    return forms


def _refuse(message: str, problems: list[dict[str, Any]]) -> Invalid:
    error = Invalid(message, field=problems[0]["field"], problems=problems)
    return error


def check_publish(session: Session, asset: Asset) -> None:
    """Invalid naming every missing or invalid required field of every publish rule in scope."""
    forms = _forms_of(session, applicable(session, "publish", asset))
    if not forms:
        return
    stored = {form.id: value for form, value in asset_forms(session, asset.id)}
    problems: list[dict[str, Any]] = []
    summaries = []
    for form, rule_names in forms.values():
        fields = form_fields(session, form)
        given = stored.get(form.id)
        _, found = check_values(session, form.name, fields, given.values if given else {})
        for problem in found:
            problems.append({**problem, "form": form.name, "rules": rule_names})
        if found:
            summaries.append(f"metadata form '{form.name}' ({describe(found)})")
    if problems:
        raise _refuse(
            f"cannot publish {asset.project.name}.{asset.name}: rules of its domain unit "
            f"require {', '.join(summaries)}",
            problems,
        )


def _subscription_rules(session: Session, assets: list[Asset]) -> list[MetadataRule]:
    """The subscription-request rules in scope of any of ``assets``, each once."""
    rules: list[MetadataRule] = []
    for asset in assets:
        rules.extend(
            r for r in applicable(session, "subscription_request", asset) if r not in rules
        )
    return rules


@dataclass(frozen=True)
class RequiredForm:
    """A metadata form a subscription request must carry values of, and the rules that say so."""

    form_id: str
    form: str
    rules: list[str]


def check_subscription(
    session: Session, assets: list[Asset], form_values: dict[str, Any] | None
) -> dict[str, Any]:
    """The request's form values, with each form required by a rule in scope of the requested
    assets checked (and normalised); Invalid naming every missing or invalid field."""
    given = dict(form_values or {})
    forms = _forms_of(session, _subscription_rules(session, assets))
    problems: list[dict[str, Any]] = []
    summaries = []
    for form, rule_names in forms.values():
        cleaned, found = check_values(
            session, form.name, form_fields(session, form), given.get(form.name)
        )
        for problem in found:
            problems.append({**problem, "form": form.name, "rules": rule_names})
        if found:
            summaries.append(f"metadata form '{form.name}' ({describe(found)})")
        else:
            given[form.name] = cleaned
    if problems:
        raise _refuse(
            "this subscription request needs " + ", ".join(summaries) + " in its form values",
            problems,
        )
    return given


class Keep(Enum):
    """The value of an argument of :meth:`RuleService.update_rule` that is left unchanged."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise Invalid("a rule needs a name of 1 to 100 characters", field="name")
    return name.strip()


def _check_types(asset_types: list[str] | None) -> list[str] | None:
    if asset_types is None:
        return None
    types = sorted({t.strip() for t in asset_types if isinstance(t, str) and t.strip()})
    if not types:
        raise Invalid(
            "asset types are a non-empty list (leave them out for all types)", field="asset_types"
        )
    unknown = [t for t in types if t not in ASSET_TYPES]
    if unknown:
        # a rule naming no real type would match no asset and silently enforce nothing
        raise Invalid(
            f"unknown asset type{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(t) for t in unknown)}: the asset types are "
            f"{', '.join(ASSET_TYPES)}",
            field="asset_types",
            valid=list(ASSET_TYPES),
        )
    return types


def _within(session: Session, unit: DomainUnit, project: Project, children: bool) -> bool:
    if project.domain_unit_id == unit.id:
        return True
    if not children or project.domain_unit_id is None:
        return False
    below = session.get(DomainUnit, project.domain_unit_id)
    return below is not None and unit.id in {u.id for u in roles.unit_lineage(session, below)}


def _check_projects(
    session: Session, unit: DomainUnit, children: bool, projects: list[str] | None
) -> list[str] | None:
    """The ids of ``projects`` (names, or placeholders read from a rule), each in the scope of
    ``unit`` (and its children)."""
    if projects is None:
        return None
    project_ids = []
    for i, project_name in enumerate(dict.fromkeys(projects)):
        try:
            target = find_named_or_hidden(session, project_name, unit.domain_id)
        except NotFound as error:
            raise NotFound(error.message, field=f"projects[{i}]") from None
        if not _within(session, unit, target, children):
            raise Invalid(
                f"project '{project_name}' is not in the rule's scope "
                f"(domain unit '{unit_path(session, unit)}')",
                field=f"projects[{i}]",
            )
        project_ids.append(target.id)
    if not project_ids:
        raise Invalid(
            "projects are a non-empty list (leave them out for all projects)", field="projects"
        )
    return project_ids


def _owned_unit(command: Command, unit: str, action: Action) -> DomainUnit:
    found = resolve_unit(command.session, unit, field="unit")
    command.authorize(action, found)
    return found


class RuleService:
    """Create, list, read, update and delete metadata enforcement rules."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create_rule(
        self,
        principal: Principal,
        unit: str,
        name: str,
        action: str,
        form: str,
        *,
        include_children: bool = True,
        asset_types: list[str] | None = None,
        projects: list[str] | None = None,
        description: str | None = None,
    ) -> RuleView:
        """Create a rule on ``unit`` (owners of the unit or an ancestor)."""
        details = {"unit": unit, "rule": name, "action": action, "form": form}
        with governed(self.store, principal, "metadata_rule.create", details=details) as command:
            session = command.session
            found = _owned_unit(command, unit, Action.RULE_CREATE)
            name = _check_name(name)
            if action not in ACTIONS:
                raise Invalid(
                    f"action '{action}' is not one of {', '.join(ACTIONS)}", field="action"
                )
            rule = MetadataRule(
                unit_id=found.id,
                name=name,
                description=description,
                action=action,
                form_id=find_form(session, form, domain_id=found.domain_id).id,
                include_children=bool(include_children),
                asset_types=_check_types(asset_types),
                project_ids=_check_projects(session, found, bool(include_children), projects),
                created_by=principal.user_id,
            )
            session.add(rule)
            session.flush()
            view = _view(session, principal, rule)
            command.details.update(unit=view.unit, id=rule.id)
            return view

    def update_rule(
        self,
        principal: Principal,
        rule_id: str,
        *,
        name: str | Keep = KEEP,
        unit: str | Keep = KEEP,
        form: str | Keep = KEEP,
        include_children: bool | Keep = KEEP,
        asset_types: list[str] | Keep | None = KEEP,
        projects: list[str] | Keep | None = KEEP,
        description: str | Keep | None = KEEP,
    ) -> RuleView:
        """Change a rule (owners of its unit, and of the new unit when it moves), checked as on
        creation; ``None`` asset types or projects mean all. Its action stays."""
        details = {"rule": rule_id}
        with governed(self.store, principal, "metadata_rule.update", details=details) as command:
            session = command.session
            rule = self._find(session, rule_id)
            old_unit = session.get(DomainUnit, rule.unit_id)
            assert old_unit is not None
            command.authorize(Action.RULE_UPDATE, old_unit)
            scope = old_unit
            if unit is not KEEP:
                scope = _owned_unit(command, unit, Action.RULE_MOVE)
                if scope.domain_id != old_unit.domain_id:
                    raise Invalid("a rule stays in the domain of its form", field="unit")
            children = rule.include_children if include_children is KEEP else bool(include_children)
            if projects is KEEP:
                kept = (session.get(Project, i) for i in rule.project_ids or [])
                names = [p.name for p in kept if p is not None]
                projects = names if rule.project_ids is not None else None
            rule.project_ids = _check_projects(session, scope, children, projects)
            rule.unit_id, rule.include_children = scope.id, children
            if name is not KEEP:
                rule.name = _check_name(name)
            if form is not KEEP:
                rule.form_id = find_form(session, form, domain_id=scope.domain_id).id
            if asset_types is not KEEP:
                rule.asset_types = _check_types(asset_types)
            if description is not KEEP:
                rule.description = description or None
            session.flush()
            view = _view(session, principal, rule)
            command.details.update(name=view.name, unit=view.unit, form=view.form)
            return view

    @staticmethod
    def _find(session: Session, rule_id: str) -> MetadataRule:
        rule = session.get(MetadataRule, rule_id)
        if rule is None:
            raise NotFound(f"rule '{rule_id}' not found", field="rule")
        return rule

    def list_rules(
        self,
        principal: Principal,
        *,
        unit: str | None = None,
        action: str | None = None,
    ) -> list[RuleView]:
        """Rules, of one unit (by id or path) and/or one action (any user; projects the
        reader may not see appear as ``project:hidden:<id>``)."""
        query = select(MetadataRule).order_by(MetadataRule.created_at, MetadataRule.id)
        if action is not None:
            query = query.where(MetadataRule.action == action)
        with self.store.session() as session:
            if unit is not None:
                query = query.where(
                    MetadataRule.unit_id == resolve_unit(session, unit, field="unit").id
                )
            return [_view(session, principal, rule) for rule in session.scalars(query)]

    def subscription_forms(self, principal: Principal, listings: list[str]) -> list[RequiredForm]:
        """The forms a subscription request for these active listings must fill in, as
        :func:`check_subscription` will require them (any user, as listings are)."""
        with self.store.session() as session:
            assets = [listed_asset(session, listing_id) for listing_id in dict.fromkeys(listings)]
            forms = _forms_of(session, _subscription_rules(session, assets))
            return [RequiredForm(f.id, f.name, names) for f, names in forms.values()]

    def get_rule(self, principal: Principal, rule_id: str) -> RuleView:
        with self.store.session() as session:
            return _view(session, principal, self._find(session, rule_id))

    def delete_rule(self, principal: Principal, rule_id: str) -> None:
        """Delete a rule (owners of its unit)."""
        details = {"rule": rule_id}
        with governed(self.store, principal, "metadata_rule.delete", details=details) as command:
            session = command.session
            rule = self._find(session, rule_id)
            unit = session.get(DomainUnit, rule.unit_id)
            assert unit is not None
            command.authorize(Action.RULE_DELETE, unit)
            session.delete(rule)
            command.details.update(name=rule.name, unit=unit_path(session, unit))
