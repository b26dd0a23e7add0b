#!/usr/bin/env python3
"""Measures the mail path of idp against a real local SMTP server (aiosmtpd).

  scripts/mail_bench.py [--idp target/release/idp] [--mails 2000] [--rounds 300]

1. Timing of POST /auth/password/forgot for a known, an unknown and a
   disabled address: `--rounds` requests of each, interleaved on one
   keep-alive connection; prints the median, p90 and mean of each, so that
   a difference would show (the answer must not tell them apart).
2. Outbox throughput: `--mails` reset mails queued through the admin API
   (no hourly limit there), then the time until the SMTP server has them
   all; prints mails per minute.

Needs Debian's python3-aiosmtpd (run with /usr/bin/python3) and an idp
binary. Uses a fresh SQLite database in a temporary directory.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=None, form=False):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            if form:
                from urllib.parse import urlencode

                body = urlencode(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, data


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--idp", default="target/release/idp")
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()

    work = tempfile.mkdtemp()
    port, smtp_port = free_port(), free_port()
    maildir = os.path.join(work, "Maildir")
    smtp = subprocess.Popen(
        ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
         "-c", "aiosmtpd.handlers.Mailbox", maildir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ,
               DATABASE_URL=f"sqlite://{work}/idp.db", ISSUER=f"http://127.0.0.1:{port}",
               BIND=f"127.0.0.1:{port}", SECRET_KEY="mail-bench-secret-key-0123456789abcdef0123",
               SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", RATE_LIMIT_PER_MINUTE="0",
               MAIL_PER_ADDRESS_PER_HOUR="1000", RUST_LOG="warn",
               ADMIN_PASSWORD="Mail-bench-admin-1!")
    subprocess.run([args.idp, "seed"], env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([args.idp, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "server.log"), "w"))
    try:
        wait_port(smtp_port)
        wait_port(port)
        c = Client(port)
        status, body = c.call("POST", "/auth/token", {"grant_type": "password", "username": "admin",
                                                     "password": "Mail-bench-admin-1!"}, form=True)
        assert status == 200, body
        admin = json.loads(body)["access_token"]
        ids = {}
        for name in ("known", "disabled"):
            status, body = c.call("POST", "/admin/users", {"username": name, "email": f"{name}@example.com",
                                                           "password": "Bench-user-pass-1!"}, token=admin)
            assert status == 201, body
            ids[name] = json.loads(body)["id"]
        status, _ = c.call("PATCH", f"/admin/users/{ids['disabled']}", {"disabled": True}, token=admin)
        assert status == 200

        # 1. Timing.
        addresses = {"known": "known@example.com", "unknown": "nobody@example.com",
                     "disabled": "disabled@example.com"}
        times = {k: [] for k in addresses}
        bodies = set()
        for _ in range(20):  # warm-up
            c.call("POST", "/auth/password/forgot", {"email": "warm@example.com"})
        for _ in range(args.rounds):
            for kind, email in addresses.items():
                started = time.perf_counter()
                status, body = c.call("POST", "/auth/password/forgot", {"email": email})
                times[kind].append((time.perf_counter() - started) * 1000)
                assert status == 202, body
                bodies.add(body)
        print(f"forgot-password, {args.rounds} requests per kind, interleaved on one connection:")
        for kind, values in times.items():
            print(f"  {kind:9} median {statistics.median(values):.3f} ms  p90 {percentile(values, 0.9):.3f} ms"
                  f"  mean {statistics.mean(values):.3f} ms")
        print(f"  distinct response bodies: {len(bodies)}")

        # Let the requests' mails go out before measuring throughput.
        def delivered():
            new = os.path.join(maildir, "new")
            return len(os.listdir(new)) if os.path.isdir(new) else 0

        deadline = time.time() + 120
        while delivered() < args.rounds and time.time() < deadline:
            time.sleep(0.1)
        before = delivered()
        print(f"  mails after the timing run: {before} (one per request for the known address)")

        # 2. Throughput.
        started = time.perf_counter()
        for _ in range(args.mails):
            status, body = c.call("POST", f"/admin/users/{ids['known']}/password-reset", token=admin)
            assert status == 202, body
        queued = time.perf_counter() - started
        deadline = time.time() + 600
        while delivered() < before + args.mails and time.time() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        sent = delivered() - before
        print(f"outbox: {sent} of {args.mails} mails delivered in {elapsed:.1f} s "
              f"(queued in {queued:.1f} s): {sent / elapsed * 60:,.0f} mails per minute")
    finally:
        server.terminate()
        smtp.terminate()
        server.wait()
        smtp.wait()


if __name__ == "__main__":
    main()
