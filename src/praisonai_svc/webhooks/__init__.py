"""Webhooks: a signed POST of the job to ``callback_url`` and the service's ``webhook_url`` when a job ends.

Each delivery is a job of the built-in ``webhook`` service (:mod:`.service`), so it has the queue's durability,
retries (exponential backoff for up to PRAISONAI_WEBHOOK_MAX_AGE_HOURS) and at-least-once guarantee: a restart of
the API or a worker loses none. Receivers verify ``X-PraisonAI-Signature`` (:mod:`.signing`) and deduplicate
on ``X-PraisonAI-Delivery``. Attempts are kept per job (:mod:`.attempts`) for ``GET /jobs/{id}/webhooks``.
"""

from praisonai_svc.webhooks.signing import sign, verify

__all__ = ["sign", "verify"]
