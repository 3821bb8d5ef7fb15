package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWebhookTargets registers webhooks that point inside memberd's
// network. The env allows loopback (its receivers listen there), as an
// operator would with --webhook-allow-cidr; everything else special is
// refused with a problem that says the target is not allowed and nothing
// about what listens there.
func TestWebhookTargets(t *testing.T) {
	e := newEnv(t)
	for _, url := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/hook",
		"http://192.168.1.10:8080/hook",
		"http://172.16.0.1/hook",
		"http://100.64.0.1/hook",
		"http://[fd00::1]/hook",
		"http://[fe80::1]/hook",
		"http://[::]/hook",
		"http://0.0.0.0:9/hook",
		"http://224.0.0.1/hook",
		"http://2130706433/hook",
		"http://0177.0.0.1/hook",
		"http://0x7f.1/hook",
		"http://[::ffff:169.254.169.254]/hook",
	} {
		body := `{"url":"` + url + `","events":["member.removed"]}`
		r := e.call("POST", "/api/v1/webhooks", e.owner, json.RawMessage(body))
		if r.Status != 400 || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %s", url, r)
			continue
		}
		var p struct{ Detail string }
		if err := json.Unmarshal(r.Body, &p); err != nil || !strings.Contains(p.Detail, "target not allowed") {
			t.Errorf("%s: problem %s", url, r.Body)
		}
	}
	for _, url := range []string{"gopher://127.0.0.1/", "file:///etc/passwd", "http:///hook"} {
		if r := e.call("POST", "/api/v1/webhooks", e.owner, json.RawMessage(`{"url":"`+url+`","events":["member.removed"]}`)); r.Status != 400 {
			t.Errorf("%s: %s", url, r)
		}
	}
}
