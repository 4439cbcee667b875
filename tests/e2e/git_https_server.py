#!/usr/bin/env python3
"""A git smart-HTTP server over TLS on loopback, for the end-to-end tests.

    git_https_server.py --root DIR --cert PEM --key PEM --user NAME
                        --password-file FILE --port-file FILE

Serves the repositories under DIR through `git http-backend` (run as CGI per
request) and answers 401 with a Basic challenge unless the request carries
NAME and the password in FILE. It binds 127.0.0.1 on a port the kernel picks,
and writes that port to --port-file once it accepts connections. One line per
request goes to stderr (method, path, status, user): never the credentials.
Standard library only.
"""

import argparse
import base64
import hmac
import http.server
import os
import socket
import ssl
import subprocess
import sys
import urllib.parse

MAX_BODY = 64 << 20


def read_chunked(rfile):
    body = bytearray()
    while True:
        line = rfile.readline(1024)
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        body += rfile.read(size)
        rfile.readline(8)  # CRLF after the chunk
        if len(body) > MAX_BODY:
            raise ValueError("body too large")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gitgate-test-https/1"

    def setup(self):
        # The TLS handshake runs in the request's thread, so a client that
        # rejects the certificate cannot stall the accept loop.
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def note(self, status, user):
        sys.stderr.write("%s %s %d %s\n" % (self.command, self.path, status, user or "-"))
        sys.stderr.flush()

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        got = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(
            (self.server.user + ":" + self.server.password).encode()).decode()
        return hmac.compare_digest(got.encode(), want.encode())

    def handle_git(self):
        if not self.authorized():
            self.note(401, None)
            self.reply(401, [("WWW-Authenticate", 'Basic realm="git"'),
                             ("Content-Type", "text/plain")], b"authentication required\n")
            return
        url = urllib.parse.urlsplit(self.path)
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)
        elif self.headers.get("Content-Length"):
            n = int(self.headers["Content-Length"])
            if n > MAX_BODY:
                self.reply(413, [], b"")
                return
            body = self.rfile.read(n)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(url.path),
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.server.user,
            "REMOTE_ADDR": self.client_address[0],
        }
        # http-backend inflates gzip bodies itself; Git-Protocol selects v2.
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        p = subprocess.run(["git", "http-backend"], input=body, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        out = p.stdout
        sep, skip = out.find(b"\r\n\r\n"), 4
        if sep < 0:
            sep, skip = out.find(b"\n\n"), 2
        if sep < 0:
            self.note(500, self.server.user)
            self.reply(500, [], b"bad CGI answer\n" + p.stderr)
            return
        status, headers = 200, []
        for line in out[:sep].decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k and k.lower() != "content-length":
                headers.append((k.strip(), v.strip()))
        self.note(status, self.server.user)
        self.reply(status, headers, out[sep + skip:])

    do_GET = handle_git
    do_POST = handle_git


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        sys.stderr.write("request from %s failed: %s\n" % (client_address[0], sys.exc_info()[1]))
        sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser()
    for a in ("--root", "--cert", "--key", "--user", "--password-file", "--port-file"):
        ap.add_argument(a, required=True)
    args = ap.parse_args()
    with open(args.password_file) as f:
        password = f.read().strip()
    srv = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
    srv.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.server_bind()
    srv.server_activate()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    srv.tls, srv.root, srv.user, srv.password = tls, os.path.abspath(args.root), args.user, password
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
