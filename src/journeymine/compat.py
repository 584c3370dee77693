"""Deprecation helpers shared by the estimators and the functions: a renamed or keyword-only
parameter keeps working for one minor release, with a :class:`FutureWarning` that says how to
change the call.

Examples
--------
>>> import warnings
>>> class Model:
...     @positional_deprecated(("alpha",))
...     def __init__(self, *, alpha=1.0):
...         self.alpha = alpha
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     Model(0.5).alpha
0.5
>>> "pass alpha=... by keyword" in str(caught[0].message)
True
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["positional_deprecated", "renamed_keywords"]

_Wrapped = TypeVar("_Wrapped", bound=Callable[..., Any])
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def positional_deprecated(names: tuple[str, ...]) -> Callable[[_Wrapped], _Wrapped]:
    """Accept the parameters ``names`` (positional in 0.1) by position for one more minor release,
    with a :class:`FutureWarning`; the signature scikit-learn reads stays keyword-only.

    Decorates an ``__init__``, or a class whose ``__init__`` is generated (a keyword-only
    dataclass estimator: put it above ``@dataclass``).

    Examples
    --------
    >>> import warnings
    >>> from dataclasses import dataclass
    >>> from sklearn.base import BaseEstimator
    >>> @positional_deprecated(("alpha",))
    ... @dataclass(kw_only=True, eq=False, repr=False)
    ... class Model(BaseEstimator):
    ...     alpha: float = 1.0
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     Model(0.5)
    Model(alpha=0.5)
    >>> sorted(Model().get_params()), len(caught)
    (['alpha'], 1)
    """

    def decorate(target: _Wrapped) -> _Wrapped:
        if isinstance(target, type):
            cls: Any = target
            cls.__init__ = wrap(cls.__init__)
            return target
        return cast(_Wrapped, wrap(target))

    def wrap(init: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(init)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
            if args:
                if len(args) > len(names):
                    raise TypeError(
                        f"{type(self).__name__}() takes at most {len(names)} positional "
                        f"arguments ({', '.join(names)}), got {len(args)}."
                    )
                given = dict(zip(names, args, strict=False))
                twice = sorted(set(given) & set(kwargs))
                if twice:
                    raise TypeError(f"{type(self).__name__}() got {twice} twice.")
                warnings.warn(
                    f"pass {', '.join(f'{n}=...' for n in given)} by keyword: "
                    f"{type(self).__name__}'s parameters are keyword-only and positional "
                    f"arguments stop working in the next minor release.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs.update(given)
            init(self, **kwargs)

        return wrapper

    return decorate


def renamed_keywords(**renames: str) -> Callable[[_Fn], _Fn]:
    """Accept the old name of each renamed keyword (``old="new"``) for one more minor release,
    with a :class:`FutureWarning` that names the new one; the signature shows the new names only.

    Parameters
    ----------
    **renames : str
        ``old_name="new_name"`` for each renamed keyword parameter.

    Returns
    -------
    callable
        A decorator for the function whose parameters were renamed.

    Raises
    ------
    TypeError
        (From the decorated function) both the old and the new name are given.

    Examples
    --------
    >>> import warnings
    >>> @renamed_keywords(top="top_k")
    ... def head(values, *, top_k=2):
    ...     return values[:top_k]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     head([3, 2, 1], top=1)
    [3]
    >>> str(caught[0].message)
    'head(top=...) is renamed head(top_k=...); top= stops working in the next minor release.'
    """

    def decorate(fn: _Fn) -> _Fn:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{fn.__name__}() got {old}= and {new}=; pass {new}= only.")
                warnings.warn(
                    f"{fn.__name__}({old}=...) is renamed {fn.__name__}({new}=...); {old}= stops "
                    f"working in the next minor release.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return cast(_Fn, wrapper)

    return decorate
