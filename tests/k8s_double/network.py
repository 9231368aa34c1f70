"""Pod and Service networking on loopback: every pod gets its own 127.A.x.y address, every Service a cluster IP
from 127.(A+1).x.y with a TCP proxy per port to its ready endpoints, NodePort and LoadBalancer Services are also
reachable at 127.0.0.1:nodePort, and each LoadBalancer gets its own 127.(A+2).x.y address that serves its ports.
Linux routes all of 127/8 to the loopback interface, so nothing here leaves the machine."""

import random
import select
import socket
import threading

from . import meta

NODE_PORT_RANGE = (30000, 32767)


class AddressPool:
    def __init__(self, second_octet):
        self.prefix = "127.{}.".format(second_octet)
        self.used = set()
        self.next = 2

    def take(self, wanted=None):
        if wanted:
            self.used.add(wanted)
            return wanted
        for _ in range(65000):
            n = self.next
            self.next = self.next + 1 if self.next < 65000 else 2
            ip = "{}{}.{}".format(self.prefix, n // 256, n % 256)
            if n % 256 not in (0, 255) and ip not in self.used:
                self.used.add(ip)
                return ip
        raise RuntimeError("address pool {}0.0/16 exhausted".format(self.prefix))

    def release(self, ip):
        self.used.discard(ip)

    def contains(self, ip):
        return isinstance(ip, str) and ip.startswith(self.prefix)


class Network:
    def __init__(self, base_octet):
        self.pods = AddressPool(base_octet)
        self.services = AddressPool(base_octet + 1)
        self.balancers = AddressPool(base_octet + 2)
        self.node_ports = set()
        self.lock = threading.Lock()
        self.proxies = {}  # (ip, port) -> Proxy
        self.lb_ips = {}  # service uid -> ip

    def service_cidr(self):
        return self.services.prefix + "0.0/16"

    def admit_service(self, svc, old):
        spec = svc.setdefault("spec", {})
        with self.lock:
            ip = spec.get("clusterIP")
            if old is not None:
                old_ip = old.get("spec", {}).get("clusterIP")
                if ip and old_ip and ip != old_ip:
                    raise meta.invalid("Service", "", svc["metadata"]["name"], [(
                        "spec.clusterIPs[0]", "FieldValueInvalid",
                        "Invalid value: []string{{\"{}\"}}: may not change once set".format(ip))])
                ip = ip or old_ip
            if ip and ip != "None" and not (old is not None and ip == old.get("spec", {}).get("clusterIP")):
                if not self.services.contains(ip):
                    raise meta.invalid("Service", "", svc["metadata"]["name"], [(
                        "spec.clusterIPs", "FieldValueInvalid",
                        "Invalid value: []string{{\"{}\"}}: failed to allocate IP {}: provided IP is not in the "
                        "valid range. The range of valid IPs is {}".format(ip, ip, self.service_cidr()))])
                if ip in self.services.used:
                    raise meta.invalid("Service", "", svc["metadata"]["name"], [(
                        "spec.clusterIPs", "FieldValueInvalid",
                        "Invalid value: []string{{\"{}\"}}: failed to allocate IP {}: provided IP is already "
                        "allocated".format(ip, ip))])
                self.services.take(ip)
            if not ip:
                ip = self.services.take()
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                         for p in (old or {}).get("spec", {}).get("ports") or []}
            for p in spec.get("ports") or []:
                if spec.get("type") in ("NodePort", "LoadBalancer"):
                    if not p.get("nodePort"):
                        p["nodePort"] = old_ports.get((p.get("port"), p.get("protocol", "TCP"))) or \
                            self._free_node_port()
                    self.node_ports.add(p["nodePort"])
                else:
                    p.pop("nodePort", None)

    def _free_node_port(self):
        for _ in range(200):
            port = random.randint(*NODE_PORT_RANGE)
            if port in self.node_ports:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
        raise meta.ApiError(500, "InternalError", "no free node port in {}-{}".format(*NODE_PORT_RANGE))

    def release_service(self, svc):
        with self.lock:
            ip = svc.get("spec", {}).get("clusterIP")
            if ip and ip != "None":
                self.services.release(ip)
            for p in svc.get("spec", {}).get("ports") or []:
                self.node_ports.discard(p.get("nodePort"))
            lb = self.lb_ips.pop(svc["metadata"]["uid"], None)
            if lb:
                self.balancers.release(lb)

    def balancer_ip(self, svc):
        with self.lock:
            uid = svc["metadata"]["uid"]
            if uid not in self.lb_ips:
                self.lb_ips[uid] = self.balancers.take()
            return self.lb_ips[uid]

    def sync_proxies(self, wanted):
        """wanted: {(ip, port): [backend (ip, port), ...]}; starts, updates and stops listeners to match."""
        with self.lock:
            for key in list(self.proxies):
                if key not in wanted:
                    self.proxies.pop(key).stop()
            for key, backends in wanted.items():
                proxy = self.proxies.get(key)
                if proxy is None:
                    try:
                        proxy = Proxy(key)
                    except OSError:
                        continue  # the address is taken; retried on the next sync
                    self.proxies[key] = proxy
                proxy.backends = list(backends)

    def stop(self):
        with self.lock:
            for p in self.proxies.values():
                p.stop()
            self.proxies.clear()


class Proxy:
    """One listening address forwarding each TCP connection to a random ready backend, as kube-proxy's iptables
    mode picks one; with no backend the connection is refused by closing it."""

    def __init__(self, address):
        self.address = address
        self.backends = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(128)
        self.sock.settimeout(0.5)
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="proxy {}:{}".format(*address)).start()

    def stop(self):
        self.stopped.set()
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopped.is_set():
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client):
        backends = list(self.backends)
        random.shuffle(backends)
        upstream = None
        for b in backends:
            try:
                upstream = socket.create_connection(b, timeout=5)
                break
            except OSError:
                continue
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        pair = {client: upstream, upstream: client}
        try:
            open_ends = 2
            while open_ends and not self.stopped.is_set():
                ready, _, _ = select.select(list(pair), [], [], 0.5)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        open_ends -= 1
                        try:
                            pair[s].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        del pair[s]
                        break
                    pair[s].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()
