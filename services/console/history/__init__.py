"""What the console shows of the delivery history (issue 16) and the actions on it.

The history is the shared store (:mod:`shared.history`, read) and the operator actions
(:mod:`shared.operations`); this package shapes their answers for the pages and the JSON API,
one module per page:

- ``access.py``: the seam: the store (or why there is none) and the reads the repository pages
  use, which never fail a page (a repository page works without the history).
- ``times.py``: the time filters of every form (``2h`` back from now, or a UTC date and time).
- ``overview.py`` (``/``), ``events.py`` (``/events``), ``delivery.py`` (``/deliveries/<id>``),
  ``endpoints.py`` (``/endpoints``), ``deadletters.py`` (``/deadletters``).
- ``requests.py``: an event's request as an endpoint gets it: the body in each format and the
  request as a ``curl`` command, secrets masked.
"""

from services.console.history.access import History, build_history
from shared.history.engine import HistoryUnavailable

__all__ = ["History", "HistoryUnavailable", "build_history"]
