// Package fields is a compile-only stand-in for labkit/v2/fields (standard log field
// names), which the Go module proxy does not serve. Only the names the runner uses exist.
package fields

const (
	HTTPStatusCode = "status_code"
	DurationS      = "duration_s"
)

// Deprecation maps a legacy log field to its standard replacement.
type Deprecation struct {
	Standard string
}

// Deprecated is empty: the test build always logs the runner's legacy field names.
var Deprecated = map[string]Deprecation{}

// VariantVersion gives the schema version in which a standard field appeared.
var VariantVersion = map[string]int{}
