"""A webhook receiver in ten lines: verify X-PraisonAI-Signature, refuse old or replayed deliveries.

    PRAISONAI_WEBHOOK_SECRET=... python examples/webhook-receiver/receiver.py
    # then submit with "callback_url": "http://<this host>:9000/" (allow the host with PRAISONAI_FETCH_ALLOWED_HOSTS
    # when it is on a private network)
"""
import hashlib, hmac, json, os, time  # noqa: E401
from http.server import BaseHTTPRequestHandler, HTTPServer
SECRET, seen = os.environ["PRAISONAI_WEBHOOK_SECRET"].encode(), set()
class Hook(BaseHTTPRequestHandler):  # noqa: E302
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        t, v1 = (p.split("=", 1)[1] for p in self.headers["X-PraisonAI-Signature"].split(","))
        good = hmac.compare_digest(v1, hmac.new(SECRET, f"{t}.".encode() + body, hashlib.sha256).hexdigest())
        fresh, new = abs(time.time() - int(t)) < 300, self.headers["X-PraisonAI-Delivery"] not in seen
        if good and fresh and new: seen.add(self.headers["X-PraisonAI-Delivery"]); print(json.loads(body)["status"])  # noqa: E701, E702
        self.send_response(204 if good and fresh else 401); self.end_headers()  # noqa: E702
HTTPServer(("", 9000), Hook).serve_forever()  # noqa: E305
