"""Moved to :mod:`journeymine.service` (``journeymine.service.app``); this module re-exports
it for one release. Import ``create_app``, ``serve`` and ``app_from_env`` from
``journeymine.service`` instead.

>>> from journeymine.assignment.service import create_app
>>> create_app.__module__
'journeymine.service.app'
"""

from journeymine.service import app as _app
from journeymine.service import limits as _limits
from journeymine.service import model_holder as _model_holder

# the public names, spelled out so that type checkers see the re-exports
from journeymine.service.app import API_KEY_ENV as API_KEY_ENV
from journeymine.service.app import DEFAULT_REQUEST_TIMEOUT as DEFAULT_REQUEST_TIMEOUT
from journeymine.service.app import MODEL_PATH_ENV as MODEL_PATH_ENV
from journeymine.service.app import REQUEST_TIMEOUT_ENV as REQUEST_TIMEOUT_ENV
from journeymine.service.app import create_app as create_app
from journeymine.service.launch import app_from_env as app_from_env
from journeymine.service.launch import serve as serve

# the old module held the request limits and the model holder too
for _module in (_limits, _model_holder, _app):
    globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
del _module
__all__ = list(_app.__all__)
