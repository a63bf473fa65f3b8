"""Governed decisions on recommendations: approval, rejection, tasks, customer message drafts and the audit trail."""

from services.approvals.decide import (
    BulkApprovalSummary,
    DecisionResult,
    approve_all_auto,
    approve_recommendation,
    reject_recommendation,
)
from services.approvals.messages import MessageApproval, approve_customer_message
from services.approvals.queries import customer_message_drafts, decision_history, recommendation_queue, task_list

__all__ = [
    "BulkApprovalSummary",
    "DecisionResult",
    "MessageApproval",
    "approve_all_auto",
    "approve_customer_message",
    "approve_recommendation",
    "customer_message_drafts",
    "decision_history",
    "recommendation_queue",
    "reject_recommendation",
    "task_list",
]
