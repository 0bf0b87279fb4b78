"""Retention: what is kept, for how long, and the pruner that removes the rest (docs/operations.md).

Jobs are pruned by age from their creation (``PRAISONAI_JOB_RETENTION``, per service overridable); every other
record kind carries its own ``expires_utc``, set by its feature when it writes the record (see
:func:`expiry_for`), and is pruned once that time has passed. A feature whose records own blobs registers a
hook with :meth:`RetentionRegistry.track`, so the blob is deleted *before* its record: a crash in between
leaves a record without its blob (which the next run removes), never an orphan blob that nothing points at.
"""

from praisonai_svc.retention.policy import RetentionRegistry, expiry_for
from praisonai_svc.retention.pruner import Pruner, PruneReport

__all__ = ["PruneReport", "Pruner", "RetentionRegistry", "expiry_for"]
