package httpapi

import (
	"context"
	"time"

	"github.com/memberd/memberd/membership"
)

// Credentials: the bearer secrets that call this API.

func (h *handler) listCredentials(ctx context.Context, a membership.Actor, _ *noInput) (*out[list[*membership.Credential]], error) {
	return listOf(h.svc.Credentials(ctx, a))
}

type createCredentialInput struct {
	Body struct {
		Name      string      `json:"name" maxLength:"200"`
		Scopes    []scopeName `json:"scopes" doc:"Scopes; none beyond the calling credential's own."`
		ExpiresAt *time.Time  `json:"expires_at,omitempty"`
		Member    *memberRef  `json:"member,omitempty" doc:"Who the credential acts as; the caller when absent (others: owners only)."`
	}
}

func (h *handler) createCredential(ctx context.Context, a membership.Actor, in *createCredentialInput) (*created[*membership.IssuedCredential], error) {
	req := membership.CreateCredentialRequest{Name: in.Body.Name, ExpiresAt: in.Body.ExpiresAt}
	for _, sc := range in.Body.Scopes {
		req.Scopes = append(req.Scopes, string(sc))
	}
	if in.Body.Member != nil {
		req.Member = in.Body.Member.MemberRef
	}
	c, err := h.svc.CreateCredential(ctx, a, req)
	if err != nil {
		return nil, err
	}
	return &created[*membership.IssuedCredential]{Location: location("credentials", c.Credential.ID), Body: c}, nil
}

func (h *handler) getCredential(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Credential], error) {
	return result(h.svc.Credential(ctx, a, in.ID))
}

func (h *handler) revokeCredential(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Credential], error) {
	return result(h.svc.RevokeCredential(ctx, a, in.ID))
}
