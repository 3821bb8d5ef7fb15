// Package jobs owns memberd's durable background work on River
// (github.com/riverqueue/river): asynchronous operations (Workiva's role
// revocation, scheduled removals) and webhook deliveries. It implements
// membership.Queue, the core's seam for "run this later": the core calls
// it inside its own transaction, and River's InsertTx puts the job in that
// same transaction, so a job exists exactly when its change committed.
//
// The package knows no engine: the wiring (cmd/memberd) picks River's
// driver for the store it opened (riversqlite on the SQLite store's single
// writer, riverpgxv5 on the PostgreSQL store's pool) and hands it to
// NewQueue, which migrates River's own tables (rivermigrate). The Queue is
// given to the Service when the Service is built (membership.Config.Queue),
// and NewRunner then works the Queue's jobs for that Service.
//
// Exactly once: a worker hands the core a finish callback that marks the
// River job completed (river.JobCompleteTx) in the transaction that applies
// the operation's effect and stores its final state. A run killed half-way
// commits nothing; River rescues the job after RescueStuckJobsAfter and the
// next run either applies the effect or, if the first run had committed,
// finds the operation done. With several nodes on one PostgreSQL, River's
// row locks hand each job to one node.
//
// Due times: River moves a job inserted with a future time from
// "scheduled" to "available" in a leader-only pass every 5 s, too coarse
// for "within one second" of a scheduled removal. Jobs here are therefore
// inserted "available" with their future scheduled_at (an insert hook);
// River's fetch query only takes jobs whose scheduled_at has passed, so
// every node's producer picks them up at most one FetchPollInterval late.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/membership"
)

// Defaults for Config.
const (
	DefaultWorkers              = 10
	DefaultFetchPollInterval    = 200 * time.Millisecond
	DefaultJobTimeout           = time.Minute
	DefaultRescueAfter          = 2 * time.Minute
	DefaultOperationMaxAttempts = 10
	DefaultDeliveryTimeout      = 10 * time.Second
)

// Config holds the Runner's optional settings.
type Config struct {
	// Workers is how many jobs one node runs at once.
	Workers int
	// FetchPollInterval bounds how late a due job starts.
	FetchPollInterval time.Duration
	// JobTimeout cancels a job that runs longer.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay "running" before River
	// assumes its node died and runs it again; it must exceed JobTimeout.
	RescueAfter time.Duration
	// OperationMaxAttempts bounds retries of an operation that keeps
	// failing with internal errors; it is then marked failed.
	OperationMaxAttempts int
	// Webhook is the retry policy of failing webhook deliveries.
	Webhook membership.WebhookRetryPolicy
	// HTTPClient sends webhooks; its Timeout bounds one attempt. The
	// default dials no special-purpose address (netguard), follows no
	// redirect and uses no proxy; give one built by a netguard.Guard with
	// the operator's allow-list.
	HTTPClient *http.Client
	// Logger receives River's and the workers' logs.
	Logger *slog.Logger
	// PollOnly makes the runner poll for due jobs instead of listening
	// for inserts. Set it on SQLite: it has no LISTEN/NOTIFY, and River
	// would emulate it by polling a table through the one writer
	// connection, which polling for jobs already does.
	PollOnly bool
	// BeforeComplete, when set, runs inside a job's final transaction
	// just before the job is marked complete, with the job's kind. It is
	// a test seam: crash tests block there and kill the process mid-job.
	BeforeComplete func(ctx context.Context, kind string)
}

// DefaultConfig returns the settings memberd runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{
		Workers: DefaultWorkers, FetchPollInterval: DefaultFetchPollInterval, JobTimeout: DefaultJobTimeout,
		RescueAfter: DefaultRescueAfter, OperationMaxAttempts: DefaultOperationMaxAttempts,
		Webhook:    membership.DefaultWebhookRetryPolicy(),
		HTTPClient: (&netguard.Guard{}).Client(DefaultDeliveryTimeout),
		Logger:     slog.Default(),
	}
}

func (c *Config) fill() error {
	d := DefaultConfig()
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = d.FetchPollInterval
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = d.JobTimeout
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = max(d.RescueAfter, c.JobTimeout+time.Minute)
	}
	if c.RescueAfter <= c.JobTimeout {
		return fmt.Errorf("jobs: RescueAfter (%s) must exceed JobTimeout (%s)", c.RescueAfter, c.JobTimeout)
	}
	if c.OperationMaxAttempts <= 0 {
		c.OperationMaxAttempts = d.OperationMaxAttempts
	}
	if c.Webhook.MaxAttempts <= 0 || c.Webhook.Backoff == nil {
		c.Webhook.MaxAttempts, c.Webhook.Backoff = d.Webhook.MaxAttempts, d.Webhook.Backoff
	}
	if c.Webhook.BreakerFailures <= 0 {
		c.Webhook.BreakerFailures, c.Webhook.BreakerPeriod = d.Webhook.BreakerFailures, d.Webhook.BreakerPeriod
	}
	if c.HTTPClient == nil {
		c.HTTPClient = d.HTTPClient
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return nil
}

// Queue is the job queue on one engine's database, as the core sees it:
// it implements membership.Queue. Build it before the Service and hand it
// over in membership.Config.Queue; NewRunner then works its jobs.
type Queue struct {
	enqueue   membership.Queue
	newRunner func(svc *membership.Service) (*Runner, error)
}

var _ membership.Queue = (*Queue)(nil)

// EnqueueOperation implements membership.Queue.
func (q *Queue) EnqueueOperation(ctx context.Context, tx membership.Tx, op *membership.Operation) error {
	return q.enqueue.EnqueueOperation(ctx, tx, op)
}

// EnqueueDelivery implements membership.Queue.
func (q *Queue) EnqueueDelivery(ctx context.Context, tx membership.Tx, deliveryID int64, at time.Time) error {
	return q.enqueue.EnqueueDelivery(ctx, tx, deliveryID, at)
}

// NewQueue migrates River's tables through driver and returns the queue
// on it. txOf returns the driver's transaction under a transaction of the
// store whose database driver runs on, and false for any other
// transaction. The wiring picks both for the engine it opened:
// riversqlite.New(store.Writer()) and sqlite.SQLTx, or
// riverpgxv5.New(store.Pool()) and postgres.PgxTx.
func NewQueue[TTx any, TDriver riverdriver.Driver[TTx]](ctx context.Context, driver TDriver, txOf func(membership.Tx) (TTx, bool), cfg Config) (*Queue, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	migrator, err := rivermigrate.New[TTx](driver, &rivermigrate.Config{Logger: quiet(cfg.Logger)})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate river: %w", err)
	}
	// Inserting needs no workers, so the queue exists before the Service
	// that the workers call; the Runner's own client works the jobs.
	inserter, err := river.NewClient[TTx](driver, &river.Config{
		MaxAttempts: cfg.OperationMaxAttempts,
		Logger:      quiet(cfg.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	dtx := func(tx membership.Tx) (TTx, error) {
		t, ok := txOf(tx)
		if !ok {
			return t, fmt.Errorf("jobs: transaction %T is not one of the queue's store", tx)
		}
		return t, nil
	}
	return &Queue{
		enqueue: &enqueuer[TTx]{client: inserter, txOf: dtx},
		newRunner: func(svc *membership.Service) (*Runner, error) {
			return newRunner(svc, cfg, driver, dtx)
		},
	}, nil
}

// Runner works the jobs of one memberd node.
type Runner struct {
	start func(context.Context) error
	stop  func(context.Context) error
}

// NewRunner returns a Runner that works q's jobs for svc once started.
// svc must be the Service q was handed to.
func NewRunner(svc *membership.Service, q *Queue) (*Runner, error) {
	return q.newRunner(svc)
}

// Start starts working jobs; it returns once the queue is running.
func (r *Runner) Start(ctx context.Context) error { return r.start(ctx) }

// Stop stops fetching jobs and waits for running ones to finish or for
// ctx to end, whichever comes first. A job cut short is run again later.
func (r *Runner) Stop(ctx context.Context) error { return r.stop(ctx) }

// enqueuer inserts jobs with River on one driver.
type enqueuer[TTx any] struct {
	client *river.Client[TTx]
	txOf   func(membership.Tx) (TTx, error)
}

// engine is what the workers share: River on one driver, the Service they
// call, and the way to reach the driver's transaction under a
// membership.Tx.
type engine[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	svc    *membership.Service
	cfg    Config
	client *river.Client[TTx]
	txOf   func(membership.Tx) (TTx, error)
}

func newRunner[TTx any, TDriver riverdriver.Driver[TTx]](svc *membership.Service, cfg Config, driver TDriver, txOf func(membership.Tx) (TTx, error)) (*Runner, error) {
	e := &engine[TTx, TDriver]{svc: svc, cfg: cfg, txOf: txOf}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &operationWorker[TTx, TDriver]{e: e}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &deliveryWorker[TTx, TDriver]{e: e}); err != nil {
		return nil, err
	}
	var err error
	e.client, err = river.NewClient[TTx](driver, &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        min(cfg.FetchPollInterval, 50*time.Millisecond),
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		MaxAttempts:          cfg.OperationMaxAttempts,
		Logger:               quiet(cfg.Logger),
		PollOnly:             cfg.PollOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return &Runner{start: e.client.Start, stop: e.client.Stop}, nil
}

// quiet passes River's warnings and errors on and drops its chatter.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelHandler{min: slog.LevelWarn, Handler: l.Handler()})
}

type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// dueHook inserts a job that is due later as "available" with its future
// scheduled_at (see the package doc): River's fetch takes it once due.
var dueHook = river.HookInsertBeginFunc(func(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.State == rivertype.JobStateScheduled {
		p.State = rivertype.JobStateAvailable
	}
	return nil
})

// EnqueueOperation inserts op's job in tx.
func (e *enqueuer[TTx]) EnqueueOperation(ctx context.Context, tx membership.Tx, op *membership.Operation) error {
	dtx, err := e.txOf(tx)
	if err != nil {
		return err
	}
	_, err = e.client.InsertTx(ctx, dtx, OperationArgs{Operation: op.UUID}, &river.InsertOpts{ScheduledAt: op.RunAt()})
	return err
}

// EnqueueDelivery inserts the delivery's job in tx, due at at.
func (e *enqueuer[TTx]) EnqueueDelivery(ctx context.Context, tx membership.Tx, deliveryID int64, at time.Time) error {
	dtx, err := e.txOf(tx)
	if err != nil {
		return err
	}
	_, err = e.client.InsertTx(ctx, dtx, DeliveryArgs{Delivery: deliveryID}, &river.InsertOpts{ScheduledAt: at})
	return err
}

// finisher returns the core's finish callback for job: it completes the
// job in the core's transaction.
func finisher[TTx any, TDriver riverdriver.Driver[TTx], TArgs river.JobArgs](ctx context.Context, e *engine[TTx, TDriver], job *river.Job[TArgs]) func(membership.Tx) error {
	return func(tx membership.Tx) error {
		dtx, err := e.txOf(tx)
		if err != nil {
			return err
		}
		if e.cfg.BeforeComplete != nil {
			e.cfg.BeforeComplete(ctx, job.Kind)
		}
		if _, err := river.JobCompleteTx[TDriver](ctx, dtx, job); err != nil {
			return fmt.Errorf("complete job %d: %w", job.ID, err)
		}
		return nil
	}
}

// OperationArgs is the job that runs one operation.
type OperationArgs struct {
	Operation string `json:"operation"` // the operation's UUID
}

// Kind implements river.JobArgs.
func (OperationArgs) Kind() string { return "memberd_operation" }

// Hooks implements river.JobArgsWithHooks.
func (OperationArgs) Hooks() []rivertype.Hook { return []rivertype.Hook{dueHook} }

type operationWorker[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	river.WorkerDefaults[OperationArgs]
	e *engine[TTx, TDriver]
}

func (w *operationWorker[TTx, TDriver]) Work(ctx context.Context, job *river.Job[OperationArgs]) error {
	finish := finisher(ctx, w.e, job)
	_, err := w.e.svc.RunOperation(ctx, job.Args.Operation, finish)
	var notDue *membership.ErrNotDue
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notDue):
		return river.JobSnooze(max(time.Until(notDue.Due), 0))
	case membership.ErrorCode(err) == membership.CodeNotFound:
		// The operation's transaction was rolled back after the job was
		// inserted in it; nothing exists to run.
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		if _, ferr := w.e.svc.FailOperation(ctx, job.Args.Operation, err, finish); ferr != nil {
			return errors.Join(err, ferr)
		}
		return nil
	}
	return err
}
