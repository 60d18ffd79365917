// swim-interop-peer: a small HashiCorp memberlist node driven by the swim
// interop tests (crate swim-interop). It prints what it sees as JSON lines on
// stdout and takes commands, one per line, on stdin:
//
//	members                          -> {"event":"members","members":[...]} (every known node, any state)
//	send <name|ip:port> <payload>    -> SendBestEffort (UDP user message)
//	send-reliable <name|ip:port> <payload> -> SendReliable (TCP user message)
//	user-event <name> <payload>      -> gossips a Serf user event [3]{LTime,Name,Payload,CC}
//	join <addr>[,<addr>...]          -> Join
//	tags k=v[,k=v...]                -> new metadata (Serf tag encoding), UpdateNode
//	key-install|key-use|key-remove <key> -> keyring operations (hex or base64 key)
//	leave <ms>                       -> Leave(timeout)
//	shutdown                         -> Shutdown and exit
//
// Each command is answered with {"event":"reply","cmd":...,"ok":bool,"error":...}.
// Received user messages are printed as {"event":"msg",...}: messages in swim's
// direct framing [0xEC][0x01][sender_len][sender][topic_len][topic][payload]
// are decoded ("framed":true), Serf user events as {"event":"user_event",...},
// anything else raw.
//
// Built by the tests in GOPATH mode against Debian's memberlist source, with
// overlay/memberlist_swim_interop.go added to memberlist's package (see there).
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/codec"
	"github.com/hashicorp/memberlist"
)

var (
	outMu sync.Mutex
	out   = bufio.NewWriter(os.Stdout)
)

func emit(v map[string]interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":"emit_error","error":%q}`, err.Error()))
	}
	outMu.Lock()
	out.Write(b)
	out.WriteByte('\n')
	out.Flush()
	outMu.Unlock()
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return strconv.Itoa(int(s))
}

// Serf's tag encoding: 0xff then a msgpack map[string]string.
func encodeTags(tags map[string]string) []byte {
	var buf bytes.Buffer
	buf.WriteByte(0xff)
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(tags); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func decodeTags(meta []byte) map[string]string {
	if len(meta) == 0 || meta[0] != 0xff {
		return nil
	}
	var tags map[string]string
	if err := codec.NewDecoder(bytes.NewReader(meta[1:]), &codec.MsgpackHandle{}).Decode(&tags); err != nil {
		return map[string]string{"__decode_error": err.Error()}
	}
	return tags
}

func nodeJSON(n *memberlist.Node, state string, inc uint32) map[string]interface{} {
	return map[string]interface{}{
		"name":        n.Name,
		"addr":        net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		"state":       state,
		"incarnation": inc,
		"meta_hex":    hex.EncodeToString(n.Meta),
		"tags":        decodeTags(n.Meta),
		"vsn":         []int{int(n.PMin), int(n.PMax), int(n.PCur), int(n.DMin), int(n.DMax), int(n.DCur)},
	}
}

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

type delegate struct {
	mu     sync.Mutex
	meta   []byte
	queue  *memberlist.TransmitLimitedQueue
	ltime  uint64
	nmsgs  int
	maxLog int
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta
}

func (d *delegate) NotifyMsg(buf []byte) {
	msg := append([]byte(nil), buf...)
	ev := map[string]interface{}{"event": "msg", "len": len(msg)}
	if len(msg) <= 4096 {
		ev["hex"] = hex.EncodeToString(msg)
	}
	if len(msg) >= 3 && msg[0] == 0xEC && msg[1] == 0x01 {
		rest := msg[2:]
		slen := int(rest[0])
		if len(rest) >= 1+slen+1 {
			sender := rest[1 : 1+slen]
			rest = rest[1+slen:]
			tlen := int(rest[0])
			if len(rest) >= 1+tlen {
				ev["framed"] = true
				ev["sender"] = string(sender)
				ev["topic"] = string(rest[1 : 1+tlen])
				ev["payload"] = string(rest[1+tlen:])
				emit(ev)
				return
			}
		}
	}
	if len(msg) >= 1 && msg[0] == 3 {
		var ue userEvent
		if err := codec.NewDecoderBytes(msg[1:], &codec.MsgpackHandle{}).Decode(&ue); err == nil {
			emit(map[string]interface{}{
				"event": "user_event", "ltime": ue.LTime, "name": ue.Name,
				"payload": string(ue.Payload), "cc": ue.CC,
			})
			return
		}
	}
	ev["framed"] = false
	ev["payload"] = string(msg)
	emit(ev)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

type events struct{}

func (events) NotifyJoin(n *memberlist.Node) {
	emit(map[string]interface{}{"event": "join", "node": nodeJSON(n, "alive", 0)})
}
func (events) NotifyLeave(n *memberlist.Node) {
	emit(map[string]interface{}{"event": "leave", "node": nodeJSON(n, "gone", 0)})
}
func (events) NotifyUpdate(n *memberlist.Node) {
	emit(map[string]interface{}{"event": "update", "node": nodeJSON(n, "alive", 0)})
}

func parseKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && (len(b) == 16 || len(b) == 24 || len(b) == 32) {
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key is neither hex nor base64: %v", err)
	}
	return b, nil
}

func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) == 2 {
			tags[parts[0]] = parts[1]
		} else {
			tags[parts[0]] = ""
		}
	}
	return tags
}

func main() {
	name := flag.String("name", "go-peer", "node name")
	bind := flag.String("bind", "127.0.0.1", "bind address")
	port := flag.Int("port", 0, "bind port (0: any)")
	join := flag.String("join", "", "comma-separated seeds to join at start")
	key := flag.String("key", "", "encryption key (hex or base64; 16, 24 or 32 bytes)")
	label := flag.String("label", "", "cluster label")
	compress := flag.Bool("compress", false, "enable LZW compression")
	dv := flag.String("delegate-versions", "serf", "serf (2..5 cur 5) or plain (0..0)")
	meta := flag.String("meta", "", "raw node metadata")
	tags := flag.String("tags", "", "node metadata as Serf tags k=v,k=v (overrides -meta)")
	probeInterval := flag.Duration("probe-interval", 200*time.Millisecond, "ProbeInterval")
	probeTimeout := flag.Duration("probe-timeout", 100*time.Millisecond, "ProbeTimeout")
	gossipInterval := flag.Duration("gossip-interval", 100*time.Millisecond, "GossipInterval")
	suspicionMult := flag.Int("suspicion-mult", 4, "SuspicionMult")
	pushPull := flag.Duration("push-pull-interval", 30*time.Second, "PushPullInterval (0 disables)")
	tcpTimeout := flag.Duration("tcp-timeout", 2*time.Second, "TCPTimeout")
	deadReclaim := flag.Duration("dead-reclaim", 0, "DeadNodeReclaimTime")
	deadTime := flag.Duration("dead-time", 30*time.Second, "GossipToTheDeadTime")
	flag.Parse()

	conf := memberlist.DefaultLANConfig()
	conf.Name = *name
	conf.BindAddr = *bind
	conf.BindPort = *port
	conf.AdvertisePort = *port
	conf.Label = *label
	conf.EnableCompression = *compress
	conf.ProbeInterval = *probeInterval
	conf.ProbeTimeout = *probeTimeout
	conf.GossipInterval = *gossipInterval
	conf.SuspicionMult = *suspicionMult
	conf.PushPullInterval = *pushPull
	conf.TCPTimeout = *tcpTimeout
	conf.DeadNodeReclaimTime = *deadReclaim
	conf.GossipToTheDeadTime = *deadTime
	conf.LogOutput = os.Stderr
	switch *dv {
	case "serf":
		conf.DelegateProtocolMin, conf.DelegateProtocolMax, conf.DelegateProtocolVersion = 2, 5, 5
	case "plain":
		conf.DelegateProtocolMin, conf.DelegateProtocolMax, conf.DelegateProtocolVersion = 0, 0, 0
	default:
		fmt.Fprintf(os.Stderr, "bad -delegate-versions %q\n", *dv)
		os.Exit(2)
	}
	if *key != "" {
		k, err := parseKey(*key)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		conf.SecretKey = k
	}
	d := &delegate{meta: []byte(*meta)}
	if *tags != "" {
		d.meta = encodeTags(parseTags(*tags))
	}
	conf.Delegate = d
	conf.Events = events{}

	m, err := memberlist.Create(conf)
	if err != nil {
		emit(map[string]interface{}{"event": "create_error", "error": err.Error()})
		os.Exit(1)
	}
	d.queue = &memberlist.TransmitLimitedQueue{NumNodes: m.NumMembers, RetransmitMult: conf.RetransmitMult}
	ln := m.LocalNode()
	emit(map[string]interface{}{
		"event": "ready", "name": ln.Name,
		"addr": net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port))),
	})

	doJoin := func(seeds string) error {
		n, err := m.Join(strings.Split(seeds, ","))
		if err != nil {
			emit(map[string]interface{}{"event": "join_error", "contacted": n, "error": err.Error()})
			return err
		}
		emit(map[string]interface{}{"event": "joined", "contacted": n})
		return nil
	}
	if *join != "" {
		doJoin(*join)
	}

	findNode := func(target string) *memberlist.Node {
		for _, s := range m.SwimInteropNodeStates() {
			n := s.Node
			if n.Name == target || n.Address() == target {
				return &n
			}
		}
		return nil
	}

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 32<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fields := strings.SplitN(line, " ", 3)
		cmd := fields[0]
		arg := func(i int) string {
			if i < len(fields) {
				return fields[i]
			}
			return ""
		}
		var err error
		switch cmd {
		case "":
			continue
		case "members":
			var list []map[string]interface{}
			for _, s := range m.SwimInteropNodeStates() {
				n := s.Node
				list = append(list, nodeJSON(&n, stateName(s.State), s.Incarnation))
			}
			emit(map[string]interface{}{"event": "members", "members": list, "health": m.GetHealthScore()})
			continue
		case "send", "send-reliable":
			n := findNode(arg(1))
			payload := []byte(arg(2))
			switch {
			case n != nil && cmd == "send":
				err = m.SendBestEffort(n, payload)
			case n != nil:
				err = m.SendReliable(n, payload)
			case cmd == "send":
				err = m.SendToAddress(memberlist.Address{Addr: arg(1)}, payload)
			default:
				err = fmt.Errorf("unknown node %q", arg(1))
			}
		case "user-event":
			d.mu.Lock()
			d.ltime++
			lt := d.ltime
			d.mu.Unlock()
			var buf bytes.Buffer
			buf.WriteByte(3)
			err = codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(&userEvent{LTime: lt, Name: arg(1), Payload: []byte(arg(2))})
			if err == nil {
				d.queue.QueueBroadcast(broadcast(buf.Bytes()))
			}
		case "join":
			err = doJoin(arg(1))
		case "tags":
			d.mu.Lock()
			d.meta = encodeTags(parseTags(arg(1)))
			d.mu.Unlock()
			err = m.UpdateNode(2 * time.Second)
		case "key-install", "key-use", "key-remove":
			var k []byte
			if k, err = parseKey(arg(1)); err == nil {
				kr := conf.Keyring
				if kr == nil {
					err = fmt.Errorf("no keyring (start with -key)")
				} else if cmd == "key-install" {
					err = kr.AddKey(k)
				} else if cmd == "key-use" {
					err = kr.UseKey(k)
				} else {
					err = kr.RemoveKey(k)
				}
			}
		case "leave":
			ms, perr := strconv.Atoi(arg(1))
			if perr != nil {
				ms = 1000
			}
			err = m.Leave(time.Duration(ms) * time.Millisecond)
		case "shutdown":
			err = m.Shutdown()
			emit(map[string]interface{}{"event": "reply", "cmd": cmd, "ok": err == nil})
			os.Exit(0)
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		ev := map[string]interface{}{"event": "reply", "cmd": cmd, "ok": err == nil}
		if err != nil {
			ev["error"] = err.Error()
		}
		emit(ev)
	}
	// stdin closed: the test is gone; leave nothing running.
	m.Shutdown()
}
