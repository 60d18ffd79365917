// swim-compare-bench: the Go side of swim's comparison benchmark
// (interop/benches/compare.rs in crate swim-interop). It runs N HashiCorp
// memberlist 0.5.0 nodes in this one process, each its own memberlist.Create
// with DefaultLANConfig, named n0..n(N-1), each on its own port on 127.0.0.1.
// Changed from DefaultLANConfig: the name, the address, logs discarded (the
// Rust side logs nothing either) and, with -probe-interval/-probe-timeout,
// those two.
//
// -scenario selects what is measured; every rep prints one JSON line on stdout:
//
//	join       nodes 1..N-1 join through n0 one after another (each Join
//	           returns before the next starts); measured: time from the last
//	           Join's return until every node lists all N alive.
//	           {"rep":0,"ok":true,"secs":1.2,"joins_secs":0.4}
//	crash      converge as in join, then n1.Shutdown() (no Leave); measured:
//	           time from Shutdown's return until no other node lists n1 alive
//	           or suspect (all report it dead).
//	broadcast  converge, wait -settle, then n1 sends one Serf-like user event:
//	           every node's Delegate has a TransmitLimitedQueue (NumNodes =
//	           NumMembers, RetransmitMult 4); sending queues the event; a node
//	           seeing an event id for the first time records the time and queues
//	           it once more for rebroadcast, as Serf does for user events.
//	           Measured: time until all N-1 others have it (limit -limit).
//	loss       converge, print {"event":"converged"}, wait for "start" on
//	           stdin (the caller now drops packets), run -duration counting false
//	           deaths (NotifyLeave of a running node) and false suspicions
//	           (memberlist's memberlist.msg.suspect counter: one per node that
//	           moves a peer from alive to suspect), print
//	           {"event":"loss_end",...} with the pairs (observer, subject) not
//	           listed live at that moment, wait for "lifted" and measure the
//	           time until every node lists all N alive again.
//
// A rep that exceeds its limit prints "ok":false with an "error". Views are
// read every 10 ms (-poll) through SwimInteropNodeStates, the read-only
// function the interop build overlays into memberlist's package, which gives
// each node's real state (memberlist's Members() does not tell alive from
// suspect) — the Rust side reads members() the same way.
//
// Built by the benchmark like interop/go-peer: GOPATH mode against Debian's
// memberlist source, offline, with go-peer/overlay added (go build -overlay).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/go-msgpack/codec"
	"github.com/hashicorp/memberlist"
)

var (
	scenario      = flag.String("scenario", "join", "join | crash | broadcast | loss")
	numNodes      = flag.Int("n", 50, "number of nodes")
	reps          = flag.Int("reps", 1, "repetitions")
	limit         = flag.Duration("limit", 90*time.Second, "limit of the measured phase of one rep")
	convergeLimit = flag.Duration("converge-limit", 90*time.Second, "limit of the initial convergence (crash, broadcast, loss)")
	probeInterval = flag.Duration("probe-interval", 0, "ProbeInterval (0: DefaultLANConfig's)")
	probeTimeout  = flag.Duration("probe-timeout", 0, "ProbeTimeout (0: DefaultLANConfig's)")
	settle        = flag.Duration("settle", 2*time.Second, "broadcast: wait after convergence before sending")
	duration      = flag.Duration("duration", 60*time.Second, "loss: how long to run under loss")
	poll          = flag.Duration("poll", 10*time.Millisecond, "how often views are read")
)

func emit(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	os.Stdout.Write(append(b, '\n'))
}

func fail(rep int, format string, args ...interface{}) {
	emit(map[string]interface{}{"rep": rep, "ok": false, "error": fmt.Sprintf(format, args...)})
}

// ---------------------------------------------------------------------------
// Serf-like user events: [3]{LTime, Name, Payload, CC} in msgpack, as swim
// sends its broadcasts, so both sides gossip messages of the same size.

type userEvent struct {
	LTime   uint64
	Name    string
	Payload []byte
	CC      bool
}

type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return []byte(b) }
func (b broadcast) Finished()                             {}

// bcastDelegate is one node's memberlist.Delegate: a Serf-like user-event queue.
type bcastDelegate struct {
	queue *memberlist.TransmitLimitedQueue
	mu    sync.Mutex
	seen  map[uint64]time.Time // event id (LTime) -> first delivery
}

func (d *bcastDelegate) NodeMeta(limit int) []byte { return nil }
func (d *bcastDelegate) NotifyMsg(buf []byte) {
	now := time.Now()
	if len(buf) < 1 || buf[0] != 3 {
		return
	}
	var ev userEvent
	if err := codec.NewDecoderBytes(buf[1:], &codec.MsgpackHandle{}).Decode(&ev); err != nil {
		return
	}
	d.mu.Lock()
	_, dup := d.seen[ev.LTime]
	if !dup {
		d.seen[ev.LTime] = now
	}
	d.mu.Unlock()
	if !dup {
		// Serf re-gossips a user event the first time it sees it.
		d.queue.QueueBroadcast(broadcast(append([]byte(nil), buf...)))
	}
}
func (d *bcastDelegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}
func (d *bcastDelegate) LocalState(join bool) []byte            { return nil }
func (d *bcastDelegate) MergeRemoteState(buf []byte, join bool) {}

func (d *bcastDelegate) deliveredAt(id uint64) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.seen[id]
	return t, ok
}

func encodeEvent(id uint64, name string, payload []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(3)
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(&userEvent{LTime: id, Name: name, Payload: payload}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// ---------------------------------------------------------------------------
// Loss accounting: NotifyLeave counts deaths (nobody leaves in this run, so
// every one is a false death); a go-metrics sink counts suspicions.

var falseDeaths int64

type deathCounter struct{}

func (deathCounter) NotifyJoin(*memberlist.Node)   {}
func (deathCounter) NotifyUpdate(*memberlist.Node) {}
func (deathCounter) NotifyLeave(*memberlist.Node)  { atomic.AddInt64(&falseDeaths, 1) }

var falseSuspicions int64

// suspectSink counts memberlist.msg.suspect, which memberlist increments
// exactly where a node moves another node from alive to suspect.
type suspectSink struct{ *metrics.BlackholeSink }

func (suspectSink) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	if strings.Join(key, ".") == "memberlist.msg.suspect" {
		atomic.AddInt64(&falseSuspicions, int64(val))
	}
}

func countSuspicions() {
	conf := metrics.DefaultConfig("")
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = false
	conf.FilterDefault = false // only what is allowed below reaches the sink
	conf.AllowedPrefixes = []string{"memberlist.msg.suspect"}
	if _, err := metrics.NewGlobal(conf, suspectSink{&metrics.BlackholeSink{}}); err != nil {
		panic(err)
	}
}

// ---------------------------------------------------------------------------
// The nodes

type node struct {
	m *memberlist.Memberlist
	d *bcastDelegate // broadcast scenario only
}

func start(i int, withDelegate bool, events memberlist.EventDelegate) (*node, error) {
	conf := memberlist.DefaultLANConfig()
	conf.Name = fmt.Sprintf("n%d", i)
	conf.BindAddr = "127.0.0.1"
	conf.BindPort = 0
	conf.LogOutput = io.Discard
	if *probeInterval > 0 {
		conf.ProbeInterval = *probeInterval
	}
	if *probeTimeout > 0 {
		conf.ProbeTimeout = *probeTimeout
	}
	conf.Events = events
	n := &node{}
	if withDelegate {
		n.d = &bcastDelegate{seen: map[uint64]time.Time{}}
		conf.Delegate = n.d
	}
	m, err := memberlist.Create(conf)
	if err != nil {
		return nil, err
	}
	n.m = m
	if n.d != nil {
		n.d.queue = &memberlist.TransmitLimitedQueue{NumNodes: m.NumMembers, RetransmitMult: conf.RetransmitMult}
	}
	return n, nil
}

func shutdownAll(nodes []*node) {
	for _, n := range nodes {
		if n != nil {
			n.m.Shutdown()
		}
	}
}

// startAndJoin starts n nodes and joins 1..n-1 through n0 one after another.
// It returns the nodes started (shut them down even on error) and how long
// the joins took.
func startAndJoin(withDelegate bool, events memberlist.EventDelegate) ([]*node, time.Duration, error) {
	var nodes []*node
	for i := 0; i < *numNodes; i++ {
		n, err := start(i, withDelegate, events)
		if err != nil {
			return nodes, 0, fmt.Errorf("create n%d: %v", i, err)
		}
		nodes = append(nodes, n)
	}
	seed := nodes[0].m.LocalNode().Address()
	t0 := time.Now()
	for i := 1; i < len(nodes); i++ {
		if _, err := nodes[i].m.Join([]string{seed}); err != nil {
			return nodes, 0, fmt.Errorf("n%d join: %v", i, err)
		}
	}
	return nodes, time.Since(t0), nil
}

func aliveCount(m *memberlist.Memberlist) int {
	c := 0
	for _, s := range m.SwimInteropNodeStates() {
		if s.State == memberlist.StateAlive {
			c++
		}
	}
	return c
}

// listsLive: whether m lists `name` alive or suspect (memberlist's Members()).
func listsLive(m *memberlist.Memberlist, name string) bool {
	for _, s := range m.SwimInteropNodeStates() {
		if s.Node.Name == name {
			return s.State == memberlist.StateAlive || s.State == memberlist.StateSuspect
		}
	}
	return false
}

// waitUntil polls cond every -poll until it holds (returns the time it took
// since t0) or the limit passes (returns false).
func waitUntil(t0 time.Time, limit time.Duration, cond func() bool) (time.Duration, bool) {
	for {
		if cond() {
			return time.Since(t0), true
		}
		if time.Since(t0) > limit {
			return 0, false
		}
		time.Sleep(*poll)
	}
}

// allAlive: every running node lists all `want` nodes alive (stops at the
// first that does not).
func allAlive(nodes []*node, want int) func() bool {
	return func() bool {
		for _, n := range nodes {
			if n != nil && aliveCount(n.m) != want {
				return false
			}
		}
		return true
	}
}

func secs(d time.Duration) float64 { return d.Seconds() }

// ---------------------------------------------------------------------------
// Scenarios

func runJoin(rep int) {
	nodes, joins, err := startAndJoin(false, nil)
	defer shutdownAll(nodes)
	if err != nil {
		fail(rep, "%v", err)
		return
	}
	took, ok := waitUntil(time.Now(), *limit, allAlive(nodes, *numNodes))
	if !ok {
		fail(rep, "not all %d alive everywhere within %v", *numNodes, *limit)
		return
	}
	emit(map[string]interface{}{"rep": rep, "ok": true, "secs": secs(took), "joins_secs": secs(joins)})
}

// converge starts and joins the nodes and waits until all list all alive.
func converge(rep int, withDelegate bool, events memberlist.EventDelegate) ([]*node, bool) {
	nodes, _, err := startAndJoin(withDelegate, events)
	if err != nil {
		fail(rep, "%v", err)
		return nodes, false
	}
	if _, ok := waitUntil(time.Now(), *convergeLimit, allAlive(nodes, *numNodes)); !ok {
		fail(rep, "setup: not all %d alive everywhere within %v", *numNodes, *convergeLimit)
		return nodes, false
	}
	return nodes, true
}

func runCrash(rep int) {
	nodes, ok := converge(rep, false, nil)
	defer shutdownAll(nodes)
	if !ok {
		return
	}
	victim := nodes[1]
	nodes[1] = nil
	name := victim.m.LocalNode().Name
	victim.m.Shutdown() // no Leave: a crash
	took, ok := waitUntil(time.Now(), *limit, func() bool {
		for _, n := range nodes {
			if n != nil && listsLive(n.m, name) {
				return false
			}
		}
		return true
	})
	if !ok {
		fail(rep, "%s still live somewhere after %v", name, *limit)
		return
	}
	emit(map[string]interface{}{"rep": rep, "ok": true, "secs": secs(took)})
}

func runBroadcast(rep int) {
	nodes, ok := converge(rep, true, nil)
	defer shutdownAll(nodes)
	if !ok {
		return
	}
	time.Sleep(*settle)
	const id = 1
	sender := nodes[1]
	msg := encodeEvent(id, "cmp", []byte("compare-bench-payload"))
	t0 := time.Now()
	sender.d.mu.Lock()
	sender.d.seen[id] = t0 // its own event: never delivered to itself
	sender.d.mu.Unlock()
	sender.d.queue.QueueBroadcast(broadcast(msg))
	delivered := func() int {
		c := 0
		for _, n := range nodes {
			if n == sender {
				continue
			}
			if _, ok := n.d.deliveredAt(id); ok {
				c++
			}
		}
		return c
	}
	_, ok = waitUntil(t0, *limit, func() bool { return delivered() == len(nodes)-1 })
	if !ok {
		fail(rep, "%d of %d delivered within %v", delivered(), len(nodes)-1, *limit)
		return
	}
	var last time.Time
	for _, n := range nodes {
		if t, _ := n.d.deliveredAt(id); n != sender && t.After(last) {
			last = t
		}
	}
	emit(map[string]interface{}{"rep": rep, "ok": true, "secs": secs(last.Sub(t0))})
}

// waitLine waits (bounded) for `word` on stdin.
func waitLine(lines <-chan string, word string, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return false
			}
			if strings.TrimSpace(l) == word {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

func runLoss(rep int, lines <-chan string) {
	nodes, ok := converge(rep, false, deathCounter{})
	defer shutdownAll(nodes)
	if !ok {
		return
	}
	emit(map[string]interface{}{"event": "converged"})
	if !waitLine(lines, "start", 2*time.Minute) {
		fail(rep, "no `start` on stdin")
		return
	}
	atomic.StoreInt64(&falseDeaths, 0)
	atomic.StoreInt64(&falseSuspicions, 0)
	time.Sleep(*duration)
	deaths := atomic.LoadInt64(&falseDeaths)
	suspicions := atomic.LoadInt64(&falseSuspicions)
	missing := 0
	for _, n := range nodes {
		for j := 0; j < len(nodes); j++ {
			if !listsLive(n.m, fmt.Sprintf("n%d", j)) {
				missing++
			}
		}
	}
	emit(map[string]interface{}{"event": "loss_end"})
	if !waitLine(lines, "lifted", 2*time.Minute) {
		fail(rep, "no `lifted` on stdin")
		return
	}
	res := map[string]interface{}{
		"rep": rep, "false_deaths": deaths, "false_suspicions": suspicions, "missing_at_end": missing,
	}
	took, ok := waitUntil(time.Now(), *limit, allAlive(nodes, *numNodes))
	res["ok"] = ok
	if ok {
		res["reconverge_secs"] = secs(took)
	} else {
		res["error"] = fmt.Sprintf("not all %d alive everywhere %v after the loss was lifted", *numNodes, *limit)
	}
	emit(res)
}

func main() {
	flag.Parse()
	if *numNodes < 2 {
		fmt.Fprintln(os.Stderr, "-n must be at least 2")
		os.Exit(2)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if *scenario == "loss" {
		countSuspicions()
	}
	for rep := 0; rep < *reps; rep++ {
		switch *scenario {
		case "join":
			runJoin(rep)
		case "crash":
			runCrash(rep)
		case "broadcast":
			runBroadcast(rep)
		case "loss":
			runLoss(rep, lines)
		default:
			fmt.Fprintf(os.Stderr, "unknown -scenario %q\n", *scenario)
			os.Exit(2)
		}
	}
}
