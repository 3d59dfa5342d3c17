package conncap

import (
	"fmt"

	"github.com/emostream/emostream/internal/setting"
)

// Verdict is the answer to a new connection.
type Verdict uint8

const (
	// Admit lets the connection in.
	Admit Verdict = iota
	// OverTotal: every slot is taken.
	OverTotal
	// OverNetwork: the peer's network holds its cap.
	OverNetwork
	// OverShare: past the high-water mark, the peer's network holds its
	// share already; the slots left are kept for networks that hold less.
	OverShare
)

// Caps are a listener's caps: Total open connections, and PerNetwork of
// them from one client network. Networks hold at most PerNetwork each, and
// once HighWater connections are open (three quarters of Total) a network
// gets another only while it holds less than its Share: Total divided by
// the networks holding connections plus one, for whoever comes next. So one
// network never holds more than HighWater, a network that holds nothing
// gets in while any slot is free, and to take the last quarter an attacker
// needs many networks, each holding less than a newcomer's share.
type Caps struct {
	Total, PerNetwork int
}

// Rules are the rules of caps that add up, for a Config's validate table
// (package setting): a total of at least 1, and no per-network cap above
// the total, which would let one network take every slot. totalName and
// perName name the settings.
func (c Caps) Rules(totalName, perName string) []setting.Rule {
	return []setting.Rule{
		setting.AtLeast(totalName, c.Total, 1),
		setting.Check(perName, c.PerNetwork, c.PerNetwork <= c.Total,
			fmt.Sprintf("want at most %s (%d): one network could hold every connection", totalName, c.Total)),
	}
}

// HighWater is the count of open connections from which shares apply:
// three quarters of Total, rounded up.
func (c Caps) HighWater() int { return c.Total - c.Total/4 }

// Share is what one network may hold past HighWater while networks hold
// connections: Total / (networks + 1), at least 1.
func (c Caps) Share(networks int) int { return max(1, c.Total/(max(networks, 0)+1)) }

// Admit decides on a new connection while open are open, held of them from
// the peer's network and networks distinct networks hold any. An exempt
// peer (a trusted proxy, which carries many clients) meets the total only.
// A PerNetwork of 0 or less means no per-network cap and no shares.
func (c Caps) Admit(open, held, networks int, exempt bool) Verdict {
	switch {
	case open >= c.Total:
		return OverTotal
	case exempt || c.PerNetwork <= 0:
		return Admit
	case held >= c.PerNetwork:
		return OverNetwork
	case open >= c.HighWater() && held >= c.Share(networks):
		return OverShare
	}
	return Admit
}
