"""The database: tables, migrations, and the registry of rule versions."""

from shadowbot.storage.database import (
    create_db_engine,
    current_revision,
    ensure_current,
    head_revision,
    migrate,
    migrated,
    register_rules,
)
from shadowbot.storage.models import (
    AuditEventRow,
    DeliveryRow,
    LedgerEntryRow,
    NoteRow,
    OutcomeRow,
    PullRequestRow,
    ReactionRow,
    RepositoryRow,
    RevisionRow,
    RuleRow,
    UTCDateTime,
    VerdictRow,
    utcnow,
)

__all__ = [
    "AuditEventRow",
    "DeliveryRow",
    "LedgerEntryRow",
    "NoteRow",
    "OutcomeRow",
    "PullRequestRow",
    "ReactionRow",
    "RepositoryRow",
    "RevisionRow",
    "RuleRow",
    "UTCDateTime",
    "VerdictRow",
    "create_db_engine",
    "current_revision",
    "ensure_current",
    "head_revision",
    "migrate",
    "migrated",
    "register_rules",
    "utcnow",
]
