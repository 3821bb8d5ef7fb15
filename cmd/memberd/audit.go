package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

const auditUsage = `Usage:
  memberd audit verify [--db DSN] [--org N] [--receipt ID:HASH]... [--public-key HEX]...
      re-walk the hash chain of every organization (or of --org N; 0 is the
      events of no organization) and of the receipts given; exit 1 at the
      first event edited, deleted, inserted or reordered
  memberd audit export [--db DSN] --org N [--format jsonl|csv] [--since T] [--until T] [--after ID]
      write the organization's events, oldest first, to stdout; --after resumes
  memberd audit prune [--db DSN] --org N --before T --key-file FILE
      delete the events older than T and store a checkpoint of the pruned
      prefix signed with the Ed25519 key in FILE (its 32-byte seed, hex);
      memberd audit keygen writes one
  memberd audit keygen --key-file FILE
      write a new signing key and print its public key

T is RFC 3339 (2026-01-31T00:00:00Z) or a date (2026-01-31).
`

// audit runs the audit trail's commands. They work on the database
// directly, as serve does, so that verification needs nothing but the
// database (and the receipts and keys the operator trusts).
func (m *Main) audit(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, auditUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "verify":
		return m.auditVerify(ctx, args[1:])
	case "export":
		return m.auditExport(ctx, args[1:])
	case "prune":
		return m.auditPrune(ctx, args[1:])
	case "keygen":
		return m.auditKeygen(args[1:])
	}
	fmt.Fprint(m.Stderr, auditUsage)
	return fmt.Errorf("unknown audit command %q", args[0])
}

// ErrChainBroken is the error audit verify exits with when the trail
// does not hold.
var ErrChainBroken = errors.New("audit trail does not verify")

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func (m *Main) auditFlags(name string) (*flag.FlagSet, *Config) {
	cfg := DefaultConfig()
	fs := m.newFlagSet("audit-"+name, "audit "+name+" [flags]")
	storeFlags(fs, &cfg)
	return fs, &cfg
}

func (m *Main) auditService(ctx context.Context, cfg *Config) (*membership.Service, func(), error) {
	store, err := openStore(ctx, cfg.DB, false, nil)
	if err != nil {
		return nil, nil, err
	}
	return membership.NewService(store, membership.DefaultConfig()), func() { store.Close() }, nil
}

func (m *Main) auditVerify(ctx context.Context, args []string) error {
	fs, cfg := m.auditFlags("verify")
	org := fs.Int64("org", -1, "only this organization (0: the events of no organization)")
	var receipts, keys listFlag
	fs.Var(&receipts, "receipt", "also check a removal's receipt, EVENT_ID:HASH (repeatable)")
	fs.Var(&keys, "public-key", "trust retention checkpoints signed by this Ed25519 public key, hex (repeatable)")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	var trusted []ed25519.PublicKey
	for _, k := range keys {
		b, err := hex.DecodeString(k)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return fmt.Errorf("--public-key %q: want %d bytes of hex", k, ed25519.PublicKeySize)
		}
		trusted = append(trusted, b)
	}
	svc, done, err := m.auditService(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	orgs := []int64{*org}
	if *org < 0 {
		if orgs, err = svc.ChainOrgs(ctx); err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
	}
	broken := false
	for _, o := range orgs {
		rep, err := svc.VerifyChain(ctx, o, trusted...)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		if rep.Break != nil {
			fmt.Fprintf(m.Stdout, "organization %d: BROKEN at %s\n", o, rep.Break.Error())
			broken = true
			continue
		}
		line := fmt.Sprintf("organization %d: ok, %d events, head seq %d %s", o, rep.Events, rep.Head.Seq, rep.Head.Hash)
		if rep.Unchained > 0 {
			line += fmt.Sprintf(", %d events from before the chain", rep.Unchained)
		}
		if cp := rep.Checkpoint; cp != nil {
			trust := "its own key"
			if rep.KeyTrusted {
				trust = "a trusted key"
			}
			line += fmt.Sprintf(", %d pruned before %s (checkpoint signed by %s %x)", cp.Pruned, cp.Before.Format(time.RFC3339), trust, cp.PublicKey)
		}
		fmt.Fprintln(m.Stdout, line)
	}
	for _, r := range receipts {
		id, hash, ok := strings.Cut(r, ":")
		eventID, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("--receipt %q: want EVENT_ID:HASH", r)
		}
		if err := svc.VerifyReceipt(ctx, membership.Receipt{EventID: eventID, Hash: hash}); err != nil {
			fmt.Fprintf(m.Stdout, "receipt %d: BROKEN: %v\n", eventID, err)
			broken = true
			continue
		}
		fmt.Fprintf(m.Stdout, "receipt %d: ok\n", eventID)
	}
	if broken {
		return ErrChainBroken
	}
	return nil
}

// parseTime reads RFC 3339 or a plain date (midnight UTC).
func parseTime(flagName, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want RFC 3339 or YYYY-MM-DD", flagName, v)
	}
	return t, nil
}

func (m *Main) auditExport(ctx context.Context, args []string) error {
	fs, cfg := m.auditFlags("export")
	org := fs.Int64("org", 0, "organization id (required)")
	format := fs.String("format", membership.ExportJSONL, "jsonl or csv")
	since := fs.String("since", "", "only events at or after this time")
	until := fs.String("until", "", "only events before this time")
	after := fs.Int64("after", 0, "resume after this event id, the last one a previous export wrote")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if *org <= 0 {
		return errors.New("audit export needs --org N")
	}
	p := membership.EventListParams{Ascending: true, AfterID: *after, Limit: membership.ExportPage}
	var err error
	if p.Since, err = parseTime("since", *since); err != nil {
		return err
	}
	if p.Until, err = parseTime("until", *until); err != nil {
		return err
	}
	x, err := membership.NewEventWriter(m.Stdout, *format)
	if err != nil {
		return err
	}
	svc, done, err := m.auditService(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	a := membership.Actor{OrgID: *org, Interface: "cli"}
	for {
		page, err := svc.Events(ctx, a, p)
		if err != nil {
			return fmt.Errorf("audit export: after event %d: %w", p.AfterID, err)
		}
		if err := x.Write(page); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		if len(page) < p.Limit {
			return nil
		}
		p.AfterID = page[len(page)-1].ID
	}
}

func (m *Main) auditPrune(ctx context.Context, args []string) error {
	fs, cfg := m.auditFlags("prune")
	org := fs.Int64("org", -1, "organization id (0: the events of no organization; required)")
	before := fs.String("before", "", "delete the events older than this time (required)")
	keyFile := fs.String("key-file", "", "the Ed25519 signing key: its 32-byte seed in hex (required)")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if *org < 0 || *before == "" || *keyFile == "" {
		return errors.New("audit prune needs --org N, --before T and --key-file FILE")
	}
	t, err := parseTime("before", *before)
	if err != nil {
		return err
	}
	key, err := readKey(*keyFile)
	if err != nil {
		return err
	}
	svc, done, err := m.auditService(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	cp, err := svc.PruneEvents(ctx, *org, t, key)
	if err != nil {
		return err
	}
	if cp == nil {
		fmt.Fprintf(m.Stdout, "organization %d: no events before %s\n", *org, t.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(m.Stdout, "organization %d: pruned through seq %d (%d events in all); checkpoint hash %s signed by %x\n",
		*org, cp.Seq, cp.Pruned, cp.Hash, cp.PublicKey)
	return nil
}

func readKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key %s: want a %d-byte seed in hex", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func (m *Main) auditKeygen(args []string) error {
	fs := flag.NewFlagSet("audit keygen", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	keyFile := fs.String("key-file", "", "where to write the new key (required; not overwritten)")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if *keyFile == "" {
		return errors.New("audit keygen needs --key-file FILE")
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	f, err := os.OpenFile(*keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(priv.Seed())); err != nil {
		f.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	fmt.Fprintf(m.Stdout, "public key %x\n", pub)
	return nil
}
