"""Moved to :mod:`journeymine.service` (``journeymine.service.app``); this module re-exports
it for one release. Import ``create_app``, ``serve`` and ``app_from_env`` from
``journeymine.service`` instead.

>>> from journeymine.assignment.service import create_app
>>> create_app.__module__
'journeymine.service.app'
"""

from journeymine.service import app as _app

globals().update({k: v for k, v in vars(_app).items() if not k.startswith("__")})
__all__ = list(_app.__all__)
