package edge

import (
	"fmt"
	"slices"
	"testing"
)

// parseAll feeds input in pieces cut at cuts and returns the operations
// and the first error.
func parseAll(input []byte, cuts ...int) ([]string, error) {
	var p parser
	var ops []string
	h := func(line, payload []byte) error {
		ops = append(ops, fmt.Sprintf("%q|%q", line, payload))
		return nil
	}
	prev := 0
	for _, c := range append(cuts, len(input)) {
		c = min(max(c, prev), len(input))
		if err := p.feed(input[prev:c], 64, 32, h); err != nil {
			return ops, err
		}
		if len(p.buf) > 64+32+2 {
			return ops, fmt.Errorf("buffer of %d bytes", len(p.buf))
		}
		prev = c
	}
	return ops, nil
}

func TestParser(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  error
	}{
		{"PING\r\nPONG\r\n", []string{`"PING"|""`, `"PONG"|""`}, nil},
		{"PUB a b 3\r\nabc\r\nPING\n", []string{`"PUB a b 3"|"abc"`, `"PING"|""`}, nil},
		{"HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", []string{`"HPUB a 12 14"|"NATS/1.0\r\n\r\nhi"`}, nil},
		{"pub a 0\r\n\r\n", []string{`"pub a 0"|""`}, nil},
		{"PUB a 33\r\n", nil, errPayload},
		{"PUB a x\r\n", nil, errUnknownOp},
		{"PUB a 1\r\nxyz", nil, errUnknownOp},
		{string(make([]byte, 65)), nil, errControlLine},
	} {
		for cut := range len(c.in) + 1 {
			got, err := parseAll([]byte(c.in), cut)
			if err != c.err || !slices.Equal(got, c.want) {
				t.Errorf("%q cut at %d: %v %v, want %v %v", c.in, cut, got, err, c.want, c.err)
			}
		}
	}
}

// FuzzParser: any input, cut anywhere, parses to the same operations as in
// one piece, within the limits, without panicking.
func FuzzParser(f *testing.F) {
	for _, s := range []string{"CONNECT {}\r\nPING\r\n", "PUB a b 3\r\nabc\r\n", "HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
		"SUB emostream.live.m 1\r\nUNSUB 1 5\r\n", "PUB x 99999999999999999999\r\n", "\r\n\r\n\n", "PUB  \t a \t 1\r\nx\r\n"} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		whole, werr := parseAll(in)
		parts, perr := parseAll(in, cut, cut+1, cut*2)
		if (werr == nil) != (perr == nil) || !slices.Equal(whole, parts) {
			t.Fatalf("whole: %v %v; in parts: %v %v", whole, werr, parts, perr)
		}
		for _, op := range whole {
			if len(op) > 4*(64+32)+8 {
				t.Fatalf("operation past the limits: %s", op)
			}
		}
	})
}
