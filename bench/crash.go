package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memberd/memberd/client"
	"github.com/memberd/memberd/membership"
)

// CrashConfig bounds one engine's crash campaign.
type CrashConfig struct {
	Bin    string // the memberd binary (BuildServer)
	DSN    string // the database every round's server runs on, empty at the start
	Engine string
	Rounds int
	Seed   uint64
	// MinLoad and MaxLoad bound how long the load runs before SIGKILL;
	// each round draws its moment uniformly between them.
	MinLoad, MaxLoad time.Duration
	Workers          int
	// LateSchedules sends schedules only in the last round, due after its
	// kill, so that none is running when a server dies: a job killed
	// mid-run waits for River's rescue (jobs.DefaultRescueAfter, 2 min),
	// longer than a short CI run may take. The full campaign leaves it off.
	LateSchedules bool
	Log           io.Writer // progress lines; nil for none
}

// Figures per kind of acknowledgement the campaign checks.
const (
	AckRemoval  = "single removals"
	AckBatch    = "batch items removed"
	AckBatches  = "batches (all or nothing)"
	AckRestore  = "restores"
	AckRoles    = "role revocations (all or nothing)"
	AckSchedule = "schedules run after acknowledgement"
	AckEvent    = "audit events of acknowledged changes"
	AckReceipt  = "receipts checked by audit verify"
	AckOutbox   = "webhook outbox rows of acknowledged changes"
)

// CrashFigures is what one engine's campaign checked and found.
type CrashFigures struct {
	Engine         string
	Rounds         int
	Acks           map[string]int // checked acknowledgements by kind
	Unacked        int            // requests cut off by the kill: state unknown, checked only for atomicity
	Refused        int            // requests answered outside 2xx: nothing to check but atomicity
	Losses         int            // an acknowledged change missing after restart
	HalfApplied    int            // an atomic change found partly applied
	VerifyFailures int            // audit verify runs that failed
	Delivered      int            // webhook messages the receiver got
	Problems       []string       // the first problems, for the report
	Elapsed        time.Duration
}

// Checked is the total of acknowledgements checked.
func (f *CrashFigures) Checked() int {
	n := 0
	for _, v := range f.Acks {
		n += v
	}
	return n
}

// Failed says whether the campaign found anything wrong.
func (f *CrashFigures) Failed() bool {
	return f.Losses > 0 || f.HalfApplied > 0 || f.VerifyFailures > 0
}

func (f *CrashFigures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rounds in %s; %d acknowledgements checked, %d requests cut off by the kill, %d refused; losses %d, half-applied %d, verify failures %d; %d webhook messages delivered to the receiver\n",
		f.Engine, f.Rounds, f.Elapsed.Round(time.Second), f.Checked(), f.Unacked, f.Refused, f.Losses, f.HalfApplied, f.VerifyFailures, f.Delivered)
	for _, k := range []string{AckRemoval, AckBatch, AckBatches, AckRestore, AckRoles, AckSchedule, AckEvent, AckReceipt, AckOutbox} {
		fmt.Fprintf(&b, "  %-45s %d\n", k, f.Acks[k])
	}
	for _, p := range f.Problems {
		fmt.Fprintf(&b, "  PROBLEM %s\n", p)
	}
	return b.String()
}

func (f *CrashFigures) problem(kind *int, format string, args ...any) {
	*kind++
	if len(f.Problems) < 20 {
		f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
	}
}

// Kinds of operation the load sends.
const (
	opRemoval  = "removal"
	opBatch    = "batch"
	opRestore  = "restore"
	opRoles    = "roles"
	opSchedule = "schedule"
)

// crashOp is one request the load sent and what it answered.
type crashOp struct {
	kind     string
	members  []int64
	sm       int64    // roles: the space membership
	roles    []string // roles: the roles revoked
	acked    bool
	refused  bool
	report   *membership.Report
	batch    *membership.BatchResult
	schedule *membership.Operation
}

// pendingSchedule is an acknowledged scheduled removal not yet seen run.
type pendingSchedule struct {
	id     string
	member int64
	due    time.Time
}

// roleSet are the roles every revocation target starts with; a
// revocation takes two of them at once, so a half-applied one shows.
var roleSet = []string{"r1", "r2", "r3"}

// crashRun is one engine's campaign state. Each member is in at most one
// pool, and an operation takes its members out of the pools, so no two
// operations of a round touch the same member and each one's effect is
// checkable on its own.
type crashRun struct {
	cfg      CrashConfig
	fig      *CrashFigures
	token    string
	endpoint string // webhook endpoint id
	space    string // the revocation targets' space
	rng      *rand.Rand

	mu       sync.Mutex
	active   []int64 // members known active, free
	removed  []int64 // members known removed, free
	smFree   []int64 // space memberships holding every role of roleSet
	smMember map[int64]int64
	pending  []pendingSchedule
	ops      []*crashOp
	receipts []string // ID:HASH of this round's acknowledged changes
	// acked counts acknowledged changes by "action member:N" over the
	// whole campaign: the trail must hold at least as many events.
	acked map[string]int
	// loadStart is when the last load began: the outbox rows of its
	// changes are the deliveries created since.
	loadStart time.Time
	// rolesLeft is how many revocations this round may still send: the
	// seeded space memberships spread evenly over the rounds.
	rolesLeft, rolesPerRound int
	lateSent                 int // schedules sent in the last round (LateSchedules)
	delivered                atomic.Int64
}

func (r *crashRun) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, time.Now().UTC().Format("15:04:05.000")+" "+r.cfg.Engine+": "+format+"\n", args...)
	}
}

func (r *crashRun) client(base string, attempts int) *client.Client {
	c := client.New(base, r.token)
	c.HTTP = &http.Client{Timeout: 20 * time.Second}
	c.Retry = client.Retry{Attempts: attempts, MaxWait: 2 * time.Second}
	return c
}

// serverFlags are the flags of every round's server: no rate limit (the
// load is the point), loopback admitted as a webhook target, and room for
// every delivery: one endpoint's line delivers one message at a time
// (about 5 a second here), far slower than the load changes things, and
// at the default bound of 1000 pending the server drops new messages for
// the endpoint (counted and audited, by design), which would hide a lost
// outbox row among the dropped ones.
var serverFlags = []string{"--rate-limit", "0", "--webhook-allow-cidr", "127.0.0.1/32", "--webhook-max-pending", "10000000"}

// RunCrash runs one engine's campaign: it seeds the demo organization,
// then each round starts `memberd serve` on cfg.DSN, checks what the
// previous round acknowledged, runs mixed load, SIGKILLs the server at a
// random moment and runs `memberd audit verify` on the database.
func RunCrash(ctx context.Context, cfg CrashConfig) (*CrashFigures, error) {
	start := time.Now()
	fig := &CrashFigures{Engine: cfg.Engine, Acks: map[string]int{}}
	r := &crashRun{cfg: cfg, fig: fig, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(len(cfg.Engine)))), smMember: map[int64]int64{}, acked: map[string]int{}}

	recv, err := r.startReceiver()
	if err != nil {
		return nil, err
	}
	defer recv.Close()

	srv, err := StartServer(ctx, cfg.Bin, cfg.DSN, append([]string{"--demo"}, serverFlags...)...)
	if err != nil {
		return nil, err
	}
	if r.token, err = DemoToken(srv); err != nil {
		srv.Kill()
		return nil, err
	}
	if err := r.seed(ctx, srv.URL, "http://"+recv.Addr().String()+"/hook"); err != nil {
		srv.Kill()
		return nil, fmt.Errorf("seed: %w", err)
	}
	for round := 1; round <= cfg.Rounds; round++ {
		if ctx.Err() != nil {
			return fig, ctx.Err()
		}
		if srv == nil {
			if srv, err = StartServer(ctx, cfg.Bin, cfg.DSN, serverFlags...); err != nil {
				return fig, fmt.Errorf("round %d: restart: %w", round, err)
			}
			if err := r.check(ctx, srv.URL); err != nil {
				srv.Kill()
				return fig, fmt.Errorf("round %d: check: %w", round, err)
			}
		}
		r.load(ctx, srv)
		srv = nil
		fig.Rounds++
		r.auditVerify(ctx)
		if round%10 == 0 || round == cfg.Rounds {
			r.logf("round %d: %d checked, %d losses, %d half-applied, %d verify failures", round, fig.Checked(), fig.Losses, fig.HalfApplied, fig.VerifyFailures)
		}
	}
	// The last round's changes and every schedule still due are checked on
	// one more restart, which also lets the schedules run.
	if srv, err = StartServer(ctx, cfg.Bin, cfg.DSN, serverFlags...); err != nil {
		return fig, fmt.Errorf("final restart: %w", err)
	}
	if err := r.check(ctx, srv.URL); err != nil {
		srv.Kill()
		return fig, fmt.Errorf("final check: %w", err)
	}
	r.logf("final restart: %d schedules pending", len(r.pending))
	if err := r.drainSchedules(ctx, srv.URL); err != nil {
		srv.Kill()
		return fig, err
	}
	if err := srv.Stop(); err != nil {
		return fig, err
	}
	r.auditVerify(ctx)
	fig.Delivered = int(r.delivered.Load())
	fig.Elapsed = time.Since(start)
	return fig, nil
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
}

// startReceiver runs the webhook receiver on loopback; it counts what it
// gets and answers 204.
func (r *crashRun) startReceiver() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
		r.delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(l) }()
	return l, nil
}

// Ranges of demo members the campaign uses: removals, batches, restores
// and schedules take members 41-99 and 400-999 (no admins, no one the
// dialects' examples need); revocations take 100-399, in a space of
// their own, each once, so a short campaign seeds fewer of them.
func (r *crashRun) seed(ctx context.Context, base, hook string) error {
	c := r.client(base, 3)
	ep, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{URL: hook, Description: "crash campaign",
		Events: []string{membership.WebhookMemberRemoved, membership.WebhookMemberRestored, membership.WebhookRolesRevoked, membership.WebhookScheduledRemovalExecuted}})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	r.endpoint = ep.Endpoint.UUID
	sp, err := c.CreateSpace(ctx, "Crash room")
	if err != nil {
		return fmt.Errorf("create space: %w", err)
	}
	r.space = strconv.FormatInt(sp.ID, 10)
	for id := int64(100); id < min(400, 120+int64(r.cfg.Rounds)*10); id++ {
		sm, err := c.AddSpaceMember(ctx, r.space, client.AddSpaceMemberRequest{Member: strconv.FormatInt(id, 10), Roles: roleSet})
		if err != nil {
			return fmt.Errorf("add member %d to the space: %w", id, err)
		}
		r.smFree = append(r.smFree, sm.ID)
		r.smMember[sm.ID] = id
	}
	r.rolesPerRound = (len(r.smFree) + r.cfg.Rounds - 1) / r.cfg.Rounds
	for id := int64(41); id < 1000; id++ {
		if id < 100 || id >= 400 {
			r.active = append(r.active, id)
		}
	}
	return nil
}

// take removes n random members from pool.
func (r *crashRun) take(pool *[]int64, n int) []int64 {
	if len(*pool) < n {
		return nil
	}
	out := make([]int64, 0, n)
	for range n {
		i := r.rng.IntN(len(*pool))
		out = append(out, (*pool)[i])
		(*pool)[i] = (*pool)[len(*pool)-1]
		*pool = (*pool)[:len(*pool)-1]
	}
	return out
}

// next picks the next operation and its targets, or nil when the pools
// are empty.
func (r *crashRun) next() *crashOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 5 {
		op := &crashOp{}
		p := r.rng.IntN(100)
		if r.cfg.LateSchedules && r.fig.Rounds == r.cfg.Rounds-1 && r.lateSent < r.cfg.Workers {
			// The last round's first requests are schedules, so that a
			// short run on a slow engine still sends some.
			p, r.lateSent = 99, r.lateSent+1
		}
		switch {
		case p < 35:
			op.kind, op.members = opRemoval, r.take(&r.active, 1)
		case p < 50:
			op.kind, op.members = opBatch, r.take(&r.active, 2+r.rng.IntN(5))
		case p < 80:
			op.kind, op.members = opRestore, r.take(&r.removed, 1)
		case p < 90:
			if r.rolesLeft <= 0 {
				break
			}
			if sm := r.take(&r.smFree, 1); sm != nil {
				r.rolesLeft--
				op.kind, op.sm, op.members = opRoles, sm[0], []int64{r.smMember[sm[0]]}
				i := r.rng.IntN(len(roleSet))
				op.roles = []string{roleSet[i], roleSet[(i+1)%len(roleSet)]}
			}
		default:
			if !r.cfg.LateSchedules || r.fig.Rounds == r.cfg.Rounds-1 {
				op.kind, op.members = opSchedule, r.take(&r.active, 1)
			}
		}
		if op.members != nil {
			r.ops = append(r.ops, op)
			return op
		}
	}
	return nil
}

// load runs the workers against srv until a random moment, then kills it.
func (r *crashRun) load(ctx context.Context, srv *Server) {
	r.loadStart = time.Now()
	r.mu.Lock()
	r.rolesLeft = r.rolesPerRound
	r.mu.Unlock()
	c := r.client(srv.URL, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range max(r.cfg.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				op := r.next()
				if op == nil {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				r.send(ctx, c, op)
			}
		}()
	}
	span := r.cfg.MaxLoad - r.cfg.MinLoad
	wait := r.cfg.MinLoad
	if span > 0 {
		r.mu.Lock()
		wait += time.Duration(r.rng.Int64N(int64(span)))
		r.mu.Unlock()
	}
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	// No new request starts once the moment has come; those in flight
	// meet the kill.
	close(stop)
	srv.Kill()
	r.logf("killed after %s", wait)
	wg.Wait()
}

// send makes op's request and records whether it was acknowledged (a 2xx
// read in full before the kill).
func (r *crashRun) send(ctx context.Context, c *client.Client, op *crashOp) {
	id := strconv.FormatInt(op.members[0], 10)
	var err error
	switch op.kind {
	case opRemoval:
		var rm *client.Removal
		if rm, err = c.RemoveMember(ctx, id, client.RemoveMemberOptions{}); err == nil {
			op.report = rm.Report
		}
	case opBatch:
		refs := make([]membership.MemberRef, len(op.members))
		for i, m := range op.members {
			refs[i] = membership.MemberRef{ID: m}
		}
		op.batch, err = c.RemoveBatch(ctx, client.BatchRemoval{Scope: membership.ScopeOrganization, Members: refs})
	case opRestore:
		op.report, err = c.RestoreMember(ctx, id)
	case opRoles:
		var rm *client.Removal
		if rm, err = c.RevokeSpaceRoles(ctx, op.sm, client.RevokeRolesRequest{Roles: op.roles}); err == nil {
			op.report = rm.Report
		}
	case opSchedule:
		// Due within the round or soon after it: some run before the
		// kill, some while the server is down, some after the restart.
		lead, spread := 300*time.Millisecond, 2*time.Second
		if r.cfg.LateSchedules {
			lead, spread = lead+r.cfg.MaxLoad, time.Second
		}
		r.mu.Lock()
		at := time.Now().Add(lead + time.Duration(r.rng.Int64N(int64(spread))))
		r.mu.Unlock()
		op.schedule, err = c.CreateSchedule(ctx, client.CreateScheduleRequest{Kind: membership.KindRemoveMember, Member: id, EffectiveAt: &at})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch status := client.StatusOf(err); {
	case err == nil:
		op.acked = true
		if op.report != nil && op.report.Receipt != nil {
			r.receipts = append(r.receipts, fmt.Sprintf("%d:%s", op.report.Receipt.EventID, op.report.Receipt.Hash))
		}
	case status != 0:
		// A refusal is an answer too: nothing changed. The members are
		// looked at again after the restart like any other.
		op.refused = true
		r.logf("%s %v refused: %v", op.kind, op.members, err)
	}
}

// auditVerify runs `memberd audit verify` against the database, with the
// receipts of the round's acknowledged changes.
func (r *crashRun) auditVerify(ctx context.Context) {
	r.mu.Lock()
	receipts := r.receipts
	r.receipts = nil
	r.mu.Unlock()
	args := []string{"audit", "verify", "--db", r.cfg.DSN}
	for _, rc := range receipts {
		args = append(args, "--receipt", rc)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.cfg.Bin, args...)
	cmd.Env = append(cmd.Environ(), "MEMBERD_DB=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.fig.problem(&r.fig.VerifyFailures, "audit verify after round %d: %v: %s", r.fig.Rounds, err, strings.TrimSpace(string(out)))
		return
	}
	r.fig.Acks[AckReceipt] += len(receipts)
}

// check runs on a restarted server: every change the previous round
// acknowledged must be there with its audit event and webhook outbox
// row, and no atomic change may be half applied.
func (r *crashRun) check(ctx context.Context, base string) error {
	c := r.client(base, 3)
	r.mu.Lock()
	ops := r.ops
	r.ops = nil
	r.mu.Unlock()
	fig := r.fig
	status := map[int64]*membership.MemberHistory{}
	for _, op := range ops {
		for _, m := range op.members {
			h, err := c.MemberHistory(ctx, strconv.FormatInt(m, 10))
			if err != nil {
				return fmt.Errorf("history of member %d: %w", m, err)
			}
			status[m] = h
			if h.Member.Status == membership.StatusRemoved {
				for _, sm := range h.Spaces {
					if sm.Status != membership.StatusRemoved {
						fig.problem(&fig.HalfApplied, "member %d is removed but space membership %d is %s", m, sm.ID, sm.Status)
					}
				}
				for _, gm := range h.Groups {
					if gm.Status != membership.StatusRemoved {
						fig.problem(&fig.HalfApplied, "member %d is removed but its membership of group %d is %s", m, gm.GroupID, gm.Status)
					}
				}
			}
		}
	}
	outbox, err := r.outbox(ctx, c, r.loadStart)
	if err != nil {
		return err
	}
	// Event types of the outbox are the audit actions of the changes; a
	// member is in one operation a round, so one row each.
	want := func(typ string, m int64) {
		key := typ + " member:" + strconv.FormatInt(m, 10)
		if outbox[key] > 0 {
			fig.Acks[AckOutbox]++
			return
		}
		fig.problem(&fig.Losses, "webhook outbox holds no row %s created since the round began, for an acknowledged change", key)
	}
	for _, op := range ops {
		switch {
		case op.refused:
			fig.Refused++
		case !op.acked:
			fig.Unacked++
		}
		switch op.kind {
		case opRemoval:
			m := op.members[0]
			if !op.acked {
				break
			}
			fig.Acks[AckRemoval]++
			r.acked[membership.ActionMemberRemoved+" member:"+strconv.FormatInt(m, 10)]++
			if status[m].Member.Status != membership.StatusRemoved {
				fig.problem(&fig.Losses, "member %d: removal acknowledged, member is %s after restart", m, status[m].Member.Status)
			}
			if err := r.wantEvent(ctx, c, m, membership.ActionMemberRemoved, op.report); err != nil {
				return err
			}
			want(membership.WebhookMemberRemoved, m)
		case opBatch:
			removed := 0
			for _, m := range op.members {
				if status[m].Member.Status == membership.StatusRemoved {
					removed++
				}
			}
			// Every member of a batch was active when it was sent, and a
			// batch commits in one transaction.
			if removed != 0 && removed != len(op.members) {
				fig.problem(&fig.HalfApplied, "batch %v: %d of %d members removed after restart", op.members, removed, len(op.members))
			}
			if !op.acked {
				break
			}
			fig.Acks[AckBatches]++
			for _, it := range op.batch.Items {
				if it.Outcome != membership.OutcomeRemoved {
					continue
				}
				fig.Acks[AckBatch]++
				r.acked[membership.ActionMemberRemoved+" member:"+strconv.FormatInt(it.MemberID, 10)]++
				if status[it.MemberID].Member.Status != membership.StatusRemoved {
					fig.problem(&fig.Losses, "member %d: batch removal acknowledged, member is %s after restart", it.MemberID, status[it.MemberID].Member.Status)
				}
				if err := r.wantEvent(ctx, c, it.MemberID, membership.ActionMemberRemoved, nil); err != nil {
					return err
				}
				want(membership.WebhookMemberRemoved, it.MemberID)
			}
		case opRestore:
			m := op.members[0]
			if !op.acked {
				break
			}
			fig.Acks[AckRestore]++
			r.acked[membership.ActionMemberRestored+" member:"+strconv.FormatInt(m, 10)]++
			if status[m].Member.Status != membership.StatusActive {
				fig.problem(&fig.Losses, "member %d: restore acknowledged, member is %s after restart", m, status[m].Member.Status)
			}
			if err := r.wantEvent(ctx, c, m, membership.ActionMemberRestored, op.report); err != nil {
				return err
			}
			want(membership.WebhookMemberRestored, m)
		case opRoles:
			sm, err := c.SpaceMembership(ctx, op.sm)
			if err != nil {
				return fmt.Errorf("space membership %d: %w", op.sm, err)
			}
			held := 0
			for _, role := range op.roles {
				if slices.Contains(sm.Roles, role) {
					held++
				}
			}
			if held != 0 && held != len(op.roles) {
				fig.problem(&fig.HalfApplied, "space membership %d: revocation of %v half applied, roles now %v", op.sm, op.roles, sm.Roles)
			}
			if !op.acked {
				break
			}
			fig.Acks[AckRoles]++
			r.acked[membership.ActionRolesRevoked+" member:"+strconv.FormatInt(op.members[0], 10)]++
			if held != 0 {
				fig.problem(&fig.Losses, "space membership %d: revocation of %v acknowledged, roles now %v", op.sm, op.roles, sm.Roles)
			}
			if err := r.wantEvent(ctx, c, op.members[0], membership.ActionRolesRevoked, op.report); err != nil {
				return err
			}
			want(membership.WebhookRolesRevoked, op.members[0])
		case opSchedule:
			if op.acked {
				r.pending = append(r.pending, pendingSchedule{id: op.schedule.UUID, member: op.members[0], due: *op.schedule.EffectiveAt})
			}
		}
	}
	// Members go back to the pools as they are now. A schedule's member
	// stays out until its removal is seen run; one whose schedule may or
	// may not exist (cut off) is never used again. A revoked space
	// membership is not used again.
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range ops {
		switch op.kind {
		case opSchedule, opRoles:
			continue
		}
		for _, m := range op.members {
			if status[m].Member.Status == membership.StatusRemoved {
				r.removed = append(r.removed, m)
			} else {
				r.active = append(r.active, m)
			}
		}
	}
	return r.checkSchedules(ctx, c, false)
}

// wantEvent checks that member m's trail holds an event of action; with
// a report that names its event, that very event.
func (r *crashRun) wantEvent(ctx context.Context, c *client.Client, m int64, action string, rep *membership.Report) error {
	page, err := c.Events(ctx, client.ListEventsParams{Member: m, Action: action, Limit: 100})
	if err != nil {
		return fmt.Errorf("events of member %d: %w", m, err)
	}
	var id int64
	if rep != nil {
		id = rep.EventID
		if rep.Receipt != nil {
			id = rep.Receipt.EventID
		}
	}
	key := action + " member:" + strconv.FormatInt(m, 10)
	found, ok := id == 0, 0
	for _, e := range page.Items {
		if e.Outcome == membership.OutcomeOK && e.Action == action {
			ok++
			found = found || e.ID == id
		}
	}
	if !found || ok < r.acked[key] {
		r.fig.problem(&r.fig.Losses, "member %d: %d %s events (the answer's id %d found: %t), %d changes were acknowledged", m, ok, action, id, found, r.acked[key])
		return nil
	}
	r.fig.Acks[AckEvent]++
	return nil
}

// outbox counts the webhook deliveries queued to the campaign's endpoint
// since a time by "type member:N", newest first (bounded).
func (r *crashRun) outbox(ctx context.Context, c *client.Client, since time.Time) (map[string]int, error) {
	out := map[string]int{}
	var before int64
	for range 10000 {
		page, err := c.WebhookDeliveries(ctx, r.endpoint, client.ListDeliveriesParams{Before: before, Limit: 100})
		if err != nil {
			return nil, fmt.Errorf("webhook deliveries: %w", err)
		}
		older := false
		for _, d := range page.Items {
			if d.CreatedAt.Before(since) {
				older = true
				continue
			}
			out[d.Type+" "+d.OrderKey]++
		}
		if older || page.NextBefore == 0 {
			return out, nil
		}
		before = page.NextBefore
	}
	return nil, errors.New("webhook deliveries: more pages than the bound")
}

// checkSchedules looks at every acknowledged schedule not yet seen run:
// one that ran must have removed its member; with final, every one must
// have run.
func (r *crashRun) checkSchedules(ctx context.Context, c *client.Client, final bool) error {
	var left []pendingSchedule
	for _, p := range r.pending {
		op, err := c.Schedule(ctx, p.id)
		if err != nil {
			if client.StatusOf(err) == http.StatusNotFound {
				r.fig.problem(&r.fig.Losses, "schedule %s (member %d) acknowledged, not found after restart", p.id, p.member)
				continue
			}
			return fmt.Errorf("schedule %s: %w", p.id, err)
		}
		switch op.Status {
		case membership.OperationSucceeded:
			m, err := c.Member(ctx, strconv.FormatInt(p.member, 10))
			if err != nil {
				return fmt.Errorf("member %d: %w", p.member, err)
			}
			r.fig.Acks[AckSchedule]++
			if m.Status != membership.StatusRemoved {
				r.fig.problem(&r.fig.Losses, "schedule %s succeeded but member %d is %s", p.id, p.member, m.Status)
				continue
			}
			r.removed = append(r.removed, p.member)
		case membership.OperationFailed, membership.OperationCancelled:
			r.fig.problem(&r.fig.Losses, "schedule %s (member %d) acknowledged, ended %s: %+v", p.id, p.member, op.Status, op.Error)
		default:
			if final {
				r.fig.problem(&r.fig.Losses, "schedule %s (member %d, due %s) acknowledged, still %s at the end", p.id, p.member, p.due.Format(time.RFC3339Nano), op.Status)
				continue
			}
			left = append(left, p)
		}
	}
	sort.Slice(left, func(i, j int) bool { return left[i].due.Before(left[j].due) })
	r.pending = left
	return nil
}

// drainSchedules waits (bounded) for the schedules still pending to run:
// one whose job was running when a server was killed runs again once
// River rescues it, jobs.DefaultRescueAfter (2 min) after it started,
// at River's next rescue pass.
func (r *crashRun) drainSchedules(ctx context.Context, base string) error {
	c := r.client(base, 3)
	deadline := time.Now().Add(4 * time.Minute)
	for len(r.pending) > 0 && time.Now().Before(deadline) {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := r.checkSchedules(ctx, c, false); err != nil {
			return err
		}
	}
	return r.checkSchedules(ctx, c, true)
}
