package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkNewSession measures one new_session and end_session over loopback HTTP.
func BenchmarkNewSession(b *testing.B) {
	e := newEnv(b, Options{})
	stdRoom(e)
	body := `{"display_name":"bench","hideme":"yes"}`
	client := e.ts.Client()
	for b.Loop() {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/services/1061/new_session", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("pin", "1234")
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkFanout measures one Join (a participant_create to every stream) with many idle
// streams open over loopback HTTP, each read by a client that counts events. It reports the
// heap held per open stream.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 2000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			s := New(Options{KeepAlive: time.Minute})
			room := s.AddRoom(RoomConfig{Number: "1061", HostPIN: "1234"})
			ts := newBenchServer(s)

			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			readers := ts.openStreams(b, "1061", n)
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			perStream := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)

			for i := 0; b.Loop(); i++ {
				uuid := room.Join(ParticipantSpec{Name: "P"})
				room.Leave(uuid)
			}
			b.StopTimer()
			b.ReportMetric(perStream, "heapB/stream")
			if st := room.State(); st.Streams != n {
				b.Logf("%d of %d streams still open (the rest were slow and dropped)", st.Streams, n)
			}
			ts.close()
			readers.Wait()
		})
	}
}

type benchServer struct {
	srv    *http.Server
	url    string
	cancel context.CancelFunc
	ctx    context.Context
	sim    *Server
	client *http.Client
}

func newBenchServer(s *Server) *benchServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	return &benchServer{srv: srv, url: "http://" + ln.Addr().String(), ctx: ctx, cancel: cancel, sim: s,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}}
}

// openStreams opens n sessions, each with an event stream read until the server closes it.
func (bs *benchServer) openStreams(b *testing.B, room string, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range n {
		req, _ := http.NewRequest("POST", bs.url+"/api/services/"+room+"/new_session", strings.NewReader(fmt.Sprintf(`{"display_name":"bot%d","hideme":"yes"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("pin", "1234")
		resp, err := bs.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var tok struct {
			Result struct {
				Token string `json:"token"`
			} `json:"result"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		sreq, _ := http.NewRequestWithContext(bs.ctx, "GET", bs.url+"/api/services/"+room+"/events?token="+url.QueryEscape(tok.Result.Token), nil)
		sresp, err := bs.client.Do(sreq)
		if err != nil || sresp.StatusCode != 200 {
			b.Fatalf("stream %d: %v", i, err)
		}
		sc := bufio.NewScanner(sresp.Body)
		for sc.Scan() && sc.Text() != "event: participant_sync_end" {
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sresp.Body.Close()
			for sc.Scan() {
			}
		}()
	}
	return &wg
}

func (bs *benchServer) close() {
	bs.sim.Close()
	bs.cancel()
	_ = bs.srv.Close()
}
