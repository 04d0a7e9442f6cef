#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub on loopback, for tests/models/test_hub_download.cpp.

Serves model folders over HTTPS the way the hub's endpoints answer huggingface_hub:
  GET  /api/models/{repo}/revision/{rev}   {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD|GET /{repo}/resolve/{rev}/{file}    small files: 200 with ETag (git blob sha1) and X-Repo-Commit;
                                           *.safetensors / *.bin ("LFS"): 302 to the CDN on another host
                                           name (localhost vs 127.0.0.1) with X-Linked-Etag (sha256),
                                           X-Linked-Size and X-Repo-Commit
  HEAD|GET /cdn/{repo}/{sha256}            the LFS content; 400 if an Authorization header arrives
Errors carry X-Error-Code as the hub's do: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo.

  --repo ORG/NAME=DIR     serve DIR (repeatable); the commit sha is sha1 of the repo id; revisions:
                          "main", the tag "v1", and the sha itself
  --gated ORG/NAME        requires "Authorization: Bearer <--token>" (401 without one, 403 if wrong)
  --alias OLD/NAME=ORG/NAME   a renamed repo: its URLs answer 307 with a relative Location
  --corrupt ORG/NAME      the CDN flips a byte of every LFS file of this repo
  --stall ORG/NAME        the API stalls (5 s) before answering for this repo
  --log FILE              one line per request: "METHOD PATH auth=0|1"
Prints "PORT <n>" on stdout once listening (port 0 picks a free one).
"""
import argparse
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(name):
    return name.endswith(".safetensors") or name.endswith(".bin")


class Hub:
    def __init__(self, args):
        self.repos = {}  # id -> {"dir", "sha", "files": {rel: bytes}}
        for spec in args.repo:
            repo, folder = spec.split("=", 1)
            files = {}
            for root, _, names in os.walk(folder):
                for n in names:
                    p = os.path.join(root, n)
                    files[os.path.relpath(p, folder).replace(os.sep, "/")] = open(p, "rb").read()
            self.repos[repo] = {"sha": hashlib.sha1(repo.encode()).hexdigest(), "files": files}
        self.gated = set(args.gated)
        self.aliases = dict(a.split("=", 1) for a in args.alias)
        self.corrupt = set(args.corrupt)
        self.stall = set(args.stall)
        self.token = args.token
        self.log = open(args.log, "a") if args.log else None
        self.lock = threading.Lock()
        self.cdn_host = None  # "https://localhost:<port>", set once bound


def make_handler(hub):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def record(self):
            if hub.log:
                with hub.lock:
                    auth = 1 if self.headers.get("Authorization") else 0
                    hub.log.write(f"{self.command} {self.path} auth={auth}\n")
                    hub.log.flush()

        def reply(self, status, body=b"", headers=None, send_body=True):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and self.command != "HEAD":
                self.wfile.write(body)

        def error(self, status, code, message):
            self.reply(status, json.dumps({"error": message}).encode(),
                       {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"})

        def check_access(self, repo):
            """None when allowed, else the error already sent."""
            if repo not in hub.repos:
                self.error(404, "RepoNotFound", f"Repository {repo} not found")
                return False
            if repo in hub.gated:
                auth = self.headers.get("Authorization")
                if not auth:
                    self.error(401, "GatedRepo", f"Access to model {repo} is restricted")
                    return False
                if auth != f"Bearer {hub.token}":
                    self.error(403, "GatedRepo", f"Your token has no access to {repo}")
                    return False
            return True

        def revision_sha(self, repo, rev):
            sha = hub.repos[repo]["sha"]
            return sha if rev in ("main", "v1", sha) else None

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            self.record()
            path = urllib.parse.unquote(self.path)
            parts = path.lstrip("/").split("/")
            # Renamed repos: 307 to the new name, relative.
            if len(parts) >= 2:
                old = "/".join(parts[2:4]) if parts[0] == "api" else "/".join(parts[:2])
                if old in hub.aliases:
                    new_path = self.path.replace(old, hub.aliases[old], 1)
                    return self.reply(307, b"", {"Location": new_path})
            if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
                repo, rev = "/".join(parts[2:4]), "/".join(parts[5:])
                if repo in hub.stall:
                    time.sleep(5)
                if not self.check_access(repo):
                    return
                sha = self.revision_sha(repo, rev)
                if sha is None:
                    return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
                info = {"id": repo, "sha": sha, "siblings": [{"rfilename": f} for f in sorted(hub.repos[repo]["files"])]}
                return self.reply(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
            if len(parts) >= 5 and parts[2] == "resolve":
                repo, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                if not self.check_access(repo):
                    return
                sha = self.revision_sha(repo, rev)
                if sha is None:
                    return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
                data = hub.repos[repo]["files"].get(name)
                if data is None:
                    return self.error(404, "EntryNotFound", f"{name} does not exist at {rev}")
                if is_lfs(name):
                    digest = hashlib.sha256(data).hexdigest()
                    return self.reply(302, b"", {"Location": f"{hub.cdn_host}/cdn/{repo}/{digest}", "X-Repo-Commit": sha,
                                                 "X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(len(data))})
                self.send_response(200)
                self.send_header("ETag", f'"{git_blob_sha1(data)}"')
                self.send_header("X-Repo-Commit", sha)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                return
            if parts[0] == "cdn" and len(parts) == 4:
                if self.headers.get("Authorization"):
                    return self.error(400, "TokenLeaked", "the CDN must not receive the hub token")
                repo, digest = "/".join(parts[1:3]), parts[3]
                for name, data in hub.repos.get(repo, {"files": {}})["files"].items():
                    if is_lfs(name) and hashlib.sha256(data).hexdigest() == digest:
                        if repo in hub.corrupt:
                            data = bytes([data[0] ^ 1]) + data[1:]
                        return self.reply(200, data, {"Content-Type": "application/octet-stream"})
                return self.error(404, "EntryNotFound", "no such blob")
            self.error(404, "NotFound", f"no route for {path}")

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--repo", action="append", default=[])
    ap.add_argument("--gated", action="append", default=[])
    ap.add_argument("--alias", action="append", default=[])
    ap.add_argument("--corrupt", action="append", default=[])
    ap.add_argument("--stall", action="append", default=[])
    ap.add_argument("--token", default="")
    ap.add_argument("--log", default="")
    args = ap.parse_args()

    hub = Hub(args)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(hub))
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    hub.cdn_host = f"https://localhost:{port}"
    print(f"PORT {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
