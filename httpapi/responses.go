package httpapi

import "context"

// The answer shapes the handlers return.

type out[T any] struct{ Body T }

type created[T any] struct {
	Location string `header:"Location" doc:"URL of the created entity."`
	Body     T
}

func ok[T any](v T) (*out[T], error) { return &out[T]{Body: v}, nil }

func result[T any](v T, err error) (*out[T], error) {
	if err != nil {
		return nil, err
	}
	return &out[T]{Body: v}, nil
}

// list is a whole collection.
type list[T any] struct {
	Items []T `json:"items"`
}

func listOf[T any](items []T, err error) (*out[list[T]], error) {
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	return &out[list[T]]{Body: list[T]{Items: items}}, nil
}

// pageOf returns a page's items, never nil, and the cursor of the next
// page: the last item's id when the page is full, 0 on the last page.
func pageOf[T any](items []T, limit int, id func(T) int64) ([]T, int64) {
	if items == nil {
		items = []T{}
	}
	var next int64
	if len(items) == limit {
		next = id(items[len(items)-1])
	}
	return items, next
}

// setHeader sets a response header from inside an operation, for answers
// whose headers depend on which of two documented responses is sent.
func setHeader(ctx context.Context, name, value string) {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		c.w.Header().Set(name, value)
	}
}
