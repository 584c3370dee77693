"""The HTTP service (FastAPI + uvicorn; ``pip install journeymine[serve]``): persona
assignment, next best action, and continuous decisioning on a customer state store.

- :mod:`journeymine.service.app`: ``create_app``, the app factory
- :mod:`journeymine.service.launch`: ``app_from_env`` (the workers' factory) and ``serve``
- :mod:`journeymine.service.auth`: the API-key check
- :mod:`journeymine.service.limits`: body size/time limits, strict JSON, plausible times
- :mod:`journeymine.service.http`: uvicorn protocols with a deadline for slow clients
- :mod:`journeymine.service.state`: the customer state store (SQLite, Redis)
- :mod:`journeymine.service.live`: :func:`decide_live`, one live customer's decision in numpy
- :mod:`journeymine.service.routes`: ``/v1/events``, ``/v1/customers/{id}``, ``/v1/outcomes``
  and ``/v1/next-best-action`` by ``customer_id``
- :mod:`journeymine.service.nba_events_route`: ``/v1/next-best-action`` with the customer's
  events in the request (a service without a state store)

``journeymine.assignment.service`` re-exports :mod:`journeymine.service.app` for one release.
The service depends on :mod:`journeymine.assignment` and :mod:`journeymine.actions`; neither
depends on it.
"""

from journeymine.service.app import create_app
from journeymine.service.launch import app_from_env, serve

__all__ = ["app_from_env", "create_app", "serve"]
