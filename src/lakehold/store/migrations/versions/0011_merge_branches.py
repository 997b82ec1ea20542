"""merge the decision constraints and table intents branches

Revision ID: 0011
Revises: 0010_decision_constraints, 0010_table_intents
Create Date: 2026-12-06
"""

revision = "0011"
down_revision = ("0010_decision_constraints", "0010_table_intents")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
