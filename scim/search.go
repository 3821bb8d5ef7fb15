package scim

import (
	"encoding/json"
	"net/url"
	"strings"
)

// msgSearch is the schema of a POST …/.search body.
const msgSearch = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// searchPath is the path segment of a query sent by POST (RFC 7644
// §3.4.3), which keeps a filter holding personal data out of URLs and so
// out of proxies' access logs.
const searchPath = ".search"

// searchQuery reads a SearchRequest body into the query parameters a GET
// of the same list would carry, so both are validated and answered by one
// path. A parameter of the wrong JSON type is refused here; its value is
// judged where the GET's is.
func searchQuery(data []byte) (url.Values, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	if err := checkSchemas(obj, msgSearch); err != nil {
		return nil, err
	}
	v := url.Values{}
	for _, name := range []string{"filter", "sortBy", "sortOrder"} {
		raw, ok := field(obj, name)
		if !ok || isNull(raw) {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("invalidSyntax", "%s must be a string", name)
		}
		v.Set(name, s)
	}
	for _, name := range []string{"startIndex", "count"} {
		raw, ok := field(obj, name)
		if !ok || isNull(raw) {
			continue
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, badRequest("invalidSyntax", "%s must be an integer", name)
		}
		v.Set(name, n.String())
	}
	for _, name := range []string{"attributes", "excludedAttributes"} {
		raw, ok := field(obj, name)
		if !ok || isNull(raw) {
			continue
		}
		// RFC 7644 §3.4.3 makes these lists of strings; a comma-separated
		// string, as the query parameter spells them, is read as well.
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, badRequest("invalidSyntax", "%s must be a list of attribute names", name)
			}
			list = []string{s}
		}
		v.Set(name, strings.Join(list, ","))
	}
	return v, nil
}
