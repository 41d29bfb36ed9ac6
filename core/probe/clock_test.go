package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// dateServer answers with a Date header shifted by skew.
func dateServer(t *testing.T, skew time.Duration, omit bool) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if omit {
			w.Header()["Date"] = nil
		} else {
			w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClock(t *testing.T) {
	tests := []struct {
		name   string
		skew   time.Duration
		status Status
	}{
		{"in sync", 0, OK},
		{"two minutes", -2 * time.Minute, Warn},
		{"twenty minutes behind server", 20 * time.Minute, Fail},
		{"one hour ahead of server", -time.Hour, Fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := dateServer(t, tc.skew, false)
			r := Clock(context.Background(), srv.Client(), srv.URL, nil)
			if r.Status != tc.status || !r.Measured {
				t.Fatalf("status %s measured %v, want %s: %s", r.Status, r.Measured, tc.status, r.Detail)
			}
			// Offset is local minus server: the opposite of the skew, within the uncertainty.
			if d := r.Offset + tc.skew; d > r.Uncertainty+time.Second || d < -r.Uncertainty-time.Second {
				t.Errorf("offset %s for skew %s (±%s)", r.Offset, tc.skew, r.Uncertainty)
			}
			if tc.status == Fail && (len(r.Evidence) != 1 || r.Evidence[0].Kind != "clock") {
				t.Errorf("evidence %+v", r.Evidence)
			}
		})
	}
}

func TestClockFakeLocal(t *testing.T) {
	// The server is right; the local clock (now) is 30 minutes fast.
	srv := dateServer(t, 0, false)
	r := Clock(context.Background(), srv.Client(), srv.URL, func() time.Time { return time.Now().Add(30 * time.Minute) })
	if r.Status != Fail || r.Offset < 29*time.Minute || !strings.Contains(r.Detail, "ahead of") {
		t.Fatalf("got %s %s %q", r.Status, r.Offset, r.Detail)
	}
}

func TestClockSkips(t *testing.T) {
	if r := Clock(context.Background(), nil, "", nil); r.Status != Skip {
		t.Errorf("no URL: %s", r.Status)
	}
	srv := dateServer(t, 0, true)
	if r := Clock(context.Background(), srv.Client(), srv.URL, nil); r.Status != Skip || r.Measured {
		t.Errorf("no Date: %s %v", r.Status, r.Measured)
	}
	srv2 := dateServer(t, 0, false)
	srv2.Close()
	if r := Clock(context.Background(), srv2.Client(), srv2.URL, nil); r.Status != Skip {
		t.Errorf("unreachable: %s", r.Status)
	}
}
