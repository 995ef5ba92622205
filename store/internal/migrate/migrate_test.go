package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
	}
	ms, err := Load(good, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].SQL != "A" || ms[1].Version != 2 || ms[1].SQL != "B" {
		t.Fatalf("Load = %+v, want 0001 then 0002", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
		"misnamed":  {"m/0001_a.sql": {}, "m/two.sql": {}},
		"not sql":   {"m/0001_a.txt": {}},
		"empty":     {"m/.keep": {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(fsys, "m"); err == nil {
				t.Fatalf("Load accepted %s migrations", name)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	const in = `CREATE TABLE t (
	a TEXT NOT NULL,
-- only: sqlite
	b INTEGER NOT NULL,
	-- only: postgres
	b boolean NOT NULL,
-- only: postgres for next 2 lines
	c timestamptz,
	d bytea,
	e TEXT
);`
	for dialect, want := range map[string]string{
		"sqlite":   "CREATE TABLE t (\n\ta TEXT NOT NULL,\n\tb INTEGER NOT NULL,\n\te TEXT\n);",
		"postgres": "CREATE TABLE t (\n\ta TEXT NOT NULL,\n\tb boolean NOT NULL,\n\tc timestamptz,\n\td bytea,\n\te TEXT\n);",
	} {
		got, err := Filter(in, dialect)
		if err != nil || got != want {
			t.Errorf("Filter(%s) = %q, %v\nwant %q", dialect, got, err, want)
		}
	}
	for name, bad := range map[string]string{
		"dialect":     "-- only: mysql\nx",
		"count":       "-- only: sqlite for next two lines\nx\ny",
		"too few":     "-- only: sqlite for next 3 lines\nx",
		"last line":   "x\n-- only: postgres",
		"zero":        "-- only: sqlite for next 0 lines\nx",
		"no such one": "-- only: sqlite and more\nx",
	} {
		if _, err := Filter(bad, "sqlite"); err == nil {
			t.Errorf("Filter accepted a bad marker (%s)", name)
		}
	}
	if _, err := Filter("x", "oracle"); err == nil {
		t.Error("Filter accepted an unknown dialect")
	}
}
