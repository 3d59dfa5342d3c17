package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/wire"
)

// DefaultEmojiTypes is ingest's default allow-list (wire.DefaultEmojis),
// used when the target's GET /v1/emoji-types cannot be read. ZipfMix takes
// its order as most to least popular.
var DefaultEmojiTypes = wire.DefaultEmojis

// Weighted is one emoji type and its relative weight in a Mix.
type Weighted struct {
	Emoji  string `json:"emoji"`
	Weight uint32 `json:"weight"`
}

// Mix is the weighted set of emoji types a run sends; each event picks one
// with probability weight/sum of weights.
type Mix []Weighted

// ZipfMix weights types like a real crowd: the k-th type (from 1) gets a
// weight proportional to 1/k, so the first is picked twice as often as the
// second and k times as often as the k-th.
func ZipfMix(types []string) Mix {
	m := make(Mix, len(types))
	for i, e := range types {
		m[i] = Weighted{Emoji: e, Weight: uint32(1 + 1200/(i+1))}
	}
	return m
}

// ParseMix reads a mix written as "🔥=40,👏=20,😂": comma-separated emoji
// types, each with an optional positive integer weight (default 1).
func ParseMix(s string) (Mix, error) {
	var m Mix
	for part := range strings.SplitSeq(s, ",") {
		w, err := parseWeighted(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		m = append(m, w)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseWeighted(part string) (Weighted, error) {
	emoji, weight, hasWeight := strings.Cut(part, "=")
	emoji = strings.TrimSpace(emoji)
	w := Weighted{Emoji: emoji, Weight: 1}
	if hasWeight {
		n, err := strconv.ParseUint(strings.TrimSpace(weight), 10, 32)
		if err != nil || n == 0 {
			return w, fmt.Errorf("%w: weight %q of %q is not a positive integer", ErrBadMix, weight, emoji)
		}
		w.Weight = uint32(n)
	}
	return w, nil
}

// String writes m in the form ParseMix reads.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, w := range m {
		parts[i] = w.Emoji + "=" + strconv.FormatUint(uint64(w.Weight), 10)
	}
	return strings.Join(parts, ",")
}

func (m Mix) validate() error {
	if len(m) == 0 {
		return fmt.Errorf("%w: empty", ErrBadMix)
	}
	seen := make(map[string]bool, len(m))
	var total uint64
	for _, w := range m {
		switch {
		case w.Emoji == "" || strings.ContainsAny(w.Emoji, "=, "):
			return fmt.Errorf("%w: bad emoji type %q", ErrBadMix, w.Emoji)
		case w.Weight == 0:
			return fmt.Errorf("%w: %q has weight 0", ErrBadMix, w.Emoji)
		case seen[w.Emoji]:
			return fmt.Errorf("%w: %q listed twice", ErrBadMix, w.Emoji)
		}
		seen[w.Emoji] = true
		total += uint64(w.Weight)
	}
	if total > 1<<32-1 {
		return fmt.Errorf("%w: weights sum to more than %d", ErrBadMix, uint32(1<<32-1))
	}
	return nil
}

// picker chooses an emoji index from a uniform random number in
// [0, total) by its cumulative weight.
type picker struct {
	cum   []uint32
	total uint32
}

func newPicker(m Mix) picker {
	p := picker{cum: make([]uint32, len(m))}
	for i, w := range m {
		p.total += w.Weight
		p.cum[i] = p.total
	}
	return p
}

func (p picker) pick(r uint32) int {
	for i, c := range p.cum {
		if r < c {
			return i
		}
	}
	return len(p.cum) - 1
}

// FetchEmojiTypes reads the allowed emoji types from the target's
// GET /v1/emoji-types, which answers {"emoji_types":[...]} in at most
// MaxReplyBytes.
func FetchEmojiTypes(ctx context.Context, target string) ([]string, error) {
	timeout := 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	c := &fasthttp.Client{MaxResponseBodySize: MaxReplyBytes}
	defer c.CloseIdleConnections()
	status, body, err := c.GetTimeout(nil, strings.TrimSuffix(target, "/")+"/v1/emoji-types", timeout)
	if err != nil {
		return nil, fmt.Errorf("fetching emoji types: %w", err)
	}
	if status != fasthttp.StatusOK {
		return nil, fmt.Errorf("fetching emoji types: HTTP status %d", status)
	}
	var reply struct {
		Types []string `json:"emoji_types"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return nil, fmt.Errorf("decoding emoji types: %w", err)
	}
	if len(reply.Types) == 0 {
		return nil, fmt.Errorf("fetching emoji types: empty list")
	}
	return reply.Types, nil
}
