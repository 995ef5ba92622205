package scheduler_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/meetbot/meetbot/scheduler"
)

func ExampleParseSpec() {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	s, _ := scheduler.ParseSpec("2026-12-01 14:55", shanghai, now)
	fmt.Println(s.OneTime, s.Next(now).UTC().Format(time.DateTime))

	s, _ = scheduler.ParseSpec("0 9 * * 1-5", shanghai, now)
	fmt.Println(s.Text, s.Next(now).UTC().Format(time.DateTime))

	_, err := scheduler.ParseSpec("0 9 * *", shanghai, now)
	var se *scheduler.SpecError
	if errors.As(err, &se) {
		fmt.Println(se.UserMessage())
	}
	// Output:
	// true 2026-12-01 06:55:00
	// 0 9 * * 1-5 2026-11-27 01:00:00
	// "0 9 * *" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55
}
