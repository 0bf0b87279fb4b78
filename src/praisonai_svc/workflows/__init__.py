"""Workflows: steps that chain the app's services, triggered by hand, by cron or by file events (docs/workflows.md).

Executions are durable jobs of the built-in ``workflow-execution`` service; the cron scheduler is a leader
service; file triggers subscribe to the app's event seam. Nothing here imports an adapter.
"""

from praisonai_svc.workflows.definition import WorkflowDefinition, parse_definition
from praisonai_svc.workflows.models import Execution, ExecutionStatus, Workflow, WorkflowStatus

__all__ = ["Execution", "ExecutionStatus", "Workflow", "WorkflowDefinition", "WorkflowStatus", "parse_definition"]
