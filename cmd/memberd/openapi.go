package main

import (
	"context"
	"errors"
	"flag"

	"github.com/memberd/memberd/httpapi"
)

// openapi prints the native API's OpenAPI document exactly as a server
// serves it at /openapi.json, so CI can lint it without running one.
func (m *Main) openapi(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fs.Output().Write([]byte("Usage: memberd openapi > openapi.json\n\nPrints the OpenAPI document a server serves at /openapi.json.\n"))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	doc, err := httpapi.Document()
	if err != nil {
		return err
	}
	_, err = m.Stdout.Write(doc)
	return err
}
