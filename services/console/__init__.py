"""The web console: the registry and its deliveries in a browser (``registry console CONFIG``).

It reads the registry only through the registry's HTTP API, as any client, with the signed-in
user's credentials, and the deliveries through the shared history store and broker code
(``shared.history``, ``shared.operations``), never importing the registry or the notifier.
Layout, one job per module:

- ``app.py``: the Falcon app: middleware, the route table (every page and ``/api`` path), errors.
- ``server.py``: gunicorn serving the app on ``console.addr``.
- ``access/``: sign-in against the registry, the signed session cookie, the sign-in form's own
  CSRF token, and the guard that applies sign-in, CSRF and operator checks to every route.
- ``registry/``: the registry API client (Basic or Bearer tokens as docker gets them, and the
  header that keeps the console's reads from counting as pulls).
- ``inventory/``: what the pages show of the registry, built from API answers.
- ``history/``: what the pages show of the deliveries (the shared history store, the broker's
  queues and dead letters) and the operator actions on them.
- ``pages/`` (HTML) and ``api/`` (JSON): thin Falcon resources.
- ``templates/`` (Jinja2) and ``static/`` (CSS and a little JavaScript; no npm package).
"""
