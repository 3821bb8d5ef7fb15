package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// TestREADME runs every curl of the README's OAuth section, in order, on
// the demo, and checks the status (and the whole body, where the README
// shows it whole) each comment under it states. The browser step of the
// HighQ flow is the admin's consent, made here through the core; the
// browser test drives the same step in Chromium.
func TestREADME(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## Getting a token: OAuth 2.0 and API keys")
	if start < 0 {
		t.Fatal("README has no OAuth section")
	}
	text = text[start:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	s := newServer(t, "sqlite")
	env := map[string]string{"MEMBERD_TOKEN": s.Demo.OwnerToken, "MEMBERD_ADMIN_TOKEN": s.Demo.AdminToken}
	cmds := readmeCommands(t, text)
	if len(cmds) < 10 {
		t.Fatalf("found %d curl commands in the README's OAuth section", len(cmds))
	}
	for _, c := range cmds {
		if strings.Contains(c.line, "$CODE") {
			env["CODE"] = s.consent(t, env["CLIENT_ID"])
		}
		req := curlRequest(t, c.line, env, s.srv.URL)
		a := s.send(t, req)
		if a.status != c.status {
			t.Fatalf("%s\n  status %d, README says %d: %s", c.line, a.status, c.status, a.body)
		}
		if c.body != "" && strings.TrimSpace(string(a.body)) != c.body {
			t.Errorf("%s\n  body %s, README says %s", c.line, a.body, c.body)
		}
		var m struct {
			Client *struct {
				ClientID string `json:"client_id"`
			} `json:"client"`
			ClientSecret string `json:"client_secret"`
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(a.body, &m) == nil {
			for name, v := range map[string]string{"CLIENT_SECRET": m.ClientSecret, "TOKEN": m.AccessToken, "REFRESH_TOKEN": m.RefreshToken} {
				if v != "" {
					env[name] = v
				}
			}
			if m.Client != nil {
				env["CLIENT_ID"] = m.Client.ClientID
			}
		}
	}
}

// consent is the admin allowing client clientID on the consent page.
func (s *server) consent(t *testing.T, clientID string) string {
	t.Helper()
	alice := membership.Actor{OrgID: s.Demo.Org.ID, MemberID: 2, Scopes: membership.AllScopes(), Interface: "test"}
	az, err := s.Svc.Authorize(context.Background(), alice, membership.AuthorizeRequest{ResponseType: "code", ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	return az.Code
}

type readmeCommand struct {
	line   string
	status int
	body   string // the whole answer, when the README shows it whole
}

var statusLine = regexp.MustCompile(`^# (\d{3})\b\s*(.*)$`)

// readmeCommands finds each curl of the sh blocks, joined across line
// continuations, with the status of the comment under it.
func readmeCommands(t *testing.T, text string) []readmeCommand {
	var out []readmeCommand
	for _, block := range strings.Split(text, "```sh\n")[1:] {
		block = strings.SplitN(block, "```", 2)[0]
		lines := strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "curl ") {
				continue
			}
			if i+1 >= len(lines) {
				t.Fatalf("no status under %s", l)
			}
			m := statusLine.FindStringSubmatch(lines[i+1])
			if m == nil {
				t.Fatalf("no status under %s", l)
			}
			c := readmeCommand{line: l}
			c.status = atoi(m[1])
			if body := m[2]; strings.HasPrefix(body, "{") && !strings.Contains(body, "…") {
				c.body = body
			}
			out = append(out, c)
		}
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// words splits a shell line as sh would for these commands: single
// quotes literal, double quotes and bare words expanding $NAME.
func words(line string, env map[string]string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	expand := func(i int) int {
		j := i + 1
		for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z' || line[j] >= '0' && line[j] <= '9') {
			j++
		}
		cur.WriteString(env[line[i+1:j]])
		return j
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case quote == '\'' && c != '\'':
			cur.WriteByte(c)
			i++
		case quote != 0 && c == quote:
			quote = 0
			i++
		case quote == 0 && (c == '\'' || c == '"'):
			quote, in = c, true
			i++
		case c == '$':
			in = true
			i = expand(i)
		case quote == 0 && c == ' ':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			i++
		default:
			cur.WriteByte(c)
			in = true
			i++
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// curlRequest makes the request a curl line describes, sent to base
// instead of the README's address.
func curlRequest(t *testing.T, line string, env map[string]string, base string) *http.Request {
	t.Helper()
	w := words(line, env)
	method, target, body := "", "", ""
	header := http.Header{}
	var user string
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "-s":
		case "-X":
			i++
			method = w[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(w[i], ":")
			header.Set(k, strings.TrimSpace(v))
		case "-u":
			i++
			user = w[i]
		case "-d":
			i++
			body = w[i]
		default:
			target = strings.Replace(w[i], "http://127.0.0.1:8080", base, 1)
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	if body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	req.Header = header
	if user != "" {
		id, secret, _ := strings.Cut(user, ":")
		req.SetBasicAuth(id, secret)
	}
	return req
}
