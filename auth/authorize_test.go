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
	need := auth.Need{Interface: "test", Action: "member.removed", Scope: membership.ScopeMembersWrite, Schemes: []auth.Scheme{auth.Bearer}}
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
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark, "member.removed")
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
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark, "member.removed")
	})

	t.Run("ThrottlingAuditedOnlyWhenAsked", func(t *testing.T) {
		env := dialecttest.Load(t, "sqlite", dialecttest.LoadTime)
		a := auth.New(env.Svc, auth.Limits{Rate: 0.001, Burst: 1})
		secret := env.Credential(t, 1, []string{membership.ScopeMembersWrite}, nil)
		mark := env.LastEventID(t, env.Demo.Org.ID)
		try := func(need auth.Need) error {
			r := httptest.NewRequest("DELETE", "/x", nil)
			r.Header.Set("Authorization", "Bearer "+secret)
			_, err := a.Authorize(r, need)
			return err
		}
		if err := try(need); err != nil {
			t.Fatal(err)
		}
		if got, want := membership.ErrorCode(try(need)), membership.CodeRateLimited; got != want {
			t.Fatalf("code %s, want %s", got, want)
		}
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark)
		loud := need
		loud.AuditThrottling = true
		if got, want := membership.ErrorCode(try(loud)), membership.CodeRateLimited; got != want {
			t.Fatalf("code %s, want %s", got, want)
		}
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark, membership.ActionRequestAuthenticated)
	})

	t.Run("RequireIsAudited", func(t *testing.T) {
		env, a := setup(t)
		secret := env.Credential(t, 1, []string{membership.ScopeMembersRead}, nil)
		r := httptest.NewRequest("DELETE", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		call, err := a.Authorize(r, auth.Need{Interface: "test", Action: "member.removed", Schemes: []auth.Scheme{auth.Bearer}})
		if err != nil {
			t.Fatal(err)
		}
		mark := env.LastEventID(t, env.Demo.Org.ID)
		if err := call.Require(membership.ScopeMembersRead); err != nil {
			t.Fatal(err)
		}
		if got, want := membership.ErrorCode(call.Require(membership.ScopeMembersWrite)), membership.CodeForbidden; got != want {
			t.Fatalf("code %s, want %s", got, want)
		}
		env.AssertRefusedSince(t, "test", env.Demo.Org.ID, mark, "member.removed")
	})

	t.Run("RefuseBeforeAuthenticationIsAudited", func(t *testing.T) {
		env, a := setup(t)
		before := env.NullOrgRefusals(t, "test", 0)
		cause := membership.Errorf(membership.CodeNotFound, "no such path")
		r := httptest.NewRequest("GET", "/nowhere", nil)
		if got := a.Refuse(r, auth.Need{Interface: "test", Action: "request"}, cause); !errors.Is(got, cause) {
			t.Fatalf("Refuse returned %v, want the cause", got)
		}
		if got, want := env.NullOrgRefusals(t, "test", 0)-before, 1; got != want {
			t.Errorf("%d refusals without an organization, want %d", got, want)
		}
	})
}
