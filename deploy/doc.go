// Package deploy holds EmoStream's deployment files, none of them Go: the
// leaf cluster configurations (leaf-*.conf), systemd units for every stage
// (systemd/) and Kubernetes manifests (k8s/). It reads nothing and writes
// nothing at run time.
//
// Its tests stand in for the machines and the cluster that are not here:
// every Kubernetes document is decoded strictly into the k8s.io/api types,
// every unit is checked with systemd-analyze, every nats-server
// configuration is loaded the way emostream hub and leaf load it, and every
// flag a unit or container passes is one that the built emostream binary
// defines.
package deploy
