package testenv

import (
	"net"
	"os"
	"testing"
)

// A node whose port another process took between FreeAddr's probe and the
// JVM's bind fails to start; StartRealKafkaDir starts the cluster again on
// fresh storage and new ports.
func TestRealKafkaStartsAgainWhenAPortIsTaken(t *testing.T) {
	RequireRealKafka(t)
	held, err := net.Listen("tcp", FreeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	calls := 0
	kafkaAddr = func() string {
		calls++
		if calls == 2 { // the first node's controller port
			return held.Addr().String()
		}
		return FreeAddr()
	}
	defer func() { kafkaAddr = FreeAddr }()
	dir := t.TempDir()
	k, err := StartRealKafkaDir(1, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	if calls != 4 {
		t.Errorf("%d ports drawn, want 2 for the failed start and 2 for the next", calls)
	}
	if n := k.Nodes[0]; n.ControllerAddr == held.Addr().String() || !n.Running() {
		t.Errorf("node on controller %s (held %s), running %v", n.ControllerAddr, held.Addr(), n.Running())
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
