"""The user's guide's Flask receiver, exactly as written there, reads our default body."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.notifications.support import (
    endpoint,
    free_port,
    make_event,
    port_open,
    wait_until,
)

pytestmark = pytest.mark.integration

# Verbatim from the notifications guide ("1. Trigger CI/CD Pipeline").
GUIDE_FLASK_RECEIVER = '''
# Webhook receiver example (Flask)
from flask import Flask, request
import subprocess

app = Flask(__name__)

@app.route('/registry-events', methods=['POST'])
def handle_registry_event():
    event = request.json
    
    if event['action'] == 'push' and event['target'].get('tag') == 'latest':
        repository = event['target']['repository']
        
        # Trigger deployment
        subprocess.run(['kubectl', 'rollout', 'restart', 
                       f'deployment/{repository}'])
        
        return {'status': 'deployed'}, 200
    
    return {'status': 'ignored'}, 200
'''  # noqa: W291, W293


@pytest.fixture
def flask_receiver(tmp_path):
    """The guide's app under Flask's own server, with a ``kubectl`` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "kubectl-calls"
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    kubectl.chmod(0o755)
    port = free_port()
    app = tmp_path / "receiver.py"
    app.write_text(GUIDE_FLASK_RECEIVER + f"\napp.run(host='127.0.0.1', port={port})\n")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    proc = subprocess.Popen([sys.executable, str(app)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_until(lambda: port_open("127.0.0.1", port), 15, "the Flask receiver")
    yield f"http://127.0.0.1:{port}/registry-events", calls
    proc.terminate()
    proc.wait(10)


def test_the_guides_flask_receiver_deploys_on_push_of_latest(
        rabbitmq_url, deployments, notifiers, uid, flask_receiver):
    url, calls = flask_receiver
    name = f"flask-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, url, threshold=1)])
    process = notifiers(d)
    d.publish(make_event("push", "manifest", repository="myapp", tag="latest"),
              make_event("pull", "manifest", repository="other", tag="latest"),
              make_event("push", "manifest", repository="pinned", tag="v1"))
    wait_until(lambda: process.log().count(f"notification sent endpoint={name}") == 3, 10,
               "three 200 answers from the guide's receiver")
    assert "notification failed" not in process.log()
    assert calls.read_text().splitlines() == ["rollout restart deployment/myapp"]
