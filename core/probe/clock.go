package probe

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mailmend/mailmend/core/cause"
)

// DefaultClockTimeout bounds the clock check's HTTP request.
const DefaultClockTimeout = 8 * time.Second

// ClockWarn is the offset from which the clock check warns; past
// cause.ClockTolerance it fails.
const ClockWarn = time.Minute

// ClockResult is the clock check's Result with the measured offset.
type ClockResult struct {
	Result
	// Offset is the local clock minus the server's (positive: local is
	// ahead), corrected by half the round trip. Valid when Measured.
	Offset time.Duration
	// Uncertainty bounds the error of Offset: half the round trip plus the
	// one-second resolution of the Date header.
	Uncertainty time.Duration
	Measured    bool
}

// Clock measures the local clock against the Date header of an HTTPS
// server (the provider's OAuth or web endpoint). It sends one HEAD request
// with client (nil: http.DefaultClient with DefaultClockTimeout). The
// offset is local time at the midpoint of the round trip minus the server's
// Date (which has a resolution of one second, so half a second is added).
// Offsets under ClockWarn pass, up to cause.ClockTolerance warn, and beyond
// fail with clock evidence. A server that cannot be reached or sends no
// Date gives Skip: the clock could not be measured.
func Clock(ctx context.Context, client *http.Client, url string, now func() time.Time) ClockResult {
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultClockTimeout}
	}
	start := time.Now()
	res := ClockResult{Result: Result{Name: CheckClock}}
	finish := func() ClockResult {
		res.Duration = time.Since(start)
		return res
	}
	if url == "" {
		res.Status = Skip
		res.Detail = "no HTTPS endpoint known for this provider to compare with"
		return finish()
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultClockTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		res.Status = Skip
		res.Detail = detail("bad URL: " + err.Error())
		return finish()
	}
	t0 := now()
	resp, err := client.Do(req)
	t1 := now()
	if err != nil {
		res.Status = Skip
		res.Detail = detail("could not reach " + req.URL.Host + " to compare clocks")
		return finish()
	}
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		res.Status = Skip
		res.Detail = detail(req.URL.Host + " sent no usable Date header")
		return finish()
	}
	rtt := t1.Sub(t0)
	mid := t0.Add(rtt / 2)
	// Date truncates to the second: the server's true time is in
	// [date, date+1s); take the middle.
	server := date.Add(500 * time.Millisecond)
	res.Offset = mid.Sub(server).Round(time.Millisecond)
	res.Uncertainty = rtt/2 + 500*time.Millisecond
	res.Measured = true
	abs := res.Offset
	if abs < 0 {
		abs = -abs
	}
	dir := "ahead of"
	if res.Offset < 0 {
		dir = "behind"
	}
	text := fmt.Sprintf("local clock is %s %s %s (±%s)", abs.Round(time.Second), dir, req.URL.Host, res.Uncertainty.Round(10*time.Millisecond))
	switch {
	case abs-res.Uncertainty > cause.ClockTolerance:
		res.Status = Fail
		res.Evidence = []cause.Evidence{{Kind: cause.KindClock, Code: "clock_offset", Check: CheckClock, Text: text}}
	case abs-res.Uncertainty > ClockWarn:
		res.Status = Warn
		res.Evidence = []cause.Evidence{{Kind: cause.KindClock, Code: "clock_offset", Check: CheckClock, Text: text}}
	default:
		res.Status = OK
	}
	res.Detail = detail(text)
	return finish()
}
