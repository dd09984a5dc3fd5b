"""Where the stack's alerts land in tests: a chat webhook (HTTP, JSON bodies) and an SMTP server
(aiosmtpd), both real servers listening on this host, keeping what they received."""

import json
import socket
import threading
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class WebhookReceiver:
    """Answers 200 to every POST and keeps its JSON body."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body.get("text", "") for body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class MailReceiver:
    """An SMTP server (no TLS, no login) that keeps every message it accepts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.received: list[Message] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.received.append(message_from_bytes(envelope.content))
                return "250 OK"

        self._controller = Controller(Handler(), hostname=host, port=port or free_port(host))
        self._controller.start()
        self.port = self._controller.port

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.received]

    def close(self) -> None:
        self._controller.stop()
