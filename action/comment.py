#!/usr/bin/env python3
"""Keeps the tflock report on a pull request up to date: one comment per part.

    comment.py REPORT_MD

Reads the report tflock wrote (REPORT_MD, and REPORT_MD.2.md ... for a split
report: the first part's `<!-- tflock-report part 1/N -->` line says how many)
and, through the GitHub REST API at $GITHUB_API_URL, makes the pull request's
comments that carry the report marker match it: part i updates the comment
marked as part i (created if there is none), and comments of parts beyond N
(a report that shrank) are deleted. Other comments are never touched.

Environment: GITHUB_API_URL, GITHUB_REPOSITORY (owner/name), GITHUB_TOKEN, and
the pull request as PR_NUMBER or from the event at GITHUB_EVENT_PATH. Python 3
standard library only, so any runner can run it.
"""

import json
import os
import re
import sys
import urllib.error
import urllib.request

MARKER = "<!-- tflock-report -->"
PART = re.compile(r"<!-- tflock-report part (\d+)/(\d+) -->")


class ReadOnly(Exception):
    """The token may read but not write comments (a pull request from a fork)."""


class Api:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, url, body=None):
        """One request; returns (decoded JSON or None, the Link header)."""
        if not url.startswith("http"):
            url = self.base + url
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("User-Agent", "tflock-action")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                link = resp.headers.get("Link", "")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:500]
            if e.code == 403 and method != "GET":
                raise ReadOnly(f"{method} {url}: HTTP 403: {detail}")
            raise SystemExit(f"::error title=tflock::{method} {url}: HTTP {e.code}: {detail}")
        return (json.loads(raw) if raw.strip() else None), link

    def pages(self, url):
        """Every item of a paginated list, following rel="next" links."""
        while url:
            items, link = self.call("GET", url)
            yield from items
            url = next_link(link)


def next_link(link):
    for part in link.split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if m:
            return m.group(1)
    return None


def read_parts(first):
    """The report's parts, in order, from the files tflock wrote."""
    with open(first, encoding="utf-8") as f:
        parts = [f.read()]
    m = PART.search(parts[0].split("\n", 2)[1] if parts[0].count("\n") >= 1 else "")
    if not parts[0].startswith(MARKER) or not m:
        raise SystemExit(f"::error title=tflock::{first}: not a tflock report (no marker)")
    total = int(m.group(2))
    for i in range(2, total + 1):
        with open(f"{first}.{i}.md", encoding="utf-8") as f:
            parts.append(f.read())
    return parts


def part_number(body):
    """The part a comment holds, or None when it is not a tflock report."""
    if not body or not body.startswith(MARKER):
        return None
    m = PART.search(body[: len(MARKER) + 80])
    return int(m.group(1)) if m else 1


def pull_number():
    if os.environ.get("PR_NUMBER", "").strip():
        return int(os.environ["PR_NUMBER"])
    path = os.environ.get("GITHUB_EVENT_PATH")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            event = json.load(f)
        number = (event.get("pull_request") or {}).get("number")
        if number is None and "pull_request" in (event.get("issue") or {}):
            number = event["issue"]["number"]
        if number is not None:
            return int(number)
    return None


def sync(api, repo, number, parts):
    """Makes the marked comments of pull request `number` match `parts`."""
    existing = {}
    stale = []
    for c in api.pages(f"/repos/{repo}/issues/{number}/comments?per_page=100"):
        i = part_number(c.get("body"))
        if i is None:
            continue
        # The oldest comment of a part is kept; a duplicate (two jobs that
        # raced) is removed so each part shows once.
        if i in existing or i > len(parts):
            stale.append(c)
        else:
            existing[i] = c
    for i, body in enumerate(parts, start=1):
        c = existing.get(i)
        if c is None:
            api.call("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
            print(f"tflock: created the comment of part {i}/{len(parts)}")
        elif c.get("body") != body:
            api.call("PATCH", f"/repos/{repo}/issues/comments/{c['id']}", {"body": body})
            print(f"tflock: updated comment {c['id']} (part {i}/{len(parts)})")
        else:
            print(f"tflock: comment {c['id']} (part {i}/{len(parts)}) is up to date")
    for c in stale:
        api.call("DELETE", f"/repos/{repo}/issues/comments/{c['id']}")
        print(f"tflock: deleted stale comment {c['id']}")


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: comment.py REPORT_MD")
    number = pull_number()
    if number is None:
        print("tflock: not a pull request: no comment to update")
        return 0
    repo = os.environ["GITHUB_REPOSITORY"]
    api = Api(os.environ.get("GITHUB_API_URL", "https://api.github.com"), os.environ.get("GITHUB_TOKEN", ""))
    try:
        sync(api, repo, number, read_parts(argv[1]))
    except ReadOnly as e:
        # The report is still in the job summary; a missing comment is no reason
        # to fail a pull request from a fork, whose token cannot write.
        print(f"::warning title=tflock::cannot write the report comment ({e}); see the job summary")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
