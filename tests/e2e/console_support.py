"""What the console's end-to-end tests share: users, signing in (through the form in a real
browser, or over HTTP with the form's login token), and the pages another site could serve."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import requests

USERS = {"alice": "alice-pw", "bob": "bob-pw"}  # alice is an operator, bob only reads
SECRET = "console-e2e-http-secret"
_LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_htpasswd(path: Path, users: dict[str, str] = USERS) -> Path:
    path.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(5)).decode()}\n"
                            for u, p in users.items()))
    return path


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def sign_in(url: str, user: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Sign in over HTTP as the form does: GET /login (its login token and cookie), then POST."""
    s = requests.Session()
    form = s.get(f"{url}/login")
    token = _LOGIN_TOKEN.search(form.text)
    assert token, "the sign-in form carries no csrf_token"
    r = s.post(f"{url}/login", allow_redirects=False,
               data={"username": user, "password": password, "csrf_token": token.group(1)})
    return s, r


def signed_in(browser, console: str, user: str, password: str | None = None,
              **context_options):
    """A fresh browser context (its own cookies) signed in through the form as ``user``."""
    context = browser.new_context(base_url=console, **context_options)
    page = context.new_page()
    page.goto("/repositories")
    assert page.url.startswith(f"{console}/login"), page.url  # sent to sign in first
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password or USERS[user])
    page.click("button[type=submit]")
    page.wait_for_url(f"{console}/repositories")
    return context, page


def submit_form(page, action: str, fields: dict[str, str]) -> None:
    """Build and submit a plain HTML form in ``page`` (what a forged page would do)."""
    page.evaluate("""([action, fields]) => {
        const form = document.createElement('form');
        form.method = 'post'; form.action = action;
        for (const [k, v] of Object.entries(fields)) {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = k; input.value = v; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();
    }""", [action, fields])


class AttackerSite:
    """Another origin serving a page that posts a form to the console on load."""

    def __init__(self, target: str, fields: dict[str, str]):
        inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
        body = (f'<html><body><form id="f" method="post" action="{target}">{inputs}</form>'
                '<script>document.getElementById("f").submit()</script></body></html>').encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> AttackerSite:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
