"""Operations: sync runs, the quarantine, job runs and their staleness, the outbox, the audit log, re-queued files."""

from services.auth.roles import Role

OPERATIONS_READERS = (Role.OPERATIONS_LEADER, Role.ADMINISTRATOR)
