"""Observability: Prometheus metrics (:mod:`.metrics`), the HTTP side (:mod:`.http`), the worker side
(:mod:`.worker`), hooks other modules call (:mod:`.hooks`) and Application Insights telemetry (:mod:`.telemetry`).
"""
