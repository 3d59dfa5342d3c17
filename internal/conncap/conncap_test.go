package conncap

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/setting"
)

func TestAdmit(t *testing.T) {
	c := Caps{Total: 40, PerNetwork: 40} // high water 30
	for _, tt := range []struct {
		name                 string
		open, held, networks int
		exempt               bool
		want                 Verdict
	}{
		{"empty", 0, 0, 0, false, Admit},
		{"full", 40, 0, 5, false, OverTotal},
		{"full, exempt", 40, 0, 5, true, OverTotal},
		{"network cap", 20, 40, 1, false, OverNetwork},
		{"below high water", 29, 29, 1, false, Admit},
		{"alone at high water", 30, 30, 1, false, OverShare}, // share 40/2 = 20
		{"newcomer at high water", 30, 0, 1, false, Admit},
		{"small network past high water", 35, 5, 4, false, Admit}, // share 8
		{"at its share", 35, 8, 4, false, OverShare},
		{"exempt past high water", 39, 39, 1, true, Admit},
	} {
		if got := c.Admit(tt.open, tt.held, tt.networks, tt.exempt); got != tt.want {
			t.Errorf("%s: Admit(%d, %d, %d, %v) = %d, want %d", tt.name, tt.open, tt.held, tt.networks, tt.exempt, got, tt.want)
		}
	}
	if got := (Caps{Total: 40}).Admit(39, 39, 1, false); got != Admit {
		t.Errorf("without a per-network cap: %d, want Admit", got)
	}
}

func TestHighWaterAndShare(t *testing.T) {
	for _, tt := range []struct{ total, hw, share1 int }{{1, 1, 1}, {2, 2, 1}, {4, 3, 2}, {40, 30, 20}, {3072, 2304, 1536}} {
		c := Caps{Total: tt.total}
		if c.HighWater() != tt.hw || c.Share(1) != tt.share1 {
			t.Errorf("Total %d: high water %d, share of 1 network %d; want %d, %d", tt.total, c.HighWater(), c.Share(1), tt.hw, tt.share1)
		}
	}
}

// TestOneNetworkCannotFill plays the attack of the issue: one network
// opens as many connections as it can, then 24 others come. It holds at
// most the high-water mark, and every newcomer gets in.
func TestOneNetworkCannotFill(t *testing.T) {
	c := Caps{Total: 3072, PerNetwork: 3072}
	open, attacker := 0, 0
	for range 10_000 {
		if c.Admit(open, attacker, 1, false) == Admit {
			open++
			attacker++
		}
	}
	if attacker != c.HighWater() {
		t.Fatalf("one network holds %d, want the high-water mark %d", attacker, c.HighWater())
	}
	for n := range 24 {
		if v := c.Admit(open, 0, 1+n, false); v != Admit {
			t.Fatalf("newcomer %d refused: %d", n, v)
		}
		open++
	}
}

func TestRules(t *testing.T) {
	errConfig := errors.New("stage: invalid config")
	check := func(c Caps) error { return setting.First(errConfig, c.Rules("MaxConnections", "MaxPerNetwork")...) }
	if err := check(Caps{Total: 3072, PerNetwork: 3072}); err != nil {
		t.Fatal(err)
	}
	err := check(Caps{Total: 3072, PerNetwork: 4096})
	if err == nil || !strings.Contains(err.Error(), "MaxPerNetwork 4096: want at most MaxConnections (3072)") {
		t.Fatalf("got %v", err)
	}
	if err := check(Caps{}); err == nil || !strings.Contains(err.Error(), "MaxConnections 0: want at least 1") {
		t.Fatal(fmt.Errorf("a total of 0: %v", err))
	}
}
