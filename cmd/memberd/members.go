package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/memberd/memberd/client"
	"github.com/memberd/memberd/membership"
)

// defaultServer is the server the client commands call when neither
// --server nor MEMBERD_SERVER names one: serve's default address.
const defaultServer = "http://127.0.0.1:8080"

// clientOptions are the flags of every command that calls a server.
type clientOptions struct {
	server, token *string
}

// clientFlags registers --server and --token, preset from MEMBERD_SERVER
// and MEMBERD_TOKEN.
func (m *Main) clientFlags(fs *flag.FlagSet) *clientOptions {
	return &clientOptions{
		server: fs.String("server", defaultServer, "memberd base URL"),
		token:  fs.String("token", "", "credential secret"),
	}
}

func (o *clientOptions) client() (*client.Client, error) {
	if *o.token == "" {
		return nil, errors.New("needs a credential: --token or MEMBERD_TOKEN")
	}
	c := client.New(*o.server, *o.token)
	c.HTTP = &http.Client{Timeout: 2 * time.Minute}
	return c, nil
}

const membersUsage = `Usage: memberd members COMMAND [flags]

Day-to-day work on the members of the credential's organization, through the
native API of a running server (--server, --token or MEMBERD_SERVER, MEMBERD_TOKEN).

Commands:
  list [--status active|removed] [--q TEXT] [--limit N]   list members in id order
  show MEMBER                                             a member, as JSON
  remove MEMBER [--dry-run] [--at TIME]                   offboard everywhere (now, previewed or scheduled); prints the report
  restore MEMBER                                          restore a removed member with what the removal took away

MEMBER is a numeric id, a UUID or an e-mail address.
`

// members runs `memberd members COMMAND`.
func (m *Main) members(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, membersUsage)
		return errors.New("members needs a command: list, show, remove or restore")
	}
	switch args[0] {
	case "list":
		return m.membersList(ctx, args[1:])
	case "show", "remove", "restore":
		return m.memberCommand(ctx, args[0], args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, membersUsage)
		return nil
	}
	fmt.Fprint(m.Stderr, membersUsage)
	return fmt.Errorf("unknown members command %q", args[0])
}

func (m *Main) membersList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("members-list", "members list [flags]   list the organization's members")
	cf := m.clientFlags(fs)
	status := fs.String("status", "", "only active or removed members")
	q := fs.String("q", "", "only members whose e-mail or name contains this")
	limit := fs.Int("limit", 0, "at most this many members (0: all)")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	if help, err := m.parsePositional(fs, args, 0); help || err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	enc := json.NewEncoder(m.Stdout)
	if !*asJSON {
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tSTATUS\tUUID")
	}
	p := client.ListMembersParams{Status: membership.Status(*status), Q: *q, Limit: 1000}
	shown := 0
	for {
		page, err := c.ListMembers(ctx, p)
		if err != nil {
			return err
		}
		for _, mb := range page.Items {
			if *limit > 0 && shown == *limit {
				return tw.Flush()
			}
			shown++
			if *asJSON {
				if err := enc.Encode(mb); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", mb.ID, mb.Email, mb.Name, mb.Role, mb.Status, mb.UUID)
		}
		if page.NextAfter == 0 {
			return tw.Flush()
		}
		p.After = page.NextAfter
	}
}

// memberCommand runs show, remove or restore on one member.
func (m *Main) memberCommand(ctx context.Context, cmd string, args []string) error {
	fs := m.newFlagSet("members-"+cmd, "members "+cmd+" MEMBER [flags]   MEMBER is an id, UUID or e-mail")
	cf := m.clientFlags(fs)
	var dryRun *bool
	var at *string
	if cmd == "remove" {
		dryRun = fs.Bool("dry-run", false, "change nothing: print what would be taken away")
		at = fs.String("at", "", "schedule the removal for this time (RFC 3339) instead of removing now")
	}
	help, err := m.parsePositional(fs, args, 1)
	if help || err != nil {
		return err
	}
	member := fs.Arg(0)
	c, err := cf.client()
	if err != nil {
		return err
	}
	var out any
	switch cmd {
	case "show":
		out, err = c.Member(ctx, member)
	case "restore":
		out, err = c.RestoreMember(ctx, member)
	case "remove":
		req := client.OffboardRequest{DryRun: *dryRun}
		if *at != "" {
			t, perr := time.Parse(time.RFC3339, *at)
			if perr != nil {
				return fmt.Errorf("--at: want an RFC 3339 time such as 2030-01-31T17:00:00Z: %w", perr)
			}
			req.EffectiveAt = &t
		}
		var rm *client.Removal
		if rm, err = c.OffboardMember(ctx, member, req); err == nil {
			out = rm.Report
			if rm.Operation != nil {
				out = rm.Operation
			}
		}
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// parsePositional sets fs from the environment, then parses args, flags
// before or after the positional arguments, of which it wants exactly
// positional. help says -h was asked for: the usage is printed and the
// command succeeds.
func (m *Main) parsePositional(fs *flag.FlagSet, args []string, positional int) (help bool, err error) {
	if err := m.applyEnv(fs); err != nil {
		return false, err
	}
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return true, nil
			}
			return false, err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != positional {
		fs.Usage()
		return false, fmt.Errorf("%s takes %d argument(s), got %d", fs.Name(), positional, len(rest))
	}
	// Leave the positional arguments where fs.Arg finds them.
	return false, fs.Parse(append([]string{"--"}, rest...))
}
