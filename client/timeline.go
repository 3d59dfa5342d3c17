package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

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
	// By is "named" or "arrival".
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

// HTTPError is a read the server answered other than 200: its status line
// and the start of its body (the API's {"error":{…}}).
type HTTPError struct {
	Status string
	Body   string
}

func (e *HTTPError) Error() string { return e.Status + ": " + e.Body }

// Timeline reads the answer to q (as JSON, whatever q.Format says).
func (c *Client) Timeline(ctx context.Context, q TimelineQuery) (*wire.TimelineAnswer, error) {
	q.Format = ""
	var a wire.TimelineAnswer
	err := c.timeline(ctx, q, func(r io.Reader) error {
		if err := json.NewDecoder(r).Decode(&a); err != nil {
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

// timeline sends q and gives read the body of a 200; any other status is
// an *HTTPError. It all takes at most TimelineTimeout.
func (c *Client) timeline(ctx context.Context, q TimelineQuery, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.TimelineTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.url(c.base), nil)
	if err != nil {
		return err
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		return &HTTPError{Status: res.Status, Body: strings.TrimSpace(string(b))}
	}
	return read(res.Body)
}
