package loadgen_test

import (
	"context"
	"fmt"
	"net"

	"github.com/emostream/emostream/loadgen"
)

// Send 1,000 events in batches of 100 to a Ceiling on a random loopback
// port, as a benchmark would.
func ExampleGenerator_Run() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var ceiling loadgen.Ceiling
	go ceiling.Serve(ln)
	defer ceiling.Shutdown()

	g, err := loadgen.New(loadgen.Config{
		Target:      "http://" + ln.Addr().String(),
		Events:      1000,
		Batch:       100,
		Connections: 4,
		EventIDs:    true,
	})
	if err != nil {
		panic(err)
	}
	s, err := g.Run(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Requests, "requests,", s.Accepted, "accepted, statuses", s.ByStatus)
	// Output: 10 requests, 1000 accepted, statuses map[202:10]
}

func ExampleParseMix() {
	mix, err := loadgen.ParseMix("🔥=40, 👏=20, 😂")
	fmt.Println(mix, err)
	// Output: 🔥=40,👏=20,😂=1 <nil>
}
