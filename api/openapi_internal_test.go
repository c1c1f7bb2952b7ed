package api

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIDescribesEveryRoute fails when a route exists that
// openapi.json does not describe, when it describes one that does not
// exist, or when their query parameters differ.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	described := map[string][]string{} // "GET /v1/x" → its query parameters
	for path, ops := range doc.Paths {
		for method, op := range ops {
			var query []string
			for _, p := range op.Parameters {
				if p.In == "query" {
					query = append(query, p.Name)
				}
			}
			sort.Strings(query)
			described[strings.ToUpper(method)+" "+path] = query
		}
	}
	served := map[string][]string{}
	for _, rt := range (&Server{}).table() {
		query := slices.Clone(rt.query)
		sort.Strings(query)
		// "GET /{$}" is the mux's way to say "/ and nothing below".
		served[strings.Replace(rt.pattern, "{$}", "", 1)] = query
	}
	for pattern, query := range served {
		want, ok := described[pattern]
		if !ok {
			t.Errorf("route %s is served but openapi.json does not describe it", pattern)
			continue
		}
		if !slices.Equal(want, query) {
			t.Errorf("route %s reads query parameters %v, openapi.json describes %v", pattern, query, want)
		}
	}
	for pattern := range described {
		if _, ok := served[pattern]; !ok {
			t.Errorf("openapi.json describes %s, which no route serves", pattern)
		}
	}
}
