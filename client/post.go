package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emostream/emostream/web"
)

// Event is one reaction as POST /v1/emojis takes it (docs/api.md).
type Event struct {
	// UserID is absent when the request's token names the user.
	UserID    string `json:"user_id,omitempty"`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
	// Timestamp is when the viewer reacted, in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
	// EventID makes a retry count once: a request answered 503 may have
	// been stored although Kafka's answer timed out.
	EventID string `json:"event_id"`
	// VideoTS is the program time (Unix ms) of the video frame the viewer
	// saw when reacting; 0 sends none (docs/api.md, "POST /v1/emojis").
	VideoTS int64 `json:"video_ts,omitempty"`
}

// Reply is the server's answer to one POST /v1/emojis.
type Reply struct {
	// Status is the HTTP status code, StatusText its status line
	// ("202 Accepted").
	Status     int
	StatusText string
	// RetryAfter is the Retry-After header, empty when there is none.
	RetryAfter string
	// Accepted is the body of a 202: how many events were taken and the
	// windows (Unix ms) they were counted in. Nil for a refusal, or a
	// body that does not decode.
	Accepted *Accepted
	// Code and Message are a refusal's {"error":{…}}, empty otherwise;
	// Index is the first bad event it names, -1 when none.
	Code, Message string
	Index         int
	// Body is the reply's body, at most 64 KiB of it.
	Body []byte
}

// Accepted is the body of a 202.
type Accepted struct {
	Accepted int     `json:"accepted"`
	Windows  []int64 `json:"windows"`
}

// wait is how long the reply asks a retry to wait: its Retry-After in
// seconds, at least one second, at most limit.
func (r Reply) wait(limit time.Duration) time.Duration {
	secs, _ := strconv.Atoi(r.RetryAfter)
	secs = max(secs, 1)
	if time.Duration(secs) > limit/time.Second {
		return limit
	}
	return time.Duration(secs) * time.Second
}

// Post sends evs in one request (a bare object if there is one) with the
// bearer token tok, if any, and returns the reply. The error is only for a
// request that got no reply.
func (c *Client) Post(ctx context.Context, tok string, evs []Event) (Reply, error) {
	var body any = evs
	if len(evs) == 1 {
		body = evs[0]
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Reply{}, fmt.Errorf("client: encoding %d events: %w", len(evs), err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/emojis", bytes.NewReader(b))
	if err != nil {
		return Reply{}, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("client: posting %d events: %w", len(evs), err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, maxReply))
	return decodeReply(res, reply), nil
}

// decodeReply reads a 202's count or a refusal's code from body.
func decodeReply(res *http.Response, body []byte) Reply {
	r := Reply{Status: res.StatusCode, StatusText: res.Status, RetryAfter: res.Header.Get("Retry-After"), Index: -1, Body: body}
	var ok Accepted
	if res.StatusCode == http.StatusAccepted && json.Unmarshal(body, &ok) == nil {
		r.Accepted = &ok
	}
	var bad struct {
		Error struct {
			Code, Message string
			Index         *int
		} `json:"error"`
	}
	if json.Unmarshal(body, &bad) == nil {
		r.Code, r.Message = bad.Error.Code, bad.Error.Message
		if bad.Error.Index != nil {
			r.Index = *bad.Error.Index
		}
	}
	return r
}

// PostRetrying is Post that sends a request answered 429 or 503 again
// after its Retry-After (at most MaxRetryWait), up to MaxRetries times,
// and returns the last reply. onReply, if set, is told every reply. The
// events' ids make a retried 503 count once.
func (c *Client) PostRetrying(ctx context.Context, tok string, evs []Event, onReply func(Reply)) (Reply, error) {
	for attempt := 0; ; attempt++ {
		res, err := c.Post(ctx, tok, evs)
		if err == nil && onReply != nil {
			onReply(res)
		}
		retry := res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable
		if err != nil || !retry || attempt == c.cfg.MaxRetries {
			return res, err
		}
		t := time.NewTimer(res.wait(c.cfg.MaxRetryWait))
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
	}
}

// Limits reads the server's request limits from GET /v1/config; nil if it
// does not say (Send then splits where a burst_exceeded refusal points).
func (c *Client) Limits(ctx context.Context) *web.Limits {
	var cfg web.ClientConfig
	err := c.get(ctx, c.base+"/v1/config", limitsTimeout, func(r io.Reader) error {
		return json.NewDecoder(io.LimitReader(r, maxConfig)).Decode(&cfg)
	})
	if err != nil {
		return nil
	}
	return cfg.Limits
}

// HTTPError is a read the server answered other than 200: its status line
// and the start of its body (the API's {"error":{…}}).
type HTTPError struct {
	Status string
	Body   string
}

func (e *HTTPError) Error() string { return e.Status + ": " + e.Body }

// get sends GET url and gives read the body of a 200; any other status is
// an *HTTPError. It all takes at most timeout.
func (c *Client) get(ctx context.Context, url string, timeout time.Duration, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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
