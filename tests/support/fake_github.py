#!/usr/bin/env python3
"""A fake of the GitHub REST API's issue comments, on loopback, for tests/ci.rs.

    fake_github.py [PAGE_SIZE]

Prints its port on the first line of stdout, then serves until killed:
  GET    /repos/O/R/issues/N/comments?per_page=&page=   paginated, with a Link header
  POST   /repos/O/R/issues/N/comments                   {"body"} -> 201 + comment
  PATCH  /repos/O/R/issues/comments/ID                  {"body"} -> 200 + comment
  DELETE /repos/O/R/issues/comments/ID                  -> 204
  GET    /_state                                        every comment and request
  POST   /_seed/O/R/N                                   {"body", "login"}: a comment by someone else
Pages hold at most PAGE_SIZE items (default 2), whatever per_page asks, so
pagination is always exercised. Requests without `Authorization: Bearer` get 401;
the token `read-only` (a fork's) gets 403 on every write.
"""

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGE_SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 2
LOCK = threading.Lock()
COMMENTS = []  # dicts: id, repo, issue, body, user
REQUESTS = []  # "METHOD path"
NEXT_ID = [1000]

LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
SEED = re.compile(r"^/_seed/([^/]+/[^/]+)/(\d+)$")


def new_comment(repo, issue, body, login):
    NEXT_ID[0] += 1
    c = {"id": NEXT_ID[0], "repo": repo, "issue": issue, "body": body, "user": {"login": login}}
    COMMENTS.append(c)
    return c


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, doc=None, headers=()):
        raw = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def handle_any(self, method):
        url = urlparse(self.path)
        with LOCK:
            if url.path == "/_state" and method == "GET":
                return self.reply(200, {"comments": COMMENTS, "requests": REQUESTS})
            m = SEED.match(url.path)
            if m and method == "POST":
                doc = self.body()
                return self.reply(201, new_comment(m.group(1), int(m.group(2)), doc["body"], doc["login"]))
            REQUESTS.append(f"{method} {url.path}")
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self.reply(401, {"message": "Requires authentication"})
            if self.headers.get("Authorization") == "Bearer read-only" and method != "GET":
                return self.reply(403, {"message": "Resource not accessible by integration"})
            m = LIST.match(url.path)
            if m and method == "GET":
                repo, issue = m.group(1), int(m.group(2))
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                mine = [c for c in COMMENTS if c["repo"] == repo and c["issue"] == issue]
                items = mine[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
                headers = []
                if page * PAGE_SIZE < len(mine):
                    host = self.headers.get("Host")
                    nxt = f"http://{host}{url.path}?per_page=100&page={page + 1}"
                    headers.append(("Link", f'<{nxt}>; rel="next"'))
                return self.reply(200, items, headers)
            if m and method == "POST":
                c = new_comment(m.group(1), int(m.group(2)), self.body()["body"], "github-actions[bot]")
                return self.reply(201, c)
            m = ONE.match(url.path)
            if m:
                found = [c for c in COMMENTS if c["repo"] == m.group(1) and c["id"] == int(m.group(2))]
                if not found:
                    return self.reply(404, {"message": "Not Found"})
                if method == "PATCH":
                    found[0]["body"] = self.body()["body"]
                    return self.reply(200, found[0])
                if method == "DELETE":
                    COMMENTS.remove(found[0])
                    return self.reply(204)
            return self.reply(404, {"message": "Not Found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
