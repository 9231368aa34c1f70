"""A test double of the Kubernetes API server, with a controller manager, scheduler and kubelet that run pods as
local processes on loopback. Start it with `scripts/k8s-double.sh`; see README.md for what it simulates."""
