"""The one in-app event seam (DESIGN.md §8): producers publish, consumers subscribe, neither knows the other.

Job, file and execution events go through :class:`EventBus`; streams, webhooks, workflow triggers and usage
metering subscribe to the topics they care about. The bus itself is in-process and synchronous to the
publisher's task: a consumer that needs durability (a webhook delivery, a workflow execution) turns the event
into a job or a record inside its handler, so that nothing slow runs in the publisher and nothing is lost when a
process dies after the handler returned.
"""

from praisonai_svc.events.bus import Event, EventBus, EventHandler

__all__ = ["Event", "EventBus", "EventHandler"]
