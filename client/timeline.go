package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/emostream/emostream/wire"
)

// TimelineQuery asks GET /v1/matches/{Match}/timeline for a match's story
// (docs/api.md, "Timeline"). An empty field is left to the server's
// default.
type TimelineQuery struct {
	Match string
	// Step is "2s", "10s", "1m" or "5m".
	Step string
	// From and To are RFC 3339 instants or Unix milliseconds.
	From, To string
	// By is "named", "arrival" or "video" (by program time).
	By string
	// Format is "csv" or "json"; WriteTimeline copies the answer in it.
	Format string
}

// url is the query's URL under base.
func (q TimelineQuery) url(base string) string {
	v := url.Values{}
	for k, s := range map[string]string{"step": q.Step, "from": q.From, "to": q.To, "by": q.By, "format": q.Format} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return base + "/v1/matches/" + url.PathEscape(q.Match) + "/timeline?" + v.Encode()
}

// Timeline reads the answer to q (as JSON, whatever q.Format says).
func (c *Client) Timeline(ctx context.Context, q TimelineQuery) (*wire.TimelineAnswer, error) {
	q.Format = ""
	var a wire.TimelineAnswer
	err := c.timeline(ctx, q, func(r io.Reader) error {
		lr := &io.LimitedReader{R: r, N: MaxTimelineAnswer + 1}
		err := json.NewDecoder(lr).Decode(&a)
		if lr.N == 0 {
			return fmt.Errorf("the answer is over %d MiB: not a timeline", MaxTimelineAnswer>>20)
		}
		if err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// WriteTimeline copies the answer to q to w as the server wrote it, in
// q.Format.
func (c *Client) WriteTimeline(ctx context.Context, q TimelineQuery, w io.Writer) error {
	return c.timeline(ctx, q, func(r io.Reader) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// timeline sends q and gives read the body of a 200 (see get).
func (c *Client) timeline(ctx context.Context, q TimelineQuery, read func(io.Reader) error) error {
	return c.get(ctx, q.url(c.base), c.cfg.TimelineTimeout, read)
}
