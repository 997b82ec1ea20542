"""The governance kernel: the one place where Lakehold decides and audits.

- :mod:`~lakehold.kernel.actions`: every action, with who may take it (:data:`RULES`);
- :mod:`~lakehold.kernel.authorize`: :func:`authorize` and :func:`allowed`, the decision point;
- :mod:`~lakehold.kernel.governed`: :func:`governed`, the runner of a governed command
  (transaction, authorize, act, audit allowed and denied);
- :mod:`~lakehold.kernel.audit`: the append-only audit log;
- :mod:`~lakehold.kernel.roles`: the facts decisions read (project roles, unit ownership).

It sits below the services (catalog, governance, lineage, sources) and above the store and
security primitives; services import it, it imports no service.
"""

from lakehold.kernel.actions import RULES, Action, Allow, Rule
from lakehold.kernel.authorize import allowed, authorize
from lakehold.kernel.governed import Command, governed

__all__ = ["RULES", "Action", "Allow", "Command", "Rule", "allowed", "authorize", "governed"]
