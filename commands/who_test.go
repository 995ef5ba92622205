package commands

import (
	"regexp"
	"testing"

	"github.com/meetbot/meetbot/chat"
)

// TestWhoOffersJoinTimeAndProtocolAsDetails: who's table carries when each person joined and
// over what as detail columns, which a wide terminal shows and narrower adapters leave out.
func TestWhoOffersJoinTimeAndProtocolAsDetails(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	rep := f.do(chat.Member, "who")
	tbl := rep.Table
	if tbl == nil || tbl.Details != 2 || len(tbl.Columns) != 7 || tbl.Columns[5] != "Joined" || tbl.Columns[6] != "Via" {
		t.Fatalf("who table %+v", tbl)
	}
	hhmm := regexp.MustCompile(`^\d\d:\d\d$`)
	for _, row := range tbl.Rows {
		if !hhmm.MatchString(row.Cells[5]) || row.Cells[6] == "" {
			t.Errorf("row %q lacks a join time or protocol", row.Cells)
		}
	}
	if short := tbl.WithoutDetails(); len(short.Columns) != 5 || len(short.Rows[0].Cells) != 5 || len(short.Rows[0].Actions) != len(tbl.Rows[0].Actions) {
		t.Errorf("without details: %+v", short)
	}
}
