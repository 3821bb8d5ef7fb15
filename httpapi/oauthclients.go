package httpapi

import (
	"context"
	"time"

	"github.com/memberd/memberd/membership"
)

// OAuth clients: registered by owners, each acting as one member with the
// scopes it was given; the token endpoints are package oauth's.

func (h *handler) listOAuthClients(ctx context.Context, a membership.Actor, _ *noInput) (*out[list[*membership.OAuthClient]], error) {
	return listOf(h.svc.OAuthClients(ctx, a))
}

type createOAuthClientInput struct {
	Body struct {
		Name         string      `json:"name" maxLength:"200"`
		Scopes       []scopeName `json:"scopes" doc:"Scopes the client may ask for; none beyond the calling credential's own."`
		RedirectURIs []string    `json:"redirect_uris,omitempty" maxItems:"10" doc:"Redirect URIs of the authorization code flow, matched exactly."`
		TokenLife    int64       `json:"token_lifetime_seconds,omitempty" minimum:"60" maximum:"86400" doc:"Access token lifetime; 600 when absent."`
		Public       bool        `json:"public,omitempty" doc:"A client without a secret (browser or desktop app): authorization code with PKCE only."`
		Member       *memberRef  `json:"member,omitempty" doc:"Who the client acts as for client credentials; the caller when absent."`
	}
}

func (h *handler) createOAuthClient(ctx context.Context, a membership.Actor, in *createOAuthClientInput) (*created[*membership.IssuedOAuthClient], error) {
	req := membership.CreateOAuthClientRequest{Name: in.Body.Name, RedirectURIs: in.Body.RedirectURIs,
		TokenLifetime: time.Duration(in.Body.TokenLife) * time.Second, Public: in.Body.Public}
	for _, sc := range in.Body.Scopes {
		req.Scopes = append(req.Scopes, string(sc))
	}
	if in.Body.Member != nil {
		req.Member = in.Body.Member.MemberRef
	}
	c, err := h.svc.CreateOAuthClient(ctx, a, req)
	if err != nil {
		return nil, err
	}
	return &created[*membership.IssuedOAuthClient]{Location: location("oauth-clients", c.Client.UUID), Body: c}, nil
}

func (h *handler) getOAuthClient(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.OAuthClient], error) {
	return result(h.svc.OAuthClient(ctx, a, in.ID))
}

func (h *handler) rotateOAuthClient(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.IssuedOAuthClient], error) {
	return result(h.svc.RotateOAuthClientSecret(ctx, a, in.ID))
}

func (h *handler) revokeOAuthClient(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.OAuthClient], error) {
	return result(h.svc.RevokeOAuthClient(ctx, a, in.ID))
}
