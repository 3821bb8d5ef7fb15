package client

import (
	"context"
	"net/http"
	"strings"
)

// Conditional requests. The native API answers GET of a member, a space,
// a group and a space or group membership with an ETag, honours
// If-None-Match there (304), and If-Match on PATCH of a member and on the
// removals of a member or a space or group membership (412 when it no
// longer matches). These options ride on the context, like
// WithIdempotencyKey, so that every method can carry them.

type conditionKey struct{}

type conditions struct {
	ifMatch, ifNoneMatch []string
	etag                 *string
}

func conditionsOf(ctx context.Context) conditions {
	c, _ := ctx.Value(conditionKey{}).(conditions)
	return c
}

// WithIfMatch makes the calls made with ctx send If-Match with tags (as
// ETag gave them, quotes included, or "*"): the change goes ahead only
// while the resource, or a removal's dry run, still has one of them, and
// is otherwise refused with an *Error of status 412 that changed nothing.
func WithIfMatch(ctx context.Context, tags ...string) context.Context {
	c := conditionsOf(ctx)
	c.ifMatch = tags
	return context.WithValue(ctx, conditionKey{}, c)
}

// WithIfNoneMatch makes the GETs made with ctx send If-None-Match with
// tags: while the resource still has one of them the call returns an
// *Error for which NotModified is true, and no body is sent.
func WithIfNoneMatch(ctx context.Context, tags ...string) context.Context {
	c := conditionsOf(ctx)
	c.ifNoneMatch = tags
	return context.WithValue(ctx, conditionKey{}, c)
}

// WithETag makes the calls made with ctx store the ETag the answer
// carried in *tag, or "" when it carried none; a 304 stores it too.
func WithETag(ctx context.Context, tag *string) context.Context {
	c := conditionsOf(ctx)
	c.etag = tag
	return context.WithValue(ctx, conditionKey{}, c)
}

// NotModified reports whether err is the server's 304: the resource still
// has a tag named by WithIfNoneMatch.
func NotModified(err error) bool { return StatusOf(err) == http.StatusNotModified }

// PreconditionFailed reports whether err is the server's 412: the
// resource no longer has a tag named by WithIfMatch, and nothing changed.
func PreconditionFailed(err error) bool { return StatusOf(err) == http.StatusPreconditionFailed }

// setConditions adds ctx's conditional headers to req.
func setConditions(ctx context.Context, req *http.Request) {
	c := conditionsOf(ctx)
	if len(c.ifMatch) > 0 {
		req.Header.Set("If-Match", strings.Join(c.ifMatch, ", "))
	}
	if len(c.ifNoneMatch) > 0 {
		req.Header.Set("If-None-Match", strings.Join(c.ifNoneMatch, ", "))
	}
}

// keepETag stores resp's ETag where ctx asks for it.
func keepETag(ctx context.Context, resp *http.Response) {
	if c := conditionsOf(ctx); c.etag != nil {
		*c.etag = resp.Header.Get("ETag")
	}
}
