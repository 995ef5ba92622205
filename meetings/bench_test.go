package meetings_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
)

// streamChunk is a stretch of a busy meeting's event stream that leaves the roster as it found
// it, so it can repeat forever: mostly participant_update (mute toggles, as the platform sends
// the whole object each time), joins and leaves, stage and layout events.
func streamChunk(people, n int) []byte {
	var b bytes.Buffer
	id := 0
	part := func(i int, muted bool) string {
		m := "NO"
		if muted {
			m = "YES"
		}
		return fmt.Sprintf(`{"api_url":"/participants/uuid-%04d","call_direction":"in","display_name":"Person %d","encryption":"On","has_media":true,"is_audio_only_call":"NO","is_external":false,"is_muted":"%s","is_presenting":"NO","is_streaming_conference":false,"is_video_call":"YES","local_alias":"meet@example.com","overlay_text":"Person %d","presentation_supported":"YES","protocol":"webrtc","role":"guest","rx_presentation_policy":"ALLOW","service_type":"conference","spotlight":0,"start_time":%d,"uri":"person%d@example.com","uuid":"uuid-%04d","vendor":"CloudConnect/2.0.0 Chrome/120.0"}`,
			i, i, m, i, 1441720992+i, i, i)
	}
	emit := func(name, data string) {
		id++
		fmt.Fprintf(&b, "event: %s\nid: %d\ndata: %s\n\n", name, id, data)
	}
	emit("participant_sync_begin", "null")
	for i := range people {
		emit("participant_create", part(i, false))
	}
	emit("participant_sync_end", "null")
	header := b.Len()
	_ = header
	b.Reset()
	muted := make([]bool, people)
	for i := 0; i < n; i++ {
		switch {
		case i%50 == 10:
			emit("participant_create", part(people+i, false))
		case i%50 == 20:
			emit("participant_delete", fmt.Sprintf(`{"uuid":"uuid-%04d"}`, people+i-10))
		case i%50 == 30:
			emit("stage", fmt.Sprintf(`[{"stage_index":0,"participant_uuid":"uuid-%04d","vad":100},{"stage_index":1,"participant_uuid":"uuid-0001","vad":0}]`, i%people))
		case i%50 == 40:
			fmt.Fprint(&b, ":\n\n")
			emit("layout", `{"view":"1:7","participants":["uuid-0001","uuid-0002"]}`)
		default:
			k := i % people
			muted[k] = !muted[k]
			emit("participant_update", part(k, muted[k]))
		}
	}
	// Undo the mute state so the chunk repeats cleanly.
	for k, m := range muted {
		if m {
			emit("participant_update", part(k, false))
		}
	}
	return b.Bytes()
}

func syncChunk(people int) []byte {
	var b strings.Builder
	b.WriteString("event: participant_sync_begin\ndata: null\n\n")
	for i := range people {
		fmt.Fprintf(&b, "event: participant_create\ndata: {\"uuid\":\"uuid-%04d\",\"display_name\":\"Person %d\",\"is_muted\":\"NO\",\"start_time\":%d}\n\n", i, i, 1441720992+i)
	}
	b.WriteString("event: participant_sync_end\ndata: null\n\n")
	return []byte(b.String())
}

// repeater reads a prefix once, then body forever.
type repeater struct {
	prefix, body []byte
	off          int
}

func (r *repeater) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	n := copy(p, r.body[r.off:])
	r.off = (r.off + n) % len(r.body)
	return n, nil
}

// BenchmarkEventsToRoster measures events parsed from the SSE wire format, decoded and applied
// to a roster of 50, per second (target > 200k events/s on one core: run with -cpu 1).
func BenchmarkEventsToRoster(b *testing.B) {
	er := meetings.NewEventReader(&repeater{prefix: syncChunk(50), body: streamChunk(50, 10_000)})
	r := meetings.NewRoster()
	changes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ev, err := er.Next()
		if err != nil {
			b.Fatal(err)
		}
		changes += len(r.Apply(ev))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if changes == 0 {
		b.Fatal("no changes")
	}
}

// BenchmarkDecodeParticipant measures the lenient participant decoder alone.
func BenchmarkDecodeParticipant(b *testing.B) {
	data := []byte(aliceJSON)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := meetings.DecodeParticipant(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleListeners opens N sessions, each with its event stream, against the simulator on
// loopback, waits until every stream has synced, and reports the client's memory (heap and
// goroutine stacks, after GC) per idle listener. The simulator runs in a child process, so only
// the client's side of each connection counts.
func BenchmarkIdleListeners(b *testing.B) {
	for _, n := range []int{100, 2000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) {
			url := simProcess(b)
			for b.Loop() {
				idleListeners(b, url, n)
			}
		})
	}
}

func idleListeners(b *testing.B, url string, n int) {
	c, err := meetings.NewClient(url, meetings.ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sessions := make([]*meetings.Session, 0, n)
	defer func() {
		cancel()
		wg.Wait()
		for _, sess := range sessions {
			sess.Close(context.Background())
		}
	}()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	var synced sync.WaitGroup
	synced.Add(n)
	for i := range n {
		sess, err := c.Open(ctx, meetings.Room{Alias: "1061"}, meetings.SessionOptions{DisplayName: fmt.Sprint("bot", i), PIN: "1234", Hidden: true})
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, sess)
		var once sync.Once
		wg.Go(func() {
			sess.Events(ctx, func(ev meetings.Event) {
				if _, ok := ev.(meetings.SyncEnd); ok {
					once.Do(synced.Done)
				}
			})
		})
	}
	synced.Wait()
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	stacks := int64(after.StackInuse) - int64(before.StackInuse)
	b.ReportMetric(float64(heap+stacks)/float64(n), "B/listener")
	b.ReportMetric(float64(heap)/float64(n), "heapB/listener")
	b.ReportMetric(float64(stacks)/float64(n), "stackB/listener")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/float64(n), "goroutines/listener")
}
