"""MkDocs hook: drop Sphinx cross-reference roles (``:func:``, ``:class:`` ...) from rendered docstrings.

The package's docstrings are written for plain ``help()`` reading with Sphinx-style roles; in the
rendered site ``:func:`train``` should read as the code span ``train`` (and ``~a.b.C`` as ``a.b.C``).
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):<code>~?")


def on_page_content(html: str, **kwargs: object) -> str:
    return _ROLE.sub("<code>", html)
