"""Moved to :mod:`journeymine.service.http`; re-exported here for one release."""

from journeymine.service import http as _http

globals().update({k: v for k, v in vars(_http).items() if not k.startswith("__")})
__all__ = list(_http.__all__)
