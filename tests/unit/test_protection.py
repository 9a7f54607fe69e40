"""Scale-in protection against a fake ECS agent on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from conveyor.runtime.protection import TaskProtection


def test_protection_calls_the_agent_once_per_change():
    calls = []

    class Agent(BaseHTTPRequestHandler):
        def do_PUT(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append((self.path, body))
            answer = json.dumps({"protection": {"ProtectionEnabled": body["ProtectionEnabled"]}})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        protection = TaskProtection(f"http://127.0.0.1:{server.server_port}", expires_minutes=30)
        assert protection.set(True) == {"protection": {"ProtectionEnabled": True}}
        assert protection.set(True) is None  # unchanged: no call
        protection.set(False)
    finally:
        server.shutdown()
    assert calls == [
        ("/task-protection/v1/state", {"ProtectionEnabled": True, "ExpiresInMinutes": 30}),
        ("/task-protection/v1/state", {"ProtectionEnabled": False}),
    ]


def test_without_an_agent_it_does_nothing(monkeypatch):
    monkeypatch.delenv("ECS_AGENT_URI", raising=False)
    assert TaskProtection().set(True) is None
