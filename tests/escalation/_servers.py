"""Real servers for the channel tests: an SMTP server (aiosmtpd) and an HTTP webhook receiver
(http.server in a thread) that verifies every request with ``app.escalation.webhooks.verify``."""
import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.escalation import webhooks


def free_port():
    """A TCP port nothing listens on (for now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler keeping ``(mail_from, rcpt_tos, message)`` for every message."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address):
        return [m for _f, rcpt, m in self.messages if address in rcpt]


class SmtpServer:
    """``aiosmtpd`` on 127.0.0.1 (a given port, or a free one); ``start()`` / ``stop()``."""

    def __init__(self, port=None):
        from aiosmtpd.controller import Controller

        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


class Receiver:
    """A webhook receiver: verifies each request (signature, window, repeats) and answers.

    ``secret``: what it verifies with; ``fail_with``: a status to answer after verifying
    (the delivery id is then forgotten, so the retry is accepted); ``clock``: its idea of now.
    Every request is kept in ``requests`` as ``{"headers", "body", "status", "verdict", "json"}``
    (header names lower-cased: HTTP header names are case-insensitive).
    """

    def __init__(self, secret=None):
        self.secret = secret
        self.seen = set()
        self.requests = []
        self.fail_with = None
        self.clock = time.time
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, verdict = receiver.handle(self.headers, body)
                answer = verdict.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ait"

    def handle(self, headers, body):
        with self._lock:
            record = {"headers": {k.lower(): v for k, v in headers.items()}, "body": body}
            try:
                delivery = webhooks.verify(self.secret, headers, body, now=self.clock(), seen=self.seen)
            except webhooks.VerificationError as exc:
                status = 409 if "already received" in str(exc) else 401
                record.update(status=status, verdict=str(exc))
            else:
                if self.fail_with:
                    self.seen.discard(delivery)  # not processed: let the retry in
                    record.update(status=self.fail_with, verdict="receiver failure")
                else:
                    record.update(status=200, verdict="ok")
                record["json"] = json.loads(body)
            self.requests.append(record)
            return record["status"], record["verdict"]

    def accepted(self):
        return [r for r in self.requests if r["status"] == 200]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
