// Package pexipcheck checks JSON objects against Pexip's published, machine-readable definitions
// of the platform's API. Section 8 of shared/api/platform-api.md names the platform's lineage: it
// is the Pexip Infinity client REST API v2 under other names, and Pexip publishes that API's
// JSON schemas as compiled validators in the npm package @pexip/infinity-api, and its event
// payload types in @pexip/infinity. The conformance test of this package runs a scenario through
// meetings/sim and the meetings client and checks every answer and event the simulator emits and
// every request body the client sends.
//
// The checking is done by check.mjs under node: each object goes through Pexip's compiled
// validator (which stops at its first error and silently deletes fields it does not know) and
// through a walk of the JSON schema embedded in the same validation.js (which lists every
// difference, unknown fields included). Both must agree.
//
// scripts/test installs the pinned packages once with npm into .tools/pexip-<Version> and exports
// MEETBOT_TEST_PEXIP with their node_modules folder. Without it (or without node), tests skip with
// one clear line, unless MEETBOT_TEST_REQUIRE_ALL=true, when they fail.
package pexipcheck

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Version is the version of @pexip/infinity-api and @pexip/infinity the checks are pinned to.
const Version = "20.0.0"

// EnvModules names the environment variable holding the node_modules folder with @pexip/infinity-api
// and @pexip/infinity installed.
const EnvModules = "MEETBOT_TEST_PEXIP"

// EnvRequireAll names the environment variable that, set to "true", turns a missing node or
// package from a skip into a failure.
const EnvRequireAll = "MEETBOT_TEST_REQUIRE_ALL"

//go:embed check.mjs
var script []byte

// Check is one object to check. Validator names a compiled validator as "<area>/<export>"
// ("token/validateRequestToken200"), or is empty when Pexip publishes none (events). Schema names
// the embedded schema the object is walked against: "<operation>/<status or Body>" as the
// schemas' own $refs name them ("request_token/200", "dial/Body"), or "event/<name>" for an event
// payload type of @pexip/infinity. Data is the object; nil means none (an event without data).
type Check struct {
	ID        string          `json:"id"`
	Validator string          `json:"validator"`
	Schema    string          `json:"schema"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Diff is one difference between an object and Pexip's schema. Kind is "type", "enum",
// "required", "unknown" (a field the schema does not know), "oneOf" or "data" (data on an event
// Pexip sends without any).
type Diff struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Compiled is what Pexip's compiled validator said: OK, else its first error; Removed lists the
// fields it deleted as unknown while coercing.
type Compiled struct {
	Ran     bool     `json:"ran"`
	OK      bool     `json:"ok"`
	First   string   `json:"first"`
	Removed []string `json:"removed"`
}

// Result is the outcome of one Check. Error is set when the check itself could not run (an
// unknown validator or schema).
type Result struct {
	ID       string   `json:"id"`
	Compiled Compiled `json:"compiled"`
	Diffs    []Diff   `json:"diffs"`
	Error    string   `json:"error"`
}

// Checker runs checks with one node binary against one installed copy of the packages.
type Checker struct {
	Node    string // path of the node binary
	Modules string // the node_modules folder holding @pexip/infinity-api and @pexip/infinity
}

// New returns a Checker from MEETBOT_TEST_PEXIP and the node on PATH. When either is missing it
// skips tb with one line saying what is missing, or fails it under MEETBOT_TEST_REQUIRE_ALL=true.
func New(tb testing.TB) *Checker {
	tb.Helper()
	missing := func(what string) {
		tb.Helper()
		msg := what + "; scripts/test installs @pexip/infinity-api@" + Version + " with npm and sets " + EnvModules
		if os.Getenv(EnvRequireAll) == "true" {
			tb.Fatal(msg + " (required under " + EnvRequireAll + "=true)")
		}
		tb.Skip("platform conformance not checked: " + msg)
	}
	mods := os.Getenv(EnvModules)
	if mods == "" {
		missing(EnvModules + " is not set")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	for _, pkg := range []string{"infinity-api", "infinity"} {
		b, err := os.ReadFile(filepath.Join(mods, "@pexip", pkg, "package.json"))
		if err != nil {
			missing(fmt.Sprintf("@pexip/%s is not installed in %s", pkg, mods))
		}
		var meta struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(b, &meta) != nil || meta.Version != Version {
			// A different version is not skipped: the expected differences are for this one.
			tb.Fatalf("@pexip/%s in %s is version %q, want %s", pkg, mods, meta.Version, Version)
		}
	}
	return &Checker{Node: node, Modules: mods}
}

// Run checks every object with one run of node and returns the results in the order of checks.
func (c *Checker) Run(ctx context.Context, checks []Check) ([]Result, error) {
	dir, err := os.MkdirTemp("", "pexipcheck")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "check.mjs")
	if err := os.WriteFile(path, script, 0o600); err != nil {
		return nil, err
	}
	in, err := json.Marshal(checks)
	if err != nil {
		return nil, fmt.Errorf("encode checks: %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Node, path, c.Modules)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("node check.mjs: %w: %s", err, stderr.Bytes())
	}
	var results []Result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("decode check.mjs results: %w", err)
	}
	if len(results) != len(checks) {
		return nil, fmt.Errorf("check.mjs answered %d results for %d checks", len(results), len(checks))
	}
	return results, nil
}
