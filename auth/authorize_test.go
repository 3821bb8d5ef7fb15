package auth_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

func TestAuthorize(t *testing.T) {
	need := auth.Need{Interface: "test", Action: "member.remove", Scope: membership.ScopeMembersWrite, Schemes: []auth.Scheme{auth.Bearer}}
	setup := func(t *testing.T) (*dialecttest.Env, *auth.Authenticator) {
		env := dialecttest.Load(t, "sqlite", dialecttest.LoadTime)
		return env, auth.New(env.Svc, auth.Limits{})
	}

	t.Run("OK", func(t *testing.T) {
		env, a := setup(t)
		secret := env.Credential(t, 1, []string{membership.ScopeMembersWrite}, nil)
		r := httptest.NewRequest("DELETE", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		call, err := a.Authorize(r, need)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := call.Actor.MemberID, int64(1); got != want {
			t.Errorf("actor member %d, want %d", got, want)
		}
		if got, want := call.Actor.Interface, "test"; got != want {
			t.Errorf("actor interface %q, want %q", got, want)
		}
	})

	t.Run("ErrForbiddenIsAudited", func(t *testing.T) {
		env, a := setup(t)
		secret := env.Credential(t, 1, []string{membership.ScopeMembersRead}, nil)
		mark := env.LastEventID(t, env.Demo.Org.ID)
		r := httptest.NewRequest("DELETE", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		_, err := a.Authorize(r, need)
		if got, want := membership.ErrorCode(err), membership.CodeForbidden; got != want {
			t.Fatalf("code %s, want %s", got, want)
		}
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark, "member.remove")
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, a := setup(t)
		r := httptest.NewRequest("DELETE", "/x", nil)
		r.Header.Set("Authorization", "token mbd_wrong")
		_, err := a.Authorize(r, need)
		if got, want := membership.ErrorCode(err), membership.CodeUnauthorized; got != want {
			t.Fatalf("code %s, want %s", got, want)
		}
	})

	t.Run("RefuseIsAudited", func(t *testing.T) {
		env, a := setup(t)
		secret := env.Credential(t, 1, []string{membership.ScopeMembersWrite}, nil)
		r := httptest.NewRequest("DELETE", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		call, err := a.Authorize(r, need)
		if err != nil {
			t.Fatal(err)
		}
		mark := env.LastEventID(t, env.Demo.Org.ID)
		cause := membership.Errorf(membership.CodeInvalid, "bad body")
		if got := call.Refuse(cause); !errors.Is(got, cause) {
			t.Fatalf("Refuse returned %v, want the cause", got)
		}
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark, "member.remove")
	})
}
