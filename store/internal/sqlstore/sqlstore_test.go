package sqlstore

import "testing"

func TestMaxParam(t *testing.T) {
	for q, want := range map[string]int{
		`DELETE FROM nonces WHERE expires_at <= {now}`:                        0,
		`UPDATE leases SET expires_at = {now} + $3 WHERE key = $1 AND x = $2`: 3,
		`SELECT $12, $2, '$' || $1`:                                           12,
	} {
		if got := maxParam(q); got != want {
			t.Errorf("maxParam(%q) = %d, want %d", q, got, want)
		}
	}
}
