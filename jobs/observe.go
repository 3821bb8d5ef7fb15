package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
)

// Observer is told how jobs end, so that the wiring can count and log
// them without this package importing a metrics library. Its methods run
// on the Runner's goroutines and must not block.
type Observer interface {
	// JobFinished reports a job that ended one attempt: kind is the job's
	// Kind, outcome "completed", "failed" (it will be retried), "discarded"
	// (it ran out of attempts), "cancelled" or "snoozed"; err is the
	// attempt's error, if any.
	JobFinished(kind, outcome string, took time.Duration, err string)
	// DeliveryAttempted reports one webhook delivery attempt: outcome is
	// "delivered", "failed" (an HTTP error or no answer) or "skipped" (the
	// endpoint is not active), endpointStatus the endpoint's status.
	DeliveryAttempted(outcome, endpointStatus string)
}

// observe forwards the client's job events to o until the client stops.
func observe[TTx any](client *river.Client[TTx], o Observer) {
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobCancelled, river.EventKindJobSnoozed)
	go func() {
		defer cancel()
		for ev := range events {
			outcome := map[river.EventKind]string{river.EventKindJobCompleted: "completed",
				river.EventKindJobFailed: "failed", river.EventKindJobCancelled: "cancelled",
				river.EventKindJobSnoozed: "snoozed"}[ev.Kind]
			if ev.Kind == river.EventKindJobFailed && ev.Job.FinalizedAt != nil {
				outcome = "discarded"
			}
			var took time.Duration
			var errText string
			if ev.JobStats != nil {
				took = ev.JobStats.RunDuration
			}
			if n := len(ev.Job.Errors); n > 0 && ev.Kind == river.EventKindJobFailed {
				errText = ev.Job.Errors[n-1].Error
			}
			o.JobFinished(ev.Job.Kind, outcome, took, errText)
		}
	}()
}

// depth counts the jobs in each state through driver.
func depth[TTx any, TDriver riverdriver.Driver[TTx]](ctx context.Context, driver TDriver) (map[string]int, error) {
	counts, err := driver.GetExecutor().JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
	if err != nil {
		return nil, fmt.Errorf("jobs: count jobs: %w", err)
	}
	out := make(map[string]int, len(counts))
	for state, n := range counts {
		out[string(state)] = n
	}
	return out, nil
}

// observeDelivery reports a delivery attempt's outcome to the observer.
func (c *Config) observeDelivery(attempted, delivered bool, endpointStatus string) {
	if c.Observer == nil {
		return
	}
	outcome := "skipped"
	switch {
	case attempted && delivered:
		outcome = "delivered"
	case attempted:
		outcome = "failed"
	}
	c.Observer.DeliveryAttempted(outcome, endpointStatus)
}

// Running reports whether the Runner has started and not stopped.
func (r *Runner) Running() bool { return r.running.Load() }

// Depth counts the queue's jobs in each River state ("available",
// "scheduled", "retryable", "running", ...), for metrics.
func (r *Runner) Depth(ctx context.Context) (map[string]int, error) { return r.depth(ctx) }
