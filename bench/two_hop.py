"""The physical limit of the benchmark: two nginx processes in a chain, the shape of amlcore's data path with
nothing in it but HTTP.

    client -> nginx "proxy" (reverse proxy, keep-alive upstream pool) -> nginx "answer" (a fixed small JSON)

Each runs `worker_processes 1` as the current user, with its configuration, pid file, logs and temporary files
in a directory of its own, access logs off, listening on a free port of 127.0.0.1. What amlcore serves through
its front end to a trivial score.py is stated as a fraction of what this chain serves under the same wrk load.
"""

import getpass
import os
import shutil
import socket
import subprocess
import time
import urllib.request

ANSWER = '{"result": [1.0, 2.0, 3.0, 4.0]}'


def free_port():
    """A port of 127.0.0.1 that nothing listens on now (nginx cannot report the port it got for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_program():
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


class NginxProcess:
    """One nginx master with one worker, serving `server_block` on a free port of 127.0.0.1."""

    def __init__(self, name, directory, server_block, upstream_block=""):
        self.directory = os.path.join(directory, "nginx-" + name)
        os.makedirs(os.path.join(self.directory, "temp"), exist_ok=True)
        self.port = free_port()
        temp = os.path.join(self.directory, "temp")
        # As root, nginx would switch its worker to an unprivileged user: keep it the current user instead.
        user = "user {};".format(getpass.getuser()) if os.geteuid() == 0 else ""
        config = """
{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}  # within the usual open-file limit
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  keepalive_requests 1000000;
  {upstream}
  server {{
    listen 127.0.0.1:{port};
    {server}
  }}
}}
""".format(user=user, dir=self.directory, temp=temp, upstream=upstream_block, port=self.port, server=server_block)
        self.config_path = os.path.join(self.directory, "nginx.conf")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log_file = open(os.path.join(self.directory, "stderr.log"), "w")
        # -e: the error log before the configuration is read (the default one is under /var/log).
        self.process = subprocess.Popen(
            [nginx_program(), "-p", self.directory, "-c", self.config_path, "-e", os.path.join(self.directory,
                                                                                              "error.log")],
            stdout=self.log_file, stderr=subprocess.STDOUT)

    def pids(self):
        """The master and its worker."""
        out = [self.process.pid]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/{}/stat".format(entry)) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                            out.append(int(entry))
                except OSError:
                    continue
        return out

    def stop(self):
        self.process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log_file.close()


class NginxTwoHop:
    """The chain; `url` is where wrk sends its requests."""

    def __init__(self, directory):
        if nginx_program() is None:
            raise RuntimeError("nginx is not installed (scripts/setup.sh installs nginx-light)")
        self.answer = NginxProcess("answer", directory, """
    location / {{
      default_type application/json;
      return 200 '{}';
    }}""".format(ANSWER))
        # A keep-alive pool to the second hop, as amlcore's front end keeps to its replicas.
        self.proxy = NginxProcess("proxy", directory, """
    location / {
      proxy_pass http://answer;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }""", upstream_block="""
  upstream answer {{
    server 127.0.0.1:{};
    keepalive 64;
    keepalive_requests 1000000;
  }}""".format(self.answer.port))
        self.url = "http://127.0.0.1:{}/score".format(self.proxy.port)
        self._wait_until_answering()

    def _wait_until_answering(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for p in (self.answer, self.proxy):
                if p.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("nginx exited; see " + os.path.join(p.directory, "error.log"))
            try:
                request = urllib.request.Request(self.url, data=b"{}", method="POST")
                with urllib.request.urlopen(request, timeout=5) as r:
                    if r.status == 200 and r.read().decode() == ANSWER:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the nginx chain did not answer within 30 s; see " + self.proxy.directory)

    def pids(self):
        return self.proxy.pids() + self.answer.pids()

    def stop(self):
        for p in (self.proxy, self.answer):
            if p.process.poll() is None:
                p.stop()
