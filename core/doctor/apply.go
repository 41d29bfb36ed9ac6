package doctor

import (
	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
)

// Apply records a report's verdict on the account: its status, the cause,
// when it was checked, and the last good login when it passed. A check that
// was cancelled before it could say anything leaves the account unchanged.
func Apply(a *account.Account, r Report) {
	if len(r.Checks) == 0 {
		return
	}
	a.CheckedAt = r.Started.Add(r.Duration).UTC()
	if r.Healthy {
		a.Status = account.Healthy
		a.Cause = ""
		a.LastOK = a.CheckedAt
		return
	}
	a.Cause = string(r.Diagnosis.Cause)
	switch cause.Info(r.Diagnosis.Cause).Action {
	case cause.ActionReconnect, cause.ActionSettings:
		a.Status = account.NeedsReconnect
	default:
		a.Status = account.Failing
	}
}
